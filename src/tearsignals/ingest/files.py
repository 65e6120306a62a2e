"""Ingest one inbox file into the silver lake: detect, read in batches, plan, write.

The file is read by its adapter as batches
(:meth:`tearsignals.ingest.adapters.base.Adapter.read`: one for small formats,
bounded ones for large exports) and each batch is planned against the
committed rows of the lake (:mod:`tearsignals.ingest.plan`: ids, the one cast,
row rules, the great-expectations gate, key resolution) and written as part
files of its own (``<file_id>``, ``<file_id>.00001``, ...), so memory holds one
batch. A file is committed when its ``_ingest_log`` entry exists; that entry
is written last, after every batch, so a crash before it leaves parts no
reader sees (readers take committed files only) and the file to be processed
again by the next run, which first removes them.

Accounting per file: ``rows_in = rows_ok + rows_quarantined + rows_duplicate +
rows_skipped``.

When the new file wins a key conflict (see :mod:`tearsignals.ingest.plan`),
the committed file that loses is withdrawn
(:func:`tearsignals.lake.store.uncommit`) and ingested again right after, so its
accounting and quarantine are as if both had arrived in the other order. That
needs the losing file in the inbox (found by its sha256); if it is gone, the
stored row is kept and the new one quarantined.

What a file's reading depended on besides its bytes (the subject profile, for
formats that may hold local times without offset, and the file's ``.tz`` /
``.start`` sidecars) is logged as ``context_sha256``. A committed file whose
context changed since (a profile or sidecar added, fixed or edited) is
withdrawn and read again, so a file refused for a missing zone is taken once
the zone is given.

The subject profile ``INBOX/<subject>/subject.toml`` (:mod:`tearsignals.ingest.profile`)
is not data: it gets a log row of format ``subject_profile`` with status
``profile`` (``rejected`` with the one-line problem when invalid) and no rows;
only the current version keeps a row.

With a pseudonymisation key, the subject id and the inbox path are stored
pseudonymised (:mod:`tearsignals.lake.privacy`).

Isolation: an unexpected error while reading, parsing or validating one file
(an ``OSError`` such as EIO from the disk, a fault in an adapter) does not stop
the run. The file gets a log row of status ``failed`` with a one-line reason
naming the error's kind, never its message (it may quote the data), and no
rows. Unlike ``rejected`` (a verdict on the file's bytes, final until they or
their context change), ``failed`` is a verdict on one attempt: the next run
withdraws the row and reads the file again. A file whose bytes cannot be read
at all is logged under an id derived from its path (:func:`unreadable_file_id`).
Errors writing the lake are not the file's fault and still stop the run (the
file is left uncommitted, so the next run takes it again).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from tearsignals.contract import schema
from tearsignals.errors import InputError
from tearsignals.ingest import adapters
from tearsignals.ingest.adapters.base import Adapter, Context, Parsed
from tearsignals.ingest.adapters.rr_text import SIDECAR_SUFFIXES
from tearsignals.ingest.inbox import Refusal, is_regular_file, subject_files
from tearsignals.ingest.inbox import check_apart as check_apart  # re-exported: ingest's entry
from tearsignals.ingest.inbox import scan as inbox_scan
from tearsignals.ingest.plan import FilePlan, FileTotals, file_plan
from tearsignals.ingest.profile import PROFILE_NAME, ProfileFile, read_profile
from tearsignals.lake import layout, privacy, store


@dataclass(frozen=True)
class FileReport:
    """What happened to one input file; it is also the ``_ingest_log`` row."""

    subject_id: str
    file_id: str
    path: str
    format: str
    rows_in: int
    rows_ok: int
    rows_quarantined: int
    rows_duplicate: int
    rows_skipped: int
    status: str
    detail: str | None = None
    context_sha256: str | None = None

    @classmethod
    def of_totals(
        cls, totals: FileTotals, subject_id: str, file_id: str, path: str, context: str | None
    ) -> FileReport:
        """The report of an ingested file from its batches' totals."""
        counts = (
            totals.rows_in, totals.rows_ok, totals.rows_quarantined, totals.rows_duplicate,
            totals.rows_skipped,
        )  # fmt: skip
        return cls(subject_id, file_id, path, totals.format, *counts, "ingested", None, context)

    @classmethod
    def refused(
        cls, subject_id: str, file_id: str, path: str, status: str, detail: str | None,
        context_sha256: str | None = None, format_name: str = "unknown",
    ) -> FileReport:  # fmt: skip
        """The report of a file that holds no rows: refused, unknown, or the subject profile."""
        return cls(
            subject_id, file_id, path, format_name, 0, 0, 0, 0, 0, status, detail, context_sha256
        )

    def as_log_row(self, ingested_at: datetime) -> pl.DataFrame:
        row = {**self.__dict__, "ingested_at": ingested_at}
        return schema.conform(pl.DataFrame([row], schema_overrides=_LOG_OVERRIDES), "_ingest_log")


