"""Frequency-domain HRV: band placement, scaling, gating, independence, wiring."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest
from pydantic import ValidationError
from scipy.integrate import trapezoid

from tearsignals.config import AnalysisConfig, FrequencyConfig, WindowConfig
from tearsignals.contract import schema
from tearsignals.episodes.window_metrics import episode_window_metrics
from tearsignals.episodes.windows import episode_windows_spec
from tearsignals.hrv.frequency_domain import (
    METRICS,
    band_weights,
    frequency_domain,
    lomb_periodogram,
    trapezoid_weights,
)

METHODS = ("lomb", "welch")


def modulated_beats(
    f_hz: float, n: int = 400, mean_ms: float = 800.0, amp_ms: float = 40.0, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Beat times (ms) and RR (ms) whose RR follows a sinusoid in time (small jitter)."""
    rng = np.random.default_rng(seed)
    t_ms = np.empty(n)
    rr = np.empty(n)
    now = 0.0
    for i in range(n):
        rr[i] = mean_ms + amp_ms * np.sin(2 * np.pi * f_hz * now / 1000.0) + rng.normal(0, 1.0)
        now += rr[i]
        t_ms[i] = now
    return t_ms, rr


def one_window(
    t_ms: np.ndarray, rr: np.ndarray, cfg: FrequencyConfig, nn_ok: np.ndarray | None = None
) -> dict[str, float]:
    ok = np.ones(rr.size, dtype=bool) if nn_ok is None else nn_ok
    out = frequency_domain(t_ms, rr, ok, np.array([0]), np.array([rr.size]), cfg)
    return {k: float(v[0]) for k, v in out.items()}


def toolbox_lomb_loop(t_s: np.ndarray, y: np.ndarray, freqs: np.ndarray) -> np.ndarray:
    """The toolbox's CalcLomb written as its loop over frequencies (the oracle)."""
    out = np.empty(freqs.size)
    for i, f in enumerate(freqs):
        w = 2 * np.pi * f
        tau = np.arctan2(np.sin(2 * w * t_s).sum(), np.cos(2 * w * t_s).sum()) / (2 * w)
        c, s = np.cos(w * (t_s - tau)), np.sin(w * (t_s - tau))
        out[i] = (y @ c) ** 2 / (c @ c) + (y @ s) ** 2 / (s @ s)
    return out


@pytest.mark.parametrize("method", METHODS)
def test_a_0_1_hz_modulation_lands_in_lf(method: str) -> None:
    t, rr = modulated_beats(0.1)
    got = one_window(t, rr, FrequencyConfig(method=method))
    assert got["lf_ms2"] > 20 * got["hf_ms2"]
    assert got["lf_ms2"] > 20 * got["vlf_ms2"]
    assert got["lf_hf"] > 20


@pytest.mark.parametrize("method", METHODS)
def test_a_0_25_hz_modulation_lands_in_hf(method: str) -> None:
    t, rr = modulated_beats(0.25)
    got = one_window(t, rr, FrequencyConfig(method=method))
    assert got["hf_ms2"] > 20 * got["lf_ms2"]
    assert got["lf_hf"] < 0.05


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(("f_hz", "bpm"), [(0.25, 15.0), (0.3, 18.0)])
def test_resp_rate_is_the_hf_peak(method: str, f_hz: float, bpm: float) -> None:
    """An RR series modulated at ``f_hz`` breathes at ``60 f_hz`` per minute
    (within one grid step: 1/(4 T) for Lomb, 1/64 Hz for Welch)."""
    t, rr = modulated_beats(f_hz)
    got = one_window(t, rr, FrequencyConfig(method=method))
    span_s = (t[-1] - t[0]) / 1000.0
    step_bpm = 60.0 * (1 / (4 * span_s) if method == "lomb" else 1 / 64)
    assert got["resp_rate_bpm"] == pytest.approx(bpm, abs=step_bpm)


@pytest.mark.parametrize("method", METHODS)
def test_resp_rate_ignores_a_stronger_lf_rhythm(method: str) -> None:
    """The peak is searched inside the HF band only."""
    t, rr = modulated_beats(0.25, amp_ms=10.0)
    rr = rr + 40.0 * np.sin(2 * np.pi * 0.1 * t / 1000.0)
    got = one_window(t, rr, FrequencyConfig(method=method))
    assert got["lf_ms2"] > got["hf_ms2"]
    assert got["resp_rate_bpm"] == pytest.approx(15.0, abs=1.0)


