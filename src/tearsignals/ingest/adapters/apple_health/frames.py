"""The whole file's frames: row numbers, one row per instant by source priority, table columns."""

from __future__ import annotations

import polars as pl

from tearsignals.contract import schema
from tearsignals.ingest.adapters.apple_health.beats import LEDGER_SCHEMA
from tearsignals.ingest.adapters.apple_health.collect import Collected
from tearsignals.ingest.adapters.apple_health.records import NAME, ORIGIN
from tearsignals.ingest.adapters.apple_health.typed import REJECT_ROWS, VALUE_SCHEMA, good_schema
from tearsignals.ingest.adapters.base import Parsed, as_rejects


def _numbered(
    table: str, good: pl.DataFrame, bad: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``row_number``: the record ordinal, or for beats the position in time order, rejects last."""
    if table != "beats":
        return (
            good.with_columns(row_number=pl.col("ordinal")),
            bad.with_columns(row_number=pl.col("ordinal")),
        )
    good = good.sort("t_utc", "ordinal", "pos").with_columns(
        row_number=pl.int_range(1, pl.len() + 1, dtype=pl.Int64)
    )
    bad = bad.sort("ordinal", "pos").with_columns(
        row_number=pl.int_range(good.height + 1, good.height + pl.len() + 1, dtype=pl.Int64)
    )
    return good, bad


def _best_per_instant(good: pl.DataFrame, sources: pl.DataFrame) -> pl.DataFrame:
    """One row per ``t_utc``: the best-ranked source, then the first in the file.

    Only rows sharing an instant are compared; without any, ``good`` is
    returned as is (no copy). File order is kept.
    """
    shared = good.filter(pl.col("t_utc").is_duplicated())
    if shared.is_empty():
        return good
    rank = pl.col("source_id").replace_strict(
        sources["source_id"], sources["rank"], return_dtype=pl.Int64
    )
    preference = rank * 2**40 + pl.col("row_number")
    losers = shared.filter(preference != preference.min().over("t_utc"))["row_number"]
    return good.filter(~pl.col("row_number").is_in(losers.implode()))


def _canonical(table: str, kept: pl.DataFrame, sources: pl.DataFrame) -> pl.DataFrame:
    """The table's adapter columns, typed."""
    derived = {
        "source": pl.lit(NAME, pl.String),
        "origin": pl.lit(ORIGIN, pl.String),
        "device": pl.col("source_id").replace_strict(
            sources["source_id"], sources["device"], return_dtype=pl.String
        ),
    }
    emitted = schema.adapter_columns(table)
    columns = [c for c in schema.table(table).columns if c.name in emitted]
    return kept.select(
        *[
            derived[c.name].alias(c.name) if c.name in derived
            else pl.col(c.name).cast(c.dtype) if c.name in kept.columns
            else pl.lit(None, c.dtype).alias(c.name)
            for c in columns
        ],
        pl.col("row_number").cast(pl.Int64),
    )  # fmt: skip


def _with_clock_ledger(vendor: pl.DataFrame, ledgers: list[pl.DataFrame]) -> pl.DataFrame:
    """SDNN rows with their beat list's clock shift and residual (null without placed beats)."""
    ledger = pl.concat(ledgers) if ledgers else pl.DataFrame(schema=LEDGER_SCHEMA)
    keyed = ledger.rename({"ordinal": "hrv_ordinal"})
    return vendor.join(keyed, on="hrv_ordinal", how="left", maintain_order="left")


def _table_output(
    table: str,
    goods: list[pl.DataFrame],
    bads: list[pl.DataFrame],
    sources: pl.DataFrame,
    ledgers: list[pl.DataFrame],
) -> tuple[pl.DataFrame, pl.DataFrame, int]:
    """Canonical rows, rejects and the duplicate count of one table."""
    good = pl.concat(goods, rechunk=False) if goods else pl.DataFrame(schema=good_schema(table))
    if table == "vendor_hrv":
        good = _with_clock_ledger(good, ledgers)
    bad = pl.concat(bads) if bads else pl.DataFrame(schema=REJECT_ROWS)
    good, bad = _numbered(table, good, bad)
    kept = _best_per_instant(good, sources)
    rejects = as_rejects(bad, table)
    return _canonical(table, kept, sources), rejects, good.height - kept.height


def parsed(collected: Collected) -> Parsed:
    """The canonical frames, table by table, letting go of each table's parts when done."""
    sources = collected.sources.frame()
    frames, rejects, duplicates = {}, [], 0
    for table in VALUE_SCHEMA:
        goods, bads = collected.parts.pop(table), collected.rejects.pop(table)
        frames[table], table_rejects, table_duplicates = _table_output(
            table, goods, bads, sources, collected.ledger
        )
        del goods, bads
        rejects.append(table_rejects)
        duplicates += table_duplicates
    all_rejects = pl.concat(rejects)
    return Parsed(frames=frames, rejects=all_rejects, duplicates=duplicates)