_LOG_OVERRIDES = {
    "detail": pl.String(),
    "context_sha256": pl.String(),
    "ingested_at": pl.Datetime("us", "UTC"),
}
PROFILE_FORMAT = "subject_profile"
STATUS_PROFILE = "profile"
STATUS_FAILED = "failed"


class ReadFailure(Exception):
    """An unexpected error while reading one file; ``reason`` is one line without data values."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def failure_reason(name: str, err: BaseException) -> str:
    """The one-line reason of a failed file: its name and the error's kind, never the message.

    >>> failure_reason("rr.csv", OSError(5, "Input/output error"))
    'rr.csv: could not be read (Input/output error)'
    >>> failure_reason("rr.csv", ValueError("bad value '1234'"))
    'rr.csv: unexpected ValueError while reading (message withheld: it may quote input data)'
    """
    if isinstance(err, OSError):
        return f"{name}: could not be read ({err.strerror or type(err).__name__})"
    return (
        f"{name}: unexpected {type(err).__name__} while reading "
        "(message withheld: it may quote input data)"
    )


@contextmanager
def reading(name: str) -> Iterator[None]:
    """Turn an unexpected error into :class:`ReadFailure`; :class:`InputError` passes unchanged."""
    try:
        yield
    except InputError:
        raise
    except Exception as err:
        raise ReadFailure(failure_reason(name, err)) from err


def unreadable_file_id(stored_path: str) -> str:
    """The log id of a file whose bytes could not be hashed: derived from its stored path."""
    return hashlib.sha256(b"unreadable\0" + stored_path.encode()).hexdigest()


def file_sha256(path: Path) -> str:
    """sha256 of the file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def inbox_files(inbox: Path) -> Iterator[tuple[str, Path]]:
    """(subject_id, path) for every regular file under ``inbox/<subject_id>/``, sorted.

    Hidden files and folders are ignored. Links, and folders whose name is not
    a valid subject id, are left out (:func:`inbox_refusals`, which the run
    reports) and the other subjects are still read (:mod:`tearsignals.ingest.inbox`).
    """
    return iter(inbox_scan(inbox)[0])


def inbox_refusals(inbox: Path) -> list[Refusal]:
    """The inbox entries :func:`inbox_files` leaves out for a reason, sorted."""
    return inbox_scan(inbox)[1]


def context_sha256(path: Path, adapter: Adapter | None, profile: ProfileFile | None) -> str | None:
    """sha256 of what reading ``path`` depends on besides its bytes; ``None`` for nothing.

    That is the subject profile, for formats that read it, and the file's
    ``.tz``/``.start`` sidecars.
    """
    parts = []
    if adapter is not None and adapter.reads_profile and profile is not None:
        parts.append([PROFILE_NAME, profile.sha256])
    for suffix in SIDECAR_SUFFIXES:
        sidecar = path.with_name(path.name + suffix)
        if is_regular_file(sidecar):
            parts.append([suffix, file_sha256(sidecar)])
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest() if parts else None


def reading_context(
    path: Path, adapter: Adapter, profile: ProfileFile | None, scratch: Path | None = None
) -> Context:
    """The :class:`Context` ``adapter`` reads ``path`` in (InputError if its profile is invalid)."""
    if not adapter.reads_profile or profile is None:
        return Context(scratch=scratch)
    if profile.profile is None:
        raise InputError(
            f"{path.name}: the subject profile is needed and invalid: {profile.problem}"
        )
    return Context(zones=profile.profile.local_zones(), scratch=scratch)


