"""Property tests: the prefix-sum engine against a per-window brute-force oracle.

The oracle follows the definitions in ``tearsignals.hrv.time_domain``'s module docstring
literally, one window at a time, in exact rational arithmetic (``Fraction``),
so any disagreement is the engine's. A second group compares the shared
metrics with heartpy's ``calc_ts_measures`` on short clean series.
"""

from __future__ import annotations

import math
from fractions import Fraction

import heartpy as hp
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tearsignals.hrv.time_domain import time_domain

RTOL = 1e-9
COUNTS = ("n_beats", "n_nn", "n_pairs")
RELATIVE = ("mean_nn_ms", "mean_hr_bpm", "rmssd_ms", "pnn50_pct", "sdnn_ms", "sdsd_ms", "sd1_ms")

# Device RR values sit on a grid: integer ms, or sample counts at 128/256/1024 Hz.
# 1/16 ms covers all of those exactly (1000/128 = 125/16).
GRID_RR = st.integers(300 * 16, 2000 * 16).map(lambda k: k / 16)
FLOAT_RR = st.floats(300.0, 2000.0, allow_nan=False, allow_infinity=False)


def _std(values: list[Fraction]) -> float:
    """Sample SD (N-1) in exact arithmetic; NaN for fewer than two values."""
    if len(values) < 2:
        return math.nan
    mean = sum(values, Fraction(0)) / len(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def _oracle_window(rr: np.ndarray, nn_ok: np.ndarray, pair_ok: np.ndarray, lo: int, hi: int):
    """Every metric of one window ``[lo, hi)``, straight from the definitions."""
    nn = [Fraction(float(rr[i])) for i in range(lo, hi) if nn_ok[i]]
    diffs = [
        Fraction(float(rr[i])) - Fraction(float(rr[i - 1])) for i in range(lo + 1, hi) if pair_ok[i]
    ]
    finite = [float(rr[i]) for i in range(lo, hi) if np.isfinite(rr[i]) and rr[i] > 0]
    out = {
        "n_beats": hi - lo,
        "n_nn": len(nn),
        "n_pairs": len(diffs),
        "sum_rr_ms": math.fsum(finite),
        "mean_nn_ms": float(sum(nn) / len(nn)) if nn else math.nan,
        "mean_hr_bpm": float(sum(60000 / v for v in nn) / len(nn)) if nn else math.nan,
        "sdnn_ms": _std(nn),
        "sdsd_ms": _std(diffs),
    }
    if diffs:
        rmssd = math.sqrt(sum(d * d for d in diffs) / len(diffs))
        pnn50 = 100.0 * sum(abs(d) > 50 for d in diffs) / len(diffs)
    else:
        rmssd = pnn50 = math.nan
    out["rmssd_ms"] = rmssd
    out["ln_rmssd"] = math.log(rmssd) if rmssd > 0 else math.nan
    out["pnn50_pct"] = pnn50
    out["sd1_ms"] = math.sqrt(0.5) * out["sdsd_ms"]
    sdnn, sdsd = out["sdnn_ms"], out["sdsd_ms"]
    out["sd2_ms"] = math.sqrt(max(2 * sdnn**2 - 0.5 * sdsd**2, 0.0))
    return out


def _oracle(rr, nn_ok, pair_ok, lo, hi) -> dict[str, np.ndarray]:
    rows = [_oracle_window(rr, nn_ok, pair_ok, a, b) for a, b in zip(lo, hi, strict=True)]
    names = rows[0].keys() if rows else ()
    return {name: np.array([row[name] for row in rows], dtype=np.float64) for name in names}


@st.composite
def beats_and_windows(draw, rr_values):
    """Random rr, NN mask, usable pairs (both NN and successive) and windows.

    Non-NN intervals may be NaN (missing), as they arrive from exports.
    """
    n = draw(st.integers(0, 40))
    rr = draw(hnp.arrays(np.float64, n, elements=rr_values))
    nn_ok = draw(hnp.arrays(np.bool_, n))
    missing = draw(hnp.arrays(np.bool_, n)) & ~nn_ok
    rr[missing] = np.nan
    successive = draw(hnp.arrays(np.bool_, n))
    pair_ok = np.zeros(n, dtype=bool)
    pair_ok[1:] = nn_ok[1:] & nn_ok[:-1] & successive[1:]
    ends = st.tuples(st.integers(0, n), st.integers(0, n)).map(sorted)
    bounds = draw(st.lists(ends, min_size=1, max_size=8))
    lo = np.array([a for a, _ in bounds], dtype=np.int64)
    hi = np.array([b for _, b in bounds], dtype=np.int64)
    return rr, nn_ok, pair_ok, lo, hi


def _assert_matches(engine, oracle, var_floor: float = 0.0) -> None:
    """Engine equals oracle: counts exactly, metrics within RTOL, NaN where NaN.

    ``ln_rmssd`` is compared absolutely (an absolute error on a log is a relative
    one on RMSSD), NaN included, wherever RMSSD is above the round-off floor and SD2 in squared form against the size of the two terms it
    is the difference of (``2 SDNN^2 - SDSD^2 / 2`` cancels; that is the
    formula's conditioning, not the engine's). ``var_floor`` (ms^2) allows for
    round-off of prefix sums on values off the binary grid.
    """
    for name in COUNTS:
        np.testing.assert_array_equal(engine[name], oracle[name], err_msg=name)
    np.testing.assert_allclose(engine["sum_rr_ms"], oracle["sum_rr_ms"], rtol=RTOL, atol=1e-9)
    for name in RELATIVE:
        got, want = engine[name], oracle[name]
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg=name)
        if name in ("sdnn_ms", "sdsd_ms", "sd1_ms", "rmssd_ms"):
            np.testing.assert_allclose(
                got**2, want**2, rtol=RTOL, atol=var_floor, equal_nan=True, err_msg=name
            )
        np.testing.assert_allclose(
            got, want, rtol=RTOL, atol=math.sqrt(var_floor), equal_nan=True, err_msg=name
        )
    # An RMSSD below the round-off floor may come out as exactly 0, whose log is NaN.
    clear = ~(oracle["rmssd_ms"] ** 2 <= var_floor) | (var_floor == 0.0)
    np.testing.assert_allclose(
        engine["ln_rmssd"][clear], oracle["ln_rmssd"][clear], atol=RTOL, equal_nan=True
    )
    sd2_scale = 2 * oracle["sdnn_ms"] ** 2 + 0.5 * oracle["sdsd_ms"] ** 2
    np.testing.assert_array_equal(np.isnan(engine["sd2_ms"]), np.isnan(oracle["sd2_ms"]))
    defined = ~np.isnan(oracle["sd2_ms"])
    gap = np.abs(engine["sd2_ms"] ** 2 - oracle["sd2_ms"] ** 2)[defined]
    assert np.all(gap <= RTOL * sd2_scale[defined] + 4 * var_floor), "sd2_ms"


