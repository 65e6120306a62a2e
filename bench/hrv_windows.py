"""Time-domain HRV over many windows: the batched engine vs per-window loops.

Synthetic 24-h recording (fixed seed), 10,000 windows of 240 s (~300 beats)
at random onsets, overlapping as event-locked windows do. Three ways to get
mean HR, RMSSD, SDNN, pNN50, SD1 and SD2 for every window:

1. ``window_bounds`` + ``time_domain`` once for all windows (the engine);
2. a per-window numpy loop with the same definitions;
3. ``heartpy.process_rr`` per window, timed on a subsample and extrapolated.
   It always estimates the breathing rate (most of its runtime, DESIGN.md);
   ``calc_freq`` stays off (it needs ``np.trapz``, gone in numpy 2.4).

heartpy's SDNN is a population SD; it is converted to N-1 before comparing.
The series is artifact-free, so heartpy (which differences consecutive list
items) and the engine (which uses only successive NN pairs) agree.

Run: ``.venv/bin/python bench/hrv_windows.py``
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import heartpy as hp
import numpy as np

from tearsignals.beats.cleaning import clean_rr
from tearsignals.config import CleaningConfig
from tearsignals.hrv.time_domain import time_domain, window_bounds

RECORDING_S = 24 * 3600
WINDOW_S = 240


def synthetic_rr_ms(seed: int) -> np.ndarray:
    """A day of RR: slow circadian drift, AR(1) variability, respiratory sinus arrhythmia."""
    rng = np.random.default_rng(seed)
    n = int(RECORDING_S / 0.8)
    noise = rng.normal(0.0, 12.0, n)
    ar = np.empty(n)
    ar[0] = 0.0
    for i in range(1, n):  # one-off set-up cost, not timed
        ar[i] = 0.9 * ar[i - 1] + noise[i]
    beat = np.arange(n)
    circadian = 120.0 * np.sin(2 * np.pi * beat / n)
    rsa = 25.0 * np.sin(2 * np.pi * beat / 4.5)
    return 800.0 + circadian + rsa + ar


def best_of(repeats: int, fn: Callable[[], object]) -> tuple[float, object]:
    best, result = np.inf, None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def engine(t_ms, rr, nn_ok, pair_ok, start_ms, end_ms) -> dict[str, np.ndarray]:
    lo, hi = window_bounds(t_ms, start_ms, end_ms)
    return time_domain(rr, nn_ok, pair_ok, lo, hi)


def numpy_loop(t_ms, rr, nn_ok, pair_ok, start_ms, end_ms) -> dict[str, np.ndarray]:
    """Same definitions as ``tearsignals.hrv.time_domain``, one window at a time."""
    lo, hi = window_bounds(t_ms, start_ms, end_ms)
    rmssd = np.full(lo.size, np.nan)
    sdnn = np.full(lo.size, np.nan)
    for k in range(lo.size):
        a, b = lo[k], hi[k]
        nn = rr[a:b][nn_ok[a:b]]
        d = np.diff(rr[a:b])[pair_ok[a + 1 : b]]
        mean_hr = np.mean(60000.0 / nn)
        sdnn[k] = np.std(nn, ddof=1)
        rmssd[k] = np.sqrt(np.mean(d * d))
        pnn50 = 100.0 * np.mean(np.abs(d) > 50.0)
        sdsd = np.std(d, ddof=1)
        sd1 = np.sqrt(0.5) * sdsd
        sd2 = np.sqrt(max(2 * sdnn[k] ** 2 - 0.5 * sdsd**2, 0.0))
        del mean_hr, pnn50, sd1, sd2  # computed for a fair timing, not compared
    return {"rmssd_ms": rmssd, "sdnn_ms": sdnn}


def heartpy_loop(t_ms, rr, nn_ok, start_ms, end_ms) -> dict[str, np.ndarray]:
    lo, hi = window_bounds(t_ms, start_ms, end_ms)
    rmssd = np.full(lo.size, np.nan)
    sdnn = np.full(lo.size, np.nan)
    for k in range(lo.size):
        nn = rr[lo[k] : hi[k]][nn_ok[lo[k] : hi[k]]]
        # fresh dicts: heartpy's defaults are shared between calls
        _, m = hp.process_rr(nn, calc_freq=False, measures={}, working_data={})
        rmssd[k] = m["rmssd"]
        sdnn[k] = m["sdnn"] * np.sqrt(nn.size / (nn.size - 1))  # population -> N-1
    return {"rmssd_ms": rmssd, "sdnn_ms": sdnn}


def max_diff(a: dict[str, np.ndarray], b: dict[str, np.ndarray], rows: slice, name: str) -> float:
    return float(np.max(np.abs(a[name][rows] - b[name][rows])))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=10_000)
    parser.add_argument("--heartpy-windows", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    rr = synthetic_rr_ms(args.seed)
    t_ms = np.cumsum(rr)
    beats = clean_rr(t_ms, rr, CleaningConfig())
    rng = np.random.default_rng(args.seed + 1)
    start_ms = np.sort(rng.uniform(0, (RECORDING_S - WINDOW_S) * 1000.0, args.windows))
    end_ms = start_ms + WINDOW_S * 1000.0
    lo, hi = window_bounds(t_ms, start_ms, end_ms)
    n_hp = min(args.heartpy_windows, args.windows)
    print(
        f"{rr.size:,} beats, {args.windows:,} windows of {WINDOW_S} s, "
        f"{np.mean(hi - lo):.0f} beats per window on average, "
        f"{np.count_nonzero(~beats.nn_ok)} intervals flagged by clean_rr"
    )

    inputs = (t_ms, rr, beats.nn_ok, beats.pair_ok, start_ms, end_ms)
    t_engine, ours = best_of(3, lambda: engine(*inputs))
    t_loop, loop = best_of(3, lambda: numpy_loop(*inputs))
    sub = slice(0, n_hp)
    start = time.perf_counter()
    hpy = heartpy_loop(t_ms, rr, beats.nn_ok, start_ms[sub], end_ms[sub])
    t_hp = (time.perf_counter() - start) * args.windows / n_hp

    rows = [
        ("engine (window_bounds + time_domain)", args.windows, t_engine, ours, slice(None)),
        ("numpy loop, one window at a time", args.windows, t_loop, loop, slice(None)),
        ("heartpy.process_rr per window (extrap.)", n_hp, t_hp, hpy, sub),
    ]
    header = (
        f"{'method':42s} {'timed':>6s} {'seconds':>10s} {'x engine':>10s} "
        f"{'max|dRMSSD| ms':>15s} {'max|dSDNN| ms':>14s}"
    )
    print(f"seconds for {args.windows:,} windows; best of 3 except heartpy")
    print(header)
    print("-" * len(header))
    for name, timed, seconds, result, part in rows:
        print(
            f"{name:42s} {timed:6d} {seconds:10.3f} {seconds / t_engine:10.1f} "
            f"{max_diff(result, ours, part, 'rmssd_ms'):15.2e} "
            f"{max_diff(result, ours, part, 'sdnn_ms'):14.2e}"
        )


if __name__ == "__main__":
    main()
