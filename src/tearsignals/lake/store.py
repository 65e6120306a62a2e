"""The lake: the only module that reads or writes Parquet.

Where each file lives is :mod:`tearsignals.lake.layout`: hive partitions
``LAKE/<table>/subject_id=<id>/<part>.parquet`` (the partition column is not
repeated inside the files), one ``part-0.parquet`` per unpartitioned table,
``LAKE/validation/<file_id>.json``, the parameters of each analysis
(``LAKE/_analysis_params/<params_hash>.json``, :func:`read_params`), the HTML
reports (``LAKE/reports/<params_hash>/``, :func:`write_report`) and small
state files.

Every write is atomic: the bytes go to a hidden temporary file in the target
directory (:func:`tearsignals.lake.layout.temp_path`), are fsynced, and are renamed over the
target, then the directory is fsynced; readers only ever glob ``*.parquet``
and never see the temporary name. A writer killed mid-way leaves at most a
temporary file, which :func:`remove_uncommitted` deletes at the start of the
next run (writers hold the lake lock, see :mod:`tearsignals.lake.lock`).

Frames arrive conformed (ingest casts adapter output once,
:func:`tearsignals.ingest.plan.canonical_rows`; analysis steps conform what they
compute): writers check the declared columns and dtypes
(:func:`tearsignals.contract.schema.checked`) and never cast.

Files are created with mode :func:`file_mode` (0600 unless
``TEARSIGNALS_FILE_MODE`` says otherwise, e.g. ``640``) and directories with
:func:`dir_mode` (0700): the lake holds health data.

:func:`fault_point` is a test seam for the crash tests in ``tests/faults``.

Examples
--------
>>> import tempfile
>>> lake = Path(tempfile.mkdtemp())
>>> path = write_json_atomic({"ok": True}, layout.validation_path(lake, "x"))
>>> oct(path.stat().st_mode & 0o777), oct(path.parent.stat().st_mode & 0o777)
('0o600', '0o700')
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, cast

import polars as pl

from tearsignals.contract import schema
from tearsignals.errors import InputError
from tearsignals.lake import layout

DIR_MODE = 0o700
FILE_MODE = 0o600
FILE_MODE_ENV = "TEARSIGNALS_FILE_MODE"
FAULT_ENV = "TEARSIGNALS_FAULT"
_PARAMS_HASH_RE = re.compile(r"^[0-9a-f]{16}$")
_fault_hits: Counter[str] = Counter()


def fault_point(name: str) -> None:
    """Test seam: kill this process with SIGKILL at the Nth pass through ``name``.

    Armed only by the environment variable ``TEARSIGNALS_FAULT=<name>:<N>``
    (the crash tests start a child process with it); otherwise it costs one
    environment lookup. Points: ``write.during`` (half of a file's first chunk
    is in the temp file), ``write.after_temp`` (temp file complete and
    fsynced, not renamed), ``write.after_rename`` (renamed, directory not
    fsynced), ``replace.before_cleanup``, ``ingest.before_log`` and
    ``ingest.after_uncommit`` (see :mod:`tearsignals.ingest.files`).
    """
    spec = os.environ.get(FAULT_ENV)
    if not spec:
        return
    wanted, _, nth = spec.rpartition(":")
    if wanted != name:
        return
    _fault_hits[name] += 1
    if _fault_hits[name] == int(nth):
        os.kill(os.getpid(), signal.SIGKILL)


class _WatchedFile:
    """The temp file as writers see it: keeps the OS error of a failed write.

    polars reports a failed write (disk full, I/O error) as a ``ComputeError``;
    :func:`_write_atomic` re-raises the kept ``OSError`` instead, so callers
    and retry policies see what happened. With the fault seam armed, the
    first write stores half its bytes and passes ``write.during``.
    """

    def __init__(self, handle: BinaryIO, fault_armed: bool) -> None:
        self._handle = handle
        self._fault_armed = fault_armed
        self.os_error: OSError | None = None

    def write(self, data: bytes) -> int:
        try:
            if not self._fault_armed:
                return self._handle.write(data)
            self._fault_armed = False
            half = len(data) // 2
            self._handle.write(data[:half])
            self._handle.flush()
            fault_point("write.during")
            return half + self._handle.write(data[half:])
        except OSError as err:
            self.os_error = err
            raise

    def __getattr__(self, name: str) -> Any:
        return getattr(self._handle, name)


def file_mode() -> int:
    """Permission bits of new lake files: ``TEARSIGNALS_FILE_MODE`` (octal) or 0600.

    The mode must give the owner read and write and nobody execute, e.g. ``600``
    (default), ``640`` (group may read) or ``0o644``.

    >>> oct(file_mode())
    '0o600'
    """
    text = os.environ.get(FILE_MODE_ENV, "").strip()
    if not text:
        return FILE_MODE
    try:
        mode = int(text.removeprefix("0o"), 8)
    except ValueError:
        mode = -1
    if mode < 0 or mode & ~0o666 or mode & 0o600 != 0o600:
        raise InputError(
            f"{FILE_MODE_ENV}={text!r} must be an octal mode within 666 that includes 600"
        )
    return mode


def dir_mode() -> int:
    """Permission bits of new lake directories: :func:`file_mode` plus search where read is allowed.

    >>> oct(dir_mode())
    '0o700'
    """
    mode = file_mode()
    return mode | (mode & 0o444) >> 2


def ensure_dir(path: Path) -> Path:
    """Create ``path`` and any missing parents with :func:`dir_mode` (whatever the umask)."""
    missing = []
    probe = path
    while not probe.exists():
        missing.append(probe)
        probe = probe.parent
    mode = dir_mode()
    for folder in reversed(missing):
        folder.mkdir(mode=mode, exist_ok=True)
        folder.chmod(mode)
    return path


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_watched(handle: BinaryIO, write: Callable[[BinaryIO], object]) -> None:
    """Run ``write`` on ``handle``; an OS error behind a library's own exception is re-raised."""
    watched = _WatchedFile(handle, fault_armed=bool(os.environ.get(FAULT_ENV)))
    try:
        write(cast(BinaryIO, watched))
    except Exception as err:
        if watched.os_error is None or isinstance(err, OSError):
            raise
        raise watched.os_error from err