@pytest.mark.parametrize("method", METHODS)
def test_gated_windows_have_no_resp_rate(method: str) -> None:
    t, rr = modulated_beats(0.25, n=100)  # 80 s < min_clean_s
    got = one_window(t, rr, FrequencyConfig(method=method))
    assert np.isnan(got["hf_ms2"])
    assert np.isnan(got["resp_rate_bpm"])


@pytest.mark.parametrize("f_hz", [0.1, 0.25])
def test_welch_total_power_is_the_variance(f_hz: float) -> None:
    """Parseval: a one-sided density integrates to the variance (A^2 / 2 here)."""
    t, rr = modulated_beats(f_hz, n=600)
    got = one_window(t, rr, FrequencyConfig(method="welch"))
    assert got["tp_ms2"] == pytest.approx(np.var(rr, ddof=1), rel=0.05)


@pytest.mark.parametrize("f_hz", [0.1, 0.25])
def test_lomb_density_scaling_gives_the_variance(f_hz: float) -> None:
    t, rr = modulated_beats(f_hz, n=600)
    got = one_window(t, rr, FrequencyConfig())
    assert got["tp_ms2"] == pytest.approx(np.var(rr, ddof=1), rel=0.05)


def test_toolbox_scaling_is_density_divided_by_the_mean_sampling_interval() -> None:
    t, rr = modulated_beats(0.1)
    density = one_window(t, rr, FrequencyConfig(lomb_scaling="density"))
    toolbox = one_window(t, rr, FrequencyConfig(lomb_scaling="toolbox"))
    dt_s = (t[-1] - t[0]) / 1000.0 / (t.size - 1)
    for name in ("vlf_ms2", "lf_ms2", "hf_ms2", "tp_ms2"):
        assert toolbox[name] * dt_s == pytest.approx(density[name], rel=1e-12), name
    assert toolbox["lf_hf"] == pytest.approx(density["lf_hf"], rel=1e-12)


def test_lomb_periodogram_equals_the_toolbox_loop() -> None:
    rng = np.random.default_rng(4)
    t_s = np.cumsum(rng.uniform(0.5, 1.1, 350)) + 4000.0  # uneven, far from zero
    y = rng.normal(0.0, 30.0, t_s.size)
    y -= y.mean()
    df = 1 / 1024
    ours = lomb_periodogram(t_s, y, df, 409)
    oracle = toolbox_lomb_loop(t_s, y, df * np.arange(1, 410))
    np.testing.assert_allclose(ours, oracle, rtol=1e-9, atol=1e-9 * oracle.max())


def test_band_edges_are_half_open_and_rectangle_weights_are_the_grid_step() -> None:
    freqs = np.arange(1, 41) / 100.0  # 0.01 .. 0.40
    w = band_weights(freqs, FrequencyConfig(), "rectangle")
    assert w[2, freqs == 0.04] == 0.01  # 0.04 is LF, not VLF
    assert w[1, freqs == 0.04] == 0.0
    assert w[3, freqs == 0.4] == 0.0  # the upper HF edge is excluded
    assert np.all(w.sum(axis=0)[freqs < 0.4] == 0.01)  # every frequency counted once


def test_trapezoid_weights_match_scipy() -> None:
    rng = np.random.default_rng(1)
    x = np.sort(rng.uniform(0, 1, 17))
    y = rng.normal(size=17)
    assert trapezoid_weights(x) @ y == pytest.approx(trapezoid(y, x), rel=1e-12)
    assert trapezoid_weights(x[:1]).tolist() == [0.0]


@pytest.mark.parametrize("method", METHODS)
def test_windows_under_min_clean_s_are_nan(method: str) -> None:
    rr = np.full(400, 1000.0) + 30 * np.sin(np.arange(400) / 3.0)
    t = np.cumsum(rr)
    lo = np.array([0, 0, 0])
    hi = np.array([118, 125, 200])
    clean_s = np.array([rr[:h].sum() / 1000.0 for h in hi])
    cfg = FrequencyConfig(method=method)
    out = frequency_domain(t, rr, np.ones(rr.size, dtype=bool), lo, hi, cfg)
    assert clean_s[0] < cfg.min_clean_s <= clean_s[1]
    for name in METRICS:
        assert np.isnan(out[name][0]), name
        assert np.all(np.isfinite(out[name][1:])), name


