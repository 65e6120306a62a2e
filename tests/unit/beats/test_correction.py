"""Beat classification and correction (``tearsignals.beats.correction``) on planted artifacts.

A clean synthetic rhythm (respiratory sinus arrhythmia plus a slow wave and a
little noise) gets one artifact at a time; each must be found, labelled with
its class and corrected while every other beat stays exactly as recorded.
"""

from __future__ import annotations

import numpy as np
import pytest

from tearsignals.beats import correction
from tearsignals.beats.cleaning import clean_series
from tearsignals.beats.correction import (
    ECTOPIC,
    EXTRA,
    INVALID,
    LONG_SHORT,
    MISSED,
    NORMAL,
    classify_beats,
    correct_beats,
    rolling_quantile,
)
from tearsignals.config import CleaningConfig
from tearsignals.hrv.time_domain import time_domain

CFG = CleaningConfig()
PAPER = CleaningConfig(lipponen_floor_ms=0.0, lipponen_residual_gate=False)


def clean_rhythm(n: int, seed: int) -> np.ndarray:
    """RR (ms): 0.25 Hz breathing (+-35 ms), a 0.1 Hz wave (+-15 ms), noise sd 4 ms."""
    rng = np.random.default_rng(seed)
    t_s = np.arange(n) * 0.85
    rsa = 35.0 * np.sin(2 * np.pi * 0.25 * t_s + rng.uniform(0, 6.28))
    slow = 15.0 * np.sin(2 * np.pi * 0.1 * t_s + rng.uniform(0, 6.28))
    return 850.0 + rsa + slow + rng.normal(0.0, 4.0, n)


def rmssd(rr: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.diff(rr) ** 2)))


def test_planted_ectopic_is_labelled_and_interpolated_neighbours_untouched() -> None:
    clean = clean_rhythm(400, 1)
    rr = clean.copy()
    k = 200
    rr[k], rr[k + 1] = 0.6 * clean[k], clean[k + 1] + 0.4 * clean[k]  # full compensatory pause
    t = np.cumsum(rr)
    labels = classify_beats(t, rr, CFG)
    # The paper's convention: the centre of the -/+/- dRR pattern (the pause) is
    # "ectopic", the premature interval before it "short".
    assert labels[k + 1] == ECTOPIC
    assert labels[k] == LONG_SHORT
    assert np.flatnonzero(labels != NORMAL).tolist() == [k, k + 1]
    fixed = correct_beats(t, rr, labels, CFG)
    assert fixed.rr_ms.size == rr.size
    assert fixed.correction[[k, k + 1]].tolist() == [LONG_SHORT, ECTOPIC]
    np.testing.assert_allclose(fixed.rr_ms[[k, k + 1]], clean[[k, k + 1]], rtol=0.06)
    others = np.ones(rr.size, dtype=bool)
    others[[k, k + 1]] = False
    assert np.array_equal(fixed.rr_ms[others], rr[others])
    assert np.array_equal(fixed.t_ms, t)  # interpolation keeps the recorded beat times
    assert (fixed.correction[others] == NORMAL).all()


def test_planted_missed_beat_is_split_in_two() -> None:
    clean = clean_rhythm(400, 2)
    k = 150
    rr = np.delete(clean, k + 1)
    rr[k] = clean[k] + clean[k + 1]  # the beat ending interval k was not detected
    t = np.cumsum(rr)
    labels = classify_beats(t, rr, CFG)
    assert np.flatnonzero(labels != NORMAL).tolist() == [k]
    assert labels[k] == MISSED
    fixed = correct_beats(t, rr, labels, CFG)
    assert fixed.rr_ms.size == clean.size
    assert fixed.correction[[k, k + 1]].tolist() == [MISSED, MISSED]
    assert fixed.rr_ms[k] == fixed.rr_ms[k + 1] == pytest.approx(rr[k] / 2)
    assert fixed.t_ms[k] == pytest.approx(t[k] - rr[k] / 2)
    assert abs(fixed.t_ms[k] - np.cumsum(clean)[k]) < abs(clean[k] - clean[k + 1])
    assert fixed.source[[k, k + 1]].tolist() == [k, k]
    assert fixed.successive[[k, k + 1]].all()  # the halves are successive intervals
    untouched = np.r_[0:k, k + 2 : clean.size]
    assert np.array_equal(fixed.rr_ms[untouched], clean[untouched])


