"""Synthetic Apple Health exports with HRV readings whose beat lists carry shifted clocks.

Built from the published format (the ``HealthKit Export`` DTD: a
``HKQuantityTypeIdentifierHeartRateVariabilitySDNN`` record holds a
``HeartRateVariabilityMetadataList`` of ``<InstantaneousBeatsPerMinute bpm=".."
time=".."/>``) and from what users' exports show: the ``time`` of a listed beat
is a date-less wall clock written in the exporting phone's locale and in its
zone at export, e.g. a record at ``startDate="2017-11-22 19:14:47 -0400"`` listing
``time="6:14:48.94 PM"``; ``08:34:05,10`` and ``17:07:00,29`` (comma locales);
``3:10:02,11 AM``; recent iOS puts U+202F (narrow no-break space) before ``AM``.

:func:`realistic_export` draws a whole export: a subject living in Berlin who
also records in New York and further away, exporting from New York in summer,
so most lists are shifted by whole hours or by :30/:45 against their record;
some lists cross midnight, a few hold a beat whose clock no offset explains,
and a few hold an artefact interval that Apple's SDNN left out (so not every
reading can be reproduced from its list). :func:`sdnn_reproduction` is the
measure of the acceptance target: Apple's SDNN per reading reproduced from
the stored beats within 15 %.

Examples
--------
>>> reading = Reading(datetime(2024, 3, 9, 19, 12), 60, -60, "en_US", (1000.0, 900.0))
>>> [time for _, time in listed_beats(reading)]
['6:12:00.50\\u202fPM', '6:12:01.40\\u202fPM']
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl

HEADER = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE HealthData [
<!-- HealthKit Export Version: 14 -->
<!ELEMENT HealthData (ExportDate,Me,(Record|Correlation|Workout|ActivitySummary)*)>
<!ATTLIST HealthData
  locale CDATA #REQUIRED
>
<!ELEMENT Record ((MetadataEntry|HeartRateVariabilityMetadataList)*)>
<!ELEMENT HeartRateVariabilityMetadataList (InstantaneousBeatsPerMinute*)>
<!ELEMENT InstantaneousBeatsPerMinute EMPTY>
<!ATTLIST InstantaneousBeatsPerMinute
  bpm  CDATA #REQUIRED
  time CDATA #REQUIRED
>
]>
<HealthData locale="{locale}">
 <ExportDate value="{export_date}"/>
 <Me HKCharacteristicTypeIdentifierBiologicalSex="HKBiologicalSexFemale"/>
"""
WATCH = (
    'sourceName="Anna’s Apple Watch" sourceVersion="10.2" device="&lt;&lt;HKDevice: 0x2819e9770&gt;, '
    'name:Apple Watch, manufacturer:Apple Inc., model:Watch, hardware:Watch6,7, software:10.2&gt;"'
)
FIRST_BEAT = timedelta(milliseconds=500)
REPRODUCED_WITHIN = 0.15
READING_WINDOW = (timedelta(seconds=-60), timedelta(minutes=5))


def _twelve_hour(am: str, pm: str, separator: str, space: str) -> Callable[[datetime], str]:
    def clock(t: datetime) -> str:
        hour = t.hour % 12 or 12
        half = am if t.hour < 12 else pm
        return f"{hour}:{t:%M:%S}{separator}{t.microsecond // 10_000:02d}{space}{half}"

    return clock


def _twenty_four_hour(separator: str) -> Callable[[datetime], str]:
    return lambda t: f"{t:%H:%M:%S}{separator}{t.microsecond // 10_000:02d}"


# How phones of these locales write a beat's time (centiseconds, as in users' exports).
CLOCKS: dict[str, Callable[[datetime], str]] = {
    "en_US": _twelve_hour("AM", "PM", ".", "\u202f"),  # recent iOS: narrow no-break space
    "en_US_2017": _twelve_hour("AM", "PM", ".", " "),
    "es_US": _twelve_hour("a. m.", "p. m.", ",", "\u00a0"),
    "de_DE": _twenty_four_hour(","),
    "pt_PT": _twenty_four_hour(","),
    "en_GB": _twenty_four_hour("."),
}


