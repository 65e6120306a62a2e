"""Row rules: every canonical row is accepted, quarantined with a reason, or a duplicate.

The rules come from ``schemas/<table>.json`` (non-nullable columns, ``min``/``max``,
``values``) plus a few rules per table. Every time column of the ingested tables
declares the plausible range [1990-01-01, 2100-01-01] (UTC) there, so a time of
1970 or 9999 is quarantined as out of range whichever format and time notation
it came from, and, no longer eligible, never makes a later beat non-monotonic:

* beats: a beat at or before the running maximum of the earlier beat times of
  its file (by ``row_number``) is quarantined as ``non-monotonic time`` unless
  it is an exact duplicate of an earlier row;
* episodes: ``end_utc`` after ``start_utc`` and a duration of at most 24 h;
* vendor_hrv: at least one of ``sdnn_ms``, ``rmssd_ms``.

Then, among the rows that pass:

* an *exact duplicate* (same values in every column but ``file_id`` and
  ``row_number``) of an earlier row is dropped and counted;
* a row repeating an earlier row's natural key with different values is
  quarantined as ``duplicate key with different values`` (the first is kept).

"Earlier" means lower ``(file_id, row_number)``. Each row gets the first
reason that applies, in the order above. Everything is vectorised.

Examples
--------
>>> from datetime import datetime, timezone
>>> t = [datetime(2026, 1, 5, 14, 0, s, tzinfo=timezone.utc) for s in (1, 2, 2, 1)]
>>> beats = pl.DataFrame({
...     "subject_id": "s01", "source": "csv_beats", "device": None, "file_id": "f1",
...     "t_utc": t, "rr_ms": [800.0, 900.0, 900.0, 100.0], "origin": "rr",
...     "row_number": [1, 2, 3, 4],
... })
>>> checked = row_rules("beats", beats)
>>> checked.ok.height, checked.duplicates, checked.quarantined["reason"].to_list()
(2, 1, ['rr_ms out of range [200, 5000]'])
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import polars as pl

from tearsignals.contract import schema
from tearsignals.contract.schema import Column

META_COLUMNS = ("subject_id", "file_id", "row_number")
MAX_EPISODE = timedelta(hours=24)
REASON_NON_MONOTONIC = "non-monotonic time"
REASON_KEY_CONFLICT = "duplicate key with different values"
REASON_END_NOT_AFTER_START = "end_utc not after start_utc"
REASON_EPISODE_TOO_LONG = "duration over 24 h"
REASON_NO_HRV_VALUE = "neither sdnn_ms nor rmssd_ms"


@dataclass(frozen=True)
class Checked:
    """Outcome of :func:`row_rules`: accepted rows, quarantined rows, duplicate count."""

    ok: pl.DataFrame
    quarantined: pl.DataFrame
    duplicates: int


def column_reasons(column: Column) -> list[pl.Expr]:
    """Reason expressions (null where the row passes) declared for one column."""
    value = pl.col(column.name)
    reasons: list[pl.Expr] = []
    if not column.nullable:
        reasons.append(pl.when(value.is_null()).then(pl.lit(f"{column.name} is null")))
    if column.min is not None or column.max is not None:
        lo = schema.bound_text(column.min) if column.min is not None else "-inf"
        hi = schema.bound_text(column.max) if column.max is not None else "inf"
        inside = pl.lit(True)
        if column.min is not None:
            inside = inside & (value >= column.min)
        if column.max is not None:
            inside = inside & (value <= column.max)
        if column.dtype == pl.Float64():
            inside = inside & ~value.is_nan()
        message = f"{column.name} out of range [{lo}, {hi}]"
        reasons.append(pl.when(value.is_not_null() & ~inside).then(pl.lit(message)))
    if column.values is not None:
        message = f"{column.name} not in [{', '.join(column.values)}]"
        reasons.append(pl.when(~value.is_in(column.values)).then(pl.lit(message)))
    return reasons


def table_reasons(table: str) -> list[pl.Expr]:
    """Reason expressions of a table: declared column rules, then table-specific rules."""
    reasons = [r for c in schema.table(table).columns for r in column_reasons(c)]
    if table == "episodes":
        start, end = pl.col("start_utc"), pl.col("end_utc")
        reasons.append(pl.when(end <= start).then(pl.lit(REASON_END_NOT_AFTER_START)))
        reasons.append(pl.when(end - start > MAX_EPISODE).then(pl.lit(REASON_EPISODE_TOO_LONG)))
    if table == "vendor_hrv":
        neither = pl.col("sdnn_ms").is_null() & pl.col("rmssd_ms").is_null()
        reasons.append(pl.when(neither).then(pl.lit(REASON_NO_HRV_VALUE)))
    return reasons


def _first_of(reasons: list[pl.Expr]) -> pl.Expr:
    """The first non-null reason of a row (rules are listed in priority order)."""
    return pl.coalesce(*reasons) if reasons else pl.lit(None, pl.String)


def value_columns(table: str) -> list[str]:
    """Columns compared to call two rows exact duplicates (all but file and row identity)."""
    return [c for c in schema.table(table).column_names if c not in ("file_id", "row_number")]


def _with_exact_duplicates(work: pl.DataFrame, table: str) -> pl.DataFrame:
    """Flag ``_dup``: a row passing the rules that repeats an earlier passing row exactly."""
    passing = pl.col("_reason").is_null()
    repeat = ~pl.struct(value_columns(table)).is_first_distinct().over(passing)
    return work.with_columns(_dup=passing & repeat)


def _with_non_monotonic(work: pl.DataFrame) -> pl.DataFrame:
    """Set ``_reason`` for beats at or before the running max of earlier eligible beats."""
    eligible = pl.col("_reason").is_null() & ~pl.col("_dup")
    masked = pl.when(eligible).then(pl.col("t_utc"))
    earlier_max = masked.cum_max().forward_fill().shift(1).over("file_id")
    late = eligible & (pl.col("t_utc") <= earlier_max)
    return work.with_columns(
        _reason=pl.when(late).then(pl.lit(REASON_NON_MONOTONIC)).otherwise("_reason")
    )


def _with_key_conflicts(work: pl.DataFrame, table: str) -> pl.DataFrame:
    """Set ``_reason`` for rows repeating an earlier eligible row's key with other values."""
    eligible = pl.col("_reason").is_null() & ~pl.col("_dup")
    repeat = ~pl.struct(list(schema.table(table).key)).is_first_distinct().over(eligible)
    return work.with_columns(
        _reason=pl.when(eligible & repeat).then(pl.lit(REASON_KEY_CONFLICT)).otherwise("_reason")
    )


