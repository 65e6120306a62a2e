"""RR series with planted properties, measured through the default window path.

- **Pure tones**: RR modulated by an LF and an HF sinusoid of known power (a
  sinusoid of amplitude ``A`` has variance ``A^2 / 2``), the reference for the
  spectral grid at every window length.

Each function returns what ``tearsignals.episodes.window_metrics`` reports for
one analysis window, so the tests and ``bench/validation_report.py`` see the
numbers a user would.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl

from tearsignals.config import AnalysisConfig
from tearsignals.contract import schema
from tearsignals.episodes.window_metrics import episode_window_metrics

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
