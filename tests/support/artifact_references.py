"""Reference ectopic beats on real recordings, and our labels for them.

- MIT-BIH record 105 (``105.atr``, read with ``wfdb``): the cardiologists' ``V`` labels.
- The Polar H10 strap's own RR with PVC bigeminy: the bimodal pattern itself (a
  premature interval < 600 ms and the compensatory one after it).
- NeuroKit2's Kubios method (``signal_fixpeaks(method="Kubios")``), an independent
  implementation: its outputs on these recordings, recorded below (NeuroKit2
  0.2.13, ``_find_artifacts`` = one pass; the ``slow`` golden test recomputes them).
- nsr001: normal sinus rhythm, for false alarms, and its all-``N`` windows: the
  annotated NN value a cleaning must leave alone (:func:`annotation_nn_bias`).

Index conventions: a recording's beats ``b[0..N)`` give intervals
``rr[i] = b[i+1] - b[i]`` that end at beat ``i + 1``; NeuroKit2 indexes
intervals by their ending peak, so its index ``k`` is our ``k - 1``.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import NamedTuple

import numpy as np
import polars as pl

from tearsignals.beats.correction import ECTOPIC, LABELS, NORMAL
from tearsignals.config import AnalysisConfig, CleaningConfig
from tearsignals.contract import schema
from tearsignals.episodes.window_metrics import episode_window_metrics
from tearsignals.hrv.time_domain import time_domain, window_bounds

PAPER = CleaningConfig(lipponen_floor_ms=0.0)  # the algorithm as published, no floor
NK_CLASSES = {"ectopic": "ectopic", "missed": "missed", "extra": "extra", "longshort": "long_short"}
PREMATURE_RR_MS = 600.0  # the Polar H10 record is bimodal: 446 / 985 ms
# NeuroKit2's Kubios method on nsr001's 11,941 intervals (its own count) flags 800 of them
# (714 ectopic, 86 long/short): the false-alarm rate the threshold floor removes.
NK_NSR001_FLAGGED, NK_NSR001_INTERVALS = 800, 11_941

# NeuroKit2 0.2.13 _find_artifacts(peaks, sampling_rate) - indices of its interval series.
NK_MITDB105 = {
    "ectopic": [22, 31, 49, 81, 82, 96, 142, 177, 222, 259, 281, 288, 395, 418, 458, 488, 568,
                606, 633, 641, 672, 766, 892, 918, 933, 981, 1038, 1142, 1201, 1432, 1654, 1683,
                1688, 1696, 1702, 1740, 1777, 1807, 1866, 1867, 1909, 1918, 2070, 2245, 2290,
                2407, 2443, 2450],
    "missed": [1680, 1844, 1869, 2351],
    "extra": [],
    "longshort": [21, 30, 48, 95, 141, 176, 221, 258, 280, 287, 394, 417, 457, 487, 567, 605,
                  632, 640, 671, 765, 891, 917, 932, 980, 1037, 1141, 1200, 1364, 1421, 1431,
                  1653, 1681, 1682, 1687, 1739, 1776, 1806, 1845, 1908, 1917, 1989, 2069, 2244,
                  2289, 2406, 2442, 2449],
}  # fmt: skip
NK_POLAR_H10 = {
    "ectopic": [4, 16, 46, 49, 52, 84, 105, 108, 206, 311, 319, 320, 535, 536, 564, 567, 735,
                738, 741],
    "missed": [3],
    "extra": [],
    "longshort": [],
}  # fmt: skip


BEAT_SYMBOLS = list("NLRBAaJSVrFejnE/fQ?")  # WFDB beat annotations (others mark events)
PHYSIONET = Path("physionet_toolbox_nsr2db_mitdb")


def wfdb_annotations(record: Path, extension: str) -> tuple[np.ndarray, np.ndarray]:
    """Every annotation (sample, symbol) of a WFDB record, beats and events alike.

    Raises ImportError, saying how to install it, when ``wfdb`` (a dev dependency) is missing.
    """
    with warnings.catch_warnings():
        # wfdb 4.3 calls DataFrame.set_index(inplace=True), deprecated in pandas 3.1
        warnings.filterwarnings("ignore", message="The inplace keyword")
        try:
            import wfdb
        except ImportError as err:  # a dev dependency: fail loudly, never skip
            message = f"wfdb is needed to read {record.name} (pip install 'wfdb>=4.1'): {err}"
            raise ImportError(message) from err
        ann = wfdb.rdann(str(record), extension)
    return np.asarray(ann.sample), np.asarray(ann.symbol)


def mitdb105_beats(realdata: Path) -> tuple[np.ndarray, np.ndarray]:
    """Beat annotation samples (360 Hz) and symbols of MIT-BIH record 105 (non-beats dropped)."""
    samples, symbols = wfdb_annotations(realdata / PHYSIONET / "mitdb105" / "105", "atr")
    beat = np.isin(symbols, BEAT_SYMBOLS)
    return samples[beat], symbols[beat]


def mitdb_intervals(realdata: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Interval end times (ms), intervals (ms) and beat symbols of MIT-BIH 105."""
    samples, symbols = mitdb105_beats(realdata)
    t_ms = samples[1:] / 360.0 * 1000.0
    return t_ms, np.diff(samples) / 360.0 * 1000.0, symbols


