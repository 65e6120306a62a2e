"""Event-locked time course on hand-built beats: bins, HR step, gaps, overlap, minute HR,
and the cohort average."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest
from pydantic import ValidationError
from scipy import stats as sps

from tearsignals.config import AnalysisConfig, StatsConfig, TimecourseConfig, WindowConfig
from tearsignals.contract import schema
from tearsignals.episodes import timecourse
from tearsignals.episodes.window_metrics import episode_window_metrics
from tearsignals.episodes.windows import OVERLAP_REASON, episode_windows_spec
from tearsignals.stats import cohort_timecourse

T0 = datetime(2024, 5, 2, 10, 0, tzinfo=UTC)
ONSET = T0 + timedelta(hours=1)
END = ONSET + timedelta(minutes=10)
CFG = AnalysisConfig(windows=WindowConfig(n_controls=0))


def stepped_rr(total_s: float, fast: list[tuple[float, float]], seed: int = 0) -> np.ndarray:
    """RR of 1000 ms (60 bpm), 750 ms (80 bpm) inside ``fast`` spans (s from T0), with
    a breathing-like oscillation and jitter so RMSSD is defined."""
    rng = np.random.default_rng(seed)
    out, t = [], 0.0
    while t < total_s:
        base = 750.0 if any(lo <= t < hi for lo, hi in fast) else 1000.0
        rr = base + 25.0 * np.sin(2 * np.pi * 0.25 * t) + rng.normal(0.0, 3.0)
        out.append(rr)
        t += rr / 1000.0
    return np.array(out)


def beats_frame(subject: str, rr_ms: np.ndarray, drop: tuple[float, float] | None = None):  # type: ignore[no-untyped-def]
    t_us = int(T0.timestamp() * 1e6) + np.round(np.cumsum(rr_ms) * 1000).astype(np.int64)
    frame = pl.DataFrame(
        {
            "subject_id": subject,
            "source": "test",
            "device": None,
            "file_id": "f0",
            "t_utc": pl.Series(t_us).cast(pl.Datetime("us", "UTC")),
            "rr_ms": rr_ms,
            "origin": "rr",
        }
    )
    if drop is not None:
        lo, hi = (T0 + timedelta(seconds=s) for s in drop)
        frame = frame.filter(~pl.col("t_utc").is_between(lo, hi, closed="left"))
    return schema.conform(frame, "beats")


def episodes_frame(*rows: tuple[str, str, datetime, datetime]) -> pl.DataFrame:
    frame = pl.DataFrame(
        [(*r, "UTC", None, None, "test", "f0") for r in rows],
        schema=schema.table("episodes").column_names,
        orient="row",
    )
    return schema.conform(frame, "episodes")


def course(
    beats: pl.DataFrame, episodes: pl.DataFrame, hr: pl.DataFrame | None = None
) -> pl.DataFrame:
    heart_rate = schema.empty("heart_rate") if hr is None else hr
    spec = episode_windows_spec(episodes, CFG.windows)
    rows = episode_window_metrics(beats, heart_rate, spec, CFG, "h0")
    return timecourse.episode_timecourse(beats, heart_rate, rows, CFG, "h0")


def one_episode() -> pl.DataFrame:
    return episodes_frame(("s1", "e1", ONSET, END))


def rel_s(t: datetime) -> float:
    return (t - T0).total_seconds()


def bins_of(tc: pl.DataFrame, anchor: str, lo: float, hi: float) -> pl.DataFrame:
    return tc.filter(
        (pl.col("anchor") == anchor) & pl.col("bin_start_min").is_between(lo, hi, closed="left")
    )


def test_bins_cover_minus_30_to_plus_120_around_onset_and_end() -> None:
    beats = beats_frame("s1", stepped_rr(4 * 3600, [(rel_s(ONSET), rel_s(END))]))
    tc = course(beats, one_episode())
    assert tc.equals(schema.conform(tc, "episode_timecourse"))
    assert tc.height == 2 * 75
    onset = tc.filter(pl.col("anchor") == "onset")
    assert onset["bin_start_min"].to_list() == [float(m) for m in range(-30, 120, 2)]
    first = onset.row(0, named=True)
    assert first["bin_start_utc"] == ONSET - timedelta(minutes=30)
    end = tc.filter(pl.col("anchor") == "end").row(0, named=True)
    assert end["bin_start_utc"] == END - timedelta(minutes=30)
    assert set(tc["params_hash"]) == {"h0"}


def test_hr_step_during_the_episode_shows_in_the_onset_bins_and_the_change() -> None:
    beats = beats_frame("s1", stepped_rr(4 * 3600, [(rel_s(ONSET), rel_s(END))]))
    tc = course(beats, one_episode())
    during = bins_of(tc, "onset", 0, 10)
    before = bins_of(tc, "onset", -30, 0)
    after = bins_of(tc, "end", 0, 120)
    assert during["mean_hr_bpm"].to_numpy() == pytest.approx(80.0, abs=0.5)
    assert before["mean_hr_bpm"].to_numpy() == pytest.approx(60.0, abs=0.5)
    assert during["hr_change_bpm"].to_numpy() == pytest.approx(20.0, abs=0.7)
    assert after["hr_change_bpm"].to_numpy() == pytest.approx(0.0, abs=0.7)
    assert tc["ln_rmssd"].null_count() == 0
    assert tc["reason"].null_count() == tc.height
    assert (tc["basis"] == "rr").all()


def test_a_gap_in_the_beats_is_a_null_bin_with_a_reason() -> None:
    gap = (rel_s(ONSET) + 30 * 60, rel_s(ONSET) + 34 * 60)
    beats = beats_frame("s1", stepped_rr(4 * 3600, [(rel_s(ONSET), rel_s(END))]), drop=gap)
    tc = course(beats, one_episode())
    empty = bins_of(tc, "onset", 30, 34)
    assert empty["reason"].to_list() == ["no data in bin"] * 2
    assert empty["mean_hr_bpm"].null_count() == 2
    assert empty["n_beats"].to_list() == [0, 0]
    assert bins_of(tc, "onset", 28, 30)["mean_hr_bpm"].null_count() == 0


def test_bins_meeting_another_episodes_effect_span_are_flagged() -> None:
    second = ONSET + timedelta(minutes=60)
    spans = [(rel_s(ONSET), rel_s(END)), (rel_s(second), rel_s(second) + 300)]
    beats = beats_frame("s1", stepped_rr(5 * 3600, spans))
    episodes = episodes_frame(
        ("s1", "e1", ONSET, END), ("s1", "e2", second, second + timedelta(minutes=5))
    )
    tc = course(beats, episodes)
    first = tc.filter(pl.col("episode_id") == "e1")
    # e2's effect span starts 5 min before its onset (60 min after e1's onset).
    assert bins_of(first, "onset", 54, 56)["reason"].to_list() == [OVERLAP_REASON]
    assert bins_of(first, "onset", 52, 54)["reason"].to_list() == [None]
    later = tc.filter(pl.col("episode_id") == "e2")
    # e1's effect span ends 90 min after its end (= 40 min after e2's onset).
    assert bins_of(later, "onset", 38, 40)["reason"].to_list() == [OVERLAP_REASON]
    assert bins_of(later, "onset", 40, 42)["reason"].to_list() == [None]
    assert bins_of(first, "onset", 54, 56)["mean_hr_bpm"].null_count() == 1


def test_minute_hr_subject_gets_hr_but_no_ln_rmssd() -> None:
    minutes = [T0 + timedelta(minutes=m) for m in range(240)]
    hr = [80.0 if ONSET <= t < END else 60.0 for t in minutes]
    frame = pl.DataFrame(
        {
            "subject_id": "s1",
            "source": "test",
            "device": None,
            "file_id": "f0",
            "t_utc": pl.Series(minutes).cast(pl.Datetime("us", "UTC")),
            "hr_bpm": hr,
        }
    )
    if "confidence" in schema.table("heart_rate").column_names:
        frame = frame.with_columns(confidence=pl.lit(None, pl.Float64))
    heart_rate = schema.conform(frame, "heart_rate")
    tc = course(schema.empty("beats"), one_episode(), heart_rate)
    assert (tc["basis"] == "minute_hr").all()
    assert tc["ln_rmssd"].null_count() == tc.height
    assert set(tc["reason"]) == {"minute HR only: no ln RMSSD"}
    assert bins_of(tc, "onset", 0, 10)["mean_hr_bpm"].to_list() == [80.0] * 5
    assert bins_of(tc, "onset", 0, 10)["hr_change_bpm"].to_list() == [20.0] * 5


def drifting_rr(days: int, drift_bpm_per_h: float, fast: tuple[float, float]) -> np.ndarray:
    """RR over ``days`` whole days from T0: HR 60 bpm at T0's clock time rising by
    ``drift_bpm_per_h`` per hour of the day (the same every day), +20 bpm in ``fast``."""
    rng = np.random.default_rng(1)
    out, t = [], 0.0
    while t < days * 86400.0:
        hour_of_day = (t % 86400.0) / 3600.0
        hr = 60.0 + drift_bpm_per_h * hour_of_day + (20.0 if fast[0] <= t < fast[1] else 0.0)
        rr = 60000.0 / hr + 25.0 * np.sin(2 * np.pi * 0.25 * t) + rng.normal(0.0, 3.0)
        out.append(rr)
        t += rr / 1000.0
    return np.array(out)


def test_the_adjusted_change_removes_a_drift_the_control_days_share() -> None:
    # Episode on day 2 (days 1 and 3 are its controls); HR drifts +3 bpm per hour each day.
    onset, end = ONSET + timedelta(days=1), END + timedelta(days=1)
    beats = beats_frame("s1", drifting_rr(3, 3.0, (rel_s(onset), rel_s(end))))
    cfg = AnalysisConfig(windows=WindowConfig(n_controls=2))
    episodes = episodes_frame(("s1", "e1", onset, end))
    spec = episode_windows_spec(episodes, cfg.windows)
    rows = episode_window_metrics(beats, schema.empty("heart_rate"), spec, cfg, "h0")
    tc = timecourse.episode_timecourse(beats, schema.empty("heart_rate"), rows, cfg, "h0")
    assert tc.height == 2 * 75  # episode bins only
    late = bins_of(tc, "end", 80, 90)  # ~1.6 h after the baseline: raw change ~ +5 bpm
    assert late["hr_change_bpm"].to_numpy() == pytest.approx(3.0 * 1.6, abs=1.0)
    assert late["adjusted_hr_change_bpm"].to_numpy() == pytest.approx(0.0, abs=0.5)
    assert set(tc["n_controls_hr"]) == {2}
    during = bins_of(tc, "onset", 0, 10)
    assert during["adjusted_hr_change_bpm"].to_numpy() == pytest.approx(20.0, abs=1.5)
    assert tc["adjusted_ln_rmssd_change"].null_count() == 0
    alone = course(beats, episodes)  # no control days: nothing to adjust by
    assert alone["adjusted_hr_change_bpm"].null_count() == alone.height
    assert set(alone["n_controls_hr"]) == {0}


def hand_course(values: dict[str, list[float]]) -> pl.DataFrame:
    """Two bins per subject's episode; ``hr_change_bpm`` from ``values``, the rest null."""
    rows = []
    for subject, changes in values.items():
        for i, change in enumerate(changes):
            for start in (0.0, 2.0):
                rows.append(
                    {
                        "subject_id": subject,
                        "episode_id": f"{subject}e{i}",
                        "anchor": "onset",
                        "bin_start_min": start,
                        "bin_end_min": start + 2.0,
                        "bin_start_utc": T0,
                        "basis": "rr",
                        "n_beats": 100,
                        "coverage": 1.0,
                        "hr_change_bpm": change + start,
                        "adjusted_hr_change_bpm": change + start,
                        "n_controls_hr": 1,
                        "n_controls_ln_rmssd": 0,
                        "params_hash": "h",
                    }
                )
    frame = pl.DataFrame(rows)
    missing = [c for c in schema.table("episode_timecourse").column_names if c not in frame.columns]
    frame = frame.with_columns(pl.lit(None).alias(c) for c in missing)
    return schema.conform(frame, "episode_timecourse")