def test_planted_extra_beat_is_merged_into_the_next_interval() -> None:
    clean = clean_rhythm(400, 3)
    k = 250
    rr = np.insert(clean, k, 0.35 * clean[k])  # a spurious detection inside interval k
    rr[k + 1] = clean[k] - rr[k]
    t = np.cumsum(rr)
    labels = classify_beats(t, rr, CFG)
    assert labels[k] == EXTRA
    assert np.flatnonzero(labels != NORMAL).tolist() == [k]  # its successor is consumed
    fixed = correct_beats(t, rr, labels, CFG)
    np.testing.assert_allclose(fixed.rr_ms, clean, rtol=1e-12)
    np.testing.assert_allclose(fixed.t_ms, np.cumsum(clean), rtol=1e-12)
    assert np.flatnonzero(fixed.correction != NORMAL).tolist() == [k]
    assert fixed.correction[k] == EXTRA
    assert fixed.source[k] == k + 1


def test_clean_rhythm_has_almost_no_artifacts() -> None:
    # alpha = 5.2 keeps false alarms rare, not absent: a +-50 ms breathing swing
    # plus noise now and then crosses the short/long boundary (1 in 15,000 here).
    flagged = 0
    for seed in range(5):
        rr = clean_rhythm(3000, seed)
        flagged += int((classify_beats(np.cumsum(rr), rr, CFG) != NORMAL).sum())
    assert flagged <= 2


def test_rmssd_of_the_corrected_series_is_close_to_the_clean_one() -> None:
    clean = clean_rhythm(6000, 4)
    rng = np.random.default_rng(5)
    rr = clean.copy()
    sites = rng.choice(np.arange(50, 5950, 10), size=60, replace=False)  # 1 % ectopic beats
    rr[sites + 1] += 0.35 * clean[sites]
    rr[sites] -= 0.35 * clean[sites]
    series = clean_series(np.cumsum(rr), rr, CFG)
    got = time_domain(
        series.rr_ms, series.nn_ok, series.pair_ok, np.array([0]), np.array([series.rr_ms.size])
    )
    planted = np.zeros(rr.size, dtype=bool)
    planted[np.r_[sites, sites + 1]] = True
    assert series.flagged[planted].all()
    # A few more: e.g. the normal beat after a pause, when breathing lengthens the next one.
    assert series.flagged[~planted].sum() <= 10
    assert series.nn_ok.all()
    assert float(got["rmssd_ms"][0]) == pytest.approx(rmssd(clean), rel=0.03)
    assert rmssd(rr) > 2.0 * rmssd(clean)  # uncorrected, the 60 ectopic beats dominate


def test_invalid_intervals_are_neither_classified_nor_corrected() -> None:
    rr = clean_rhythm(300, 6)
    rr[[100, 200]] = [np.nan, 4100.0]  # missing; longer than 2 x rr_max_ms
    t = np.cumsum(np.nan_to_num(rr, nan=850.0))
    labels = classify_beats(t, rr, CFG)
    assert np.flatnonzero(labels != NORMAL).tolist() == [100, 200]
    assert (labels[[100, 200]] == INVALID).all()
    series = clean_series(t, rr, CFG)
    assert np.flatnonzero(~series.nn_ok).tolist() == [100, 200]
    assert np.flatnonzero(~series.pair_ok).tolist() == [0, 100, 101, 200, 201]
    assert np.array_equal(series.rr_ms, rr, equal_nan=True)


def test_a_dropout_in_the_beat_times_is_not_an_artifact() -> None:
    rr = clean_rhythm(600, 7)
    rr[300:] += 120.0  # the rate changed during a 40-s dropout
    t = np.cumsum(rr)
    t[300:] += 40_000.0
    assert (classify_beats(t, rr, CFG) == NORMAL).all()
    series = clean_series(t, rr, CFG)
    assert np.flatnonzero(~series.pair_ok).tolist() == [0, 300]


def test_run_of_extra_beats_merges_pairwise() -> None:
    labels = np.array([NORMAL, EXTRA, EXTRA, EXTRA, NORMAL, EXTRA], dtype=np.int8)
    resolved = correction._resolve(labels)
    # 1st and 3rd of the run stay extra and consume the 2nd and 4th; the last
    # beat has nothing to merge with, so it is interpolated as "short" instead.
    assert resolved.tolist() == [NORMAL, EXTRA, NORMAL, EXTRA, NORMAL, LONG_SHORT]


def test_constant_series_with_floor_zero_raises_no_warning() -> None:
    rr = np.full(200, 800.0)
    rr[100] = 500.0
    labels = classify_beats(np.cumsum(rr), rr, PAPER)  # filterwarnings=error would raise
    assert labels[100] != NORMAL


