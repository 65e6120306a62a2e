"""Ingest one inbox file into the silver lake: detect, parse, validate, de-duplicate, write.

A file is committed when its ``_ingest_log`` entry exists; that entry is
written last, so a crash before it leaves the file to be processed again by
the next run (part files are named by file_id, so the retry overwrites them).

Accounting per file: ``rows_in = rows_ok + rows_quarantined + rows_duplicate``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from tearsignals import adapters, expectations, schema, store, validate
from tearsignals.adapters.base import Parsed
from tearsignals.adapters.episode_log import episode_id
from tearsignals.errors import InputError

SILVER_TABLES = ("beats", "heart_rate", "episodes")


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
    status: str
    detail: str | None = None

    def as_log_row(self, ingested_at: datetime) -> pl.DataFrame:
        row = {**self.__dict__, "ingested_at": ingested_at}
        return schema.conform(pl.DataFrame([row], schema_overrides=_LOG_OVERRIDES), "_ingest_log")


_LOG_OVERRIDES = {"detail": pl.String(), "ingested_at": pl.Datetime("us", "UTC")}


def file_sha256(path: Path) -> str:
    """sha256 of the file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def inbox_files(inbox: Path) -> Iterator[tuple[str, Path]]:
    """(subject_id, path) for every regular file under ``inbox/<subject_id>/``, sorted.

    Hidden files and folders are ignored. A folder whose name is not a valid
    subject id raises InputError: its files would otherwise be silently skipped.
    """
    for folder in sorted(p for p in inbox.iterdir() if p.is_dir()):
        if folder.name.startswith("."):
            continue
        try:
            subject_id = store.safe_subject_id(folder.name)
        except ValueError as err:
            raise InputError(f"{folder}: {err}") from None
        for path in sorted(folder.rglob("*")):
            rel = path.relative_to(folder)
            if path.is_file() and not any(part.startswith(".") for part in rel.parts):
                yield subject_id, path


def _with_ids(frame: pl.DataFrame, subject_id: str, file_id: str) -> pl.DataFrame:
    out = frame.with_columns(subject_id=pl.lit(subject_id), file_id=pl.lit(file_id))
    if "episode_id" in out.columns:
        # Adapters cannot know the subject; the stored id hashes subject, start and end.
        ids = episode_id(pl.col("start_utc"), pl.col("end_utc"), pl.col("subject_id"))
        out = out.with_columns(ids.alias("episode_id"))
    return out


def _existing_keys(lake: Path, table: str, subject_id: str) -> pl.DataFrame:
    """Keys already stored by committed files (a crashed file's parts do not count)."""
    key = [c for c in schema.table(table).key if c != "subject_id"]
    return store.scan_committed(lake, table, [subject_id]).select(key).unique().collect()


def _new_rows(lake: Path, table: str, subject_id: str, ok: pl.DataFrame) -> pl.DataFrame:
    """Rows of ``ok`` whose natural key is not yet in the lake."""
    key = [c for c in schema.table(table).key if c != "subject_id"]
    existing = _existing_keys(lake, table, subject_id)
    if existing.is_empty():
        return ok
    return ok.join(existing, on=key, how="anti", nulls_equal=True)


def _gated(table: str, ok: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, object]]:
    """Run the great-expectations gate; a failing batch goes to quarantine whole."""
    gate = expectations.validate_batch(table, schema.conform(ok, table))
    if gate.success:
        return ok, validate.empty_quarantine(), gate.result_json
    reason = "batch failed expectations: " + "; ".join(gate.failed)
    return ok.head(0), validate.as_quarantine(table, ok, reason), gate.result_json


@dataclass(frozen=True)
class _TableOutcome:
    accepted: pl.DataFrame
    quarantined: pl.DataFrame
    duplicates: int
    validation: dict[str, object]


def _table_outcome(lake: Path, table: str, frame: pl.DataFrame, subject_id: str) -> _TableOutcome:
    checked = validate.row_rules(table, frame)
    gated, gate_quarantine, result = _gated(table, checked.ok)
    fresh = _new_rows(lake, table, subject_id, gated)
    return _TableOutcome(
        accepted=fresh,
        quarantined=pl.concat([checked.quarantined, gate_quarantine]),
        duplicates=checked.duplicates + (gated.height - fresh.height),
        validation=result,
    )


def _rejects_as_quarantine(parsed: Parsed, subject_id: str, file_id: str) -> pl.DataFrame:
    return _with_ids(parsed.rejects, subject_id, file_id).select(
        schema.polars_schema("quarantine").names()
    )


def ingest_file(lake: Path, inbox: Path, subject_id: str, path: Path) -> FileReport | None:
    """Ingest one file; ``None`` when it was already committed (same sha256)."""
    file_id = file_sha256(path)
    if file_id in store.committed_file_ids(lake, subject_id):
        return None
    rel = str(path.relative_to(inbox))
    try:
        adapter, parsed = adapters.parse_file(path)
    except InputError as err:
        status = "unknown_format" if isinstance(err, adapters.UnknownFormat) else "rejected"
        report = FileReport(subject_id, file_id, rel, "unknown", 0, 0, 0, 0, status, str(err))
        return _commit(lake, report, [])
    outcomes = {
        table: _table_outcome(lake, table, _with_ids(frame, subject_id, file_id), subject_id)
        for table, frame in parsed.frames.items()
    }
    quarantined = pl.concat(
        [_rejects_as_quarantine(parsed, subject_id, file_id)]
        + [o.quarantined for o in outcomes.values()]
    )
    rows_ok = sum(o.accepted.height for o in outcomes.values())
    report = FileReport(
        subject_id, file_id, rel, adapter.name, parsed.rows_in, rows_ok,
        quarantined.height, parsed.duplicates + sum(o.duplicates for o in outcomes.values()),
        "ingested",
    )  # fmt: skip
    if report.rows_in != rows_ok + report.rows_quarantined + report.rows_duplicate:
        raise AssertionError(f"{rel}: row accounting does not add up: {report}")
    parts = [(t, o.accepted) for t, o in outcomes.items() if o.accepted.height]
    if quarantined.height:
        parts.append(("quarantine", quarantined))
    validation = {t: o.validation for t, o in outcomes.items()}
    store.write_json_atomic(validation, lake / "validation" / f"{file_id}.json")
    return _commit(lake, report, parts)


def _commit(lake: Path, report: FileReport, parts: list[tuple[str, pl.DataFrame]]) -> FileReport:
    """Write the part files, then the ingest-log entry that marks the file committed."""
    for table, frame in parts:
        store.write_part(lake, table, frame, report.subject_id, report.file_id)
    log_row = report.as_log_row(datetime.now(UTC))
    store.write_part(lake, "_ingest_log", log_row, report.subject_id, report.file_id)
    return report
