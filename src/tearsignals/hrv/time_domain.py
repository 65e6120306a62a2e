"""Time-domain HRV over many windows at once.

The engine works on one sorted beat array and a set of windows given as index
ranges ``[lo, hi)`` into it. Every per-window sum is a difference of two
prefix sums, so 10,000 windows cost a handful of numpy passes instead of
10,000 library calls (see ``bench/hrv_windows.py``).

Definitions (fixed here, because libraries disagree):

- NN intervals are the beats that passed cleaning (``nn_ok``).
- A successive difference ``rr[i] - rr[i-1]`` counts only when ``pair_ok[i]``:
  both intervals are NN and truly successive (no missed beat between them),
  and both lie in the window.
- ``mean_hr_bpm`` = mean of the instantaneous rate ``60000 / NN``.
- ``sdnn_ms`` uses N-1. ``rmssd_ms`` = sqrt(mean(d^2)).
- ``rmssd_over_nn_pct`` = 100 * rmssd_ms / mean NN (the window's NN intervals),
  the RR-normalised RMSSD (hrv-analysis' ``cvsd`` x 100, NeuroKit2's
  ``HRV_CVSD``). RMSSD falls when the heart speeds up even at an unchanged
  vagal modulation of each interval (Sacha 2014), so a heart-rate change alone
  moves it; the ratio takes the rate out to first order and reads beside it.
- ``pnn50_pct`` = 100 * (number of |d| > 50 ms) / (number of differences).
- ``sdsd_ms`` = SD of the differences (N-1); ``sd1_ms = sqrt(0.5) * sdsd_ms``,
  ``sd2_ms = sqrt(2 sdnn^2 - 0.5 sdsd^2)`` (the hrv-analysis convention).

Examples
--------
>>> import numpy as np
>>> rr = np.array([800.0, 810.0, 790.0, 805.0, 795.0])
>>> ok = np.ones(5, dtype=bool)
>>> pair = np.array([False, True, True, True, True])
>>> m = time_domain(rr, ok, pair, np.array([0]), np.array([5]))
>>> round(float(m["rmssd_ms"][0]), 3)
14.361
>>> round(float(m["sdnn_ms"][0]), 3)
7.906
>>> round(float(m["rmssd_over_nn_pct"][0]), 4)  # 100 x 14.361 / 800
1.7952
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from tearsignals.arrays import BoolArray, FloatArray, IntArray

METRICS = (
    "mean_hr_bpm",
    "rmssd_ms",
    "ln_rmssd",
    "rmssd_over_nn_pct",
    "sdnn_ms",
    "pnn50_pct",
    "sd1_ms",
    "sd2_ms",
)


def window_sums(values: FloatArray, lo: IntArray, hi: IntArray) -> FloatArray:
    """Sum of ``values[lo:hi]`` for every window, by prefix sums."""
    prefix = np.concatenate(([0.0], np.cumsum(values, dtype=np.float64)))
    return prefix[hi] - prefix[lo]


def _safe_div(num: FloatArray, den: FloatArray) -> FloatArray:
    out = np.full(num.shape, np.nan)
    np.divide(num, den, out=out, where=den > 0)
    return out


def _centered_var(s1: FloatArray, s2: FloatArray, n: FloatArray) -> FloatArray:
    """Sample variance (N-1) from window sums of x and x^2; NaN where n < 2.

    The sum of squares is taken about a whole number ``c`` next to the window
    mean instead of about the mean itself. For intervals on a binary grid
    (integer ms, 1/2^k ms) every product here is exact, so a window whose mean
    sits far from the global centre keeps full precision; ``s2 - s1^2/n``
    loses digits in proportion to (window mean - centre)^2 / variance.
    """
    c = np.round(np.where(n > 0, _safe_div(s1, n), 0.0))
    offset = s1 - n * c
    ss = (s2 - 2.0 * c * s1 + n * c * c) - _safe_div(offset * offset, n)
    var = _safe_div(np.maximum(ss, 0.0), n - 1.0)
    return np.where(n >= 2, var, np.nan)


def time_domain(
    rr_ms: FloatArray,
    nn_ok: BoolArray,
    pair_ok: BoolArray,
    lo: IntArray,
    hi: IntArray,
) -> dict[str, FloatArray]:
    """Time-domain metrics for every window ``[lo[k], hi[k])`` of one beat array.

    Returns arrays (one value per window) for every name in ``METRICS`` plus the
    counts ``n_beats``, ``n_nn``, ``n_pairs``, ``sum_rr_ms`` (all beats with a
    finite positive interval, for coverage), ``mean_nn_ms`` and ``sdsd_ms``.
    Metrics are NaN where the window has too few NN intervals or differences to
    define them. Non-finite or non-positive intervals count as neither NN nor
    part of a difference, so a missing value stays local to its windows.
    """
    rr = np.asarray(rr_ms, dtype=np.float64)
    lo = np.asarray(lo, dtype=np.int64)
    hi = np.maximum(np.asarray(hi, dtype=np.int64), lo)
    # A missing (NaN) or impossible interval must not leak into the prefix
    # sums: it would turn other windows' metrics into NaN. It is never NN and
    # never part of a difference, whatever the masks say.
    usable = np.isfinite(rr) & (rr > 0)
    nn_ok = np.asarray(nn_ok, dtype=bool) & usable
    pair_ok = np.asarray(pair_ok, dtype=bool).copy()
    pair_ok[1:] &= usable[1:] & usable[:-1]
    rr = np.where(usable, rr, 0.0)
    # Centre values before prefix sums so the subtraction keeps its precision.
    ref = float(np.median(rr[nn_ok])) if nn_ok.any() else 0.0
    x = np.where(nn_ok, rr - ref, 0.0)
    inst_hr = np.where(nn_ok, 60000.0 / np.where(nn_ok, rr, 1.0), 0.0)
    d = np.zeros_like(rr)
    d[1:] = np.diff(rr)
    # A difference belongs to a window only if its first beat is inside too.
    pair_in = pair_ok.astype(np.float64)
    d = np.where(pair_ok, d, 0.0)

    n_nn = window_sums(nn_ok.astype(np.float64), lo, hi)
    s_x = window_sums(x, lo, hi)
    s_xx = window_sums(x * x, lo, hi)
    s_hr = window_sums(inst_hr, lo, hi)
    lo_pair = np.minimum(lo + 1, hi)
    n_d = window_sums(pair_in, lo_pair, hi)
    s_d = window_sums(d, lo_pair, hi)
    s_dd = window_sums(d * d, lo_pair, hi)
    n_50 = window_sums((np.abs(d) > 50.0).astype(np.float64), lo_pair, hi)

    sdnn = np.sqrt(_centered_var(s_x, s_xx, n_nn))
    rmssd = np.sqrt(_safe_div(s_dd, n_d))
    mean_nn = _safe_div(s_x, n_nn) + ref
    sdsd = np.sqrt(_centered_var(s_d, s_dd, n_d))
    with np.errstate(divide="ignore", invalid="ignore"):
        ln_rmssd = np.where(rmssd > 0, np.log(rmssd), np.nan)
    sd1 = np.sqrt(0.5) * sdsd
    sd2 = np.sqrt(np.maximum(2.0 * sdnn**2 - 0.5 * sdsd**2, 0.0))
    sd2 = np.where(np.isnan(sdnn) | np.isnan(sdsd), np.nan, sd2)
    return {
        "n_beats": (hi - lo).astype(np.float64),
        "n_nn": n_nn,
        "n_pairs": n_d,
        "sum_rr_ms": window_sums(rr, lo, hi),
        "mean_nn_ms": mean_nn,
        "mean_hr_bpm": _safe_div(s_hr, n_nn),
        "rmssd_ms": rmssd,
        "ln_rmssd": ln_rmssd,
        "rmssd_over_nn_pct": 100.0 * _safe_div(rmssd, mean_nn),
        "sdnn_ms": sdnn,
        "pnn50_pct": 100.0 * _safe_div(n_50, n_d),
        "sdsd_ms": sdsd,
        "sd1_ms": sd1,
        "sd2_ms": sd2,
    }


def window_bounds(
    t: npt.NDArray[np.int64], start: npt.NDArray[np.int64], end: npt.NDArray[np.int64]
) -> tuple[IntArray, IntArray]:
    """Index ranges ``[lo, hi)`` of the beats with ``start <= t < end`` in sorted ``t``."""
    lo = np.searchsorted(t, start, side="left").astype(np.int64)
    hi = np.searchsorted(t, end, side="left").astype(np.int64)
    return lo, hi