def v_beat_agreement(labels: np.ndarray, symbols: np.ndarray) -> tuple[float, float]:
    """Sensitivity and PPV of ``ectopic`` labels for the annotated ``V`` beats.

    A V beat is found when the interval ending at it (index ``v - 1``) or the
    next one is labelled ectopic; an ectopic label is right when it sits on
    such an interval.
    """
    v_beats = np.flatnonzero(symbols == "V")
    ectopic = np.flatnonzero(labels == ECTOPIC)
    found = [bool(np.isin([v - 1, v], ectopic).any()) for v in v_beats]
    matched = [bool(np.isin([j, j + 1], v_beats).any()) for j in ectopic]
    return float(np.mean(found)), float(np.mean(matched))


def near_v_beats(symbols: np.ndarray, n_intervals: int) -> np.ndarray:
    """Intervals ending at a V beat (premature) or just after it (compensatory pause)."""
    v_beats = np.flatnonzero(symbols == "V")
    near = np.zeros(n_intervals, dtype=bool)
    near[np.r_[v_beats - 1, v_beats]] = True
    return near


def polar_h10_rr(realdata: Path) -> np.ndarray:
    """The Polar H10's own RR values (ms); beat times are their cumulative sum."""
    frame = pl.read_csv(realdata / "polar_h10_ecg_detectPVC" / "polar_h10.csv")
    return frame["rr_ms"].drop_nulls().to_numpy().astype(np.float64)


def premature_pattern(rr_ms: np.ndarray) -> np.ndarray:
    """Premature intervals (< 600 ms) and the compensatory interval after each."""
    premature = rr_ms < PREMATURE_RR_MS
    return premature | np.r_[False, premature[:-1]]


def nk_as_labels(found: dict[str, list[int]], n: int) -> np.ndarray:
    """NeuroKit2's artifact indices as our label array over ``n`` intervals."""
    labels = np.full(n, NORMAL, dtype=np.int8)
    for nk_name, ours in NK_CLASSES.items():
        labels[np.asarray(found[nk_name], dtype=np.int64) - 1] = LABELS.index(ours)
    return labels