@dataclass(frozen=True)
class Reading:
    """One HRV reading as the watch measured it and the export writes it.

    ``start_local``: the record's ``startDate`` wall time, at offset
    ``record_offset_min``. ``clock_offset_min``: the listed beats' wall clock
    minus the record's (the export zone's offset minus ``record_offset_min``).
    ``rr_ms``: the intervals; Apple's SDNN is theirs without the ``artefacts``
    (positions of intervals Apple's own value left out). ``stray`` lists
    positions of beats written with a clock no offset explains (7 min off);
    from ``dst_jump_at`` on the beat clock is 1 h later (a daylight-saving
    switch of the export zone inside the list).
    """

    start_local: datetime
    record_offset_min: int
    clock_offset_min: int
    locale: str
    rr_ms: tuple[float, ...]
    artefacts: tuple[int, ...] = ()
    stray: tuple[int, ...] = ()
    dst_jump_at: int | None = None

    @property
    def start_utc(self) -> datetime:
        return (self.start_local - timedelta(minutes=self.record_offset_min)).replace(tzinfo=UTC)

    @property
    def beat_offsets(self) -> list[timedelta]:
        """Each beat's time after ``startDate``."""
        elapsed = np.cumsum(self.rr_ms) - self.rr_ms[0]
        return [FIRST_BEAT + timedelta(milliseconds=float(ms)) for ms in elapsed]

    @property
    def end_local(self) -> datetime:
        """``endDate``: the second after the last beat."""
        last = self.start_local + self.beat_offsets[-1]
        return last.replace(microsecond=0) + timedelta(seconds=1)

    @property
    def apple_sdnn_ms(self) -> float:
        kept = [rr for i, rr in enumerate(self.rr_ms) if i not in self.artefacts]
        return float(np.std(kept, ddof=1))


def _date(local: datetime, offset_min: int) -> str:
    sign = "+" if offset_min >= 0 else "-"
    hours, minutes = divmod(abs(offset_min), 60)
    return f"{local:%Y-%m-%d %H:%M:%S} {sign}{hours:02d}{minutes:02d}"


def listed_beats(reading: Reading) -> list[tuple[int, str]]:
    """``(bpm, time)`` of each listed beat, as the export writes them."""
    clock = CLOCKS[reading.locale]
    out = []
    for i, (rr, after) in enumerate(zip(reading.rr_ms, reading.beat_offsets, strict=True)):
        shift = reading.clock_offset_min + (
            60 if reading.dst_jump_at is not None and i >= reading.dst_jump_at else 0
        )
        shift += 7 if i in reading.stray else 0
        out.append(
            (round(60_000 / rr), clock(reading.start_local + after + timedelta(minutes=shift)))
        )
    return out


def sdnn_record(reading: Reading) -> str:
    """The reading as an SDNN record with its beat list."""
    start = _date(reading.start_local, reading.record_offset_min)
    end = _date(reading.end_local, reading.record_offset_min)
    items = "".join(
        f'   <InstantaneousBeatsPerMinute bpm="{bpm}" time="{time}"/>\n'
        for bpm, time in listed_beats(reading)
    )
    return (
        f' <Record type="HKQuantityTypeIdentifierHeartRateVariabilitySDNN" {WATCH} unit="ms" '
        f'creationDate="{end}" startDate="{start}" endDate="{end}" '
        f'value="{reading.apple_sdnn_ms:.4f}">\n'
        f"  <HeartRateVariabilityMetadataList>\n{items}  </HeartRateVariabilityMetadataList>\n"
        " </Record>\n"
    )


def export_xml(readings: Sequence[Reading], locale: str = "en_US") -> str:
    """A whole ``export.xml`` holding the readings (in the order given)."""
    head = HEADER.replace("{locale}", locale).replace("{export_date}", "2025-07-14 09:30:00 -0400")
    return head + "".join(sdnn_record(r) for r in readings) + "</HealthData>\n"


