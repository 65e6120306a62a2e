"""Window metrics (episode_windows) and shifts (episode_shifts) on hand-built frames."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from tearsignals import hrv, schema
from tearsignals.analysis import SHIFT_EXCLUSIONS, episode_shifts, episode_window_metrics
from tearsignals.config import WINDOW_NAMES, AnalysisConfig, CleaningConfig, WindowConfig
from tearsignals.windows import OVERLAP_REASON, episode_windows_spec

T0 = datetime(2024, 5, 2, 10, 0, tzinfo=UTC)
ONSET = datetime(2024, 5, 2, 12, 0, tzinfo=UTC)
END = ONSET + timedelta(minutes=10)
CFG = AnalysisConfig(windows=WindowConfig(n_controls=0))
FLOAT_COLUMNS = [n for n, t in schema.polars_schema("episode_windows").items() if t == pl.Float64]


def beats_frame(subject: str, start: datetime, rr_ms: np.ndarray) -> pl.DataFrame:
    """Canonical beats: each beat ends its interval, times = start + cumsum(rr)."""
    t_us = int(start.timestamp() * 1e6) + np.round(np.cumsum(rr_ms) * 1000).astype(np.int64)
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
    return schema.conform(frame, "beats")


def regular_rr(n: int, level: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return level + 30.0 * np.sin(np.arange(n) / 4.0) + rng.normal(0.0, 8.0, n)


def hr_frame(subject: str, times: list[datetime], hr_bpm: list[float]) -> pl.DataFrame:
    frame = pl.DataFrame(
        {
            "subject_id": subject,
            "source": "test",
            "device": None,
            "file_id": "f0",
            "t_utc": pl.Series(times).cast(pl.Datetime("us", "UTC")),
            "hr_bpm": hr_bpm,
        }
    )
    return schema.conform(frame, "heart_rate")


def episodes_frame(*rows: tuple[str, str, datetime, datetime]) -> pl.DataFrame:
    frame = pl.DataFrame(
        [(*r, "UTC", None, None, "test", "f0") for r in rows],
        schema=schema.table("episodes").column_names,
        orient="row",
    )
    return schema.conform(frame, "episodes")


def metrics_for(
    beats: pl.DataFrame, episodes: pl.DataFrame, hr: pl.DataFrame | None = None
) -> pl.DataFrame:
    spec = episode_windows_spec(episodes, CFG.windows)
    heart_rate = schema.empty("heart_rate") if hr is None else hr
    return episode_window_metrics(beats, heart_rate, spec, CFG, "hash0")


def direct_time_domain(beats: pl.DataFrame, start: datetime, end: datetime) -> dict[str, float]:
    """time_domain on one window's beats only (clean data: every beat NN)."""
    inside = beats.filter((pl.col("t_utc") >= start) & (pl.col("t_utc") < end))
    rr = inside["rr_ms"].to_numpy()
    ok = np.ones(rr.size, dtype=bool)
    pair = ok.copy()
    pair[0] = False
    got = hrv.time_domain(rr, ok, pair, np.array([0]), np.array([rr.size]))
    return {k: float(v[0]) for k, v in got.items()}


def test_rr_metrics_equal_time_domain_on_the_window_beats() -> None:
    # Two subjects recorded at the same time with different rhythms: nothing may mix.
    beats = pl.concat(
        [
            beats_frame("s1", T0, regular_rr(20000, 800.0, 1)),
            beats_frame("s2", T0, regular_rr(30000, 600.0, 2)),
        ]
    )
    eps = episodes_frame(("s1", "e1", ONSET, END), ("s2", "e2", ONSET, END))
    out = metrics_for(beats, eps)
    assert out.height == 2 * len(WINDOW_NAMES)
    for row in out.iter_rows(named=True):
        subject_beats = beats.filter(pl.col("subject_id") == row["subject_id"])
        want = direct_time_domain(subject_beats, row["window_start_utc"], row["window_end_utc"])
        assert row["basis"] == "rr"
        assert row["quality"] == "good", row["reason"]
        assert row["reason"] is None
        assert row["n_beats"] == want["n_beats"]
        assert row["artifact_rate"] == 0.0
        for metric in hrv.METRICS:
            assert row[metric] == pytest.approx(want[metric], rel=1e-9), metric