def test_intervals_that_are_not_nn_do_not_count_as_clean() -> None:
    rr = np.full(200, 1000.0) + 30 * np.sin(np.arange(200) / 3.0)
    t = np.cumsum(rr)
    ok = np.ones(rr.size, dtype=bool)
    ok[50:120] = False  # 70 s flagged: 130 s of NN remain, then 60 s when more go
    assert np.isfinite(one_window(t, rr, FrequencyConfig(), ok)["lf_ms2"])
    ok[120:190] = False
    assert np.isnan(one_window(t, rr, FrequencyConfig(), ok)["lf_ms2"])
    rr_nan = rr.copy()
    rr_nan[:100] = np.nan  # missing values are never NN either
    assert np.isnan(one_window(t, rr_nan, FrequencyConfig())["lf_ms2"])


@pytest.mark.parametrize("method", METHODS)
def test_windows_are_independent_of_each_other_and_of_beats_outside(method: str) -> None:
    t, rr = modulated_beats(0.12, n=3000, seed=2)
    ok = np.ones(rr.size, dtype=bool)
    lo = np.array([0, 300, 1000, 2500, 1000])
    hi = np.array([400, 800, 1400, 3000, 1000])  # the last one is empty
    cfg = FrequencyConfig(method=method)
    together = frequency_domain(t, rr, ok, lo, hi, cfg)
    rr_other = rr.copy()
    rr_other[1400:2500] = 2500.0  # beats outside every window but the first two
    for k in range(4):
        alone = frequency_domain(t, rr, ok, lo[k : k + 1], hi[k : k + 1], cfg)
        part = slice(lo[k], hi[k])
        sliced = frequency_domain(
            t[part], rr[part], ok[part], np.array([0]), np.array([hi[k] - lo[k]]), cfg
        )
        other = frequency_domain(t, rr_other, ok, lo[k : k + 1], hi[k : k + 1], cfg)
        for name in METRICS:
            assert together[name][k] == alone[name][0], name
            assert sliced[name][0] == pytest.approx(alone[name][0], rel=1e-9), name
            assert other[name][0] == alone[name][0], name
    assert all(np.isnan(together[name][4]) for name in METRICS)


@pytest.mark.parametrize("method", METHODS)
def test_time_origin_does_not_matter(method: str) -> None:
    t, rr = modulated_beats(0.2)
    cfg = FrequencyConfig(method=method)
    near = one_window(t, rr, cfg)
    epoch = one_window(t + 1.7e12, rr, cfg)  # epoch ms: times keep only ~0.2 us
    for name in METRICS:
        scale = near["tp_ms2"] / (near["hf_ms2"] if name == "lf_hf" else 1.0)
        tiny = 1e-6 * scale  # errors are relative to the whole spectrum
        assert epoch[name] == pytest.approx(near[name], rel=1e-6, abs=tiny), name


def test_config_rejects_overlapping_bands_and_enters_the_params_hash() -> None:
    with pytest.raises(ValidationError):
        FrequencyConfig(lf_hz=(0.04, 0.2), hf_hz=(0.15, 0.4))
    with pytest.raises(ValidationError):
        FrequencyConfig(welch_nperseg=128, welch_noverlap=128)
    welch = AnalysisConfig(frequency=FrequencyConfig(method="welch"))
    assert welch.params_hash() != AnalysisConfig().params_hash()


# --- wiring into episode_windows -------------------------------------------------------------

ONSET = datetime(2024, 5, 2, 12, 0, tzinfo=UTC)


def beats_frame(rr_ms: np.ndarray, start: datetime) -> pl.DataFrame:
    t_us = int(start.timestamp() * 1e6) + np.round(np.cumsum(rr_ms) * 1000).astype(np.int64)
    frame = pl.DataFrame(
        {
            "subject_id": "s1",
            "source": "test",
            "device": None,
            "file_id": "f0",
            "t_utc": pl.Series(t_us).cast(pl.Datetime("us", "UTC")),
            "rr_ms": rr_ms,
            "origin": "rr",
        }
    )
    return schema.conform(frame, "beats")


