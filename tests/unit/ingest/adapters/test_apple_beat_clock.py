"""The Apple Health beat-list clock: each list anchored to its record's span.

Exports are built by :mod:`tests.support.apple_exports` from the published
format and users' reports (locales, the export zone differing from the
record's offset, lists crossing midnight); several instances per class.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from tearsignals.contract import schema
from tearsignals.ingest import files
from tearsignals.ingest.adapters import apple_health
from tearsignals.ingest.adapters.base import Parsed
from tearsignals.lake import store
from tests.support import apple_exports as ax

CENTISECOND = timedelta(milliseconds=10)


def _reading(
    start: datetime, record_offset: int, clock_offset: int, locale: str = "en_US", **more: object
) -> ax.Reading:
    rr = ax.intervals(random.Random(start.toordinal() + start.hour), 60)
    return ax.Reading(start, record_offset, clock_offset, locale, rr, **more)  # type: ignore[arg-type]


def _parsed(tmp_path: Path, readings: list[ax.Reading], locale: str = "en_US") -> Parsed:
    path = tmp_path / "export.xml"
    path.write_text(ax.export_xml(readings, locale), encoding="utf-8")
    return apple_health.parse(path)


def _assert_placed_where_measured(parsed: Parsed, readings: list[ax.Reading]) -> None:
    """Every listed beat of a consistent clock is a beat at its true instant (10 ms clock)."""
    truth = sorted(
        r.start_utc + after
        for r in readings
        for i, after in enumerate(r.beat_offsets)
        if i not in r.stray
    )
    placed = parsed.frames["beats"]["t_utc"].sort().to_list()
    assert len(placed) == len(truth)
    assert all(timedelta(0) <= t - p < CENTISECOND for t, p in zip(truth, placed, strict=True))


def _ledger(parsed: Parsed) -> list[tuple[int, float]]:
    vendor = parsed.frames["vendor_hrv"].sort("t_utc")
    return vendor.select("beat_clock_offset_min", "beat_clock_residual_s").rows()


CLASSES = {
    # both decimal separators, 24 h, in the record's zone and an hour off
    "comma_24h": (
        "de_DE",
        [(datetime(2024, 1, 10, 8, 34, 5), 60, 0), (datetime(2024, 7, 3, 17, 7), 120, -60)],
    ),
    "comma_24h_pt": (
        "pt_PT",
        [(datetime(2024, 2, 1, 17, 7), 0, 0), (datetime(2024, 8, 1, 6, 0), 60, 60)],
    ),
    "dot_24h": (
        "en_GB",
        [(datetime(2024, 1, 10, 20, 12), 0, 0), (datetime(2024, 6, 1, 9, 30), 60, -60)],
    ),
    # 12 h with AM/PM: narrow no-break space (recent iOS), plain space, "p. m." with a comma
    "ampm_nnbsp": (
        "en_US",
        [(datetime(2024, 3, 9, 20, 12), 60, 0), (datetime(2024, 5, 4, 3, 10), 120, 60)],
    ),
    "ampm_space": (
        "en_US_2017",
        [
            (datetime(2017, 11, 22, 19, 14, 47), -240, -60),
            (datetime(2017, 11, 23, 11, 59, 50), -300, 0),
        ],
    ),
    "ampm_es": (
        "es_US",
        [(datetime(2024, 4, 2, 12, 0, 5), -300, 60), (datetime(2024, 4, 3, 0, 30), -240, -60)],
    ),
    # whole hours of travel, both signs
    "travel": (
        "en_US",
        [
            (datetime(2024, 5, 1, 7, 0), 120, -360),
            (datetime(2024, 5, 20, 22, 0), -240, 360),
            (datetime(2024, 6, 2, 14, 0), 540, -660),
        ],
    ),
    # :30 and :45 zones against whole-hour ones
    "half_and_quarter": (
        "en_GB",
        [
            (datetime(2024, 2, 5, 10, 0), 330, -270),
            (datetime(2024, 2, 9, 10, 0), 345, -285),
            (datetime(2024, 3, 1, 6, 0), -210, 210),
        ],
    ),
    # lists crossing midnight on the record's clock, on the beat clock only, and on both
    "midnight": (
        "en_US",
        [
            (datetime(2024, 1, 31, 23, 59, 30), 60, 0),
            (datetime(2024, 2, 10, 22, 59, 40), 60, 60),
            (datetime(2024, 2, 11, 23, 59, 35), 60, -60),
            (datetime(2024, 2, 29, 0, 0, 2), 60, -60),
        ],
    ),
    # one export either side of a daylight-saving change: each record has its own shift
    "across_dst": (
        "de_DE",
        [
            (datetime(2024, 3, 30, 22, 0), 60, 0),
            (datetime(2024, 3, 31, 4, 0), 120, -60),
            (datetime(2024, 10, 27, 1, 30), 120, -60),
            (datetime(2024, 10, 27, 4, 0), 60, 0),
        ],
    ),
}


@pytest.mark.parametrize("case", sorted(CLASSES))
def test_each_list_is_anchored_to_its_record(tmp_path: Path, case: str) -> None:
    locale, specs = CLASSES[case]
    readings = [_reading(start, rec, clk, locale) for start, rec, clk in specs]
    parsed = _parsed(tmp_path, readings, locale)
    assert parsed.rejects.is_empty()
    _assert_placed_where_measured(parsed, readings)
    by_start = sorted(readings, key=lambda r: r.start_utc)
    assert _ledger(parsed) == [(r.clock_offset_min, 0.0) for r in by_start]


def test_a_daylight_saving_switch_inside_a_list_places_both_parts(tmp_path: Path) -> None:
    jumps = [
        _reading(datetime(2024, 3, 10, 6, 59, 30), -300, 0, dst_jump_at=25),
        _reading(datetime(2024, 11, 3, 5, 59, 40), -240, -60, dst_jump_at=10),
    ]
    parsed = _parsed(tmp_path, jumps)
    assert parsed.rejects.is_empty()
    _assert_placed_where_measured(parsed, jumps)
    # the ledger names the shift that placed most of the list
    assert [offset for offset, _ in _ledger(parsed)] == [60, 0]


def test_only_beats_no_consistent_offset_explains_are_quarantined(tmp_path: Path) -> None:
    readings = [
        _reading(datetime(2024, 4, 1, 9, 0), 120, -60, stray=(12,)),
        _reading(datetime(2024, 4, 2, 23, 59, 20), 120, 0, stray=(3, 40)),
        _reading(datetime(2024, 4, 3, 12, 0), -240, 360),
    ]
    parsed = _parsed(tmp_path, readings)
    reasons = parsed.rejects["reason"].to_list()
    assert reasons == ["beat time outside record span"] * 3
    _assert_placed_where_measured(parsed, readings)
    assert [offset for offset, _ in _ledger(parsed)] == [-60, 0, 360]


def test_the_residual_is_what_the_margin_took_up(tmp_path: Path) -> None:
    # endDate written 20 s before the last listed beat: the beat is kept, the residual says so
    reading = _reading(datetime(2024, 5, 5, 10, 0), 120, -60)
    text = ax.export_xml([reading])
    end = ax._date(reading.end_local, 120)
    early = ax._date(reading.end_local - timedelta(seconds=21), 120)
    path = tmp_path / "export.xml"
    path.write_text(text.replace(f'endDate="{end}"', f'endDate="{early}"'), encoding="utf-8")
    parsed = apple_health.parse(path)
    ((offset, residual),) = _ledger(parsed)
    last = reading.start_local + reading.beat_offsets[-1]
    expected = (last - (reading.end_local - timedelta(seconds=21))).total_seconds()
    assert offset == -60 and residual == pytest.approx(expected, abs=0.01)
    assert parsed.rejects.is_empty()


def test_apples_sdnn_is_reproduced_from_the_stored_beats(tmp_path: Path) -> None:
    """The acceptance measure, through ingest: ≥ 90 % of readings within 15 %."""
    readings = ax.realistic_readings(150, seed=5)
    inbox, lake = tmp_path / "inbox", tmp_path / "lake"
    path = inbox / "S01" / "export.xml"
    path.parent.mkdir(parents=True)
    path.write_text(ax.export_xml(readings), encoding="utf-8")
    report = files.ingest_file(lake, inbox, "S01", path)
    assert report is not None and report.status == "ingested"
    vendor, beats = store.read_table(lake, "vendor_hrv"), store.read_table(lake, "beats")
    assert vendor.height == 150 and vendor.columns == schema.table("vendor_hrv").column_names
    shifted = vendor.filter(pl.col("beat_clock_offset_min") != 0).height
    assert shifted > 100  # most lists were written on another clock than their record's
    reproduced = ax.sdnn_reproduction(vendor, beats)["reproduced"].mean()
    assert isinstance(reproduced, float) and reproduced >= 0.90
    strays = sum(len(r.stray) for r in readings)
    assert store.read_table(lake, "quarantine").height == strays
