"""The sinus guard: Lipponen's labels are acted on only where rhythm is not sinus-like."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from tearsignals.beats import correction
from tearsignals.beats.cleaning import clean_series, sinus_guarded, sinus_like
from tearsignals.config import CleaningConfig


def night_rhythm(n: int = 400, seed: int = 0) -> np.ndarray:
    """Slow breathing RSA around 1000 ms with abrupt vagal lengthenings (as nsr001 at night)."""
    rng = np.random.default_rng(seed)
    k = np.arange(n)
    rr = 1000.0 + 90.0 * np.sin(2 * np.pi * k / 5.0) + rng.normal(0.0, 8.0, n)
    rr[[60, 150, 260]] *= 1.3  # single long cycles, annotated N in real records
    return np.round(rr / 7.8125) * 7.8125  # 128 Hz quantisation


def with_pvc(rr: np.ndarray, at: int) -> np.ndarray:
    """A premature beat (0.6 x) and its full compensatory pause at ``at``."""
    out = rr.copy()
    total = out[at] + out[at + 1]
    out[at] = 0.6 * rr[at]
    out[at + 1] = total - out[at]
    return out


def test_sinus_arrhythmia_is_left_alone_and_a_pvc_is_not() -> None:
    rr = with_pvc(night_rhythm(), 200)
    t = np.cumsum(rr)
    guarded = clean_series(t, rr, CleaningConfig())
    paper = clean_series(t, rr, CleaningConfig(lipponen_sinus_guard=False))
    assert np.flatnonzero(guarded.flagged).tolist() == [200, 201]
    assert paper.flagged.sum() > 2  # the lone long cycles are "corrected" too
    assert paper.flagged[[60, 150, 260]].any()


def test_sinus_like_marks_range_and_premature_pairs() -> None:
    rr = np.full(30, 1000.0)
    rr[5] = 720.0  # short alone, inside the range: sinus-like
    rr[10], rr[11] = 820.0, 1180.0  # 18 % early then 18 % late: a premature pair
    rr[20] = 1450.0  # beyond 1.4 x: not sinus
    rr[25] = np.nan
    ok = np.ones(rr.size, dtype=bool)
    assert np.flatnonzero(~sinus_like(rr, ok, CleaningConfig())).tolist() == [10, 11, 20, 25]
    ok[11] = False  # a gap before the late interval: not a compensatory pause
    assert np.flatnonzero(~sinus_like(rr, ok, CleaningConfig())).tolist() == [20, 25]


def test_sinus_guard_clears_labels_on_sinus_like_intervals_only() -> None:
    rr = np.full(12, 1000.0)
    rr[3], rr[7] = 1300.0, 2000.0
    labels = np.full(rr.size, correction.NORMAL, dtype=np.int8)
    labels[3], labels[7], labels[9] = correction.LONG_SHORT, correction.MISSED, correction.INVALID
    out = sinus_guarded(labels, np.cumsum(rr), rr, CleaningConfig())
    assert out[3] == correction.NORMAL  # 1.3 x: sinus-like, left as recorded
    assert out[7] == correction.MISSED  # 2 x: corrected
    assert out[9] == correction.INVALID


@pytest.mark.parametrize("bad", [(1.0, 1.4), (0.7, 1.0), (0.0, 1.4)])
def test_sinus_range_must_bracket_one(bad: tuple[float, float]) -> None:
    with pytest.raises(ValidationError, match="sinus_range"):
        CleaningConfig(sinus_range=bad)
