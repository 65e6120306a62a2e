"""How reference HRV tools read and window a real recording, and our values on the same windows.

Each recipe reproduces one tool's conventions (checked against its source or its
own tests); the golden tests in ``tests/golden/test_reference_*.py`` and
``test_rr_formats_real.py`` assert on the results and ``bench/validation_report.py``
tabulates them.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from numpy.lib.stride_tricks import sliding_window_view

from tearsignals.config import FrequencyConfig
from tearsignals.hrv.frequency_domain import frequency_domain
from tearsignals.hrv.time_domain import time_domain, window_bounds
from tearsignals.ingest.adapters import hrv_logger

Arrays = dict[str, np.ndarray]


def _every_nn_and_pair(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Masks for a series of NN intervals only: every interval usable, every pair but the first."""
    nn_ok = np.ones(n, dtype=bool)
    pair_ok = nn_ok.copy()
    pair_ok[:1] = False
    return nn_ok, pair_ok


# --- Aura-healthcare hrv-analysis -----------------------------------------------------------

AURA = Path("reference_hrv_aura_hrvanalysis")


def aura_whole_recording(folder: Path) -> tuple[dict[str, Any], dict[str, Any], dict[str, float]]:
    """hrv-analysis' time-domain and Poincaré references and our values for its
    1,000 NN intervals as one window (every interval NN, every difference
    successive, beat times ``cumsum(rr)``)."""
    rr = np.loadtxt(folder / "test_nn_intervals.txt", dtype=np.float64)
    ref = json.loads((folder / "reference_values_hrvanalysis.json").read_text())
    t = np.cumsum(rr)
    lo, hi = window_bounds(t, np.array([t[0]]), np.array([t[-1] + 1.0]))
    ours = {
        name: float(v[0])
        for name, v in time_domain(rr, *_every_nn_and_pair(rr.size), lo, hi).items()
    }
    return ref["time_domain"], ref["poincare"], ours


# --- PhysioNet Cardiovascular Signal Toolbox, nsr001 ----------------------------------------

TOOLBOX_FS_HZ = 125.0  # the demo's setting; nsr2db is really 128 Hz (every RR x 1.024)
FIRST_2H_S = 7200.0
GAP_LIMIT_S = 4.0  # HRVparams.preprocess.gaplimit
PER_LIMIT = 0.2  # HRVparams.preprocess.per_limit
PHYSIO_LIMITS_S = (60 / 160, 60 / 30)  # lowerphysiolim, upperphysiolim
NSR_METRICS = {  # ours -> (toolbox column, factor to our units)
    "mean_nn_ms": ("NNmean", 1.0),
    "sdnn_ms": ("SDNN", 1.0),
    "rmssd_ms": ("RMSSD", 1.0),
    "pnn50_pct": ("pnn50", 100.0),  # the toolbox reports a fraction
}
# The toolbox: default bands, its fixed 1/1024 Hz grid and its scaling.
TOOLBOX_CFG = FrequencyConfig(lomb_scaling="toolbox", lomb_df_hz=1 / 1024)
TOOLBOX_METRICS = {  # ours -> toolbox column
    "vlf_ms2": "vlf",
    "lf_ms2": "lf",
    "hf_ms2": "hf",
    "tp_ms2": "ttlpwr",
}
NSR001 = Path("physionet_toolbox_nsr2db_mitdb")


def toolbox_spikes(rr_s: np.ndarray) -> np.ndarray:
    """The toolbox's ``FindSpikesInRR``: an interval is removed when it differs
    by >= 20 % from the median of the 5 intervals before it AND from the median
    of the 5 after it. The first and last five are only judged on one side,
    which never flags them."""
    n = rr_s.size
    medians = np.median(sliding_window_view(rr_s, 5), axis=1)  # medians[j] = rr[j:j+5]
    before = np.full(n, np.nan)
    after = np.full(n, np.nan)
    before[5:] = medians[: n - 5]
    after[: n - 5] = medians[1:]
    return (np.abs(rr_s - before) >= PER_LIMIT * before) & (
        np.abs(rr_s - after) >= PER_LIMIT * after
    )


