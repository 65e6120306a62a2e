"""Window metrics (episode_windows) and shifts (episode_shifts) on hand-built frames."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from tearsignals.beats import cleaning
from tearsignals.config import (
    AnalysisConfig,
    CleaningConfig,
    QualityConfig,
    WindowConfig,
)
from tearsignals.contract import schema
from tearsignals.episodes.shifts import SHIFT_EXCLUSIONS, episode_shifts
from tearsignals.episodes.window_metrics import (
    SEGMENT_METRICS,
    SHIFT_METRICS,
    episode_window_metrics,
)
from tearsignals.episodes.windows import OVERLAP_REASON, episode_windows_spec
from tearsignals.hrv import time_domain

T0 = datetime(2024, 5, 2, 10, 0, tzinfo=UTC)
ONSET = datetime(2024, 5, 2, 12, 0, tzinfo=UTC)
END = ONSET + timedelta(minutes=10)
CFG = AnalysisConfig(windows=WindowConfig(n_controls=0))
FLOAT_COLUMNS = [n for n, t in schema.polars_schema("episode_windows").items() if t == pl.Float64]

NAMES = WindowConfig().names()


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
    # Columns this module does not care about (nullable extras) are left null.
    absent = [c for c in schema.table("heart_rate").column_names if c not in frame.columns]
    return schema.conform(frame.with_columns(pl.lit(None).alias(c) for c in absent), "heart_rate")


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
    got = time_domain.time_domain(rr, ok, pair, np.array([0]), np.array([rr.size]))
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
    assert out.height == 2 * len(NAMES)
    for row in out.iter_rows(named=True):
        subject_beats = beats.filter(pl.col("subject_id") == row["subject_id"])
        want = direct_time_domain(subject_beats, row["window_start_utc"], row["window_end_utc"])
        assert row["basis"] == "rr"
        assert row["quality"] == "good", row["reason"]
        assert row["reason"] is None
        assert row["n_beats"] == want["n_beats"]
        assert row["artifact_rate"] == 0.0
        segments = segment_bounds(row["window_start_utc"], row["window_end_utc"])
        assert row["n_segments"] == len(segments)
        for metric in time_domain.METRICS:
            if metric in SEGMENT_METRICS and len(segments) > 1:
                parts = [direct_time_domain(subject_beats, a, b)[metric] for a, b in segments]
                assert row[metric] == pytest.approx(np.mean(parts), rel=1e-9), metric
            else:
                assert row[metric] == pytest.approx(want[metric], rel=1e-9), metric


def segment_bounds(start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """The window itself up to 5 min, else its whole 5-min segments from the start."""
    step = timedelta(minutes=5)
    if end - start <= step:
        return [(start, end)]
    return [(start + k * step, start + (k + 1) * step) for k in range((end - start) // step)]


def test_a_faster_heart_alone_moves_rmssd_but_not_its_rr_normalised_form() -> None:
    """After the episode every interval is 0.8 of the same recording's (rate +25 %, each
    interval modulated alike): the RMSSD shift drops by ~20 % of the post value, the
    shift of RMSSD / mean NN stays."""
    rr = regular_rr(20000, 800.0, 6)
    t_us = int(T0.timestamp() * 1e6) + np.round(np.cumsum(rr) * 1000).astype(np.int64)
    scaled = np.where(t_us >= int(END.timestamp() * 1e6), 0.8 * rr, rr)
    episode = episodes_frame(("s1", "e1", ONSET, END))

    def post_shifts(series: np.ndarray) -> dict[str, float]:
        out = metrics_for(beats_frame("s1", T0, series), episode)
        shifts = episode_shifts(out, NAMES, "h").filter(pl.col("window") == "post_20_60")
        return dict(zip(shifts["metric"], shifts["shift"], strict=True))

    same, faster = post_shifts(rr), post_shifts(scaled)
    assert faster["mean_hr_bpm"] - same["mean_hr_bpm"] > 15
    assert faster["rmssd_ms"] - same["rmssd_ms"] < -2  # RMSSD here ~13 ms
    assert faster["rmssd_over_nn_pct"] == pytest.approx(same["rmssd_over_nn_pct"], abs=0.05)


def test_segment_counts_follow_the_window_lengths() -> None:
    beats = beats_frame("s1", T0, regular_rr(20000, 800.0, 4))
    out = metrics_for(beats, episodes_frame(("s1", "e1", ONSET, END)))
    counts = dict(zip(out["window"], out["n_segments"], strict=True))
    # 5, 5, 4, 10, 20, 40 and 30 minutes
    assert counts == {
        "baseline": 1, "pre": 1, "acute": 1, "during": 2,
        "post_0_20": 4, "post_20_60": 8, "post_60_90": 6,
    }  # fmt: skip


def test_a_long_window_without_a_usable_segment_has_null_length_metrics() -> None:
    """Beats only in the first 90 s of each 5-min segment of post_0_20: no segment holds
    120 s of NN, so SDNN, SD2 and LF/HF are null; RMSSD stays (the window is poor)."""
    rr = regular_rr(20000, 800.0, 5)
    beats = beats_frame("s1", T0, rr)
    seg_start = (pl.col("t_utc") - pl.lit(END)).dt.total_seconds() % 300
    thin = beats.filter(
        (pl.col("t_utc") < END)
        | (pl.col("t_utc") >= END + timedelta(minutes=20))
        | (seg_start < 90)
    )
    out = metrics_for(thin, episodes_frame(("s1", "e1", ONSET, END)))
    post = out.filter(pl.col("window") == "post_0_20").row(0, named=True)
    assert post["n_segments"] == 0
    assert all(post[m] is None for m in ("sdnn_ms", "sd2_ms", "lf_ms2", "hf_ms2", "ln_hf"))
    assert post["rmssd_ms"] is not None
    assert post["quality"] == "poor"


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


def _acute_us() -> tuple[np.ndarray, np.ndarray]:
    start = int(ONSET.timestamp() * 1e6)
    return np.array([start]), np.array([start + 4 * 60_000_000])


def _with_ectopic(seed: int) -> tuple[pl.DataFrame, int]:
    """Regular beats with one premature beat (and its compensatory pause) inside acute."""
    rr = regular_rr(20000, 800.0, seed)
    t_us = beats_frame("s1", T0, rr)["t_utc"].dt.epoch("us").to_numpy()
    at = int(np.searchsorted(t_us, ONSET.timestamp() * 1e6)) + 50
    rr_art = rr.copy()
    rr_art[at] = 450.0  # ectopic beat; the compensatory pause follows
    rr_art[at + 1] = rr[at] + rr[at + 1] - 450.0
    return beats_frame("s1", T0, rr_art), at


def test_artifacts_are_corrected_per_subject_and_reported() -> None:
    beats_art, _ = _with_ectopic(4)
    out = metrics_for(beats_art, episodes_frame(("s1", "e1", ONSET, END)))
    acute = out.filter(pl.col("window") == "acute").row(0, named=True)
    t_us = beats_art["t_utc"].dt.epoch("us").to_numpy()
    series = cleaning.clean_series(t_us / 1000.0, beats_art["rr_ms"].to_numpy(), CleaningConfig())
    lo, hi = time_domain.window_bounds(np.round(series.t_ms * 1000).astype(np.int64), *_acute_us())
    want = time_domain.time_domain(series.rr_ms, series.nn_ok, series.pair_ok, lo, hi)
    # Both intervals of the pair are corrected: flagged, yet NN, and the metrics see them.
    assert acute["artifact_rate"] == pytest.approx(2 / acute["n_beats"])
    assert (acute["n_ectopic"], acute["n_long_short"], acute["n_missed"], acute["n_extra"]) == (
        1,
        1,
        0,
        0,
    )
    assert acute["pct_corrected"] == pytest.approx(200 / acute["n_beats"])
    assert acute["cleaning"].startswith("lipponen2019(c1=0.13,c2=0.17,alpha=5.2")
    assert float(want["n_nn"][0]) == acute["n_beats"]
    for metric in time_domain.METRICS:
        assert acute[metric] == pytest.approx(float(want[metric][0]), rel=1e-9)
    during = out.filter(pl.col("window") == "during").row(0, named=True)
    assert during["n_ectopic"] == 1  # during contains acute
    elsewhere = out.filter(~pl.col("window").is_in(["acute", "during"]))
    assert elsewhere["pct_corrected"].max() == 0.0


def test_median_method_rejects_artifacts_instead() -> None:
    beats_art, _ = _with_ectopic(4)
    cfg = AnalysisConfig(
        windows=WindowConfig(n_controls=0), cleaning=CleaningConfig(method="median")
    )
    spec = episode_windows_spec(episodes_frame(("s1", "e1", ONSET, END)), cfg.windows)
    out = episode_window_metrics(beats_art, schema.empty("heart_rate"), spec, cfg, "h")
    acute = out.filter(pl.col("window") == "acute").row(0, named=True)
    t_us = beats_art["t_utc"].dt.epoch("us").to_numpy()
    rr_art = beats_art["rr_ms"].to_numpy()
    clean = cleaning.clean_rr(t_us / 1000.0, rr_art, cfg.cleaning)
    want = time_domain.time_domain(
        rr_art, clean.nn_ok, clean.pair_ok, *time_domain.window_bounds(t_us, *_acute_us())
    )
    assert acute["artifact_rate"] == pytest.approx(2 / acute["n_beats"])
    assert acute["n_ectopic"] is None  # the median rule does not classify
    assert acute["pct_corrected"] == 0.0
    assert acute["cleaning"].startswith("median(window=11,max_change=0.2)")
    for metric in time_domain.METRICS:
        assert acute[metric] == pytest.approx(float(want[metric][0]), rel=1e-9)


def _plant_in_pre(rr: np.ndarray, t_us: np.ndarray) -> np.ndarray:
    """One ectopic pair, one missed and one extra beat inside the pre window."""
    at = int(np.searchsorted(t_us, (ONSET - timedelta(minutes=4)).timestamp() * 1e6))
    out = rr.copy()
    out[at], out[at + 1] = 0.6 * rr[at], rr[at + 1] + 0.4 * rr[at]  # ectopic + pause
    out[at + 60] = rr[at + 60] + rr[at + 61]  # missed: beat at + 61 is dropped below
    extra = [0.3 * rr[at + 120], 0.7 * rr[at + 120]]  # extra: interval at + 120 in two
    return np.concatenate([out[: at + 61], out[at + 62 : at + 120], extra, out[at + 121 :]])


def test_ledger_adds_up_and_names_each_class() -> None:
    rr = regular_rr(20000, 800.0, 14)
    t_us = beats_frame("s1", T0, rr)["t_utc"].dt.epoch("us").to_numpy()
    out = metrics_for(
        beats_frame("s1", T0, _plant_in_pre(rr, t_us)), episodes_frame(("s1", "e1", ONSET, END))
    )
    rr_rows = out.filter(pl.col("basis") == "rr")
    counts = rr_rows.select(pl.sum_horizontal("n_ectopic", "n_missed", "n_extra", "n_long_short"))
    corrected = counts.to_series()
    assert rr_rows["pct_corrected"].to_list() == pytest.approx(
        (100 * corrected / rr_rows["n_beats"]).to_list(), rel=1e-12
    )
    assert (rr_rows["artifact_rate"] * rr_rows["n_beats"] >= corrected - 1e-9).all()
    pre = out.filter(pl.col("window") == "pre").row(0, named=True)
    assert (pre["n_ectopic"], pre["n_missed"], pre["n_extra"]) == (1, 1, 1)
    assert pre["n_long_short"] == 1  # the premature interval of the ectopic pair
    assert pre["quality"] == "good"
    # The corrected series is the clean one again, give or take two interpolated intervals.
    baseline_like = out.filter(pl.col("window") == "acute").row(0, named=True)
    assert pre["rmssd_ms"] == pytest.approx(baseline_like["rmssd_ms"], rel=0.1)


def test_quality_rejects_windows_with_too_many_corrected_beats() -> None:
    rr = regular_rr(20000, 800.0, 15)
    t_us = beats_frame("s1", T0, rr)["t_utc"].dt.epoch("us").to_numpy()
    beats = beats_frame("s1", T0, _plant_in_pre(rr, t_us))  # 4 of ~375 beats: 1.1 %
    eps = episodes_frame(("s1", "e1", ONSET, END))
    spec = episode_windows_spec(eps, CFG.windows)
    strict = CFG.model_copy(update={"quality": QualityConfig(max_pct_corrected=1.0)})
    lenient = CFG.model_copy(update={"quality": QualityConfig(max_pct_corrected=2.0)})
    hr = schema.empty("heart_rate")
    pre_strict = episode_window_metrics(beats, hr, spec, strict, "h").row(1, named=True)
    pre_lenient = episode_window_metrics(beats, hr, spec, lenient, "h").row(1, named=True)
    assert pre_strict["window"] == pre_lenient["window"] == "pre"
    assert pre_strict["quality"] == "poor"
    assert f"{round(pre_strict['pct_corrected'], 1)}% beats corrected > 1%" in pre_strict["reason"]
    assert pre_lenient["quality"] == "good"
    assert QualityConfig().max_pct_corrected == 20.0  # PhysioNet toolbox RejectionThreshold


@pytest.mark.parametrize(("gap_s", "poor"), [(30, False), (45, True)])
def test_quality_rejects_windows_with_too_much_span_missing(gap_s: int, poor: bool) -> None:
    beats = beats_frame("s1", T0, regular_rr(20000, 800.0, 16))
    gap_from = ONSET + timedelta(seconds=60)
    beats = beats.filter(
        (pl.col("t_utc") < gap_from) | (pl.col("t_utc") >= gap_from + timedelta(seconds=gap_s))
    )
    out = metrics_for(beats, episodes_frame(("s1", "e1", ONSET, END)))
    acute = out.filter(pl.col("window") == "acute").row(0, named=True)
    # The gap runs from the last beat before it to the start of the first interval after it.
    t_ms = beats["t_utc"].dt.epoch("us").to_numpy() / 1000.0
    after = int(np.searchsorted(t_ms, (gap_from + timedelta(seconds=gap_s)).timestamp() * 1000))
    missing_ms = t_ms[after] - beats["rr_ms"][after] - t_ms[after - 1]
    assert missing_ms == pytest.approx(gap_s * 1000, abs=1000)
    assert acute["pct_missing"] == pytest.approx(100 * missing_ms / 240_000, abs=1e-4)
    assert acute["artifact_rate"] == 0.0 and acute["coverage"] >= 0.8
    assert (acute["quality"] == "poor") is poor
    assert ("% of span missing > 15%" in (acute["reason"] or "")) is poor
    complete = out.filter(pl.col("window") == "baseline").row(0, named=True)
    assert complete["pct_missing"] == pytest.approx(0.0, abs=0.01)


def test_ln_hf_and_frequency_shifts() -> None:
    beats = beats_frame("s1", T0, regular_rr(20000, 800.0, 17))
    windows = metrics_for(beats, episodes_frame(("s1", "e1", ONSET, END)))
    rr_rows = windows.filter(pl.col("hf_ms2").is_not_null())
    assert rr_rows.height == windows.height
    assert rr_rows["ln_hf"].to_list() == pytest.approx(np.log(rr_rows["hf_ms2"]).to_list())
    shifts = episode_shifts(windows, NAMES, "h")
    ln_hf = shift_row(shifts, "post_0_20", "ln_hf")
    hf = shift_row(shifts, "post_0_20", "hf_ms2")
    assert ln_hf["shift"] == pytest.approx(np.log(hf["value"] / hf["baseline_value"]))
    assert {"lf_ms2", "hf_ms2", "lf_hf"} <= set(shifts["metric"])


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
    assert out.height == 2 * len(NAMES)
    assert set(out["quality"]) == {"none"}
    assert set(out["basis"]) == {"none"}
    assert set(out["reason"]) == {"no data in window"}
    assert out["n_beats"].sum() == 0
    assert out["coverage"].sum() == 0.0
    for metric in (*time_domain.METRICS, "lf_ms2", "hf_ms2", "lf_hf", "artifact_rate"):
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
    out = episode_shifts(w, NAMES, "h")
    assert out.equals(schema.conform(out, "episode_shifts"))
    assert set(out["window"]) == {"pre"}
    assert set(out["metric"]) == set(SHIFT_METRICS)
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


def test_each_window_takes_the_nearest_controls_with_data_in_it() -> None:
    """Three control days, two used per window: day -1 has no data in post_0_20, so
    post_0_20 takes +1 and -2 while pre takes -1 and +1; n_controls counts them."""
    rows = [
        window_row("episode", 0, "baseline", hr=70.0, rmssd=40.0),
        window_row("episode", 0, "pre", hr=75.0, rmssd=30.0),
        window_row("episode", 0, "post_0_20", hr=72.0, rmssd=45.0),
    ]
    for day, pre_hr, post_hr in ((-1, 71.0, None), (1, 72.0, 74.0), (-2, 90.0, 76.0)):
        rows += [
            window_row("control", day, "baseline", hr=70.0, rmssd=40.0),
            window_row("control", day, "pre", hr=pre_hr, rmssd=40.0),
            window_row("control", day, "post_0_20", hr=post_hr, rmssd=40.0)
            if post_hr is not None
            else window_row("control", day, "post_0_20", hr=None, rmssd=None, quality="none"),
        ]
    out = episode_shifts(windows_frame(rows), NAMES, "h", max_controls=2)
    pre, post = shift_row(out, "pre", "mean_hr_bpm"), shift_row(out, "post_0_20", "mean_hr_bpm")
    assert (pre["n_controls"], pre["control_shift_mean"]) == (2, pytest.approx(1.5))  # -1, +1
    assert (post["n_controls"], post["control_shift_mean"]) == (2, pytest.approx(5.0))  # +1, -2
    assert post["adjusted_shift"] == pytest.approx(2.0 - 5.0)
    every = episode_shifts(windows_frame(rows), NAMES, "h")
    assert shift_row(every, "pre", "mean_hr_bpm")["n_controls"] == 3


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
    out = episode_shifts(w, NAMES, "h")
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
    out = episode_shifts(windows, NAMES, "h")
    assert out.height == (len(NAMES) - 1) * len(SHIFT_METRICS)
    assert out["shift"].null_count() == 0
    assert set(out["n_controls"]) == {1}
    assert out["adjusted_shift"].null_count() == 0