def _as_text(name: str, dtype: pl.DataType) -> pl.Expr:
    """A column as text; zoned datetimes as ISO 8601 in UTC (``2026-01-05T14:00:01.812Z``)."""
    if isinstance(dtype, pl.Datetime) and dtype.time_zone is not None:
        return pl.col(name).dt.convert_time_zone("UTC").dt.strftime("%Y-%m-%dT%H:%M:%S%.fZ")
    return pl.col(name).cast(pl.String)


MAX_RAW_CHARS = 4096


def capped_raw(rows: pl.DataFrame) -> pl.DataFrame:
    """``rows`` with ``raw`` cut to :data:`MAX_RAW_CHARS`, its full length in ``raw_chars``.

    A single 200 MB line is evidence enough in its first 4,096 characters; storing it
    whole would put all of it in the lake, and in memory whenever quarantine is read.

    >>> rows = pl.DataFrame({"raw": ["a,b", "x" * 5000]})
    >>> capped_raw(rows).select(pl.col("raw").str.len_chars(), "raw_chars").rows()
    [(3, 3), (4096, 5000)]
    """
    return rows.with_columns(
        raw=pl.col("raw").str.slice(0, MAX_RAW_CHARS),
        raw_chars=pl.col("raw").str.len_chars().cast(pl.Int64),
    )


def _quarantine_rows(rows: pl.DataFrame, table: str, reason: pl.Expr) -> pl.DataFrame:
    """``rows`` in the ``quarantine`` schema; ``raw`` joins the row's values by ``,``."""
    shown = [c for c in rows.columns if c not in META_COLUMNS and not c.startswith("_")]
    raw = pl.concat_str([_as_text(c, rows.schema[c]).fill_null("") for c in shown], separator=",")
    quarantined = rows.select(
        subject_id="subject_id",
        table=pl.lit(table),
        file_id="file_id",
        row_number="row_number",
        reason=reason,
        raw=raw,
    )
    return schema.conform(capped_raw(quarantined), "quarantine")


def empty_quarantine() -> pl.DataFrame:
    """An empty frame in the ``quarantine`` schema."""
    return schema.empty("quarantine")


def as_quarantine(table: str, df: pl.DataFrame, reason: str) -> pl.DataFrame:
    """Every row of ``df`` as a quarantine row with the same ``reason``.

    ``df`` needs ``subject_id``, ``file_id`` and ``row_number`` (e.g. rows of a
    batch that failed the great-expectations gate).
    """
    return _quarantine_rows(df, table, pl.lit(reason))


def _require_columns(table: str, df: pl.DataFrame) -> None:
    """Raise ``KeyError`` naming the table's columns (or ``row_number``) missing from ``df``."""
    needed = [*schema.table(table).column_names, "row_number"]
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise KeyError(f"{table}: missing columns {missing}")


def row_rules(table: str, df: pl.DataFrame) -> Checked:
    """Split a canonical frame into accepted rows, quarantined rows and a duplicate count.

    Parameters
    ----------
    table
        Canonical table name (``beats``, ``heart_rate``, ``episodes``, ...).
    df
        Frame with the table's columns (incl. ``subject_id``, ``file_id``) and
        ``row_number``. Not modified.

    Returns
    -------
    Checked
        ``ok`` has ``df``'s columns and row order; ``quarantined`` has the
        ``quarantine`` table's columns; ``ok.height + quarantined.height +
        duplicates == df.height``.
    """
    _require_columns(table, df)
    work = (
        df.with_row_index("_pos")
        .sort("file_id", "row_number", "_pos", nulls_last=True)
        .with_columns(_reason=_first_of(table_reasons(table)))
    )
    work = _with_exact_duplicates(work, table)
    if table == "beats":
        work = _with_non_monotonic(work)
    work = _with_key_conflicts(work, table).sort("_pos")
    quarantined = work.filter(pl.col("_reason").is_not_null())
    ok = work.filter(pl.col("_reason").is_null() & ~pl.col("_dup")).select(df.columns)
    return Checked(
        ok=ok,
        quarantined=_quarantine_rows(quarantined, table, pl.col("_reason")),
        duplicates=int(work["_dup"].sum()),
    )