def test_rmssd_matches_an_independent_numpy_oracle() -> None:
    rr = regular_rr(20000, 800.0, 3)
    beats = beats_frame("s1", T0, rr)
    out = metrics_for(beats, episodes_frame(("s1", "e1", ONSET, END)))
    acute = out.filter(pl.col("window") == "acute").row(0, named=True)
    inside = beats.filter(
        (pl.col("t_utc") >= acute["window_start_utc"]) & (pl.col("t_utc") < acute["window_end_utc"])
    )["rr_ms"].to_numpy()
    d = np.diff(inside)
    assert acute["rmssd_ms"] == pytest.approx(np.sqrt(np.mean(d**2)), rel=1e-9)
    assert acute["sdnn_ms"] == pytest.approx(np.std(inside, ddof=1), rel=1e-9)
    assert acute["pnn50_pct"] == pytest.approx(100 * np.mean(np.abs(d) > 50), rel=1e-9)
    assert acute["mean_hr_bpm"] == pytest.approx(np.mean(60000 / inside), rel=1e-9)
    span_ms = 4 * 60_000
    assert acute["coverage"] == pytest.approx(min(1.0, inside.sum() / span_ms))


def test_artifacts_are_cleaned_per_subject_and_reported() -> None:
    rr = regular_rr(20000, 800.0, 4)
    beats = beats_frame("s1", T0, rr)
    acute_idx = (
        int(np.searchsorted(beats["t_utc"].dt.epoch("us").to_numpy(), ONSET.timestamp() * 1e6)) + 50
    )
    rr_art = rr.copy()
    rr_art[acute_idx] = 450.0  # ectopic beat; the compensatory pause follows
    rr_art[acute_idx + 1] = rr[acute_idx] + rr[acute_idx + 1] - 450.0
    beats_art = beats_frame("s1", T0, rr_art)
    out = metrics_for(beats_art, episodes_frame(("s1", "e1", ONSET, END)))
    acute = out.filter(pl.col("window") == "acute").row(0, named=True)
    clean = hrv.clean_rr(
        beats_art["t_utc"].dt.epoch("us").to_numpy() / 1000.0, rr_art, CleaningConfig()
    )
    lo, hi = hrv.window_bounds(
        beats_art["t_utc"].dt.epoch("us").to_numpy(),
        np.array([int(ONSET.timestamp() * 1e6)]),
        np.array([int((ONSET + timedelta(minutes=4)).timestamp() * 1e6)]),
    )
    want = hrv.time_domain(rr_art, clean.nn_ok, clean.pair_ok, lo, hi)
    assert acute["artifact_rate"] == pytest.approx(2 / acute["n_beats"])
    for metric in hrv.METRICS:
        assert acute[metric] == pytest.approx(float(want[metric][0]), rel=1e-9)


def test_unsorted_and_duplicated_beats_give_the_same_table() -> None:
    beats = beats_frame("s1", T0, regular_rr(20000, 800.0, 5))
    eps = episodes_frame(("s1", "e1", ONSET, END))
    messy = pl.concat([beats, beats.sample(n=500, seed=1)]).sample(
        fraction=1.0, shuffle=True, seed=2
    )
    assert metrics_for(messy, eps).equals(metrics_for(beats, eps))


