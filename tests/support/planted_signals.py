"""RR series with planted properties, measured through the default window path.

- **Pure tones**: RR modulated by an LF and an HF sinusoid of known power (a
  sinusoid of amplitude ``A`` has variance ``A^2 / 2``), the reference for the
  spectral grid at every window length.
- **Null drift**: stationary RR (AR(1) around a fixed mean) plus a slow
  sinusoidal drift, no episode effect: the SDNN "shift" from the 5-min
  baseline to the 40-min ``post_20_60`` window is zero when both are read over
  5-min segments, and grows when the long window is read whole.

Each function returns what ``tearsignals.episodes.window_metrics`` reports for
one analysis window, so the tests and ``bench/validation_report.py`` see the
numbers a user would.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl

from tearsignals.config import AnalysisConfig, WindowConfig
from tearsignals.contract import schema
from tearsignals.episodes.shifts import episode_shifts
from tearsignals.episodes.window_metrics import episode_window_metrics
from tearsignals.episodes.windows import episode_windows_spec

LF_TONE_MS2 = 72.0
HF_TONE_MS2 = 450.0
TONE_LENGTHS_MIN = (5.0, 20.0, 40.0, 90.0)
TOOLBOX_STEP_HZ = 1 / 1024
# Tone frequencies on the toolbox's 1/1024 Hz grid and halfway between two of its points.
TONES_HZ = {
    "on the 1/1024 Hz grid": (100 / 1024, 256 / 1024),
    "between grid points": (100.5 / 1024, 256.5 / 1024),
}
START = datetime(2024, 3, 4, 22, 0, tzinfo=UTC)
LEAD_S = 30.0  # beats begin this long before the window


TONE_MEAN_RR_MS = 800.0  # 75 bpm


def tone_rr(
    minutes: float, lf_hz: float, hf_hz: float, mean_rr_ms: float = TONE_MEAN_RR_MS
) -> tuple[np.ndarray, np.ndarray]:
    """Beat times (ms from the first beat's start) and RR (ms) with two planted tones.

    Each interval is ``mean + a_lf sin(2 pi lf t) + a_hf sin(2 pi hf t)`` at
    its start time ``t``, with ``a = sqrt(2 * power)``; the beats cover the
    window of ``minutes`` plus ``LEAD_S`` before and after it.
    """
    a_lf, a_hf = np.sqrt(2 * LF_TONE_MS2), np.sqrt(2 * HF_TONE_MS2)
    n = int((minutes * 60 + 2 * LEAD_S) * 1000 / mean_rr_ms) + 2
    rr = np.empty(n)
    now_s = 0.0
    for i in range(n):
        phase = 2 * np.pi * now_s
        rr[i] = mean_rr_ms + a_lf * np.sin(lf_hz * phase) + a_hf * np.sin(hf_hz * phase)
        now_s += rr[i] / 1000.0
    return np.cumsum(rr), rr


def one_window_metrics(
    t_ms: np.ndarray, rr: np.ndarray, minutes: float, cfg: AnalysisConfig
) -> dict[str, object]:
    """The ``episode_windows`` row of one window ``[LEAD_S, LEAD_S + minutes)`` over these beats."""
    t_utc = [START + timedelta(milliseconds=float(t)) for t in t_ms]
    beats = pl.DataFrame(
        {
            "subject_id": "tone",
            "t_utc": pl.Series(t_utc, dtype=pl.Datetime("us", "UTC")),
            "rr_ms": rr,
        }
    )
    start = START + timedelta(seconds=LEAD_S)
    spec = pl.DataFrame(
        {
            "subject_id": ["tone"],
            "episode_id": ["e"],
            "role": ["episode"],
            "control_day_offset": pl.Series([0], dtype=pl.Int32),
            "window": ["during"],
            "window_start_utc": pl.Series([start], dtype=pl.Datetime("us", "UTC")),
            "window_end_utc": pl.Series(
                [start + timedelta(minutes=minutes)], dtype=pl.Datetime("us", "UTC")
            ),
        }
    )
    rows = episode_window_metrics(beats, schema.empty("heart_rate"), spec, cfg, "tones")
    return rows.row(0, named=True)


def tone_powers(
    minutes: float,
    lf_hz: float,
    hf_hz: float,
    cfg: AnalysisConfig,
    mean_rr_ms: float = TONE_MEAN_RR_MS,
) -> tuple[float, float]:
    """``lf_ms2`` and ``hf_ms2`` of a window of ``minutes`` holding the two planted tones."""
    t_ms, rr = tone_rr(minutes, lf_hz, hf_hz, mean_rr_ms)
    row = one_window_metrics(t_ms, rr, minutes, cfg)
    return float(row["lf_ms2"]), float(row["hf_ms2"])


# Null drift: AR(1) RR noise (marginal SD, lag-1 correlation) plus a sinusoid of a period
# far below the VLF band, around one 10-minute episode, read by the default windows.
DRIFT_MEAN_RR_MS = 800.0
DRIFT_NOISE_SD_MS = 25.0
DRIFT_NOISE_PHI = 0.7
DRIFT_AMPLITUDE_MS = 40.0
DRIFT_PERIOD_MIN = 60.0
DRIFT_EPISODE_MIN = 10.0
DRIFT_SEEDS = tuple(range(12))


def drift_rr(minutes: float, seed: int) -> np.ndarray:
    """RR (ms) of ``minutes`` of beats: AR(1) noise plus a slow drift of random phase."""
    rng = np.random.default_rng(seed)
    n = int(minutes * 60_000 / DRIFT_MEAN_RR_MS)
    innovation = DRIFT_NOISE_SD_MS * np.sqrt(1 - DRIFT_NOISE_PHI**2)
    noise = np.empty(n)
    noise[0] = rng.normal(0.0, DRIFT_NOISE_SD_MS)
    for i in range(1, n):
        noise[i] = DRIFT_NOISE_PHI * noise[i - 1] + rng.normal(0.0, innovation)
    t_min = np.arange(n) * DRIFT_MEAN_RR_MS / 60_000
    phase = rng.uniform(0.0, 2 * np.pi)
    drift = DRIFT_AMPLITUDE_MS * np.sin(2 * np.pi * t_min / DRIFT_PERIOD_MIN + phase)
    out: np.ndarray = DRIFT_MEAN_RR_MS + noise + drift
    return out


def drift_shifts(seed: int, segment_min: float) -> pl.DataFrame:
    """``episode_shifts`` (episode rows) of one null-drift recording, windows read over
    ``segment_min`` segments (0: whole)."""
    onset = START + timedelta(minutes=20)
    end = onset + timedelta(minutes=DRIFT_EPISODE_MIN)
    rr = drift_rr(20 + DRIFT_EPISODE_MIN + 100, seed)
    t_utc = [START + timedelta(milliseconds=float(t)) for t in np.cumsum(rr)]
    beats = pl.DataFrame(
        {
            "subject_id": "drift",
            "t_utc": pl.Series(t_utc, dtype=pl.Datetime("us", "UTC")),
            "rr_ms": rr,
        }
    )
    episodes = pl.DataFrame(
        {
            "subject_id": ["drift"],
            "episode_id": [f"e{seed}"],
            "start_utc": pl.Series([onset], dtype=pl.Datetime("us", "UTC")),
            "end_utc": pl.Series([end], dtype=pl.Datetime("us", "UTC")),
        }
    )
    windows = WindowConfig(n_controls=0, segment_min=segment_min)
    cfg = AnalysisConfig(windows=windows)
    spec = episode_windows_spec(episodes, windows)
    rows = episode_window_metrics(beats, schema.empty("heart_rate"), spec, cfg, "drift")
    return episode_shifts(rows, windows.names(), "drift")


def mean_drift_shift(metric: str, window: str, segment_min: float) -> float:
    """Mean over ``DRIFT_SEEDS`` of ``metric``'s shift in ``window`` (null drift, no effect)."""
    shifts = [
        drift_shifts(seed, segment_min)
        .filter((pl.col("metric") == metric) & (pl.col("window") == window))["shift"]
        .item()
        for seed in DRIFT_SEEDS
    ]
    return float(np.mean(shifts))
