"""One synthetic heart recorded by two devices at once: a chest strap and a watch.

The strap gives RR on the true clock; the watch gives minute HR (each stamp the
start of the minute it averages) on a clock that reads ``offset_s`` early, so
adding ``offset_s`` to its stamps puts it back. Frames have the canonical
``beats`` / ``heart_rate`` columns the clock-offset estimate reads.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl

T0 = datetime(2026, 3, 2, 8, tzinfo=UTC)


def heart_curve_bpm(seed: int, hours: float) -> np.ndarray:
    """HR per second: a resting level with a mean-reverting wander (sd 6 bpm, ~2 min memory)."""
    rng = np.random.default_rng(seed)
    n, keep = int(hours * 3600), np.exp(-1 / 120)
    wander = np.empty(n)
    wander[0] = 0.0
    steps = rng.normal(0.0, 6.0 * np.sqrt(1 - keep**2), n)
    for i in range(1, n):
        wander[i] = keep * wander[i - 1] + steps[i]
    return 68.0 + wander


def strap_beats(curve: np.ndarray, seed: int, start: datetime = T0) -> pl.DataFrame:
    """Chest-strap RR of ``curve`` (true clock), 5 ms of beat-to-beat noise."""
    rng = np.random.default_rng(seed)
    times, t = [], 0.0
    while t < curve.size - 2:
        times.append(t)
        t += 60.0 / curve[int(t)]
    t_s = np.asarray(times)
    rr_ms = np.diff(t_s, prepend=t_s[0] - 60.0 / curve[0]) * 1000 + rng.normal(0, 5, t_s.size)
    return _frame(start, t_s, "polar_h10", "Polar H10", rr_ms=rr_ms, origin="rr")


def watch_minutes(
    curve: np.ndarray, offset_s: float, seed: int, start: datetime = T0
) -> pl.DataFrame:
    """Watch minute HR of ``curve``: each stamp the start of the minute it averages, on a
    clock that reads ``offset_s`` early (so ``offset_s`` puts it back), 1.5 bpm of noise."""
    rng = np.random.default_rng(seed)
    means = curve[: curve.size // 60 * 60].reshape(-1, 60).mean(axis=1)
    t_s = np.arange(means.size) * 60.0 - offset_s
    hr = means + rng.normal(0, 1.5, means.size)
    return _frame(start, t_s, "fitbit_csv", "Fitbit Sense", hr_bpm=hr)


def _frame(
    start: datetime, t_s: np.ndarray, source: str, device: str, **values: object
) -> pl.DataFrame:
    n = t_s.size
    t_utc = pl.Series([start + timedelta(seconds=float(s)) for s in t_s])
    return pl.DataFrame(
        {
            "subject_id": ["S1"] * n,
            "source": [source] * n,
            "device": [device] * n,
            "file_id": [source] * n,
            "t_utc": t_utc.cast(pl.Datetime("us", "UTC")),
            **{k: v if isinstance(v, np.ndarray) else [v] * n for k, v in values.items()},
        }
    )
