"""Window length must not change what a metric reads: spectral grid, pure tones,
equal-length segments.

A tone of known power (LF 72 ms^2, HF 450 ms^2) planted in the RR series is
measured through the default window path (``episode_window_metrics`` with
``AnalysisConfig()``) in windows of 5, 20, 40 and 90 min, on and off the
toolbox's 1/1024 Hz grid; the grid tests read each window whole
(``segment_min=0``), so the spectrum spans the full length. A null recording
with a slow drift shows why long windows are read over 5-min segments
(recipes in :mod:`tests.support.planted_signals`).
"""

from __future__ import annotations

import polars as pl
import pytest

from tearsignals.config import AnalysisConfig, FrequencyConfig, WindowConfig
from tests.support import planted_signals as ps

WHOLE = WindowConfig(segment_min=0.0)

TONE_CASES = [
    pytest.param(minutes, lf, hf, id=f"{minutes:g}min-{where.split()[0]}")
    for minutes in ps.TONE_LENGTHS_MIN
    for where, (lf, hf) in ps.TONES_HZ.items()
]


@pytest.mark.parametrize(("minutes", "lf_hz", "hf_hz"), TONE_CASES)
@pytest.mark.parametrize("segment_min", [0.0, 5.0], ids=["whole", "segments"])
@pytest.mark.parametrize("method", ["lomb", "welch"])
def test_planted_tones_are_recovered_at_every_window_length(
    method: str, segment_min: float, minutes: float, lf_hz: float, hf_hz: float
) -> None:
    cfg = AnalysisConfig(
        windows=WindowConfig(segment_min=segment_min), frequency=FrequencyConfig(method=method)
    )
    lf, hf = ps.tone_powers(minutes, lf_hz, hf_hz, cfg)
    assert lf == pytest.approx(ps.LF_TONE_MS2, rel=0.02)
    assert hf == pytest.approx(ps.HF_TONE_MS2, rel=0.02)


@pytest.mark.parametrize("where", list(ps.TONES_HZ))
def test_a_fixed_toolbox_grid_misreads_tones_in_long_windows(where: str) -> None:
    """The defect the span-tied grid removes: at 40 min a 1/1024 Hz step is
    wider than the tone's peak, so the band sum depends on where it falls."""
    lf_hz, hf_hz = ps.TONES_HZ[where]
    fixed = AnalysisConfig(windows=WHOLE, frequency=FrequencyConfig(lomb_df_hz=ps.TOOLBOX_STEP_HZ))
    lf, hf = ps.tone_powers(5.0, lf_hz, hf_hz, fixed)
    assert (lf, hf) == pytest.approx((ps.LF_TONE_MS2, ps.HF_TONE_MS2), rel=0.02)  # 5 min: fine
    lf, hf = ps.tone_powers(40.0, lf_hz, hf_hz, fixed)
    assert abs(hf / ps.HF_TONE_MS2 - 1) > 0.5
    assert abs(lf / ps.LF_TONE_MS2 - 1) > 0.5


def test_welch_attenuates_hf_at_slow_heart_rates_whatever_the_length() -> None:
    """The cubic spline through ~1 Hz beat samples damps a 0.25 Hz tone (-2.8 %
    at 60 bpm, -1 % at 75 bpm): a property of the recipe, not of the length."""
    lf_hz, hf_hz = ps.TONES_HZ["between grid points"]
    cfg = AnalysisConfig(windows=WHOLE, frequency=FrequencyConfig(method="welch"))
    hf = [ps.tone_powers(m, lf_hz, hf_hz, cfg, mean_rr_ms=1000.0)[1] for m in (5.0, 40.0)]
    assert all(0.95 < h / ps.HF_TONE_MS2 < 0.98 for h in hf)
    assert hf[0] == pytest.approx(hf[1], rel=0.005)


def test_long_windows_read_length_dependent_metrics_over_5_min_segments() -> None:
    """A null recording (stationary RR plus a slow drift, no effect): read whole, the
    40-min post_20_60 window's SDNN and SD2 exceed the 5-min baseline's by the drift's
    variance; as the mean over its eight 5-min segments the shift is about 0."""
    segmented = ps.mean_drift_shift("sdnn_ms", "post_20_60", 5.0)
    whole = ps.mean_drift_shift("sdnn_ms", "post_20_60", 0.0)
    assert abs(segmented) < 2.0
    assert whole > 5.0
    assert ps.mean_drift_shift("sd2_ms", "post_20_60", 0.0) > 5.0
    assert abs(ps.mean_drift_shift("sd2_ms", "post_20_60", 5.0)) < 3.0


def test_segment_count_and_metrics_that_do_not_grow_with_length() -> None:
    shifts = ps.drift_shifts(0, 5.0)
    whole = ps.drift_shifts(0, 0.0)
    # RMSSD and mean HR are read over the whole window either way.
    for metric in ("rmssd_ms", "mean_hr_bpm", "pnn50_pct", "sd1_ms"):
        assert shifts.filter(pl.col("metric") == metric)["shift"].to_list() == pytest.approx(
            whole.filter(pl.col("metric") == metric)["shift"].to_list()
        )
    # The 5-min pre and the 4-min acute window are read whole: nothing changes.
    short = pl.col("window").is_in(["pre", "acute"])
    assert shifts.filter(short)["shift"].to_list() == pytest.approx(
        whole.filter(short)["shift"].to_list()
    )