def toolbox_nn(samples: np.ndarray, close_beats: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """NN intervals (ms) and their end times (s) as the toolbox's NSR demo builds them.

    Every annotation is a beat: ``rr = diff(samples) / 125``, ``t = cumsum(rr)``.
    First step of ``RRIntervalPreprocess`` (``close_beats``): where two beats are
    closer than ``1/Fs`` (``diff(t) < 1/Fs`` in floating point) the toolbox
    deletes the short interval ``rr(i+1)`` but the *earlier* time ``t(i)``, so
    the interval before it is stamped with the later beat's time. Then keep
    ``t < 7200 s`` and rr below the gap limit, drop ``FindSpikesInRR`` spikes,
    then rr outside the physiological limits (method ``rem``).
    """
    rr_s = np.diff(samples) / TOOLBOX_FS_HZ
    t_s = np.cumsum(rr_s)
    if close_beats:
        close = np.flatnonzero(np.diff(t_s) < 1 / TOOLBOX_FS_HZ)
        rr_s, t_s = np.delete(rr_s, close + 1), np.delete(t_s, close)
    keep = (t_s < FIRST_2H_S) & (rr_s < GAP_LIMIT_S)
    rr_s, t_s = rr_s[keep], t_s[keep]
    keep = ~toolbox_spikes(rr_s)
    rr_s, t_s = rr_s[keep], t_s[keep]
    low, high = PHYSIO_LIMITS_S
    keep = (rr_s >= low) & (rr_s <= high)
    return rr_s[keep] * 1000.0, t_s[keep]


def nsr001(realdata: Path) -> tuple[np.ndarray, Arrays]:
    """nsr001's beat annotation samples (first 2 h) and the toolbox's table of 231 windows."""
    folder = realdata / NSR001
    samples = np.loadtxt(
        folder / "nsr2db" / "nsr001_beats_first2h_DERIVED.csv",
        delimiter=",",
        skiprows=1,
        usecols=0,
        dtype=np.int64,
    )
    with (folder / "reference_output" / "NSR_HRV_allwindows_nsr001.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    ref = {k: np.array([float(r[k]) for r in rows]) for k in rows[0] if k != "patID"}
    return samples, ref


def _toolbox_bounds(
    samples: np.ndarray, ref: Arrays, close_beats: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """NN (ms), times (s) and index bounds of the table's windows ``[t_start, t_end)``."""
    nn_ms, t_s = toolbox_nn(samples, close_beats)
    lo, hi = window_bounds(t_s, ref["t_start"], ref["t_end"])
    return nn_ms, t_s, lo, hi


def toolbox_time_windows(samples: np.ndarray, ref: Arrays) -> Arrays:
    """Our time-domain metrics of the toolbox-cleaned NN intervals in the table's windows.

    Differences are taken between consecutive *kept* NN values, also across
    removed beats, so the kept series is passed compacted, every NN and pair usable.
    """
    nn_ms, _, lo, hi = _toolbox_bounds(samples, ref, close_beats=True)
    return time_domain(nn_ms, *_every_nn_and_pair(nn_ms.size), lo, hi)


def toolbox_frequency_windows(
    samples: np.ndarray, ref: Arrays, close_beats: bool = True, cfg: FrequencyConfig = TOOLBOX_CFG
) -> Arrays:
    """Our Lomb powers (``cfg``: the toolbox's settings) of the toolbox-cleaned NN
    intervals in the table's windows.

    Raises AssertionError unless every window holds the table's ``btsdet`` beats.
    """
    nn_ms, t_s, lo, hi = _toolbox_bounds(samples, ref, close_beats)
    np.testing.assert_array_equal(hi - lo, ref["btsdet"], err_msg="beats per window")
    ok = np.ones(nn_ms.size, dtype=bool)
    return frequency_domain(t_s * 1000.0, nn_ms, ok, lo, hi, cfg)


# --- hrv package (rhenanbartels/hrv), Welch -------------------------------------------------

HRV_PACKAGE_EXPECTED = {  # reference_values_hrv_package.json, "expected"
    "tp_ms2": 3602.89,
    "vlf_ms2": 844.5,
    "lf_ms2": 1343.50,
    "hf_ms2": 1414.88,
}
HRV_PACKAGE_CFG = FrequencyConfig(method="welch", vlf_hz=(0.0, 0.04))


def hrv_package_rri(realdata: Path) -> np.ndarray:
    """RR as ``hrv.io.read_from_text`` reads it: numbers matching ``[1-9]\\d+``.

    The file ends with a ``0`` line, which that pattern skips (771 of 772 lines).
    """
    text = (realdata / "polar_hrm_rhenanbartels_hrv" / "real_rri.txt").read_text()
    return np.array([float(v) for v in re.findall(r"[1-9]\d+", text)])


def whole_record(t_ms: np.ndarray, rr: np.ndarray, cfg: FrequencyConfig) -> dict[str, float]:
    """Our frequency-domain metrics of a whole record as one window."""
    ok = np.ones(rr.size, dtype=bool)
    out = frequency_domain(t_ms, rr, ok, np.array([0]), np.array([rr.size]), cfg)
    return {name: float(v[0]) for name, v in out.items()}


# --- HRV Logger app: its own per-window Features ---------------------------------------------

HRV_LOGGER = Path("hrvlogger_koplenig")


def phone_times_ms(path: Path) -> np.ndarray:
    """The phone timestamps (epoch ms) of an HRV Logger ``*_RRIntervals.csv``, one per beat."""
    raw = pl.read_csv(path, infer_schema=False).rename(lambda c: c.strip()).drop_nulls()
    return raw["timestamp"].cast(pl.Int64).to_numpy()


def app_windows(phone_ms: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index ranges of the beats after the previous window end, up to this one."""
    hi = np.searchsorted(phone_ms, ends, side="right").astype(np.int64)
    return np.concatenate(([0], hi[:-1])).astype(np.int64), hi


def hrv_logger_windows(folder: Path) -> tuple[pl.DataFrame, Arrays, Arrays]:
    """The app's Features rows, our metrics of the same windows, and ours in the app's conventions.

    Windows are the app's: the beats whose phone timestamp lies after the
    previous Features row and up to this one. Conventions converted: SDNN with
    N (ours N-1), RMSSD dividing the sum of squared differences by
    (differences - 1), HR = 60000 / AVNN; pNN50 needs no conversion.
    """
    path = folder / "ot_m60_RRIntervals.csv"
    beats = hrv_logger.parse(path).frames["beats"]
    rr = beats["rr_ms"].to_numpy()
    phone_ms = phone_times_ms(path)[beats["row_number"] - 1]
    app = pl.read_csv(folder / "ot_m60_Features.csv").rename(lambda c: c.strip()).drop_nulls()
    lo, hi = app_windows(phone_ms, app["timestamp"].to_numpy())
    ours = time_domain(rr, *_every_nn_and_pair(rr.size), lo, hi)
    n, n_d = ours["n_nn"], ours["n_pairs"]
    converted = {
        "AVNN": ours["mean_nn_ms"],
        "SDNN": ours["sdnn_ms"] * np.sqrt((n - 1) / n),
        "rMSSD": ours["rmssd_ms"] * np.sqrt(n_d / (n_d - 1)),
        "HR": 60000.0 / ours["mean_nn_ms"],
        "pNN50": ours["pnn50_pct"],
    }
    return app, ours, converted