def _logged(lake: Path, subject_id: str, file_id: str) -> dict[str, object] | None:
    """The ``_ingest_log`` row of a committed file, if any."""
    log = store.read_table(lake, "_ingest_log", [subject_id]).filter(pl.col("file_id") == file_id)
    return log.row(0, named=True) if log.height else None


def _is_current(lake: Path, subject_id: str, file_id: str, path: str, context: str | None) -> bool:
    """Whether the file is committed as it would be read now; a stale entry is withdrawn.

    Stale: the same path read in another context (profile or sidecars changed).
    The same bytes committed from another path keep that path's entry.
    """
    logged = _logged(lake, subject_id, file_id)
    if logged is None or logged["status"] == STATUS_FAILED:
        return False
    if logged["context_sha256"] == context or logged["path"] != path:
        return True
    store.uncommit(lake, subject_id, file_id)
    return False


def ingest_file(
    lake: Path, inbox: Path, subject_id: str, path: Path, *, key: bytes | None = None
) -> FileReport | None:
    """Ingest one file; ``None`` when it is committed already (same sha256 and context).

    ``subject_id`` is the inbox folder name; with ``key`` the lake gets its
    pseudonym instead. A committed file that loses a key conflict to this one
    is withdrawn and ingested again after it (see the module docstring). An
    unexpected error while reading the file is its ``failed`` log row.
    """
    stored_id = privacy.stored_subject_id(subject_id, key)
    rel = privacy.stored_path(str(path.relative_to(inbox)), subject_id, stored_id)
    _withdraw_failed(lake, stored_id, rel)
    file_id = unreadable_file_id(rel)
    try:
        with reading(path.name):
            file_id = file_sha256(path)
        return _ingested(lake, inbox, subject_id, path, key, file_id)
    except ReadFailure as failure:
        if _logged(lake, stored_id, file_id) is None:
            store.remove_file_parts(lake, stored_id, file_id)  # batches written before the error
        else:  # the same bytes are committed from another path: keep them, log this one apart
            file_id = unreadable_file_id(rel)
        detail = privacy.stored_path(failure.reason, subject_id, stored_id)
        return _commit(lake, FileReport.refused(stored_id, file_id, rel, STATUS_FAILED, detail))


def _withdraw_failed(lake: Path, subject_id: str, path: str) -> None:
    """Withdraw the ``failed`` log rows of ``path``: each run reads a failed file again."""
    log = store.read_table(lake, "_ingest_log", [subject_id])
    if log.is_empty():
        return
    failed = log.filter((pl.col("status") == STATUS_FAILED) & (pl.col("path") == path))
    for file_id in failed.get_column("file_id"):
        store.uncommit(lake, subject_id, file_id)


def _ingested(
    lake: Path, inbox: Path, subject_id: str, path: Path, key: bytes | None, file_id: str
) -> FileReport | None:
    """:func:`ingest_file` of a file with id ``file_id``; :class:`ReadFailure` when reading breaks."""
    stored_id = privacy.stored_subject_id(subject_id, key)
    folder = inbox / path.relative_to(inbox).parts[0]
    rel = privacy.stored_path(str(path.relative_to(inbox)), subject_id, stored_id)
    if path == folder / PROFILE_NAME:
        return _profile_logged(lake, folder, stored_id, file_id, rel)
    with reading(path.name):
        profile = read_profile(folder)
        try:
            adapter: Adapter | None = adapters.detected(path)
        except InputError as err:
            adapter, refusal = None, err
        context = context_sha256(path, adapter, profile)
    if _is_current(lake, stored_id, file_id, rel, context):
        return None
    store.remove_file_parts(lake, stored_id, file_id)  # left by an interrupted attempt
    try:
        if adapter is None:
            raise refusal
        scratch = store.ensure_dir(layout.scratch_dir(lake))
        with reading(path.name):
            batches = adapter.read(path, reading_context(path, adapter, profile, scratch))
        totals, replays = _written(
            lake, folder, path.name, adapter.name, batches, stored_id, file_id
        )
    except InputError as err:
        store.remove_file_parts(lake, stored_id, file_id)  # batches written before the error
        status = "unknown_format" if isinstance(err, adapters.UnknownFormat) else "rejected"
        detail = privacy.stored_path(str(err), subject_id, stored_id)
        return _commit(lake, FileReport.refused(stored_id, file_id, rel, status, detail, context))
    for withdrawn in replays:
        store.uncommit(lake, stored_id, withdrawn)
    if replays:
        store.fault_point("ingest.after_uncommit")
    store.write_json_atomic(totals.validation, layout.validation_path(lake, file_id))
    report = _commit(lake, FileReport.of_totals(totals, stored_id, file_id, rel, context))
    for source in replays.values():
        ingest_file(lake, inbox, subject_id, source, key=key)
    return report


