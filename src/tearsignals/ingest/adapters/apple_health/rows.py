"""Raw rows per segment: the scanned records as frames of Binary fields, one per kind.

Nothing is decoded or typed here (that is done per batch, in
:mod:`~tearsignals.ingest.adapters.apple_health.quantities` and
:mod:`~tearsignals.ingest.adapters.apple_health.beats`); each row carries its
record ``ordinal`` in the file, its ``source_id`` and, for records that could
not be read, a ``problem`` with the record's text.
"""

from __future__ import annotations

from collections.abc import Sequence
from operator import itemgetter

import polars as pl

from tearsignals.ingest.adapters.apple_health.records import HEARTBEAT_SERIES
from tearsignals.ingest.adapters.apple_health.scan import (
    HR_FIELDS,
    QUANTITY_ATTRS,
    Beat,
    Found,
    HrvRecord,
)
from tearsignals.ingest.adapters.apple_health.sources import Sources, device_key

RAW_CHARS = 500


def _binary(values: Sequence[bytes | None]) -> pl.Series:
    return pl.Series(values, dtype=pl.Binary)


def _raw_text(raw: bytes) -> str:
    """A record's text for a reject's ``raw`` (capped at RAW_CHARS characters)."""
    return raw[: RAW_CHARS * 4].decode("utf-8", "replace")[:RAW_CHARS]


def _problem_columns(n: int, problems: dict[int, tuple[str, bytes]]) -> dict[str, pl.Series]:
    """``problem`` and ``problem_raw`` columns: set where the record itself was unreadable."""
    reasons: list[str | None] = [None] * n
    raws: list[str | None] = [None] * n
    for index, (reason, raw) in problems.items():
        reasons[index], raws[index] = reason, _raw_text(raw)
    return {
        "problem": pl.Series(reasons, dtype=pl.String),
        "problem_raw": pl.Series(raws, dtype=pl.String),
    }


def _ordinals(done: int, n: int) -> pl.Series:
    return pl.Series("ordinal", range(done + 1, done + n + 1), dtype=pl.Int64)


def hr_raw(found: Found, done: int, sources: Sources) -> pl.DataFrame:
    """The segment's heart-rate records: source id, Binary fields, ordinal and problems."""
    n, hr = len(found.hr), found.hr
    columns = [list(map(itemgetter(i), hr)) for i in range(len(HR_FIELDS))]
    fields = {k: _binary(columns[i]) for i, k in enumerate(HR_FIELDS) if i >= 2}
    return pl.DataFrame(
        {
            "ordinal": _ordinals(done, n),
            "source_id": sources.ids(columns[0], columns[1]),
            **fields,
            **_problem_columns(n, found.hr_problems),
        }
    )


def _record_sources(records: Sequence[HrvRecord], sources: Sources) -> pl.Series:
    """``source_id`` of each HRV record."""
    names = [r.attrs.get(b"sourceName") for r in records]
    return sources.ids(names, [device_key(r.attrs.get(b"device")) for r in records])


def _record_problems(records: Sequence[HrvRecord]) -> dict[int, tuple[str, bytes]]:
    return {i: (r.problem, r.raw) for i, r in enumerate(records) if r.problem is not None}


def vendor_raw(
    records: Sequence[HrvRecord], done: int, hrv_ordinals: Sequence[int], sources: Sources
) -> pl.DataFrame:
    """The segment's SDNN records: source id, Binary fields, ordinal, beat count, problems.

    ``hrv_ordinal`` is each record's ordinal among the HRV records (SDNN and
    heartbeat series), the key of its beat list and clock ledger.
    """
    names = ("unit", "start", "value")
    fields = {
        k: _binary([r.attrs.get(a) for r in records])
        for k, a in zip(names, QUANTITY_ATTRS, strict=True)
    }
    beat_counts = [None if r.beats is None else len(r.beats) for r in records]
    return pl.DataFrame(
        {
            "ordinal": _ordinals(done, len(records)),
            "source_id": _record_sources(records, sources),
            **fields,
            "n_beats": pl.Series(beat_counts, dtype=pl.Int64),
            "hrv_ordinal": pl.Series(hrv_ordinals, dtype=pl.Int64),
            **_problem_columns(len(records), _record_problems(records)),
        }
    )


def _beat_entries(record: HrvRecord) -> list[Beat]:
    """The beats a record contributes: its list, or one placeholder for an unreadable series.

    An unreadable SDNN record is rejected once, as ``vendor_hrv``; an unreadable
    heartbeat series (which has no other row) once, as ``beats``.
    """
    if record.problem is None:
        return record.beats or []
    return [(None, None)] if record.kind == HEARTBEAT_SERIES else []


def beat_list_raw(records: Sequence[HrvRecord], done: int) -> pl.DataFrame:
    """One row per beat: record ``ordinal``, ``pos``, Binary ``bpm``/``time``, ``bad`` element."""
    ordinals: list[int] = []
    positions: list[int] = []
    beats: list[Beat] = []
    bad: list[bool] = []
    for index, record in enumerate(records):
        entries = _beat_entries(record)
        ordinals += [done + index + 1] * len(entries)
        positions += range(1, len(entries) + 1)
        beats += entries
        bad += [i in record.bad_beats for i in range(len(entries))]
    return pl.DataFrame(
        {
            "ordinal": pl.Series(ordinals, dtype=pl.Int64),
            "pos": pl.Series(positions, dtype=pl.Int64),
            "bpm": _binary([b[0] for b in beats]),
            "time": _binary([b[1] for b in beats]),
            "bad": pl.Series(bad, dtype=pl.Boolean),
        }
    )


def beat_record_raw(records: Sequence[HrvRecord], done: int, sources: Sources) -> pl.DataFrame:
    """One row per HRV record: ``ordinal``, source id, Binary dates, problem."""
    return pl.DataFrame(
        {
            "ordinal": _ordinals(done, len(records)),
            "source_id": _record_sources(records, sources),
            "start": _binary([r.attrs.get(b"startDate") for r in records]),
            "end": _binary([r.attrs.get(b"endDate") for r in records]),
            **_problem_columns(len(records), _record_problems(records)),
        }
    )