def test_cohort_average_is_the_mean_of_subject_means_with_a_t_interval() -> None:
    tc = hand_course({"a": [1.0, 3.0], "b": [4.0], "c": [0.0, 1.0, 2.0]})
    per_subject = cohort_timecourse.subject_timecourse(tc)
    first_bin = (pl.col("bin_start_min") == 0.0) & (pl.col("measure") == "adjusted")
    assert per_subject.filter(first_bin)["subject_mean"].to_list() == [
        2.0,
        4.0,
        1.0,
    ]
    cohort = cohort_timecourse.cohort_timecourse(tc, "h")
    assert cohort.equals(schema.conform(cohort, "cohort_timecourse"))
    assert cohort.height == 4  # only hr change and its adjusted value have values
    raw = cohort.filter(pl.col("measure") == "change")
    assert raw["ci_low"].null_count() == raw["ci_high"].null_count() == 2  # descriptive
    cohort = cohort.filter(pl.col("measure") == "adjusted")
    row = cohort.filter(pl.col("bin_start_min") == 0.0).row(0, named=True)
    means = np.array([2.0, 4.0, 1.0])
    half = sps.t.ppf(0.975, 2) * means.std(ddof=1) / np.sqrt(3)
    assert (row["n_subjects"], row["n_episodes"]) == (3, 6)
    assert row["mean_value"] == pytest.approx(means.mean())
    assert (row["ci_low"], row["ci_high"]) == pytest.approx(
        (means.mean() - half, means.mean() + half)
    )
    later = cohort.filter(pl.col("bin_start_min") == 2.0).row(0, named=True)
    assert later["mean_value"] == pytest.approx(means.mean() + 2.0)