def test_minute_hr_basis_when_there_are_no_beats() -> None:
    # One sample a minute from onset-10 min for 40 minutes only.
    times = [ONSET - timedelta(minutes=10) + timedelta(minutes=i) for i in range(40)]
    hr_values = [70.0 + i for i in range(40)]
    out = metrics_for(
        schema.empty("beats"),
        episodes_frame(("s1", "e1", ONSET, END)),
        hr_frame("s1", times, hr_values),
    )
    rows = {r["window"]: r for r in out.iter_rows(named=True)}
    baseline = rows["baseline"]
    assert baseline["basis"] == "minute_hr"
    assert baseline["n_beats"] == 5
    assert baseline["mean_hr_bpm"] == pytest.approx(np.mean(hr_values[:5]))
    assert baseline["coverage"] == 1.0
    assert baseline["quality"] == "good"
    assert baseline["artifact_rate"] is None
    assert "no beat intervals: HRV needs RR" in baseline["reason"]
    for metric in ("rmssd_ms", "ln_rmssd", "sdnn_ms", "pnn50_pct", "sd1_ms", "sd2_ms"):
        assert baseline[metric] is None
    # post_0_20 = [12:10, 12:30): samples at 12:10..12:29 -> 20 of 20 minutes.
    assert rows["post_0_20"]["coverage"] == 1.0
    # post_20_60 = [12:30, 13:10): no samples (they stop at 12:29).
    assert rows["post_20_60"]["basis"] == "none"


def test_minute_hr_partial_coverage_grades_fair() -> None:
    times = [ONSET + timedelta(minutes=30 + i) for i in range(20)]  # half of post_20_60
    out = metrics_for(
        schema.empty("beats"),
        episodes_frame(("s1", "e1", ONSET, END)),
        hr_frame("s1", times, [80.0] * 20),
    )
    row = out.filter(pl.col("window") == "post_20_60").row(0, named=True)
    assert row["coverage"] == pytest.approx(0.5)
    assert row["quality"] == "fair"
    assert "coverage 0.5 < 0.6" in row["reason"]


def test_episode_without_data_keeps_its_rows_with_quality_none() -> None:
    beats = beats_frame("s1", T0, regular_rr(1000, 800.0, 6))  # ends long before the episode
    out = metrics_for(beats, episodes_frame(("s1", "e1", ONSET, END), ("s9", "e9", ONSET, END)))
    assert out.height == 2 * len(WINDOW_NAMES)
    assert set(out["quality"]) == {"none"}
    assert set(out["basis"]) == {"none"}
    assert set(out["reason"]) == {"no data in window"}
    assert out["n_beats"].sum() == 0
    assert out["coverage"].sum() == 0.0
    for metric in (*hrv.METRICS, "lf_ms2", "hf_ms2", "lf_hf", "artifact_rate"):
        assert out[metric].null_count() == out.height


def test_few_beats_grade_poor_and_say_why() -> None:
    rr = regular_rr(20, 800.0, 7)
    beats = beats_frame("s1", ONSET + timedelta(seconds=10), rr)  # 20 beats inside acute
    out = metrics_for(beats, episodes_frame(("s1", "e1", ONSET, END)))
    acute = out.filter(pl.col("window") == "acute").row(0, named=True)
    assert acute["basis"] == "rr"
    assert acute["quality"] == "poor"
    assert acute["n_beats"] == 20
    assert "19 clean beats < 30" in acute["reason"] or "20 clean beats < 30" in acute["reason"]
    assert "coverage" in acute["reason"]
    assert acute["rmssd_ms"] is not None  # poor windows keep what is defined


def test_window_near_another_episode_is_poor_with_the_overlap_reason() -> None:
    beats = beats_frame("s1", T0, regular_rr(20000, 800.0, 8))
    second = ONSET + timedelta(minutes=40)
    out = metrics_for(
        beats,
        episodes_frame(
            ("s1", "e1", ONSET, END), ("s1", "e2", second, second + timedelta(minutes=5))
        ),
    )
    row = out.filter((pl.col("episode_id") == "e1") & (pl.col("window") == "post_60_90")).row(
        0, named=True
    )
    assert row["quality"] == "poor"
    assert row["reason"].startswith(OVERLAP_REASON)
    clean = out.filter((pl.col("episode_id") == "e1") & (pl.col("window") == "acute")).row(
        0, named=True
    )
    assert clean["quality"] == "good"