def _write_atomic(target: Path, write: Callable[[BinaryIO], object]) -> Path:
    """Run ``write`` on a hidden temp file beside ``target``, fsync, rename over it.

    On any failure (disk full, failing rename, interrupt) the temp file is
    removed and ``target`` keeps its previous content.
    """
    ensure_dir(target.parent)
    tmp = layout.temp_path(target)
    mode = file_mode()
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        os.fchmod(fd, mode)  # the umask may have removed bits the user asked for
        with os.fdopen(fd, "wb") as fh:
            _write_watched(fh, write)
            fh.flush()
            os.fsync(fh.fileno())
        fault_point("write.after_temp")
        tmp.replace(target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fault_point("write.after_rename")
    _fsync_dir(target.parent)
    return target


def write_bytes_atomic(data: bytes, target: Path) -> Path:
    """Write ``data`` to ``target`` atomically (temp file, fsync, rename), mode :func:`file_mode`."""
    return _write_atomic(target, lambda fh: fh.write(data))


def write_parquet_atomic(df: pl.DataFrame, target: Path) -> Path:
    """Write ``df`` as zstd Parquet to ``target`` atomically, mode :func:`file_mode`."""
    return _write_atomic(
        target, lambda fh: df.write_parquet(fh, compression="zstd", statistics=True)
    )


def _sort_columns(table: str) -> list[str]:
    cols = schema.table(table).column_names
    return [c for c in schema.table(table).key if c in cols and c != "subject_id"]


def write_part(lake: Path, table: str, df: pl.DataFrame, subject_id: str, part: str) -> Path:
    """Write one part file of a subject-partitioned table (dtypes checked, sorted by key)."""
    frame = schema.checked(df, table).filter(pl.col("subject_id") == subject_id)
    if frame.height != df.height:
        raise ValueError(f"{table}: rows of other subjects passed for {subject_id}")
    body = frame.drop("subject_id").sort(_sort_columns(table))
    return write_parquet_atomic(body, layout.part_path(lake, table, subject_id, part))


def remove_part(lake: Path, table: str, subject_id: str, part: str) -> bool:
    """Delete one part file if it exists (durably); ``True`` if there was one."""
    target = layout.part_path(lake, table, subject_id, part)
    if not target.exists():
        return False
    target.unlink()
    _fsync_dir(target.parent)
    return True


def remove_file_parts(lake: Path, subject_id: str, file_id: str) -> int:
    """Delete every part (all batches, every silver table but the log) of one input file.

    For a file that is not committed (its parts are invisible to readers):
    what an earlier, interrupted or failed attempt left. Returns the count.
    """
    removed = 0
    for table in file_parted_tables():
        folder = layout.partition_dir(lake, table, subject_id)
        parts = [p for pattern in layout.file_part_globs(file_id) for p in folder.glob(pattern)]
        for path in parts:
            path.unlink()
        if parts:
            _fsync_dir(folder)
        removed += len(parts)
    return removed


def replace_partition(lake: Path, table: str, df: pl.DataFrame, subject_id: str) -> Path:
    """Replace a subject's whole partition of a gold table with ``df`` as one unit.

    The new part is written atomically first; other part files of the partition
    are removed after, so a reader sees either the old or the new rows of the
    single part name :data:`tearsignals.lake.layout.SINGLE_PART`.
    """
    target = write_part(lake, table, df, subject_id, layout.SINGLE_PART)
    fault_point("replace.before_cleanup")
    for stale in target.parent.glob(layout.PART_GLOB):
        if stale != target:
            stale.unlink()
    return target


def write_unpartitioned(lake: Path, table: str, df: pl.DataFrame) -> Path:
    """Replace an unpartitioned table (e.g. cohort_summary) atomically."""
    body = schema.checked(df, table).sort(_sort_columns(table))
    return write_parquet_atomic(body, layout.unpartitioned_path(lake, table))


def _part_files(lake: Path, table: str, subjects: Iterable[str] | None) -> list[Path]:
    root = layout.table_dir(lake, table)
    if not root.is_dir():
        return []
    if not schema.table(table).partition_by:
        return sorted(root.glob(layout.PART_GLOB))
    if subjects is None:
        return sorted(root.glob(layout.PARTITIONED_PART_GLOB))
    return [
        path
        for s in subjects
        for path in sorted(layout.partition_dir(lake, table, s).glob(layout.PART_GLOB))
    ]


def scan_table(lake: str | Path, table: str, subjects: Iterable[str] | None = None) -> pl.LazyFrame:
    """Lazy frame of ``table`` in declared column order (empty when nothing is stored)."""
    files = _part_files(Path(lake), table, subjects)
    if not files:
        return schema.empty(table).lazy()
    partitioned = bool(schema.table(table).partition_by)
    declared = schema.polars_schema(table)
    in_files = pl.Schema(
        {c: t for c, t in declared.items() if c not in schema.table(table).partition_by}
    )
    # Files written before a nullable column was added read it as null.
    lf = pl.scan_parquet(
        [str(f) for f in files],
        schema=in_files,
        hive_partitioning=partitioned,
        hive_schema={"subject_id": pl.String()} if partitioned else None,
        missing_columns="insert",
        extra_columns="ignore",
    )
    return lf.select(pl.col(c).cast(t) for c, t in schema.polars_schema(table).items())


def scan_committed(lake: Path, table: str, subjects: Iterable[str] | None = None) -> pl.LazyFrame:
    """Rows of a silver table that belong to files with an ingest-log entry.

    A crash between writing a file's parts and its log entry leaves parts that
    no reader should trust; the next ingest rewrites them under the same name.
    """
    chosen = list(subjects) if subjects is not None else None
    committed = scan_table(lake, "_ingest_log", chosen).select("subject_id", "file_id")
    return scan_table(lake, table, chosen).join(committed, on=["subject_id", "file_id"], how="semi")


def read_table(lake: str | Path, table: str, subjects: Iterable[str] | None = None) -> pl.DataFrame:
    """Eager version of :func:`scan_table`."""
    return scan_table(lake, table, subjects).collect()


def write_json_atomic(obj: Any, target: Path) -> Path:
    """Write a JSON document atomically, mode :func:`file_mode`."""
    data = json.dumps(obj, indent=1, sort_keys=True, default=str).encode()
    return write_bytes_atomic(data, target)


def _params_path(lake: Path, params_hash: str) -> Path:
    """:func:`~tearsignals.lake.layout.analysis_params_path`, for a well-formed hash only."""
    if not _PARAMS_HASH_RE.match(params_hash):
        raise InputError(f"params_hash {params_hash[:40]!r} is not 16 hexadecimal digits")
    return layout.analysis_params_path(lake, params_hash)


def write_params(lake: Path, params_hash: str, document: dict[str, Any]) -> Path:
    """Write the analysis parameters behind ``params_hash`` (atomic, mode :func:`file_mode`)."""
    return write_json_atomic(document, _params_path(lake, params_hash))


def write_plan(lake: Path, params_hash: str, text: str) -> Path:
    """Write the analysis plan behind ``params_hash`` beside its parameters (atomic).

    The plan is fixed by its hash, so a plan already in the lake is left as it is.
    """
    _params_path(lake, params_hash)  # the same check of the hash
    target = layout.analysis_plan_path(lake, params_hash)
    if target.is_file():
        return target
    return write_bytes_atomic(text.encode(), target)


def read_params(lake: str | Path, params_hash: str) -> dict[str, Any]:
    """The ``_analysis_params`` document behind ``params_hash``: what made the rows carrying it.

    Keys: ``params_hash``, ``parameters`` (the hashed ``AnalysisConfig``
    fields as JSON: ``AnalysisConfig.model_validate(doc["parameters"])``
    reproduces the hash), ``window_names`` (in analysis order) and
    ``tearsignals_version`` (of the run that wrote it). Raises ``InputError``
    with one line for a malformed hash or one the lake holds no file for.

    >>> import tempfile
    >>> lake = Path(tempfile.mkdtemp())
    >>> _ = write_params(lake, "0123456789abcdef", {"params_hash": "0123456789abcdef"})
    >>> read_params(lake, "0123456789abcdef")["params_hash"]
    '0123456789abcdef'
    """
    path = _params_path(Path(lake), params_hash)
    try:
        document = json.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(
            f"no analysis parameters for params_hash {params_hash} in {lake}"
        ) from None
    except (OSError, ValueError) as err:
        raise InputError(f"unreadable analysis parameters {path.name}: {err}") from None
    if not isinstance(document, dict):
        raise InputError(f"analysis parameters {path.name} are not a JSON object")
    return document


def params_written(lake: str | Path) -> dict[str, datetime]:
    """When each parameter set's file was last written (UTC), newest first, by ``params_hash``.

    A parameter file is rewritten by every analysis step that uses it, so its
    time is that of the last analysis run with those parameters.
    """
    folder = layout.analysis_params_dir(Path(lake))
    if not folder.is_dir():
        return {}
    written = {
        layout.params_hash_of(p): datetime.fromtimestamp(p.stat().st_mtime, UTC)
        for p in folder.glob(layout.PARAMS_GLOB)
        if _PARAMS_HASH_RE.match(layout.params_hash_of(p))
    }
    return dict(sorted(written.items(), key=lambda item: item[1], reverse=True))


def report_target(lake: str | Path, params_hash: str, episode_id: str | None = None) -> Path:
    """Where the report of ``params_hash`` (with one episode's panel, if given) is written."""
    _params_path(Path(lake), params_hash)  # a malformed hash is refused in one line
    if episode_id is None:
        return layout.report_path(Path(lake), params_hash)
    try:
        return layout.episode_report_path(Path(lake), params_hash, episode_id)
    except ValueError as err:
        raise InputError(str(err)) from None


def write_report(
    lake: str | Path, params_hash: str, html: str, episode_id: str | None = None
) -> Path:
    """Write an HTML report to :func:`report_target` (atomic, mode :func:`file_mode`)."""
    return write_bytes_atomic(html.encode(), report_target(lake, params_hash, episode_id))


def has_report(lake: str | Path, params_hash: str) -> bool:
    """Whether the cohort report of ``params_hash`` has been written."""
    return report_target(lake, params_hash).is_file()


def committed_file_ids(lake: Path, subject_id: str) -> set[str]:
    """file_ids that have an ingest-log entry for the subject (i.e. were fully committed)."""
    log = read_table(lake, "_ingest_log", [subject_id])
    return set(log.get_column("file_id").to_list())


def subjects_in(lake: Path, table: str) -> list[str]:
    """Subjects that have a partition of ``table``."""
    root = layout.table_dir(lake, table)
    if not root.is_dir():
        return []
    return sorted(
        layout.partition_subject(p) for p in root.glob(layout.PARTITION_GLOB) if p.is_dir()
    )


def file_parted_tables() -> list[str]:
    """Silver tables whose part files are named by the input file's ``file_id``."""
    return [
        t for t in schema.TABLE_NAMES if schema.table(t).layer == "silver" and t != "_ingest_log"
    ]


def uncommit(lake: Path, subject_id: str, file_id: str) -> None:
    """Withdraw a committed file: its log entry first, then its part files.

    After the log entry is gone the file counts as never ingested, so a crash
    part-way leaves it to the next run, like any file without a log entry.
    """
    remove_part(lake, "_ingest_log", subject_id, file_id)
    remove_file_parts(lake, subject_id, file_id)


def temp_litter(lake: Path) -> list[Path]:
    """Temporary files of atomic writes that never finished (their writer was killed)."""
    if not lake.is_dir():
        return []
    return sorted(p for p in lake.rglob(layout.TEMP_GLOB) if layout.is_temp_path(p))


def uncommitted_files(lake: Path) -> list[Path]:
    """Part files and validation records of input files without an ingest-log entry."""
    log = read_table(lake, "_ingest_log").select("subject_id", "file_id")
    committed = set(log.iter_rows())
    found = [
        path
        for table in file_parted_tables()
        for subject_id in subjects_in(lake, table)
        for path in _part_files(lake, table, [subject_id])
        if (subject_id, layout.part_file_id(path)) not in committed
    ]
    validation = layout.validation_dir(lake)
    if validation.is_dir():
        ids = set(log.get_column("file_id").to_list())
        found += [p for p in sorted(validation.glob(layout.VALIDATION_GLOB)) if p.stem not in ids]
    return found


def remove_uncommitted(lake: Path) -> int:
    """Delete temp litter, uncommitted parts and scratch leftovers; the number removed.

    Only safe while holding the lake's writer lock (no other writer is
    running). The input files stay in the inbox, so the run that follows
    ingests every uncommitted file again from scratch.
    """
    doomed = temp_litter(lake) + uncommitted_files(lake)
    for path in doomed:
        path.unlink(missing_ok=True)
    scratch = layout.scratch_dir(lake)
    leftovers = sorted(scratch.iterdir()) if scratch.is_dir() else []
    for leftover in leftovers:
        if leftover.is_dir():
            shutil.rmtree(leftover)
        else:
            leftover.unlink()
    return len(doomed) + len(leftovers)


def mark_pending_analysis(lake: Path, subject_id: str) -> None:
    """Record that a subject's silver data changed and its gold tables need a rebuild."""
    write_bytes_atomic(b"", layout.pending_analysis_path(lake, subject_id))


def pending_analysis(lake: Path) -> list[str]:
    """Subjects marked by :func:`mark_pending_analysis` and not yet cleared."""
    folder = layout.pending_analysis_dir(lake)
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if layout.is_subject_id(p.name))


def clear_pending_analysis(lake: Path, subjects: Iterable[str]) -> None:
    """Drop the pending marks of ``subjects`` (after their gold tables were rebuilt)."""
    for subject_id in subjects:
        layout.pending_analysis_path(lake, subject_id).unlink(missing_ok=True)