def windows_for(episode_minutes: float) -> pl.DataFrame:
    rng = np.random.default_rng(5)
    n = 20000
    rr = 800.0 + 40.0 * np.sin(np.arange(n) * 2 * np.pi * 0.1 * 0.8) + rng.normal(0, 5.0, n)
    beats = beats_frame(rr, ONSET - timedelta(hours=2))
    end = ONSET + timedelta(minutes=episode_minutes)
    episodes = schema.conform(
        pl.DataFrame(
            [("s1", "e1", ONSET, end, "UTC", None, None, "test", "f0")],
            schema=schema.table("episodes").column_names,
            orient="row",
        ),
        "episodes",
    )
    cfg = AnalysisConfig(windows=WindowConfig(n_controls=0))
    spec = episode_windows_spec(episodes, cfg.windows)
    return episode_window_metrics(beats, schema.empty("heart_rate"), spec, cfg, "h")


def test_episode_windows_get_lf_hf_from_frequency_domain() -> None:
    out = windows_for(10.0)
    pre = out.filter(pl.col("window") == "pre").row(0, named=True)
    assert pre["quality"] == "good"
    assert pre["reason"] is None
    assert pre["lf_ms2"] > 10 * pre["hf_ms2"]  # the 0.1 Hz rhythm
    assert pre["lf_hf"] == pytest.approx(pre["lf_ms2"] / pre["hf_ms2"], rel=1e-12)
    assert out.filter(pl.col("basis") == "rr")["lf_ms2"].null_count() == 0
    rr_rows = out.filter(pl.col("basis") == "rr")
    assert rr_rows["resp_rate_bpm"].null_count() == 0
    assert rr_rows["resp_rate_bpm"].is_between(9.0, 24.0).all()  # inside 0.15-0.4 Hz


def test_a_short_good_window_has_null_lf_hf_and_says_why() -> None:
    out = windows_for(1.5)
    during = out.filter(pl.col("window") == "during").row(0, named=True)
    assert during["quality"] == "good"
    assert during["rmssd_ms"] is not None
    assert (during["lf_ms2"], during["hf_ms2"], during["lf_hf"]) == (None, None, None)
    assert during["resp_rate_bpm"] is None
    assert during["reason"] == "under 120 s clean RR: no LF/HF"


def test_welch_shortens_segments_for_windows_shorter_than_nperseg() -> None:
    """With a lower gate a 40 s window (160 samples < 256) still gets a
    spectrum, with the overlap share kept, and scipy emits no warning."""
    t, rr = modulated_beats(0.25, n=50)
    got = one_window(t, rr, FrequencyConfig(method="welch", min_clean_s=30.0))
    assert got["hf_ms2"] > 5 * got["lf_ms2"] > 0


# --- smoothness-priors detrending ------------------------------------------------------------


@pytest.mark.parametrize("method", METHODS)
def test_smoothness_priors_removes_a_slow_trend(method: str) -> None:
    """A linear + quadratic drift (~120 ms over 5 min) inflates VLF/LF; the
    detrended spectrum is back near the trend-free one, HF is kept."""
    t, rr = modulated_beats(0.25)
    x = t / t[-1]
    drifted = rr + 60.0 * x + 60.0 * x**2
    plain = FrequencyConfig(method=method)
    detrended = FrequencyConfig(method=method, detrend="smoothness_priors")
    clean = one_window(t, rr, plain)
    raw = one_window(t, drifted, plain)
    fixed = one_window(t, drifted, detrended)
    low = ("vlf_ms2", "lf_ms2")
    baseline = clean["vlf_ms2"] + clean["lf_ms2"]
    assert raw["vlf_ms2"] + raw["lf_ms2"] > 20 * baseline
    assert fixed["vlf_ms2"] + fixed["lf_ms2"] < 3 * baseline
    assert sum(fixed[m] for m in low) < 0.1 * sum(raw[m] for m in low)
    assert fixed["hf_ms2"] == pytest.approx(clean["hf_ms2"], rel=0.1)
    assert fixed["resp_rate_bpm"] == pytest.approx(15.0, abs=1.0)


def test_detrending_is_off_by_default() -> None:
    assert FrequencyConfig().detrend == "none"
    assert FrequencyConfig().detrend_lambda == 500.0
    with pytest.raises(ValidationError):
        FrequencyConfig(detrend="linear")  # type: ignore[arg-type]