# --- the decision flow against a per-beat oracle -------------------------------------------


def _oracle_threshold(x: np.ndarray, alpha: float, width: int) -> np.ndarray:
    half = width // 2
    a = np.abs(x)
    out = np.empty(a.size)
    for i in range(a.size):
        part = a[max(i - half, 0) : i + half + 1]
        out[i] = alpha * (np.quantile(part, 0.75) - np.quantile(part, 0.25)) / 2
    return out


def _oracle_labels(rr: np.ndarray, c1: float = 0.13, c2: float = 0.17) -> list[int]:
    """The paper's Figure 1, one beat at a time (as NeuroKit2's loop walks it)."""
    drr = np.r_[0.0, np.diff(rr)]
    th1 = _oracle_threshold(drr, 5.2, 91)
    d = drr / th1
    med = np.array([np.median(rr[max(i - 5, 0) : i + 6]) for i in range(rr.size)])
    mrr = rr - med
    mrr[mrr < 0] *= 2
    th2 = _oracle_threshold(mrr, 5.2, 91)
    m = mrr / th2
    p = np.r_[0.0, d, 0.0, 0.0]  # p[i + 1] = d[i]
    labels = [NORMAL] * rr.size
    for i in range(rr.size - 2):
        if abs(d[i]) <= 1:
            continue
        s12 = max(p[i], p[i + 2]) if d[i] > 0 else min(p[i], p[i + 2])
        if (d[i] > 1 and s12 < -c1 * d[i] - c2) or (d[i] < -1 and s12 > -c1 * d[i] + c2):
            labels[i] = ECTOPIC
            continue
        for j in [i, i + 1] if abs(d[i + 1]) < abs(d[i + 2]) else [i]:
            s22 = min(p[j + 2], p[j + 3]) if d[j] >= 0 else max(p[j + 2], p[j + 3])
            long_b, short_b = d[j] > 1 and s22 < -1, d[j] < -1 and s22 > 1
            if labels[j] == ECTOPIC or not (long_b or short_b or abs(m[j]) > 3):
                continue
            if short_b and abs(rr[j] + rr[j + 1] - med[j]) < th2[j]:
                labels[j] = EXTRA
            elif long_b and abs(rr[j] / 2 - med[j]) < th2[j]:
                labels[j] = MISSED
            elif labels[j] == NORMAL:
                labels[j] = LONG_SHORT
    return labels


@pytest.mark.parametrize("seed", range(4))
def test_vectorised_decisions_equal_the_per_beat_oracle(seed: int) -> None:
    rng = np.random.default_rng(seed)
    rr = clean_rhythm(700, seed) + rng.normal(0.0, 12.0, 700)  # noisy: borderline cases
    for k in rng.choice(np.arange(5, 690), size=25, replace=False):
        rr[k] *= rng.choice([0.55, 0.7, 1.4, 1.9, 2.0])
    labels = classify_beats(np.cumsum(rr), rr, PAPER)
    want = correction._resolve(np.array(_oracle_labels(rr), dtype=np.int8))
    assert labels.tolist() == want.tolist()


def test_rolling_quantile_equals_brute_force() -> None:
    rng = np.random.default_rng(8)
    for n in (0, 1, 4, 11, 40, 300):
        x = rng.normal(size=n)
        for width in (3, 4, 11, 91):
            before, after = width // 2, width - 1 - width // 2
            for q in (0.25, 0.5, 0.75):
                want = [np.quantile(x[max(i - before, 0) : i + after + 1], q) for i in range(n)]
                np.testing.assert_allclose(rolling_quantile(x, q, width), want, rtol=0, atol=1e-12)


@pytest.mark.slow
def test_one_million_beats_with_planted_artifacts() -> None:
    """Scale: a day-sized series (1M beats) is classified and corrected in one pass."""
    clean = clean_rhythm(1_000_000, 9)
    rr = clean.copy()
    sites = np.arange(1000, 999_000, 997)
    rr[sites] -= 0.4 * clean[sites]
    rr[sites + 1] += 0.4 * clean[sites]
    labels = classify_beats(np.cumsum(rr), rr, CFG)
    assert (labels[sites + 1] == ECTOPIC).all()
    assert (labels[sites] != NORMAL).all()
    assert (labels != NORMAL).sum() - 2 * sites.size < 0.0005 * rr.size
    fixed = correct_beats(np.cumsum(rr), rr, labels, CFG)
    # Linear interpolation across a breathing crest can miss it by ~10 %.
    np.testing.assert_allclose(fixed.rr_ms[sites], clean[sites], rtol=0.12)