def intervals(rng: random.Random, n: int) -> tuple[float, ...]:
    """RR intervals of a resting reading: a mean, breathing modulation and AR(1) noise (ms)."""
    mean, breathing, noise = rng.uniform(700, 1150), rng.uniform(10, 60), rng.uniform(8, 35)
    period_s, phase, ar, t, out = rng.uniform(3.5, 6.0), rng.uniform(0, 6.3), 0.0, 0.0, []
    for _ in range(n):
        ar = 0.6 * ar + rng.gauss(0, noise)
        rr = mean + breathing * np.sin(2 * np.pi * t / period_s + phase) + ar
        out.append(round(float(rr), 3))
        t += rr / 1000
    return tuple(out)


# Where the synthetic subject records: (share, UTC offset in winter, in summer), minutes.
PLACES = {
    "Berlin": (0.62, 60, 120),
    "New York": (0.25, -300, -240),
    "Delhi": (0.05, 330, 330),
    "Kathmandu": (0.04, 345, 345),
    "Adelaide": (0.04, 630, 570),
}
EXPORT_OFFSET_MIN = -240  # exported in New York in summer


def _offset(place: str, day: datetime) -> int:
    _, winter, summer = PLACES[place]
    return summer if 4 <= day.month <= 9 else winter


def realistic_readings(n: int = 397, seed: int = 13, locale: str = "en_US") -> list[Reading]:
    """An export's HRV readings, over two years, from the places in :data:`PLACES`.

    Lists hold 40-110 beats; 6 % of the readings start a minute before
    midnight (their lists cross it), 3 % hold one stray beat and 6 % one
    artefact interval (premature beat and its pause) that Apple's SDNN left out.
    """
    rng = random.Random(seed)
    names, weights = list(PLACES), [share for share, _, _ in PLACES.values()]
    readings = []
    for k in range(n):
        day = datetime(2023, 7, 1) + timedelta(days=730 * k / n)
        place = rng.choices(names, weights)[0]
        if rng.random() < 0.06:
            local = day.replace(hour=23, minute=59, second=rng.randint(0, 40))
        else:
            local = day.replace(
                hour=rng.randint(0, 22), minute=rng.randint(0, 59), second=rng.randint(0, 59)
            )
        rr = list(intervals(rng, rng.randint(40, 110)))
        artefacts: tuple[int, ...] = ()
        if rng.random() < 0.06:
            at = rng.randint(5, len(rr) - 5)
            rr[at], rr[at + 1] = rr[at] * 0.55, rr[at] * 1.45
            artefacts = (at, at + 1)
        stray = (rng.randint(1, len(rr) - 2),) if rng.random() < 0.03 else ()
        offset = _offset(place, local)
        readings.append(
            Reading(local, offset, EXPORT_OFFSET_MIN - offset, locale, tuple(rr), artefacts, stray)
        )
    return readings


def sdnn_reproduction(vendor: pl.DataFrame, beats: pl.DataFrame) -> pl.DataFrame:
    """Per reading (``vendor_hrv`` row): Apple's SDNN, ours from the stored beats, reproduced or not.

    Ours is the SDNN (N − 1) of ``rr_ms`` of the beats within
    :data:`READING_WINDOW` of the reading's start; reproduced means within
    :data:`REPRODUCED_WITHIN` (15 %) of Apple's value. A reading with fewer
    than two beats is not reproduced.
    """
    lo, hi = READING_WINDOW
    readings = vendor.select("t_utc", "sdnn_ms").with_row_index("reading")
    joined = readings.join_where(
        beats.select(pl.col("t_utc").alias("beat_utc"), "rr_ms"),
        pl.col("beat_utc") >= pl.col("t_utc") + lo,
        pl.col("beat_utc") < pl.col("t_utc") + hi,
    )
    ours = joined.group_by("reading").agg(ours_ms=pl.col("rr_ms").std(ddof=1), n_beats=pl.len())
    out = readings.join(ours, on="reading", how="left").sort("reading")
    within = (pl.col("ours_ms") - pl.col("sdnn_ms")).abs() <= REPRODUCED_WITHIN * pl.col("sdnn_ms")
    return out.with_columns(reproduced=within.fill_null(False))