def test_output_conforms_and_has_no_nan() -> None:
    beats = beats_frame("s1", T0, regular_rr(20000, 800.0, 9))
    out = metrics_for(
        beats,
        episodes_frame(
            ("s1", "e1", ONSET, END),
            ("s1", "e2", END + timedelta(days=2), END + timedelta(days=2, minutes=3)),
        ),
    )
    assert out.equals(schema.conform(out, "episode_windows"))
    assert out.select(pl.col(FLOAT_COLUMNS).is_nan().any()).row(0) == tuple(
        [False] * len(FLOAT_COLUMNS)
    )
    assert set(out["params_hash"]) == {"hash0"}
    not_rr = out.filter(pl.col("basis") != "rr")
    assert not_rr["lf_ms2"].null_count() == not_rr.height
    long_good = out.filter(
        (pl.col("basis") == "rr")
        & (pl.col("quality") == "good")
        & (pl.col("window_end_utc") - pl.col("window_start_utc") >= timedelta(minutes=5))
    )
    assert long_good.height > 0
    assert long_good["lf_ms2"].null_count() == 0


def test_control_rows_are_measured_like_episode_rows() -> None:
    cfg = AnalysisConfig(windows=WindowConfig(n_controls=1))
    day = timedelta(days=1)
    beats = pl.concat(
        [
            beats_frame("s1", T0 - day, regular_rr(20000, 800.0, 10)),
            beats_frame("s1", T0, regular_rr(20000, 800.0, 11)),
        ]
    )
    spec = episode_windows_spec(episodes_frame(("s1", "e1", ONSET, END)), cfg.windows)
    out = episode_window_metrics(beats, schema.empty("heart_rate"), spec, cfg, "h")
    ctl = out.filter(pl.col("role") == "control")
    assert ctl["control_day_offset"].unique().to_list() == [-1]
    assert set(ctl["quality"]) == {"good"}
    row = ctl.filter(pl.col("window") == "pre").row(0, named=True)
    want = direct_time_domain(beats, row["window_start_utc"], row["window_end_utc"])
    assert row["rmssd_ms"] == pytest.approx(want["rmssd_ms"], rel=1e-9)


# --- episode_shifts -------------------------------------------------------------------


def window_row(
    role: str,
    offset: int,
    window: str,
    *,
    hr: float | None,
    rmssd: float | None,
    quality: str = "good",
    basis: str = "rr",
    reason: str | None = None,
    episode: str = "e1",
) -> dict[str, object]:
    row: dict[str, object] = {c: None for c in schema.table("episode_windows").column_names}
    row.update(
        subject_id="s1",
        episode_id=episode,
        role=role,
        control_day_offset=offset,
        window=window,
        window_start_utc=ONSET,
        window_end_utc=END,
        n_beats=100,
        coverage=1.0,
        basis=basis,
        quality=quality,
        reason=reason,
        params_hash="h",
        mean_hr_bpm=hr,
        rmssd_ms=rmssd,
    )
    return row


def windows_frame(rows: list[dict[str, object]]) -> pl.DataFrame:
    return schema.conform(
        pl.DataFrame(rows, schema=schema.polars_schema("episode_windows")), "episode_windows"
    )


def shift_row(
    shifts: pl.DataFrame, window: str, metric: str, episode: str = "e1"
) -> dict[str, object]:
    return shifts.filter(
        (pl.col("episode_id") == episode)
        & (pl.col("window") == window)
        & (pl.col("metric") == metric)
    ).row(0, named=True)


def test_shift_arithmetic_with_controls() -> None:
    w = windows_frame(
        [
            window_row("episode", 0, "baseline", hr=70.0, rmssd=40.0),
            window_row("episode", 0, "pre", hr=75.0, rmssd=30.0),
            window_row("control", -1, "baseline", hr=68.0, rmssd=42.0),
            window_row("control", -1, "pre", hr=69.0, rmssd=40.0),
            window_row("control", 1, "baseline", hr=71.0, rmssd=None),
            window_row("control", 1, "pre", hr=74.0, rmssd=38.0),
        ]
    )
    out = episode_shifts(w, "h")
    assert out.equals(schema.conform(out, "episode_shifts"))
    assert set(out["window"]) == {"pre"}
    assert set(out["metric"]) == set(hrv.METRICS)
    hr = shift_row(out, "pre", "mean_hr_bpm")
    assert (hr["value"], hr["baseline_value"], hr["shift"]) == (75.0, 70.0, 5.0)
    assert hr["n_controls"] == 2
    assert hr["control_shift_mean"] == pytest.approx(2.0)  # (1 + 3) / 2
    assert hr["adjusted_shift"] == pytest.approx(3.0)
    assert hr["excluded_reason"] is None
    rmssd = shift_row(out, "pre", "rmssd_ms")
    assert rmssd["shift"] == -10.0
    assert rmssd["n_controls"] == 1  # day +1 has no baseline RMSSD
    assert rmssd["control_shift_mean"] == pytest.approx(-2.0)
    assert rmssd["adjusted_shift"] == pytest.approx(-8.0)
    sdnn = shift_row(out, "pre", "sdnn_ms")
    assert sdnn["shift"] is None
    assert sdnn["excluded_reason"] == "metric undefined in window"
    assert sdnn["n_controls"] == 0
    assert sdnn["adjusted_shift"] is None


