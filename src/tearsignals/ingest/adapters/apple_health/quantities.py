"""Typed heart-rate and SDNN rows per batch: unit, date and value of each quantity record."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from tearsignals.ingest.adapters import _tabular as tab
from tearsignals.ingest.adapters.apple_health.records import DATE_FORMAT, REASON_MALFORMED
from tearsignals.ingest.adapters.apple_health.typed import (
    REJECT_ROWS,
    VALUE_SCHEMA,
    as_text,
    good_schema,
    split,
    utc_and_reason,
)


def _unit_factor_and_reason(unit: pl.Expr, factors: dict[str, float]) -> tuple[pl.Expr, pl.Expr]:
    """Conversion factor of a declared unit, and ``missing unit``/``unknown unit X`` otherwise."""
    factor = unit.replace_strict(factors, default=None, return_dtype=pl.Float64)
    reason = (
        pl.when(unit.is_null() | (unit == "")).then(pl.lit("missing unit"))
        .when(factor.is_null()).then(pl.concat_str(pl.lit("unknown unit "), unit.str.slice(0, 20)))
    )  # fmt: skip
    return factor, reason


def _malformed(columns: Sequence[str]) -> pl.Expr:
    """``malformed record`` where a captured value holds ``<`` (a quote was not closed)."""
    broken = pl.any_horizontal(pl.col(c).str.contains("<", literal=True) for c in columns)
    return pl.when(broken.fill_null(False)).then(pl.lit(REASON_MALFORMED))


def _quantity_reasons(frame: pl.DataFrame, table: str, factors: dict[str, float]) -> pl.DataFrame:
    """Typed rows with a ``reason`` for each record (the thorough, slower path)."""
    times = utc_and_reason(frame["start"], "startDate")
    value, value_reason = tab.float_and_reason(pl.col("value"), "value")
    factor, unit_reason = _unit_factor_and_reason(pl.col("unit"), factors)
    reasons = [pl.col("problem"), _malformed(["unit", "start", "value"]), pl.col("time_reason")]
    fields = pl.concat_str(
        [pl.col(c).fill_null("") for c in ("unit", "start", "value")], separator=","
    )
    value_column = next(iter(VALUE_SCHEMA[table]))
    extra = {c: pl.col(c) for c in ("n_beats", "hrv_ordinal")} if table == "vendor_hrv" else {}
    return (
        frame.lazy()
        .with_columns(t_utc=times["utc"], time_reason=times["reason"])
        .with_columns(reason=tab.first_reason([*reasons, unit_reason, value_reason]))
        .select(
            "ordinal",
            pos=pl.lit(0, pl.Int32),
            source_id="source_id",
            t_utc="t_utc",
            **{value_column: value * factor},
            **extra,
            reason="reason",
            raw=pl.when(pl.col("reason").is_not_null()).then(pl.coalesce("problem_raw", fields)),
        )
        .collect()
    )


def quantity_rows(
    raw: pl.DataFrame, table: str, factors: dict[str, float]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Accepted rows and rejects of quantity records (raw frames of ``hr_raw``/``vendor_raw``).

    Records in the export's usual form take a cheap typed pass; only those it
    cannot type go through :func:`_quantity_reasons` for their reason.
    """
    frame = as_text(raw, ["unit", "start", "value"])
    value_column = next(iter(VALUE_SCHEMA[table]))
    number = pl.col("value").cast(pl.Float64, strict=False)
    factor = pl.col("unit").replace_strict(factors, default=None, return_dtype=pl.Float64)
    typed = frame.with_columns(
        t_utc=pl.col("start").str.strptime(pl.Datetime("us"), DATE_FORMAT, strict=False),
        pos=pl.lit(0, pl.Int32),
        **{value_column: number * factor},
    )
    fine = (
        pl.col("problem").is_null()
        & pl.col("t_utc").is_not_null()
        & pl.col(value_column).is_finite()
    ).fill_null(False)
    schema_good = good_schema(table)
    good = typed.filter(fine).select(schema_good.names()).cast(schema_good)
    failing = frame.filter(~typed.select(fine).to_series())
    if failing.is_empty():
        return good, pl.DataFrame(schema=REJECT_ROWS)
    late_good, rejects = split(_quantity_reasons(failing, table, factors), table)
    return pl.concat([good, late_good]).sort("ordinal"), rejects
