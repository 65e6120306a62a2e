"""Window length must not change what a metric reads: spectral grid, pure tones.

A tone of known power (LF 72 ms^2, HF 450 ms^2) planted in the RR series is
measured through the default window path (``episode_window_metrics`` with
``AnalysisConfig()``) in windows of 5, 20, 40 and 90 min, on and off the
toolbox's 1/1024 Hz grid (recipes in :mod:`tests.support.planted_signals`).
"""

from __future__ import annotations

import pytest

from tearsignals.config import AnalysisConfig, FrequencyConfig
from tests.support import planted_signals as ps

TONE_CASES = [
    pytest.param(minutes, lf, hf, id=f"{minutes:g}min-{where.split()[0]}")
    for minutes in ps.TONE_LENGTHS_MIN
    for where, (lf, hf) in ps.TONES_HZ.items()
]


@pytest.mark.parametrize(("minutes", "lf_hz", "hf_hz"), TONE_CASES)
@pytest.mark.parametrize("method", ["lomb", "welch"])
def test_planted_tones_are_recovered_at_every_window_length(
    method: str, minutes: float, lf_hz: float, hf_hz: float
) -> None:
    cfg = AnalysisConfig(frequency=FrequencyConfig(method=method))
    lf, hf = ps.tone_powers(minutes, lf_hz, hf_hz, cfg)
    assert lf == pytest.approx(ps.LF_TONE_MS2, rel=0.02)
    assert hf == pytest.approx(ps.HF_TONE_MS2, rel=0.02)


@pytest.mark.parametrize("where", list(ps.TONES_HZ))
def test_a_fixed_toolbox_grid_misreads_tones_in_long_windows(where: str) -> None:
    """The defect the span-tied grid removes: at 40 min a 1/1024 Hz step is
    wider than the tone's peak, so the band sum depends on where it falls."""
    lf_hz, hf_hz = ps.TONES_HZ[where]
    fixed = AnalysisConfig(frequency=FrequencyConfig(lomb_df_hz=ps.TOOLBOX_STEP_HZ))
    lf, hf = ps.tone_powers(5.0, lf_hz, hf_hz, fixed)
    assert (lf, hf) == pytest.approx((ps.LF_TONE_MS2, ps.HF_TONE_MS2), rel=0.02)  # 5 min: fine
    lf, hf = ps.tone_powers(40.0, lf_hz, hf_hz, fixed)
    assert abs(hf / ps.HF_TONE_MS2 - 1) > 0.5
    assert abs(lf / ps.LF_TONE_MS2 - 1) > 0.5


def test_welch_attenuates_hf_at_slow_heart_rates_whatever_the_length() -> None:
    """The cubic spline through ~1 Hz beat samples damps a 0.25 Hz tone (-2.8 %
    at 60 bpm, -1 % at 75 bpm): a property of the recipe, not of the length."""
    lf_hz, hf_hz = ps.TONES_HZ["between grid points"]
    cfg = AnalysisConfig(frequency=FrequencyConfig(method="welch"))
    hf = [ps.tone_powers(m, lf_hz, hf_hz, cfg, mean_rr_ms=1000.0)[1] for m in (5.0, 40.0)]
    assert all(0.95 < h / ps.HF_TONE_MS2 < 0.98 for h in hf)
    assert hf[0] == pytest.approx(hf[1], rel=0.005)
