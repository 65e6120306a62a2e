"""The lake: the only module that reads or writes Parquet.

Layout: ``LAKE/<table>/subject_id=<id>/<part>.parquet`` (hive partitions, the
partition column is not repeated inside the files), ``LAKE/cohort_summary/
part-0.parquet`` and ``LAKE/validation/<file_id>.json``.

Every write is atomic: the bytes go to a hidden temporary file in the target
directory, are fsynced, and are renamed over the target; readers only ever
glob ``*.parquet`` and never see the temporary name. Directories are created
0700 and files 0600: the lake holds health data.

Examples
--------
>>> import tempfile
>>> lake = Path(tempfile.mkdtemp())
>>> path = write_json_atomic({"ok": True}, lake / "validation" / "x.json")
>>> oct(path.stat().st_mode & 0o777), oct(path.parent.stat().st_mode & 0o777)
('0o600', '0o700')
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, BinaryIO

import polars as pl

from tearsignals import schema

DIR_MODE = 0o700
FILE_MODE = 0o600
_SUBJECT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


def safe_subject_id(name: str) -> str:
    """Return ``name`` if it is usable as a subject id and a path segment, else raise ValueError."""
    if not _SUBJECT_RE.match(name):
        raise ValueError(
            f"subject id {name!r} must be 1-128 characters of letters, digits, '_', '.', '-'"
        )
    return name


def ensure_dir(path: Path) -> Path:
    """Create ``path`` and any missing parents, each with owner-only permissions."""
    missing = []
    probe = path
    while not probe.exists():
        missing.append(probe)
        probe = probe.parent
    for folder in reversed(missing):
        folder.mkdir(mode=DIR_MODE, exist_ok=True)
    return path


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_atomic(target: Path, write: Callable[[BinaryIO], object]) -> Path:
    """Run ``write`` on a hidden temp file beside ``target``, fsync, rename over it."""
    ensure_dir(target.parent)
    tmp = target.parent / f".{target.name}.{uuid.uuid4().hex}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(target.parent)
    return target


def write_bytes_atomic(data: bytes, target: Path) -> Path:
    """Write ``data`` to ``target`` atomically (temp file, fsync, rename), mode 0600."""
    return _write_atomic(target, lambda fh: fh.write(data))


def write_parquet_atomic(df: pl.DataFrame, target: Path) -> Path:
    """Write ``df`` as zstd Parquet to ``target`` atomically, mode 0600."""
    return _write_atomic(
        target, lambda fh: df.write_parquet(fh, compression="zstd", statistics=True)
    )


def table_dir(lake: Path, table: str) -> Path:
    return lake / table


def partition_dir(lake: Path, table: str, subject_id: str) -> Path:
    return lake / table / f"subject_id={safe_subject_id(subject_id)}"


def _sort_columns(table: str) -> list[str]:
    cols = schema.table(table).column_names
    return [c for c in schema.table(table).key if c in cols and c != "subject_id"]


def write_part(lake: Path, table: str, df: pl.DataFrame, subject_id: str, part: str) -> Path:
    """Write one part file of a subject-partitioned table (conformed, sorted by key)."""
    frame = schema.conform(df, table).filter(pl.col("subject_id") == subject_id)
    if frame.height != df.height:
        raise ValueError(f"{table}: rows of other subjects passed for {subject_id}")
    body = frame.drop("subject_id").sort(_sort_columns(table))
    return write_parquet_atomic(body, partition_dir(lake, table, subject_id) / f"{part}.parquet")


def replace_partition(lake: Path, table: str, df: pl.DataFrame, subject_id: str) -> Path:
    """Replace a subject's whole partition of a gold table with ``df`` as one unit.

    The new part is written atomically first; other part files of the partition
    are removed after, so a reader sees either the old or the new rows of the
    single part name ``part-0.parquet``.
    """
    target = write_part(lake, table, df, subject_id, "part-0")
    for stale in target.parent.glob("*.parquet"):
        if stale != target:
            stale.unlink()
    return target


def write_unpartitioned(lake: Path, table: str, df: pl.DataFrame) -> Path:
    """Replace an unpartitioned table (e.g. cohort_summary) atomically."""
    body = schema.conform(df, table).sort(_sort_columns(table))
    return write_parquet_atomic(body, table_dir(lake, table) / "part-0.parquet")


def _part_files(lake: Path, table: str, subjects: Iterable[str] | None) -> list[Path]:
    root = table_dir(lake, table)
    if not root.is_dir():
        return []
    if not schema.table(table).partition_by:
        return sorted(root.glob("*.parquet"))
    if subjects is None:
        return sorted(root.glob("subject_id=*/*.parquet"))
    files: list[Path] = []
    for s in subjects:
        files.extend(sorted(partition_dir(lake, table, s).glob("*.parquet")))
    return files


def scan_table(lake: Path, table: str, subjects: Iterable[str] | None = None) -> pl.LazyFrame:
    """Lazy frame of ``table`` in declared column order (empty when nothing is stored)."""
    files = _part_files(lake, table, subjects)
    if not files:
        return schema.empty(table).lazy()
    partitioned = bool(schema.table(table).partition_by)
    lf = pl.scan_parquet(
        [str(f) for f in files],
        hive_partitioning=partitioned,
        hive_schema={"subject_id": pl.String()} if partitioned else None,
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


def read_table(lake: Path, table: str, subjects: Iterable[str] | None = None) -> pl.DataFrame:
    """Eager version of :func:`scan_table`."""
    return scan_table(lake, table, subjects).collect()


def write_json_atomic(obj: Any, target: Path) -> Path:
    """Write a JSON document atomically, mode 0600."""
    data = json.dumps(obj, indent=1, sort_keys=True, default=str).encode()
    return write_bytes_atomic(data, target)


def committed_file_ids(lake: Path, subject_id: str) -> set[str]:
    """file_ids that have an ingest-log entry for the subject (i.e. were fully committed)."""
    log = read_table(lake, "_ingest_log", [subject_id])
    return set(log.get_column("file_id").to_list())


def subjects_in(lake: Path, table: str) -> list[str]:
    """Subjects that have a partition of ``table``."""
    root = table_dir(lake, table)
    if not root.is_dir():
        return []
    return sorted(p.name.split("=", 1)[1] for p in root.glob("subject_id=*") if p.is_dir())
