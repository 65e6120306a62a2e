"""Clock offsets between a chest strap and a watch, planted in one synthetic heart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from tearsignals.beats.clock_offset import clock_corrected, clock_offsets
from tearsignals.config import ClockConfig
from tearsignals.contract import schema

T0 = datetime(2026, 3, 2, 8, tzinfo=UTC)
CFG = ClockConfig()


def heart_curve_bpm(seed: int, hours: float) -> np.ndarray:
    """HR per second: a resting level with a mean-reverting wander (sd 6 bpm, ~2 min memory)."""
    rng = np.random.default_rng(seed)
    n, keep = int(hours * 3600), np.exp(-1 / 120)
    wander = np.empty(n)
    wander[0] = 0.0
    steps = rng.normal(0.0, 6.0 * np.sqrt(1 - keep**2), n)
    for i in range(1, n):
        wander[i] = keep * wander[i - 1] + steps[i]
    return 68.0 + wander


def strap_beats(curve: np.ndarray, seed: int, start: datetime = T0) -> pl.DataFrame:
    """Chest-strap RR of ``curve`` (true clock), 5 ms of beat-to-beat noise."""
    rng = np.random.default_rng(seed)
    times, t = [], 0.0
    while t < curve.size - 2:
        times.append(t)
        t += 60.0 / curve[int(t)]
    t_s = np.asarray(times)
    rr_ms = np.diff(t_s, prepend=t_s[0] - 60.0 / curve[0]) * 1000 + rng.normal(0, 5, t_s.size)
    return _frame(start, t_s, "polar_h10", "Polar H10", rr_ms=rr_ms, origin="rr")


def watch_minutes(
    curve: np.ndarray, offset_s: float, seed: int, start: datetime = T0
) -> pl.DataFrame:
    """Watch minute HR of ``curve``: each stamp the start of the minute it averages, on a
    clock that reads ``offset_s`` early (so ``offset_s`` puts it back), 1.5 bpm of noise."""
    rng = np.random.default_rng(seed)
    means = curve[: curve.size // 60 * 60].reshape(-1, 60).mean(axis=1)
    t_s = np.arange(means.size) * 60.0 - offset_s
    hr = means + rng.normal(0, 1.5, means.size)
    return _frame(start, t_s, "fitbit_csv", "Fitbit Sense", hr_bpm=hr)


def _frame(
    start: datetime, t_s: np.ndarray, source: str, device: str, **values: object
) -> pl.DataFrame:
    n = t_s.size
    t_utc = pl.Series([start + timedelta(seconds=float(s)) for s in t_s])
    return pl.DataFrame(
        {
            "subject_id": ["S1"] * n,
            "source": [source] * n,
            "device": [device] * n,
            "file_id": [source] * n,
            "t_utc": t_utc.cast(pl.Datetime("us", "UTC")),
            **{k: v if isinstance(v, np.ndarray) else [v] * n for k, v in values.items()},
        }
    )


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
