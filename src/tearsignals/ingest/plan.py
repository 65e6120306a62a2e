"""What ingest does with one parsed file, step by step, writing nothing.

The steps, shared by ingest (:mod:`tearsignals.ingest.files`, which then writes
the plan to the lake) and ``tearsignals inspect`` (:mod:`tearsignals.ingest.inspect`,
which prints it):

1. :func:`canonical_rows`: an adapter's frame plus the ids ingest knows
   (``subject_id``, ``file_id``, the subject-aware ``episode_id``), cast to the
   declared dtypes. This is the one cast of a frame on its way to the lake; the
   great-expectations gate and :mod:`tearsignals.lake.store` only check dtypes
   (:func:`tearsignals.contract.schema.checked`).
2. :func:`table_outcome`: row rules (:mod:`tearsignals.ingest.validate`), the
   great-expectations gate (a failing batch is quarantined whole), then the
   natural keys resolved against the committed rows of a lake, when one is given.
3. :func:`file_plan`: every table of a batch of the file (a small file is one
   batch, see :mod:`tearsignals.ingest.adapters.base`) plus the adapter's
   rejects and skipped records, with the accounting ``rows_in = rows_ok +
   rows_quarantined + rows_duplicate + rows_skipped`` checked;
   :class:`FileTotals` adds up the batches of a file.

Rows that share a natural key with a row of a committed file: an exact copy
(same values) is a duplicate and the stored row stays; different values are a
*conflict*, and the lake keeps the row with the smallest values (compared
column by column in schema order, nulls last) whatever the arrival order; the
other row is quarantined as ``duplicate key with different values``. A stored
row that loses names its file in :attr:`FilePlan.displaced`, unless that file
is ``locked`` (it then keeps its row).

Examples
--------
>>> from datetime import datetime, timezone
>>> t0 = datetime(2026, 1, 5, 14, tzinfo=timezone.utc)
>>> frame = pl.DataFrame({"source": "csv_beats", "device": None, "t_utc": [t0, t0],
...                       "rr_ms": [800.0, -3.0], "origin": "rr", "row_number": [1, 2]})
>>> plan = file_plan("csv_beats", Parsed(frames={"beats": frame}), "S01", "f1")
>>> plan.rows_in, plan.rows_ok, plan.quarantined["reason"].to_list()
(2, 1, ['rr_ms out of range [200, 5000]'])
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from tearsignals.contract import expectations, schema
from tearsignals.ingest import validate
from tearsignals.ingest.adapters.base import Parsed
from tearsignals.lake import store

REASON_GATE = "batch failed expectations"
ID_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S%.6fZ"


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


def canonical_rows(table: str, frame: pl.DataFrame, subject_id: str, file_id: str) -> pl.DataFrame:
    """An adapter's rows of ``table`` as ingest checks and stores them, plus ``row_number``.

    Adds ``subject_id``, ``file_id`` and, for tables keyed by episode, the
    :func:`episode_id`; adds every *nullable* column the adapter did not emit as
    typed nulls (e.g. ``heart_rate.confidence``, which only some formats
    report, so a schema extension does not break adapters written before it);
    then casts every declared column strictly to its dtype, in declared order.
    A missing non-nullable column raises ``KeyError`` (an adapter defect).
    """
    out = frame.with_columns(subject_id=pl.lit(subject_id), file_id=pl.lit(file_id))
    declared = schema.table(table)
    if "episode_id" in declared.column_names:
        out = out.with_columns(
            episode_id(pl.col("start_utc"), pl.col("end_utc"), pl.col("subject_id"))
        )
    absent = [c for c in declared.columns if c.nullable and c.name not in out.columns]
    out = out.with_columns(pl.lit(None, c.dtype).alias(c.name) for c in absent)
    row_number = out.get_column(schema.ROW_NUMBER).cast(pl.Int64)
    return schema.conform(out, table).with_columns(row_number)


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
    lake: Path | None, table: str, subject_id: str, ok: pl.DataFrame, locked: frozenset[str]
) -> _Resolved:
    """Split ``ok`` against the lake: new or winning rows, conflicts lost, exact copies."""
    stored = ok.head(0) if lake is None else _stored_rows(lake, table, subject_id, ok)
    if stored.is_empty():
        return _Resolved(ok, ok.head(0), 0, frozenset())
    key, values = _key_columns(table), _value_columns(table)
    winners = _key_winners(stored, ok, table, locked)
    best = winners.select(*key, *(pl.col(c).alias(f"_w_{c}") for c in values), _won="_new")
    joined = ok.join(best, on=key, how="left", nulls_equal=True, maintain_order="left")
    same = pl.all_horizontal(pl.col(c).eq_missing(pl.col(f"_w_{c}")) for c in values)
    lost = stored.join(winners.filter("_new").select(key), on=key, how="semi", nulls_equal=True)
    return _Resolved(
        accepted=joined.filter("_won").select(ok.columns),
        conflicts=joined.filter(~pl.col("_won") & ~same).select(ok.columns),
        duplicates=joined.filter(~pl.col("_won") & same).height,
        displaced=frozenset(lost.get_column("file_id").to_list()),
    )


def _gated(table: str, ok: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, Any]]:
    """Run the great-expectations gate; a failing batch goes to quarantine whole."""
    gate = expectations.validate_batch(table, schema.checked(ok, table))
    if gate.success:
        return ok, validate.empty_quarantine(), gate.result_json
    reason = f"{REASON_GATE}: " + "; ".join(gate.failed)
    return ok.head(0), validate.as_quarantine(table, ok, reason), gate.result_json


@dataclass(frozen=True)
class TableOutcome:
    """One table of a file: rows to store, rows to quarantine, duplicates, the gate's result.

    ``accepted`` has the table's columns plus ``row_number``; ``displaced``
    names committed files that lose a key conflict to these rows.
    """

    accepted: pl.DataFrame
    quarantined: pl.DataFrame
    duplicates: int
    validation: dict[str, Any]
    displaced: frozenset[str]


def table_outcome(
    table: str,
    rows: pl.DataFrame,
    subject_id: str,
    lake: Path | None = None,
    locked: frozenset[str] = frozenset(),
) -> TableOutcome:
    """Row rules, the gate and key resolution for :func:`canonical_rows` of one table.

    Without ``lake`` no row is stored yet, so nothing is a copy of a stored row.
    """
    checked = validate.row_rules(table, rows)
    gated, gate_quarantine, result = _gated(table, checked.ok)
    resolved = _resolved(lake, table, subject_id, gated, locked)
    conflicts = validate.as_quarantine(table, resolved.conflicts, validate.REASON_KEY_CONFLICT)
    return TableOutcome(
        accepted=resolved.accepted,
        quarantined=pl.concat([checked.quarantined, gate_quarantine, conflicts]),
        duplicates=checked.duplicates + resolved.duplicates,
        validation=result,
        displaced=resolved.displaced,
    )


@dataclass(frozen=True)
class FilePlan:
    """What ingest does with one parsed file: per table outcomes and the file's totals.

    ``quarantined`` holds the adapter's rejects and every table's quarantined
    rows (``quarantine`` schema); ``adapter_duplicates`` counts the copies the
    adapter resolved itself (e.g. by source priority), which belong to no table;
    ``skipped`` counts per reason the records of measures no table takes.
    """

    format: str
    rows_in: int
    tables: Mapping[str, TableOutcome]
    quarantined: pl.DataFrame
    adapter_duplicates: int
    skipped: Mapping[str, int]

    @property
    def rows_ok(self) -> int:
        return sum(o.accepted.height for o in self.tables.values())

    @property
    def rows_quarantined(self) -> int:
        return self.quarantined.height

    @property
    def rows_duplicate(self) -> int:
        return self.adapter_duplicates + sum(o.duplicates for o in self.tables.values())

    @property
    def rows_skipped(self) -> int:
        return sum(self.skipped.values())

    @property
    def displaced(self) -> frozenset[str]:
        return frozenset().union(*(o.displaced for o in self.tables.values()))


def _rejects_as_quarantine(rejects: pl.DataFrame, subject_id: str, file_id: str) -> pl.DataFrame:
    with_ids = rejects.with_columns(subject_id=pl.lit(subject_id), file_id=pl.lit(file_id))
    return schema.conform(validate.capped_raw(with_ids), "quarantine")


def file_plan(
    format_name: str,
    parsed: Parsed,
    subject_id: str,
    file_id: str,
    lake: Path | None = None,
    locked: frozenset[str] = frozenset(),
) -> FilePlan:
    """Every step for one parsed file; raises AssertionError if the rows do not add up."""
    tables = {
        table: table_outcome(
            table, canonical_rows(table, frame, subject_id, file_id), subject_id, lake, locked
        )
        for table, frame in parsed.frames.items()
    }
    plan = FilePlan(
        format=format_name,
        rows_in=parsed.rows_in,
        tables=tables,
        quarantined=pl.concat(
            [_rejects_as_quarantine(parsed.rejects, subject_id, file_id)]
            + [o.quarantined for o in tables.values()]
        ),
        adapter_duplicates=parsed.duplicates,
        skipped=parsed.skipped,
    )
    accounted = plan.rows_ok + plan.rows_quarantined + plan.rows_duplicate + plan.rows_skipped
    if plan.rows_in != accounted:
        raise AssertionError(f"{format_name} file {file_id}: row accounting does not add up")
    return plan


@dataclass
class FileTotals:
    """A file's batches added up: what its ``_ingest_log`` row counts, and each batch's gate result."""

    format: str
    rows_in: int = 0
    rows_ok: int = 0
    rows_quarantined: int = 0
    rows_duplicate: int = 0
    rows_skipped: int = 0
    validation: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def add(self, plan: FilePlan) -> None:
        """Count one more batch's plan."""
        self.rows_in += plan.rows_in
        self.rows_ok += plan.rows_ok
        self.rows_quarantined += plan.rows_quarantined
        self.rows_duplicate += plan.rows_duplicate
        self.rows_skipped += plan.rows_skipped
        for table, outcome in plan.tables.items():
            self.validation.setdefault(table, []).append(outcome.validation)