def nsr001_sinus_intervals(realdata: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """nsr001's interval end times and intervals (ms, 128 Hz: 7.8-ms steps) and which are N-N."""
    path = realdata / "physionet_toolbox_nsr2db_mitdb" / "nsr2db"
    frame = pl.read_csv(path / "nsr001_beats_first2h_DERIVED.csv")
    samples = frame["sample_128Hz"].to_numpy()
    rr = np.diff(samples) / 128.0 * 1000.0
    t_ms = samples[1:] / 128.0 * 1000.0
    symbol = frame["symbol"].to_numpy()
    return t_ms, rr, (symbol[1:] == "N") & (symbol[:-1] == "N")


# --- nsr001's all-N windows: the annotated NN value ----------------------------------------

NSR_FS_HZ = 128.0
NSR_WINDOW_S = 300.0
FIRST_2H_S = 7200.0
T0_US = 1_700_000_000_000_000  # an arbitrary UTC origin for the beats frame


class Annotations(NamedTuple):
    """A record's annotations: positions in samples at ``fs_hz``, and their symbols."""

    samples: np.ndarray
    symbols: np.ndarray
    fs_hz: float


def nsr001_annotations(realdata: Path) -> Annotations:
    """Every annotation of nsr001 (``nsr001.ecg``, 128 Hz, ~22.5 h): beats and ``~`` marks."""
    samples, symbols = wfdb_annotations(realdata / PHYSIONET / "nsr2db" / "nsr001", "ecg")
    return Annotations(samples, symbols, NSR_FS_HZ)


def holter_annotations(realdata: Path) -> Annotations:
    """The flirt Holter's annotations (``holter.txt``: seconds, N / S / X), as samples at 1 Hz."""
    path = realdata / "flirt" / "holter" / "holter.txt"
    rows = [line.split() for line in path.read_text().splitlines()[1:] if line.strip()]
    return Annotations(
        np.array([float(t) for t, _ in rows]), np.array([label for _, label in rows]), 1.0
    )


def all_normal_windows(
    annotations: Annotations, step_s: float, limit_s: float = np.inf
) -> np.ndarray:
    """Starts (s after the first beat) of the 5-min windows ``[a, a + 300)``, every
    ``step_s`` up to ``limit_s``, in which every annotation is ``N`` - also the beat
    that opens the first interval - and no interval is longer than 2 s (a gap
    in the annotations, not a beat-to-beat interval)."""
    samples, symbols, fs_hz = annotations
    first_beat = samples[np.isin(symbols, BEAT_SYMBOLS)][0]
    t_s = (samples - first_beat) / fs_hz
    normal = symbols == "N"
    long_gap = np.r_[False, np.diff(t_s) > 2.0]
    starts = np.arange(0.0, min(t_s[-1], limit_s) - NSR_WINDOW_S + 1e-9, step_s)
    lo = np.searchsorted(t_s, starts, side="left")
    hi = np.searchsorted(t_s, starts + NSR_WINDOW_S, side="left")
    keep = [
        k > 0 and normal[k - 1 : h].all() and not long_gap[k:h].any()
        for k, h in zip(lo, hi, strict=True)
    ]
    return starts[np.asarray(keep, dtype=bool)]


def _beats_frame(annotations: Annotations) -> tuple[np.ndarray, pl.DataFrame]:
    """Interval end times (ms after the first beat) and the canonical beats frame of every beat."""
    samples, symbols, fs_hz = annotations
    beat = samples[np.isin(symbols, BEAT_SYMBOLS)]
    t_ms = (beat[1:] - beat[0]) / fs_hz * 1000.0
    rr_ms = np.diff(beat) / fs_hz * 1000.0
    t_us = T0_US + np.round(t_ms * 1000.0).astype(np.int64)
    frame = pl.DataFrame(
        {
            "subject_id": "annotated",
            "t_utc": pl.Series(t_us).cast(pl.Datetime("us", "UTC")),
            "rr_ms": rr_ms,
        }
    )
    return t_ms, frame


def _windows_spec(starts_s: np.ndarray) -> pl.DataFrame:
    start_us = T0_US + np.round(starts_s * 1e6).astype(np.int64)
    n = starts_s.size
    return pl.DataFrame(
        {
            "subject_id": ["annotated"] * n,
            "episode_id": [f"w{k}" for k in range(n)],
            "role": ["episode"] * n,
            "control_day_offset": pl.Series([0] * n, dtype=pl.Int32),
            "window": ["pre"] * n,
            "window_start_utc": pl.Series(start_us).cast(pl.Datetime("us", "UTC")),
            "window_end_utc": pl.Series(start_us + int(NSR_WINDOW_S * 1e6)).cast(
                pl.Datetime("us", "UTC")
            ),
        }
    )


ANNOTATION_METRICS = ("rmssd_ms", "pnn50_pct", "sdnn_ms")


def annotation_nn_bias(
    annotations: Annotations, starts_s: np.ndarray, cfg: AnalysisConfig
) -> dict[str, np.ndarray]:
    """Per all-N window: 100 x (ours / annotated - 1) for each of ``ANNOTATION_METRICS``.

    Ours: the default window path (``episode_window_metrics``) over *every*
    annotated beat of the record, ectopic ones included, cleaned by
    ``cfg.cleaning``. Annotated: the same windows' intervals taken as they are
    (every one NN, every difference usable). NaN where the annotated value is 0.
    """
    t_ms, beats = _beats_frame(annotations)
    rows = episode_window_metrics(
        beats, schema.empty("heart_rate"), _windows_spec(starts_s), cfg, "annotations"
    )
    rr_ms = beats["rr_ms"].to_numpy()
    lo, hi = window_bounds(t_ms, starts_s * 1000.0, (starts_s + NSR_WINDOW_S) * 1000.0)
    every = np.ones(rr_ms.size, dtype=bool)
    pairs = every.copy()
    pairs[0] = False
    annotated = time_domain(rr_ms, every, pairs, lo, hi)
    out = {}
    for name in ANNOTATION_METRICS:
        ref = annotated[name]
        ours = rows[name].to_numpy().astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            out[name] = np.where(ref != 0, 100.0 * (ours / ref - 1.0), np.nan)
    return out


def v_beats_flagged(flagged: np.ndarray, symbols: np.ndarray) -> float:
    """Share of V beats whose premature interval and compensatory interval are both flagged."""
    v_beats = np.flatnonzero(symbols == "V")
    return float((flagged[v_beats - 1] & flagged[v_beats]).mean())
