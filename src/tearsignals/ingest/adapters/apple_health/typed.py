"""Typed rows: their columns, the split into accepted rows and rejects, text and dates.

Shared by the heart-rate/SDNN rows
(:mod:`~tearsignals.ingest.adapters.apple_health.quantities`) and the beat rows
(:mod:`~tearsignals.ingest.adapters.apple_health.beats`).
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from tearsignals.ingest.adapters import _tabular as tab
from tearsignals.ingest.adapters.apple_health.records import DATE_FORMAT
from tearsignals.ingest.timeparse import UTC_DTYPE, utc_from_iso

VALUE_SCHEMA: dict[str, dict[str, pl.DataType]] = {
    "heart_rate": {"hr_bpm": pl.Float64()},
    "vendor_hrv": {"sdnn_ms": pl.Float64(), "n_beats": pl.Int64(), "hrv_ordinal": pl.Int64()},
    "beats": {"rr_ms": pl.Float64()},
}
_KEY_SCHEMA = {"ordinal": pl.Int64(), "pos": pl.Int32()}
REJECT_ROWS = pl.Schema({**_KEY_SCHEMA, "reason": pl.String(), "raw": pl.String()})


def good_schema(table: str) -> pl.Schema:
    """Columns of accepted typed rows of ``table`` (before numbering and de-duplication)."""
    return pl.Schema(
        {**_KEY_SCHEMA, "source_id": pl.Int32(), "t_utc": UTC_DTYPE, **VALUE_SCHEMA[table]}
    )


def split(rows: pl.DataFrame, table: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Typed rows with a ``reason`` column → (accepted rows, rejects)."""
    bad = pl.col("reason").is_not_null()
    good = rows.filter(~bad).select(good_schema(table).names()).cast(good_schema(table))
    rejects = rows.filter(bad).select(REJECT_ROWS.names()).cast(REJECT_ROWS)
    return good, rejects


def as_text(frame: pl.DataFrame, columns: Sequence[str]) -> pl.DataFrame:
    """``frame`` with Binary ``columns`` as text (invalid UTF-8 replaced: rare and slow)."""
    try:
        return frame.with_columns(pl.col(columns).cast(pl.String))
    except pl.exceptions.PolarsError:
        return frame.with_columns(
            pl.Series(c, [None if v is None else v.decode("utf-8", "replace") for v in frame[c]])
            for c in columns
        )


def utc_and_reason(text: pl.Series, name: str) -> pl.DataFrame:
    """``utc`` and ``reason`` (``"<name>: ..."``) of Apple date texts.

    The export's one layout is parsed by ``strptime``; anything else goes
    through :func:`tearsignals.ingest.timeparse.utc_from_iso` for a value or a reason.
    """
    fast = text.str.strptime(pl.Datetime("us"), DATE_FORMAT, strict=False).cast(UTC_DTYPE)
    if fast.null_count() == 0:
        return pl.DataFrame({"utc": fast, "reason": pl.Series([None] * len(text), dtype=pl.String)})
    slow = utc_from_iso(text)
    return (
        pl.DataFrame({"fast": fast})
        .with_columns(slow)
        .select(
            utc=pl.coalesce("fast", "utc"),
            reason=pl.when(pl.col("fast").is_null()).then(tab.prefixed(pl.col("reason"), name)),
        )
    )