def _read_batches(batches: Iterator[Parsed], name: str) -> Iterator[Parsed]:
    """``batches``, an unexpected error while reading the next one raised as ReadFailure."""
    while True:
        with reading(name):
            parsed = next(batches, None)
        if parsed is None:
            return
        yield parsed


def _written(
    lake: Path,
    folder: Path,
    name: str,
    format_name: str,
    batches: Iterator[Parsed],
    subject_id: str,
    file_id: str,
) -> tuple[FileTotals, dict[str, Path]]:
    """Plan and write each batch as part files of its own; the totals and the displaced files.

    The parts stay invisible until the file's log entry is written. An
    unexpected error reading or planning a batch is a :class:`ReadFailure`;
    errors writing the lake propagate as they are.
    """
    totals, replays = FileTotals(format_name), {}
    for number, parsed in enumerate(_read_batches(batches, name)):
        with reading(name):
            plan, displaced = _planned(lake, folder, format_name, parsed, subject_id, file_id)
        replays.update(displaced)
        part = layout.batch_part(file_id, number)
        for table, outcome in plan.tables.items():
            if outcome.accepted.height:
                store.write_part(lake, table, outcome.accepted, subject_id, part)
        if plan.quarantined.height:
            store.write_part(lake, "quarantine", plan.quarantined, subject_id, part)
        totals.add(plan)
    return totals, replays


def _profile_logged(
    lake: Path, folder: Path, subject_id: str, file_id: str, path: str
) -> FileReport | None:
    """Log the subject profile (no rows); earlier versions lose their log rows."""
    log = store.read_table(lake, "_ingest_log", [subject_id])
    if file_id in set(log.get_column("file_id").to_list()):
        return None
    for older in log.filter(pl.col("format") == PROFILE_FORMAT).get_column("file_id"):
        store.uncommit(lake, subject_id, older)
    with reading(PROFILE_NAME):
        profile = read_profile(folder)
    problem = None if profile is None else profile.problem
    status = STATUS_PROFILE if problem is None else "rejected"
    report = FileReport.refused(subject_id, file_id, path, status, problem, None, PROFILE_FORMAT)
    return _commit(lake, report)


def _planned(
    lake: Path, folder: Path, format_name: str, parsed: Parsed, subject_id: str, file_id: str
) -> tuple[FilePlan, dict[str, Path]]:
    """The plan of a file, and the committed files it displaces with their inbox paths.

    A displaced file that is no longer in the inbox cannot be ingested again,
    so it keeps its rows (it is ``locked`` in a second pass).
    """
    plan = file_plan(format_name, parsed, subject_id, file_id, lake)
    sources = {g: _file_with_id(folder, g) for g in sorted(plan.displaced)}
    stuck = frozenset(g for g, source in sources.items() if source is None)
    if stuck:
        plan = file_plan(format_name, parsed, subject_id, file_id, lake, stuck)
    return plan, {g: source for g, source in sources.items() if source is not None}


def _file_with_id(folder: Path, file_id: str) -> Path | None:
    """The visible file under ``folder`` whose sha256 is ``file_id``, if any."""
    return next((path for path in subject_files(folder) if file_sha256(path) == file_id), None)


def _commit(lake: Path, report: FileReport) -> FileReport:
    """Write the ingest-log entry that marks the file (its parts written) committed.

    A file that added rows marks its subject for re-analysis first.
    """
    if report.rows_ok:
        store.mark_pending_analysis(lake, report.subject_id)
    store.fault_point("ingest.before_log")
    log_row = report.as_log_row(datetime.now(UTC))
    store.write_part(lake, "_ingest_log", log_row, report.subject_id, report.file_id)
    return report
