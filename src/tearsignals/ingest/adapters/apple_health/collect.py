"""Collecting segments: raw rows pending, converted to typed rows in batches, and scan counts."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from tearsignals.ingest.adapters.apple_health.beats import LEDGER_SCHEMA, beat_rows
from tearsignals.ingest.adapters.apple_health.quantities import quantity_rows
from tearsignals.ingest.adapters.apple_health.records import HR_UNITS, SDNN, SDNN_UNITS
from tearsignals.ingest.adapters.apple_health.rows import (
    beat_list_raw,
    beat_record_raw,
    hr_raw,
    vendor_raw,
)
from tearsignals.ingest.adapters.apple_health.scan import Found
from tearsignals.ingest.adapters.apple_health.sources import Sources
from tearsignals.ingest.adapters.apple_health.spill import Spill
from tearsignals.ingest.adapters.apple_health.typed import VALUE_SCHEMA

BATCH_ROWS = 50_000
_PENDING = ("heart_rate", "vendor_hrv", "beat_lists", "beat_records")


@dataclass
class ScanStats:
    """How a file was read, for the fast-path cross-check and the benchmark.

    ``relevant_literals`` counts by byte scan the records of the types this
    adapter reads (in robust segments: the quoted type names); ``relevant_parsed``
    counts those the parser handled (kept, rejected or duplicate). They differ
    only if a type name occurs outside a record start, or a record of a known
    type was cut before its type attribute.
    """

    segments_fast: int = 0
    segments_robust: int = 0
    bytes_scanned: int = 0
    relevant_literals: int = 0
    relevant_parsed: int = 0


Typed = dict[str, tuple[pl.DataFrame, pl.DataFrame]]


def _typed_parts(pending: dict[str, pl.DataFrame]) -> tuple[Typed, pl.DataFrame]:
    """Accepted rows and rejects per table of one batch of raw frames, and its clock ledger."""
    parts = {}
    for table, factors in (("heart_rate", HR_UNITS), ("vendor_hrv", SDNN_UNITS)):
        if table in pending:
            parts[table] = quantity_rows(pending[table], table, factors)
    ledger = pl.DataFrame(schema=LEDGER_SCHEMA)
    if "beat_records" in pending:
        lists = pending.get("beat_lists", beat_list_raw([], 0))
        good, rejects, ledger = beat_rows(lists, pending["beat_records"])
        parts["beats"] = (good, rejects)
    return parts, ledger


class Collected:
    """Rows of the segments read so far: raw frames pending, typed rows converted in batches.

    Converting per segment would pay polars' fixed per-query cost hundreds of
    times per GB; converting everything at the end would hold the raw text. A
    batch of about :data:`BATCH_ROWS` records is the middle way. Accepted typed
    rows go to ``spill`` (by month, :mod:`.spill`); rejects stay here, and
    ``ledger`` holds the beat-list clock of each HRV record (one small row per
    record).
    """

    def __init__(self, spill: Spill, stats: ScanStats) -> None:
        self.sources = Sources()
        self.stats = stats
        self.spill = spill
        self.rejects: dict[str, list[pl.DataFrame]] = {t: [] for t in VALUE_SCHEMA}
        self.pending: dict[str, list[pl.DataFrame]] = {k: [] for k in _PENDING}
        self.pending_rows = 0
        self.done = {"heart_rate": 0, "vendor_hrv": 0, "hrv_records": 0}
        self.ledger: list[pl.DataFrame] = []

    def add(self, found: Found, segment_bytes: int) -> None:
        done, sources = self.done, self.sources
        sdnn = [r for r in found.hrv if r.kind == SDNN]
        sdnn_at = [done["hrv_records"] + i + 1 for i, r in enumerate(found.hrv) if r.kind == SDNN]
        raw = {
            "heart_rate": hr_raw(found, done["heart_rate"], sources) if found.hr else None,
            "vendor_hrv": vendor_raw(sdnn, done["vendor_hrv"], sdnn_at, sources) if sdnn else None,
            "beat_lists": beat_list_raw(found.hrv, done["hrv_records"]),
            "beat_records": beat_record_raw(found.hrv, done["hrv_records"], sources),
        }
        for key, frame in raw.items():
            if frame is not None and frame.height:
                self.pending[key].append(frame)
                self.pending_rows += frame.height
        done["heart_rate"] += len(found.hr)
        done["vendor_hrv"] += len(sdnn)
        done["hrv_records"] += len(found.hrv)
        self._count(found, segment_bytes)
        if self.pending_rows >= BATCH_ROWS:
            self.flush()

    def flush(self) -> None:
        """Convert the pending raw frames into accepted rows and rejects."""
        pending = {k: pl.concat(v) for k, v in self.pending.items() if v}
        self.pending = {k: [] for k in _PENDING}
        self.pending_rows = 0
        parts, ledger = _typed_parts(pending)
        for table, (good, rejects) in parts.items():
            self.spill.add(table, good)
            if rejects.height:
                self.rejects[table].append(rejects)
        if ledger.height:
            self.ledger.append(ledger)

    def _count(self, found: Found, segment_bytes: int) -> None:
        stats = self.stats
        stats.segments_fast += found.fast
        stats.segments_robust += not found.fast
        stats.bytes_scanned += segment_bytes
        stats.relevant_literals += found.relevant_literals
        stats.relevant_parsed += len(found.hr) + len(found.hrv)