def test_one_subject_gives_an_average_without_interval() -> None:
    cohort = cohort_timecourse.cohort_timecourse(hand_course({"a": [1.0, 3.0]}), "h")
    row = cohort.filter(pl.col("measure") == "adjusted").row(0, named=True)
    assert (row["n_subjects"], row["mean_value"], row["ci_low"]) == (1, 2.0, None)
    empty = cohort_timecourse.cohort_timecourse(schema.empty("episode_timecourse"), "h")
    assert empty.equals(schema.empty("cohort_timecourse"))


def test_timecourse_config_needs_whole_bins_of_one_to_two_minutes() -> None:
    assert TimecourseConfig(bin_min=1.5).bin_min == 1.5
    with pytest.raises(ValidationError, match="whole number of bins"):
        TimecourseConfig(bin_min=1.7)
    with pytest.raises(ValidationError):
        TimecourseConfig(bin_min=5.0)
    one_minute = StatsConfig(timecourse=TimecourseConfig(bin_min=1.0))
    assert timecourse.bin_offsets(one_minute.timecourse).height == 2 * 150


def test_each_bin_takes_the_nearest_control_days_with_a_usable_change() -> None:
    """Three control days, two per bin: where day -1's ln RMSSD change is null, that
    change takes +1 and -2 while HR keeps -1 and +1."""
    rows = pl.DataFrame(
        {
            "subject_id": ["s1"] * 4,
            "episode_id": ["e1"] * 4,
            "anchor": ["end"] * 4,
            "bin_start_min": [0.0] * 4,
            "role": ["episode", "control", "control", "control"],
            "control_day_offset": [0, -1, 1, -2],
            "hr_change_bpm": [5.0, 1.0, 3.0, 9.0],
            "ln_rmssd_change": [0.5, None, 0.1, 0.3],
        }
    )
    out = timecourse.control_adjusted(rows, 2).row(0, named=True)
    assert (out["n_controls_hr"], out["adjusted_hr_change_bpm"]) == (2, pytest.approx(3.0))
    assert out["n_controls_ln_rmssd"] == 2
    assert out["adjusted_ln_rmssd_change"] == pytest.approx(0.5 - 0.2)