@settings(max_examples=200, deadline=None)
@given(beats_and_windows(GRID_RR))
def test_engine_equals_oracle_on_grid_values(case) -> None:
    rr, nn_ok, pair_ok, lo, hi = case
    _assert_matches(time_domain(rr, nn_ok, pair_ok, lo, hi), _oracle(rr, nn_ok, pair_ok, lo, hi))


@settings(max_examples=100, deadline=None)
@given(beats_and_windows(FLOAT_RR))
def test_engine_equals_oracle_on_arbitrary_values(case) -> None:
    """Off the binary grid the prefix sums round; their error is a few ulp of
    the largest prefix sum of squares, bounded here by ``n * 2000^2``."""
    rr, nn_ok, pair_ok, lo, hi = case
    var_floor = 64 * np.finfo(np.float64).eps * max(rr.size, 1) * 2000.0**2
    _assert_matches(
        time_domain(rr, nn_ok, pair_ok, lo, hi),
        _oracle(rr, nn_ok, pair_ok, lo, hi),
        var_floor=var_floor,
    )


@settings(max_examples=100, deadline=None)
@given(beats_and_windows(GRID_RR))
def test_each_window_is_independent_of_the_others(case) -> None:
    rr, nn_ok, pair_ok, lo, hi = case
    batch = time_domain(rr, nn_ok, pair_ok, lo, hi)
    k = len(lo) - 1
    alone = time_domain(rr, nn_ok, pair_ok, lo[k:], hi[k:])
    for name, values in alone.items():
        np.testing.assert_allclose(batch[name][k], values[0], rtol=1e-12, equal_nan=True)


# --- heartpy -------------------------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(300, 2000), min_size=2, max_size=60))
def test_shared_metrics_equal_heartpy_after_unit_conversion(rr_list: list[int]) -> None:
    """heartpy's ``calc_ts_measures`` on one clean series, converted to our definitions.

    - ``ibi`` is mean NN and ``rmssd`` is RMSSD as is;
    - heartpy's ``sdnn`` is ``np.std`` (population, N), ours uses N-1:
      ``sdnn_ours = sdnn_hp * sqrt(N / (N - 1))``;
    - heartpy's ``pnn50`` is a fraction of the N-1 differences, ours a percentage:
      ``pnn50_ours = 100 * pnn50_hp``. Both count ``|d| > 50`` strictly.

    heartpy fills dicts passed in or, if omitted, its mutable defaults (results
    would leak between calls), so fresh dicts are passed every time.
    """
    rr = np.asarray(rr_list, dtype=np.float64)
    rr_diff = np.abs(np.diff(rr))
    _, hp_m = hp.analysis.calc_ts_measures(
        rr, rr_diff, np.power(rr_diff, 2), measures={}, working_data={}
    )
    n = rr.size
    nn_ok = np.ones(n, dtype=bool)
    pair_ok = nn_ok.copy()
    pair_ok[0] = False
    ours = time_domain(rr, nn_ok, pair_ok, np.array([0]), np.array([n]))

    np.testing.assert_allclose(ours["mean_nn_ms"][0], hp_m["ibi"], rtol=RTOL)
    np.testing.assert_allclose(ours["rmssd_ms"][0], hp_m["rmssd"], rtol=RTOL)
    np.testing.assert_allclose(
        ours["sdnn_ms"][0], hp_m["sdnn"] * math.sqrt(n / (n - 1)), rtol=RTOL, atol=1e-12
    )
    np.testing.assert_allclose(ours["pnn50_pct"][0], 100.0 * hp_m["pnn50"], rtol=RTOL)
