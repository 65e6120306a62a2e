"""The file's batches: row numbers, one row per instant by source priority, table columns.

Batches are groups of consecutive months (:meth:`.spill.Spill.month_groups`) in
time order, holding every table's rows of those months; the rejects come last,
in a batch of their own (:func:`batches`).
"""

from __future__ import annotations

from collections.abc import Iterator

import polars as pl

from tearsignals.contract import schema
from tearsignals.ingest.adapters.apple_health.beats import LEDGER_SCHEMA
from tearsignals.ingest.adapters.apple_health.collect import Collected
from tearsignals.ingest.adapters.apple_health.records import NAME, ORIGIN, PERIOD
from tearsignals.ingest.adapters.apple_health.typed import REJECT_ROWS, VALUE_SCHEMA
from tearsignals.ingest.adapters.base import Parsed, as_rejects

ROWS_PER_BATCH = 250_000


def _numbered(table: str, good: pl.DataFrame, beats_before: int) -> pl.DataFrame:
    """``row_number``: the record ordinal, or for beats the position in the file's time order.

    ``beats_before``: the beats of earlier batches (which all lie earlier in time).
    """
    if table != "beats":
        return good.with_columns(row_number=pl.col("ordinal"))
    first = beats_before + 1
    return good.sort("t_utc", "ordinal", "pos").with_columns(
        row_number=pl.int_range(first, first + pl.len(), dtype=pl.Int64)
    )


def _numbered_rejects(table: str, bad: pl.DataFrame, beats: int) -> pl.DataFrame:
    """Rejects' ``row_number``: the record ordinal, or for beats after the file's ``beats``."""
    if table != "beats":
        return bad.with_columns(row_number=pl.col("ordinal"))
    return bad.sort("ordinal", "pos").with_columns(
        row_number=pl.int_range(beats + 1, beats + pl.len() + 1, dtype=pl.Int64)
    )


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
        "period": pl.lit(PERIOD, pl.String),
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


def _with_clock_ledger(vendor: pl.DataFrame, ledger: pl.DataFrame) -> pl.DataFrame:
    """SDNN rows with their beat list's clock shift and residual (null without placed beats)."""
    keyed = ledger.rename({"ordinal": "hrv_ordinal"})
    return vendor.join(keyed, on="hrv_ordinal", how="left", maintain_order="left")


def _batch(
    collected: Collected,
    months: list[int],
    sources: pl.DataFrame,
    ledger: pl.DataFrame,
    beats_before: int,
) -> tuple[Parsed, int]:
    """Every table's canonical rows of ``months`` (and the copies dropped by source priority).

    Also returns how many beats were numbered (kept or dropped as copies).
    """
    frames, duplicates, numbered_beats = {}, 0, 0
    for table in VALUE_SCHEMA:
        good = collected.spill.read(table, months)
        if table == "vendor_hrv":
            good = _with_clock_ledger(good, ledger)
        good = _numbered(table, good, beats_before)
        numbered_beats += good.height if table == "beats" else 0
        kept = _best_per_instant(good, sources)
        frames[table] = _canonical(table, kept, sources)
        duplicates += good.height - kept.height
    return Parsed(frames=frames, duplicates=duplicates), numbered_beats


def _rejects(collected: Collected, beats: int) -> Parsed:
    """The last batch: every reject of the file, and no rows."""
    rejects = []
    for table in VALUE_SCHEMA:
        parts = collected.rejects[table]
        bad = pl.concat(parts) if parts else pl.DataFrame(schema=REJECT_ROWS)
        rejects.append(as_rejects(_numbered_rejects(table, bad, beats), table))
    empty = {t: pl.DataFrame(schema=_canonical_schema(t)) for t in VALUE_SCHEMA}
    return Parsed(frames=empty, rejects=pl.concat(rejects))


def _canonical_schema(table: str) -> pl.Schema:
    emitted = schema.adapter_columns(table)
    declared = {c.name: c.dtype for c in schema.table(table).columns if c.name in emitted}
    return pl.Schema({**declared, "row_number": pl.Int64()})


def batches(collected: Collected, rows_per_batch: int) -> Iterator[Parsed]:
    """The file's rows in batches of about ``rows_per_batch`` rows, in time order, rejects last."""
    sources = collected.sources.frame()
    ledgers = collected.ledger
    ledger = pl.concat(ledgers) if ledgers else pl.DataFrame(schema=LEDGER_SCHEMA)
    beats = 0
    for months in collected.spill.month_groups(rows_per_batch):
        batch, numbered = _batch(collected, months, sources, ledger, beats)
        beats += numbered
        yield batch
    yield _rejects(collected, beats)
