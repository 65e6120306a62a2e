"""Ingest one inbox file into the silver lake: detect, parse, validate, de-duplicate, write.

A file is committed when its ``_ingest_log`` entry exists; that entry is
written last, so a crash before it leaves the file to be processed again by
the next run (part files are named by file_id, so the retry overwrites them).

Accounting per file: ``rows_in = rows_ok + rows_quarantined + rows_duplicate``.

Rows that share a natural key with a row of a committed file: an exact copy
(same values) is a duplicate and the stored row stays; different values are a
*conflict*, and the lake keeps the row with the smallest values (compared
column by column in schema order, nulls last) whatever the arrival order; the
other row is quarantined as ``duplicate key with different values``. When the
new file wins a conflict, the committed file that loses is withdrawn
(:func:`tearsignals.lake.store.uncommit`) and ingested again right after, so its
accounting and quarantine are as if both had arrived in the other order. That
needs the losing file in the inbox (found by its sha256); if it is gone, the
stored row is kept and the new one quarantined.

With a pseudonymisation key, the subject id and the inbox path are stored
pseudonymised (:mod:`tearsignals.lake.privacy`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from tearsignals.contract import expectations, schema
from tearsignals.errors import InputError
from tearsignals.ingest import adapters, validate
from tearsignals.ingest.adapters.base import Parsed
from tearsignals.lake import layout, privacy, store

ID_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S%.6fZ"


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
            subject_id = layout.safe_subject_id(folder.name)
        except ValueError as err:
            raise InputError(f"{folder}: {err}") from None
        for path in sorted(folder.rglob("*")):
            rel = path.relative_to(folder)
            if path.is_file() and not any(part.startswith(".") for part in rel.parts):
                yield subject_id, path


def _sha256_16(keys: pl.Series) -> pl.Series:
    """First 16 hex digits of sha256 of each key (null stays null)."""
    # sha256 is not a polars expression; episode logs hold hundreds of rows, so a
    # Python loop over them is cheap (never used on beat-sized tables).
    return pl.Series(
        [None if k is None else hashlib.sha256(k.encode()).hexdigest()[:16] for k in keys],
        dtype=pl.String,
    )


def episode_id(start_utc: pl.Expr, end_utc: pl.Expr, subject_id: pl.Expr) -> pl.Expr:
    """Stable episode id: first 16 hex digits of sha256 of ``subject|start|end``.

    Times are rendered as ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` in UTC, so the id
    does not depend on the zone the episode was logged in; the subject is part
    of it, so equal times of two subjects never collide (which is why ingest,
    not the adapter, derives it).

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> t0 = datetime(2026, 1, 5, 14, tzinfo=timezone.utc)
    >>> t1 = datetime(2026, 1, 5, 14, 20, tzinfo=timezone.utc)
    >>> frame = pl.DataFrame({"start_utc": [t0], "end_utc": [t1], "subject_id": ["s01"]})
    >>> frame.select(episode_id(pl.col("start_utc"), pl.col("end_utc"), pl.col("subject_id"))).item()
    'd900271300d9062d'
    """
    times = [
        e.dt.convert_time_zone("UTC").dt.strftime(ID_TIME_FORMAT) for e in (start_utc, end_utc)
    ]
    key = pl.concat_str([subject_id.cast(pl.String), *times], separator="|")
    return key.map_batches(_sha256_16, return_dtype=pl.String).alias("episode_id")


def _with_ids(
    frame: pl.DataFrame, subject_id: str, file_id: str, table: str | None = None
) -> pl.DataFrame:
    """``frame`` plus ``subject_id`` and ``file_id``.

    With ``table``, the :func:`episode_id` is added where the table has one,
    and every *nullable* column of that table the adapter did not
    emit is added as a typed null column (e.g. ``heart_rate.confidence``, which
    only some formats report), so a schema extension does not break adapters
    written before it. A missing non-nullable column still fails in
    :func:`tearsignals.contract.schema.conform`.
    """
    out = frame.with_columns(subject_id=pl.lit(subject_id), file_id=pl.lit(file_id))
    if table is None:
        return out
    if "episode_id" in schema.table(table).column_names:
        out = out.with_columns(
            episode_id(pl.col("start_utc"), pl.col("end_utc"), pl.col("subject_id"))
        )
    absent = [c for c in schema.table(table).columns if c.nullable and c.name not in out.columns]
    return out.with_columns(pl.lit(None, c.dtype).alias(c.name) for c in absent)


def _key_columns(table: str) -> list[str]:
    return [c for c in schema.table(table).key if c != "subject_id"]


def _value_columns(table: str) -> list[str]:
    """Columns whose values decide between two rows with the same natural key."""
    return [c for c in validate.value_columns(table) if c not in schema.table(table).key]


def _stored_rows(lake: Path, table: str, subject_id: str, ok: pl.DataFrame) -> pl.DataFrame:
    """Committed rows sharing a natural key with ``ok`` (a crashed file's parts do not count)."""
    key = _key_columns(table)
    return (
        store.scan_committed(lake, table, [subject_id])
        .join(ok.select(key).lazy(), on=key, how="semi", nulls_equal=True)
        .collect()
    )


def _key_winners(
    stored: pl.DataFrame, ok: pl.DataFrame, table: str, locked: frozenset[str]
) -> pl.DataFrame:
    """Per natural key the row the lake keeps: a ``locked`` file's row, else the smallest values.

    On equal values the stored row stays, so an exact copy never replaces it.
    """
    key, values = _key_columns(table), _value_columns(table)
    columns = [*key, *values, "file_id"]
    both = pl.concat(
        [stored.select(columns).with_columns(_new=pl.lit(False)),
         ok.select(columns).with_columns(_new=pl.lit(True))]
    )  # fmt: skip
    free = ~pl.col("file_id").is_in(sorted(locked)) if locked else pl.lit(True)
    return (
        both.with_columns(_free=free)
        .sort(["_free", *values, "_new"], nulls_last=True)
        .unique(subset=key, keep="first", maintain_order=True)
    )


@dataclass(frozen=True)
class _Resolved:
    accepted: pl.DataFrame
    conflicts: pl.DataFrame
    duplicates: int
    displaced: frozenset[str]


def _resolved(
    lake: Path, table: str, subject_id: str, ok: pl.DataFrame, locked: frozenset[str]
) -> _Resolved:
    """Split ``ok`` against the lake: new or winning rows, conflicts lost, exact copies."""
    typed = ok.with_columns(pl.col(c).cast(t) for c, t in schema.polars_schema(table).items())
    stored = _stored_rows(lake, table, subject_id, typed)
    if stored.is_empty():
        return _Resolved(typed, typed.head(0), 0, frozenset())
    key, values = _key_columns(table), _value_columns(table)
    winners = _key_winners(stored, typed, table, locked)
    best = winners.select(*key, *(pl.col(c).alias(f"_w_{c}") for c in values), _won="_new")
    joined = typed.join(best, on=key, how="left", nulls_equal=True, maintain_order="left")
    same = pl.all_horizontal(pl.col(c).eq_missing(pl.col(f"_w_{c}")) for c in values)
    lost = stored.join(winners.filter("_new").select(key), on=key, how="semi", nulls_equal=True)
    return _Resolved(
        accepted=joined.filter("_won").select(typed.columns),
        conflicts=joined.filter(~pl.col("_won") & ~same).select(typed.columns),
        duplicates=joined.filter(~pl.col("_won") & same).height,
        displaced=frozenset(lost.get_column("file_id").to_list()),
    )


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
    displaced: frozenset[str]


def _table_outcome(
    lake: Path, table: str, frame: pl.DataFrame, subject_id: str, locked: frozenset[str]
) -> _TableOutcome:
    checked = validate.row_rules(table, frame)
    gated, gate_quarantine, result = _gated(table, checked.ok)
    resolved = _resolved(lake, table, subject_id, gated, locked)
    conflicts = validate.as_quarantine(table, resolved.conflicts, validate.REASON_KEY_CONFLICT)
    return _TableOutcome(
        accepted=resolved.accepted,
        quarantined=pl.concat([checked.quarantined, gate_quarantine, conflicts]),
        duplicates=checked.duplicates + resolved.duplicates,
        validation=result,
        displaced=resolved.displaced,
    )


def _outcomes(
    lake: Path, parsed: Parsed, subject_id: str, file_id: str, locked: frozenset[str]
) -> dict[str, _TableOutcome]:
    return {
        table: _table_outcome(
            lake, table, _with_ids(frame, subject_id, file_id, table), subject_id, locked
        )
        for table, frame in parsed.frames.items()
    }


def _rejects_as_quarantine(parsed: Parsed, subject_id: str, file_id: str) -> pl.DataFrame:
    return _with_ids(parsed.rejects, subject_id, file_id).select(
        schema.polars_schema("quarantine").names()
    )


def ingest_file(
    lake: Path, inbox: Path, subject_id: str, path: Path, *, key: bytes | None = None
) -> FileReport | None:
    """Ingest one file; ``None`` when it was already committed (same sha256).

    ``subject_id`` is the inbox folder name; with ``key`` the lake gets its
    pseudonym instead. A committed file that loses a key conflict to this one
    is withdrawn and ingested again after it (see the module docstring).
    """
    stored_id = privacy.stored_subject_id(subject_id, key)
    file_id = file_sha256(path)
    if file_id in store.committed_file_ids(lake, stored_id):
        return None
    rel = privacy.stored_path(str(path.relative_to(inbox)), subject_id, stored_id)
    try:
        adapter, parsed = adapters.parse_file(path)
    except InputError as err:
        status = "unknown_format" if isinstance(err, adapters.UnknownFormat) else "rejected"
        detail = privacy.stored_path(str(err), subject_id, stored_id)
        report = FileReport(stored_id, file_id, rel, "unknown", 0, 0, 0, 0, status, detail)
        return _commit(lake, report, [])
    folder = inbox / path.relative_to(inbox).parts[0]
    outcomes, replays = _planned(lake, folder, parsed, stored_id, file_id)
    for withdrawn in replays:
        store.uncommit(lake, stored_id, withdrawn)
    if replays:
        store.fault_point("ingest.after_uncommit")
    base = FileReport(stored_id, file_id, rel, adapter.name, 0, 0, 0, 0, "ingested")
    report = _ingested(lake, outcomes, parsed, base)
    for source in replays.values():
        ingest_file(lake, inbox, subject_id, source, key=key)
    return report


def _planned(
    lake: Path, folder: Path, parsed: Parsed, subject_id: str, file_id: str
) -> tuple[dict[str, _TableOutcome], dict[str, Path]]:
    """Table outcomes of a file, and the committed files it displaces with their inbox paths.

    A displaced file that is no longer in the inbox cannot be ingested again,
    so it keeps its rows (it is ``locked`` in a second pass).
    """
    outcomes = _outcomes(lake, parsed, subject_id, file_id, frozenset())
    displaced = frozenset().union(*(o.displaced for o in outcomes.values()))
    sources = {g: _file_with_id(folder, g) for g in sorted(displaced)}
    stuck = frozenset(g for g, source in sources.items() if source is None)
    if stuck:
        outcomes = _outcomes(lake, parsed, subject_id, file_id, stuck)
    return outcomes, {g: source for g, source in sources.items() if source is not None}


def _file_with_id(folder: Path, file_id: str) -> Path | None:
    """The visible file under ``folder`` whose sha256 is ``file_id``, if any."""
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        hidden = any(part.startswith(".") for part in rel.parts)
        if path.is_file() and not hidden and file_sha256(path) == file_id:
            return path
    return None


def _ingested(
    lake: Path, outcomes: dict[str, _TableOutcome], parsed: Parsed, base: FileReport
) -> FileReport:
    """Check the accounting of a parsed file, then write its validation record and commit it."""
    quarantined = pl.concat(
        [_rejects_as_quarantine(parsed, base.subject_id, base.file_id)]
        + [o.quarantined for o in outcomes.values()]
    )
    rows_ok = sum(o.accepted.height for o in outcomes.values())
    duplicates = parsed.duplicates + sum(o.duplicates for o in outcomes.values())
    report = replace(base, rows_in=parsed.rows_in, rows_ok=rows_ok,
                     rows_quarantined=quarantined.height, rows_duplicate=duplicates)  # fmt: skip
    if report.rows_in != rows_ok + report.rows_quarantined + report.rows_duplicate:
        raise AssertionError(f"{report.path}: row accounting does not add up: {report}")
    parts = [(t, o.accepted) for t, o in outcomes.items() if o.accepted.height]
    if quarantined.height:
        parts.append(("quarantine", quarantined))
    validation = {t: o.validation for t, o in outcomes.items()}
    store.write_json_atomic(validation, layout.validation_path(lake, report.file_id))
    return _commit(lake, report, parts)


def _commit(lake: Path, report: FileReport, parts: list[tuple[str, pl.DataFrame]]) -> FileReport:
    """Write the part files, then the ingest-log entry that marks the file committed.

    Parts of this file left from an earlier attempt in tables it no longer
    writes are removed, and a file that added rows marks its subject for
    re-analysis, both before the log entry.
    """
    for table, frame in parts:
        store.write_part(lake, table, frame, report.subject_id, report.file_id)
    written = {table for table, _ in parts}
    for table in store.file_parted_tables():
        if table not in written:
            store.remove_part(lake, table, report.subject_id, report.file_id)
    if report.rows_ok:
        store.mark_pending_analysis(lake, report.subject_id)
    store.fault_point("ingest.before_log")
    log_row = report.as_log_row(datetime.now(UTC))
    store.write_part(lake, "_ingest_log", log_row, report.subject_id, report.file_id)
    return report
