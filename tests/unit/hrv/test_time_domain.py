"""Unit tests of the windowed HRV engine (``tearsignals.hrv.time_domain``).

Expected values are worked out by hand in the comments (sums of squares of
small integer series), so a wrong definition - N instead of N-1, a difference
that crosses a window edge, ``>=`` instead of ``>`` - shows up as a mismatch.
"""

from __future__ import annotations

import math
import statistics
from fractions import Fraction

import numpy as np
import pytest

from tearsignals.beats.cleaning import clean_rr, clean_series, cleaning_description
from tearsignals.config import CleaningConfig
from tearsignals.hrv.time_domain import METRICS, time_domain, window_bounds

DEFINED_WITH_ONE_NN = ("mean_nn_ms", "mean_hr_bpm")


def _all_successive(rr: list[float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """rr as an array, every interval NN, every difference usable."""
    values = np.asarray(rr, dtype=np.float64)
    nn_ok = np.ones(values.size, dtype=bool)
    pair_ok = nn_ok.copy()
    if values.size:
        pair_ok[0] = False
    return values, nn_ok, pair_ok


def _one_window(rr: list[float]) -> dict[str, float]:
    values, nn_ok, pair_ok = _all_successive(rr)
    out = time_domain(values, nn_ok, pair_ok, np.array([0]), np.array([values.size]))
    return {name: float(v[0]) for name, v in out.items()}


# --- hand-computed cases -------------------------------------------------------------------


def test_time_domain_matches_hand_computation() -> None:
    # rr 800 900 820 830 760: mean 822, deviations -22 78 -2 8 -62, sum of squares 10480.
    # differences 100 -80 10 -70: squares sum 21400; mean -10, deviations 110 -70 20 -60,
    # sum of squares 21000. Three of four |d| exceed 50 ms.
    m = _one_window([800, 900, 820, 830, 760])
    assert m["n_beats"] == 5
    assert m["n_nn"] == 5
    assert m["n_pairs"] == 4
    assert m["sum_rr_ms"] == pytest.approx(4110)
    assert m["mean_nn_ms"] == pytest.approx(822, rel=1e-12)
    assert m["sdnn_ms"] == pytest.approx(math.sqrt(10480 / 4), rel=1e-12)
    assert m["rmssd_ms"] == pytest.approx(math.sqrt(21400 / 4), rel=1e-12)
    assert m["ln_rmssd"] == pytest.approx(math.log(math.sqrt(21400 / 4)), rel=1e-12)
    assert m["rmssd_over_nn_pct"] == pytest.approx(100 * math.sqrt(21400 / 4) / 822, rel=1e-12)
    assert m["pnn50_pct"] == pytest.approx(75.0, rel=1e-12)
    assert m["sdsd_ms"] == pytest.approx(math.sqrt(21000 / 3), rel=1e-12)
    assert m["sd1_ms"] == pytest.approx(math.sqrt(21000 / 3 / 2), rel=1e-12)
    # sd2^2 = 2 sdnn^2 - sdsd^2 / 2 = 2 * 2620 - 3500 = 1740
    assert m["sd2_ms"] == pytest.approx(math.sqrt(1740), rel=1e-12)


def test_steady_trend_has_zero_sd1_and_all_variance_in_sd2() -> None:
    # rr 800 820 840 860 880: deviations -40..40, sum of squares 4000; every difference is 20.
    m = _one_window([800, 820, 840, 860, 880])
    assert m["sdnn_ms"] == pytest.approx(math.sqrt(1000), rel=1e-12)
    assert m["rmssd_ms"] == pytest.approx(20, rel=1e-12)
    assert m["sdsd_ms"] == pytest.approx(0, abs=1e-12)
    assert m["sd1_ms"] == pytest.approx(0, abs=1e-12)
    assert m["sd2_ms"] == pytest.approx(math.sqrt(2000), rel=1e-12)
    assert m["pnn50_pct"] == 0


def test_pnn50_counts_differences_strictly_above_50_ms() -> None:
    # differences 50, -50, 51: only the last one counts.
    m = _one_window([800, 850, 800, 851])
    assert m["pnn50_pct"] == pytest.approx(100 / 3, rel=1e-12)


def test_mean_hr_is_the_mean_of_instantaneous_rates() -> None:
    # 60000/500 = 120 bpm and 60000/1000 = 60 bpm average to 90, not 60000/750 = 80.
    m = _one_window([500, 1000])
    assert m["mean_hr_bpm"] == pytest.approx(90, rel=1e-12)


def test_rr_normalised_rmssd_ignores_a_pure_change_of_rate() -> None:
    """Every interval scaled by 0.8 (a heart 25 % faster, modulated alike): RMSSD
    falls by 20 %, RMSSD over mean NN stays."""
    slow = _one_window([800, 900, 820, 830, 760])
    fast = _one_window([0.8 * x for x in (800, 900, 820, 830, 760)])
    assert fast["rmssd_ms"] == pytest.approx(0.8 * slow["rmssd_ms"], rel=1e-12)
    assert fast["rmssd_over_nn_pct"] == pytest.approx(slow["rmssd_over_nn_pct"], rel=1e-12)


def test_sdnn_uses_n_minus_1() -> None:
    # two intervals 800 and 860: sample SD = 60 / sqrt(2); the population SD would be 30.
    m = _one_window([800, 860])
    assert m["sdnn_ms"] == pytest.approx(60 / math.sqrt(2), rel=1e-12)


# --- edge cases ----------------------------------------------------------------------------


def test_empty_window_gives_nan_metrics_and_zero_counts() -> None:
    rr, nn_ok, pair_ok = _all_successive([800, 810, 790])
    out = time_domain(rr, nn_ok, pair_ok, np.array([1]), np.array([1]))
    for name in METRICS:
        assert np.isnan(out[name][0]), name
    for count in ("n_beats", "n_nn", "n_pairs", "sum_rr_ms"):
        assert out[count][0] == 0, count


def test_reversed_window_is_empty_not_an_error() -> None:
    rr, nn_ok, pair_ok = _all_successive([800, 810, 790])
    out = time_domain(rr, nn_ok, pair_ok, np.array([2]), np.array([0]))
    assert out["n_beats"][0] == 0
    assert np.isnan(out["rmssd_ms"][0])


def test_empty_recording() -> None:
    rr, nn_ok, pair_ok = _all_successive([])
    out = time_domain(rr, nn_ok, pair_ok, np.array([0]), np.array([0]))
    assert out["n_beats"][0] == 0
    assert np.isnan(out["mean_nn_ms"][0])


def test_one_beat_defines_only_means() -> None:
    m = _one_window([800])
    assert m["mean_nn_ms"] == pytest.approx(800)
    assert m["mean_hr_bpm"] == pytest.approx(75)
    assert m["n_pairs"] == 0
    for name in set(METRICS) - set(DEFINED_WITH_ONE_NN):
        assert math.isnan(m[name]), name


def test_two_beats_define_rmssd_but_not_the_spread_of_differences() -> None:
    m = _one_window([800, 860])
    assert m["rmssd_ms"] == pytest.approx(60, rel=1e-12)
    assert m["ln_rmssd"] == pytest.approx(math.log(60), rel=1e-12)
    assert m["pnn50_pct"] == 100
    # one difference has no SD, so SD1/SD2 (which need SDSD) are undefined
    for name in ("sdsd_ms", "sd1_ms", "sd2_ms"):
        assert math.isnan(m[name]), name


def test_two_equal_beats_have_zero_rmssd_and_undefined_log() -> None:
    m = _one_window([800, 800])
    assert m["rmssd_ms"] == 0
    assert m["sdnn_ms"] == 0
    assert math.isnan(m["ln_rmssd"])


def test_two_beats_without_a_usable_pair_keep_sdnn_only() -> None:
    rr, nn_ok, _ = _all_successive([800, 860])
    pair_ok = np.zeros(2, dtype=bool)  # e.g. a dropout between them
    out = time_domain(rr, nn_ok, pair_ok, np.array([0]), np.array([2]))
    assert out["sdnn_ms"][0] == pytest.approx(60 / math.sqrt(2), rel=1e-12)
    assert out["n_pairs"][0] == 0
    assert np.isnan(out["rmssd_ms"][0])
    assert np.isnan(out["pnn50_pct"][0])


def test_window_of_artifacts_only_keeps_its_counts() -> None:
    rr = np.array([250.0, 2500.0, 260.0, 3000.0])
    no = np.zeros(4, dtype=bool)
    out = time_domain(rr, no, no, np.array([0]), np.array([4]))
    assert out["n_beats"][0] == 4
    assert out["n_nn"][0] == 0
    assert out["sum_rr_ms"][0] == pytest.approx(rr.sum())
    for name in METRICS:
        assert np.isnan(out[name][0]), name


def test_missing_interval_stays_local_to_its_windows() -> None:
    # A NaN interval (never NN) used to poison the shared prefix sums, turning
    # mean and SDNN of every window - even ones before it - into NaN.
    rr = np.array([800.0, 810.0, np.nan, 790.0, 805.0, 795.0])
    nn_ok = np.isfinite(rr)
    pair_ok = np.array([False, True, False, False, True, True])
    out = time_domain(rr, nn_ok, pair_ok, np.array([0, 3, 0]), np.array([2, 6, 6]))
    assert out["mean_nn_ms"][0] == pytest.approx(805)
    assert out["sdnn_ms"][1] == pytest.approx(statistics.stdev([790, 805, 795]), rel=1e-12)
    assert out["sum_rr_ms"][2] == pytest.approx(800 + 810 + 790 + 805 + 795)
    assert out["n_nn"][2] == 5
    assert out["rmssd_ms"][2] == pytest.approx(math.sqrt((10**2 + 15**2 + 10**2) / 3), rel=1e-12)


def test_window_far_from_the_recording_centre_keeps_precision() -> None:
    # 200 beats at 300 ms put the centre there; the last window sits 1700 ms
    # away with a 1/16-ms spread. Exact rational arithmetic is the oracle.
    tail = [2000.0, 2000.0625, 2000.125] * 16 + [2000.0]
    rr, nn_ok, pair_ok = _all_successive([300.0] * 200 + tail)
    out = time_domain(rr, nn_ok, pair_ok, np.array([200]), np.array([rr.size]))
    exact = math.sqrt(statistics.variance([Fraction(v) for v in tail]))
    assert out["sdnn_ms"][0] == pytest.approx(exact, rel=1e-12)


# --- windows -------------------------------------------------------------------------------


def test_overlapping_windows_equal_separate_computations() -> None:
    rr = np.array([800, 812, 1100, 795, 805, 790, 808, 798, 803, 811, 796, 860], dtype=float)
    nn_ok = np.ones(rr.size, dtype=bool)
    pair_ok = np.ones(rr.size, dtype=bool)
    pair_ok[0] = False
    lo = np.array([0, 3, 3, 2, 8, 5])
    hi = np.array([6, 9, 9, 12, 12, 6])
    batch = time_domain(rr, nn_ok, pair_ok, lo, hi)
    for k, (a, b) in enumerate(zip(lo, hi, strict=True)):
        part_pairs = pair_ok[a:b].copy()
        part_pairs[0] = False  # the difference into the window's first beat is outside it
        alone = time_domain(rr[a:b], nn_ok[a:b], part_pairs, np.array([0]), np.array([b - a]))
        for name, values in batch.items():
            np.testing.assert_allclose(values[k], alone[name][0], rtol=1e-12, equal_nan=True)


def test_difference_into_the_first_beat_of_a_window_is_not_counted() -> None:
    # Beat 2 is 1100 ms; the window starting at beat 3 must not see 795 - 1100.
    rr = np.array([800, 812, 1100, 795, 805, 790], dtype=float)
    nn_ok = np.ones(rr.size, dtype=bool)
    pair_ok = np.ones(rr.size, dtype=bool)
    pair_ok[0] = False
    out = time_domain(rr, nn_ok, pair_ok, np.array([3]), np.array([6]))
    assert out["n_pairs"][0] == 2
    assert out["pnn50_pct"][0] == 0
    assert out["rmssd_ms"][0] == pytest.approx(math.sqrt((10**2 + 15**2) / 2), rel=1e-12)


def test_window_bounds_are_half_open_on_beat_times() -> None:
    t = np.array([0, 1000, 2000, 3000, 4000])
    lo, hi = window_bounds(t, np.array([1000, 0, 4500]), np.array([3000, 5000, 6000]))
    assert lo.tolist() == [1, 0, 5]
    assert hi.tolist() == [3, 5, 5]


# --- clean_rr ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rr_value", "expected"),
    [
        ("rr_min_ms", True),
        ("rr_max_ms", True),
        ("below_min", False),
        ("above_max", False),
    ],
)
def test_clean_rr_physiological_limits_are_inclusive(rr_value: str, expected: bool) -> None:
    cfg = CleaningConfig()
    value = {
        "rr_min_ms": cfg.rr_min_ms,
        "rr_max_ms": cfg.rr_max_ms,
        "below_min": cfg.rr_min_ms - 1,
        "above_max": cfg.rr_max_ms + 1,
    }[rr_value]
    # A steady series isolates the limit rule from the local-median rule.
    rr = np.full(15, value)
    nn_ok = clean_rr(np.cumsum(rr), rr, cfg).nn_ok
    assert nn_ok.tolist() == [expected] * 15


def test_clean_rr_flags_a_single_out_of_range_interval() -> None:
    cfg = CleaningConfig(rr_min_ms=700, rr_max_ms=900)
    # 699 and 901 are within 20% of the local median, so only the limits reject them.
    rr = np.array([800, 805, 699, 795, 810, 700, 790, 900, 805, 901, 798, 802], dtype=float)
    nn_ok = clean_rr(np.cumsum(rr), rr, cfg).nn_ok
    assert np.flatnonzero(~nn_ok).tolist() == [2, 9]


def test_clean_rr_flags_ectopic_and_compensatory_pause_but_not_neighbours() -> None:
    rr = np.array(
        [800, 812, 795, 805, 790, 808, 798, 520, 1090, 803, 811, 796, 807, 799, 801], dtype=float
    )
    beats = clean_rr(np.cumsum(rr), rr, CleaningConfig())
    assert np.flatnonzero(~beats.nn_ok).tolist() == [7, 8]
    # differences into, out of and between the pair are unusable; all others are kept
    assert np.flatnonzero(~beats.pair_ok).tolist() == [0, 7, 8, 9]


def test_clean_rr_missing_interval_does_not_reject_its_neighbours() -> None:
    rng = np.random.default_rng(0)
    rr = 800 + rng.normal(0, 20, 30)
    rr[[10, 11]] = np.nan
    t = np.cumsum(np.where(np.isnan(rr), 800, rr))
    beats = clean_rr(t, rr, CleaningConfig())
    assert np.flatnonzero(~beats.nn_ok).tolist() == [10, 11]
    assert np.flatnonzero(~beats.pair_ok).tolist() == [0, 10, 11, 12]


def test_clean_rr_breaks_succession_across_a_dropout() -> None:
    cfg = CleaningConfig()
    rr = np.array([800, 805, 795, 810, 790, 800, 806, 794, 802, 798, 870, 840, 800, 805, 795.0])
    step = rr.copy()
    step[10] += 30_000  # 30 s without beats before beat 10
    step[4] += 0.8 * cfg.gap_tolerance_ms  # timestamp jitter inside the tolerance
    step[13] += 1.2 * cfg.gap_tolerance_ms  # a short gap beyond it
    beats = clean_rr(np.cumsum(step), rr, cfg)
    assert beats.nn_ok.all()
    assert np.flatnonzero(~beats.pair_ok).tolist() == [0, 10, 13]

    # 870 - 798 = 72 ms would count for pNN50 if the pair across the gap were used.
    out = time_domain(rr, beats.nn_ok, beats.pair_ok, np.array([0]), np.array([rr.size]))
    kept = [rr[i] - rr[i - 1] for i in range(1, rr.size) if i not in (10, 13)]
    assert out["n_pairs"][0] == len(kept)
    assert out["pnn50_pct"][0] == 0
    assert out["rmssd_ms"][0] == pytest.approx(math.sqrt(np.mean(np.square(kept))), rel=1e-12)


def test_clean_rr_trusts_the_caller_to_split_subjects() -> None:
    """Subject boundaries are the caller's job.

    ``clean_rr`` sees one continuous recording. The caller must run it once per
    subject (and per recording segment) and concatenate the masks, so that
    ``pair_ok`` is False at the first beat of every segment and the local
    median never mixes two people. Here subject B's first beat happens to fall
    exactly one interval after subject A's last beat, so a single call over the
    concatenation would pair them.
    """
    cfg = CleaningConfig()
    rr_a = np.array([800, 805, 795, 810, 790, 800, 806.0])
    rr_b = np.array([640, 650, 645, 655, 648, 652, 641.0])
    t_a = np.cumsum(rr_a)
    t_b = t_a[-1] + np.cumsum(rr_b)
    rr = np.concatenate([rr_a, rr_b])
    t = np.concatenate([t_a, t_b])

    per_subject = [clean_rr(t_a, rr_a, cfg), clean_rr(t_b, rr_b, cfg)]
    pair_ok = np.concatenate([b.pair_ok for b in per_subject])
    nn_ok = np.concatenate([b.nn_ok for b in per_subject])
    assert not pair_ok[rr_a.size]
    assert nn_ok.all()

    naive = clean_rr(t, rr, cfg)
    assert naive.pair_ok[rr_a.size]  # why the caller must split

    out = time_domain(rr, nn_ok, pair_ok, np.array([0]), np.array([rr.size]))
    assert out["n_pairs"][0] == rr.size - 2


# --- clean_series (the method switch) -------------------------------------------------------


def _rhythm(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 800 + 30 * np.sin(np.arange(n) / 3) + rng.normal(0, 5, n)


def test_clean_series_median_is_clean_rr_on_the_recorded_beats() -> None:
    rr = _rhythm(200, 1)
    rr[[50, 51]] = [480.0, rr[50] + rr[51] - 480.0]
    t = np.cumsum(rr)
    cfg = CleaningConfig(method="median")
    series = clean_series(t, rr, cfg)
    plain = clean_rr(t, rr, cfg)
    assert np.array_equal(series.rr_ms, rr) and np.array_equal(series.t_ms, t)
    assert np.array_equal(series.nn_ok, plain.nn_ok)
    assert np.array_equal(series.pair_ok, plain.pair_ok)
    assert np.array_equal(series.flagged, ~plain.nn_ok)
    assert series.labels is None


def test_clean_series_lipponen_corrects_and_counts_corrected_beats_as_nn() -> None:
    rr = _rhythm(200, 2)
    rr[[50, 51]] = [480.0, rr[50] + rr[51] - 480.0]
    series = clean_series(np.cumsum(rr), rr, CleaningConfig())
    assert np.flatnonzero(series.flagged).tolist() == [50, 51]
    assert series.nn_ok.all()
    assert np.flatnonzero(~series.pair_ok).tolist() == [0]  # differences across them count
    assert abs(series.rr_ms[50] - 800) < 60 and abs(series.rr_ms[51] - 800) < 60


def test_residual_gate_rejects_what_correction_left_far_from_its_neighbours() -> None:
    # Alternating 500/1100 ms (bigeminy) for 60 beats inside a normal rhythm: the
    # adaptive thresholds absorb the pattern, the local-median gate does not.
    rr = _rhythm(300, 3)
    rr[120:180:2], rr[121:180:2] = 500.0, 1100.0
    t = np.cumsum(rr)
    gated = clean_series(t, rr, CleaningConfig())
    ungated = clean_series(t, rr, CleaningConfig(lipponen_residual_gate=False))
    assert gated.flagged[120:180].mean() > 0.9
    assert not gated.nn_ok[130:170].any()
    assert gated.flagged[ungated.flagged].all()
    assert ungated.flagged.sum() < gated.flagged.sum()


def test_limits_apply_to_corrected_values() -> None:
    cfg = CleaningConfig(rr_min_ms=780.0, rr_max_ms=1000.0)
    clean = _rhythm(201, 4)
    rr = np.delete(clean, 101)
    rr[100] = clean[100] + clean[101]  # a missed beat: ~1600 ms, beyond rr_max_ms
    series = clean_series(np.cumsum(rr), rr, cfg)
    assert series.labels is not None
    assert series.labels[100] == 2  # MISSED
    assert series.rr_ms.size == rr.size + 1
    assert series.nn_ok[series.source == 100].all()  # the halves are back in range
    # Normal beats of the rhythm below rr_min_ms: not artifacts, yet not NN.
    low = np.flatnonzero((rr < 780.0) & (series.labels == 0))
    assert low.size > 10
    assert not series.nn_ok[np.isin(series.source, low)].any()
    assert series.flagged[low].all()
    assert np.array_equal(np.flatnonzero(series.flagged), np.union1d(low, [100]))


def test_cleaning_description_names_method_parameters_and_versions() -> None:
    text = cleaning_description(CleaningConfig())
    assert text.startswith("lipponen2019(c1=0.13,c2=0.17,alpha=5.2,window=91,median=11,")
    assert "floor_ms=50,sinus=0.7-1.4,premature=0.15,guard=on,gate=on)" in text
    assert f"numpy {np.__version__}" in text and "tearsignals " in text
    assert "gate=off" in cleaning_description(CleaningConfig(lipponen_residual_gate=False))
    assert "guard=off" in cleaning_description(CleaningConfig(lipponen_sinus_guard=False))