def test_shift_exclusions_name_the_cause() -> None:
    w = windows_frame(
        [
            window_row("episode", 0, "baseline", hr=70.0, rmssd=40.0),
            window_row(
                "episode",
                0,
                "pre",
                hr=75.0,
                rmssd=30.0,
                quality="poor",
                reason="coverage 0.1 < 0.6",
            ),
            window_row("episode", 0, "acute", hr=None, rmssd=None, quality="none", basis="none"),
            window_row("episode", 0, "during", hr=80.0, rmssd=None, basis="minute_hr"),
            window_row(
                "episode",
                0,
                "post_0_20",
                hr=72.0,
                rmssd=35.0,
                quality="poor",
                reason=OVERLAP_REASON,
            ),
            window_row("episode", 0, "pre", hr=75.0, rmssd=30.0, episode="e2"),
            window_row(
                "episode",
                0,
                "baseline",
                hr=75.0,
                rmssd=30.0,
                quality="poor",
                episode="e3",
                reason=OVERLAP_REASON,
            ),
            window_row("episode", 0, "pre", hr=75.0, rmssd=30.0, episode="e3"),
        ]
    )
    out = episode_shifts(w, "h")
    assert set(out["excluded_reason"].drop_nulls()) <= set(SHIFT_EXCLUSIONS)
    assert shift_row(out, "pre", "mean_hr_bpm")["excluded_reason"] == "poor quality window"
    assert shift_row(out, "pre", "mean_hr_bpm")["value"] == 75.0  # the value is still shown
    assert shift_row(out, "acute", "mean_hr_bpm")["excluded_reason"] == "no data in window"
    assert shift_row(out, "during", "mean_hr_bpm")["shift"] == 10.0
    assert shift_row(out, "during", "rmssd_ms")["excluded_reason"] == "minute HR only in window"
    assert shift_row(out, "post_0_20", "mean_hr_bpm")["excluded_reason"] == OVERLAP_REASON
    assert shift_row(out, "pre", "mean_hr_bpm", "e2")["excluded_reason"] == "no baseline window"
    assert (
        shift_row(out, "pre", "rmssd_ms", "e3")["excluded_reason"]
        == "another episode within baseline"
    )
    assert out.filter(pl.col("shift").is_null())["excluded_reason"].null_count() == 0


def test_pipeline_shifts_conform_end_to_end() -> None:
    cfg = AnalysisConfig(windows=WindowConfig(n_controls=1))
    beats = pl.concat(
        [
            beats_frame("s1", T0 - timedelta(days=1), regular_rr(20000, 800.0, 12)),
            beats_frame("s1", T0, regular_rr(20000, 800.0, 13)),
        ]
    )
    spec = episode_windows_spec(episodes_frame(("s1", "e1", ONSET, END)), cfg.windows)
    windows = episode_window_metrics(beats, schema.empty("heart_rate"), spec, cfg, "h")
    out = episode_shifts(windows, "h")
    assert out.height == (len(WINDOW_NAMES) - 1) * len(hrv.METRICS)
    assert out["shift"].null_count() == 0
    assert set(out["n_controls"]) == {1}
    assert out["adjusted_shift"].null_count() == 0
