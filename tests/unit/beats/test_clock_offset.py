"""Clock offsets between a chest strap and a watch, planted in one synthetic heart."""

from __future__ import annotations

from datetime import timedelta

import polars as pl
import pytest

from tearsignals.beats.clock_offset import clock_corrected, clock_offsets
from tearsignals.config import ClockConfig
from tearsignals.contract import schema
from tests.support.two_devices import T0, heart_curve_bpm, strap_beats, watch_minutes

CFG = ClockConfig()


def _no_hr() -> pl.DataFrame:
    return schema.empty("heart_rate")


def _beats(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.select("subject_id", "source", "device", "file_id", "t_utc", "rr_ms", "origin")


def _one(beats: pl.DataFrame, hr: pl.DataFrame, cfg: ClockConfig = CFG) -> dict[str, object]:
    out = clock_offsets(beats, hr, cfg, "p")
    assert out.height == 1
    return out.row(0, named=True)


@pytest.mark.parametrize("planted_s", [97.0, -240.0, 0.0])
def test_a_planted_offset_between_strap_and_watch_is_found_within_5_s(planted_s: float) -> None:
    curve = heart_curve_bpm(seed=1, hours=3)
    row = _one(strap_beats(curve, seed=2), watch_minutes(curve, planted_s, seed=3))
    assert row["source"] == "fitbit_csv" and row["reference_source"] == "polar_h10"
    assert row["status"] == "applied"
    assert abs(float(row["offset_s"]) - planted_s) <= 5.0  # type: ignore[arg-type]
    assert float(row["correlation"]) > 0.8  # type: ignore[arg-type]
    assert float(row["n_overlap_min"]) >= 170  # type: ignore[arg-type]


def test_two_beat_streams_of_two_devices_are_aligned_too() -> None:
    curve = heart_curve_bpm(seed=4, hours=2)
    strap = strap_beats(curve, seed=5)
    ring = strap_beats(curve, seed=6, start=T0 - timedelta(seconds=42)).with_columns(
        source=pl.lit("oura"), device=pl.lit("Oura Ring"), origin=pl.lit("ppg")
    )
    row = _one(_beats(pl.concat([ring, strap])), _no_hr())
    assert row["source"] == "oura" and row["status"] == "applied"
    assert abs(float(row["offset_s"]) - 42.0) <= 5.0  # type: ignore[arg-type]


def test_streams_that_do_not_overlap_are_too_little_overlap_and_not_applied() -> None:
    curve = heart_curve_bpm(seed=7, hours=2)
    watch = watch_minutes(curve, 0.0, seed=8, start=T0 + timedelta(hours=5))
    row = _one(strap_beats(curve, seed=9), watch)
    assert row["status"] == "too little overlap" and row["offset_s"] is None
    short = watch_minutes(curve[: 20 * 60], 0.0, seed=8)  # 20 minutes < 30
    assert _one(strap_beats(curve, seed=9), short)["status"] == "too little overlap"


def test_uncorrelated_streams_are_weak_correlation_and_not_applied() -> None:
    strap = strap_beats(heart_curve_bpm(seed=10, hours=2), seed=11)
    watch = watch_minutes(heart_curve_bpm(seed=12, hours=2), 0.0, seed=13)
    row = _one(strap, watch)
    assert row["status"] == "weak correlation"
    assert float(row["correlation"]) < CFG.min_correlation  # type: ignore[arg-type]
    assert clock_corrected(watch, clock_offsets(strap, watch, CFG, "p")).equals(watch)


def test_offsets_that_differ_between_days_are_inconsistent_and_not_applied() -> None:
    day1, day2 = heart_curve_bpm(seed=14, hours=2), heart_curve_bpm(seed=15, hours=2)
    next_day = T0 + timedelta(days=1)
    strap = pl.concat([strap_beats(day1, seed=16), strap_beats(day2, seed=17, start=next_day)])
    watch = pl.concat(
        [
            watch_minutes(day1, 60.0, seed=18),
            watch_minutes(day2, 180.0, seed=19, start=next_day),  # the watch clock was reset
        ]
    )
    row = _one(strap, watch)
    assert row["status"] == "inconsistent" and row["n_days"] == 2
    assert abs(float(row["day_spread_s"]) - 120.0) <= 10.0  # type: ignore[arg-type]


def test_the_same_offset_every_day_is_consistent() -> None:
    day1, day2 = heart_curve_bpm(seed=14, hours=2), heart_curve_bpm(seed=15, hours=2)
    next_day = T0 + timedelta(days=1)
    strap = pl.concat([strap_beats(day1, seed=16), strap_beats(day2, seed=17, start=next_day)])
    watch = pl.concat(
        [watch_minutes(day1, 60.0, seed=18), watch_minutes(day2, 60.0, seed=19, start=next_day)]
    )
    row = _one(strap, watch)
    assert row["status"] == "applied" and row["n_days"] == 2
    assert abs(float(row["offset_s"]) - 60.0) <= 5.0  # type: ignore[arg-type]


def test_an_offset_beyond_the_search_is_at_lag_limit_and_not_applied() -> None:
    curve = heart_curve_bpm(seed=20, hours=3)
    row = _one(strap_beats(curve, seed=21), watch_minutes(curve, 25 * 60.0, seed=22))
    assert row["status"] in {"at lag limit", "weak correlation"}


def test_a_known_offset_is_used_as_given() -> None:
    curve = heart_curve_bpm(seed=1, hours=1)
    watch = watch_minutes(curve, 97.0, seed=3)
    fixed = {("S1", "fitbit_csv"): 100.0}
    out = clock_offsets(strap_beats(curve, seed=2), watch, CFG, "p", fixed)
    assert out.select("status", "offset_s").row(0) == ("from profile", 100.0)
    moved = clock_corrected(watch, out)
    assert (moved["t_utc"] - watch["t_utc"]).dt.total_seconds().unique().to_list() == [100]


def test_sources_of_one_device_keep_their_clock() -> None:
    curve = heart_curve_bpm(seed=23, hours=1)
    ibi = strap_beats(curve, seed=24).with_columns(device=pl.lit("E4"), source=pl.lit("e4_ibi"))
    bvp = strap_beats(curve, seed=25, start=T0 + timedelta(seconds=30)).with_columns(
        device=pl.lit("E4"), source=pl.lit("e4_bvp"), origin=pl.lit("ppg")
    )
    assert _one(_beats(pl.concat([ibi, bvp])), _no_hr())["status"] == "same device"


def test_applied_offsets_move_only_their_source() -> None:
    curve = heart_curve_bpm(seed=1, hours=2)
    strap, watch = strap_beats(curve, seed=2), watch_minutes(curve, 97.0, seed=3)
    offsets = clock_offsets(strap, watch, CFG, "p")
    assert clock_corrected(strap, offsets).equals(strap)
    moved = clock_corrected(watch, offsets)
    shift_s = (moved["t_utc"] - watch["t_utc"]).dt.total_microseconds().unique() / 1e6
    assert shift_s.to_list() == pytest.approx([offsets["offset_s"][0]], abs=1e-6)


def test_one_source_has_no_rows_and_the_table_is_declared() -> None:
    curve = heart_curve_bpm(seed=1, hours=1)
    out = clock_offsets(strap_beats(curve, seed=2), _no_hr(), CFG, "p")
    assert out.is_empty() and out.schema == schema.polars_schema("clock_offsets")
