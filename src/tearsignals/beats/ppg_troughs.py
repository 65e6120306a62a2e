"""PPG pulse signal to beats: heartpy peak detection in overlapping segments.

:func:`ppg_beats` is pure: a numpy signal and its sampling rate in, beat
times, intervals and heartpy's quality verdict out. Adapters (the Empatica
E4 ``BVP.csv`` reader) turn the result into ``beats`` rows and rejects.

Decisions
---------
* **Segments.** heartpy fits one detection threshold per call, which fails
  on long wrist recordings (motion, changing contact): on the E4 session S01
  a single call over the 54 min raised ``BadSignalWarning``. The signal is
  therefore cut into *cores* of ``hop_s`` seconds; each core is analysed in a
  window of ``segment_s`` seconds centred on it, and keeps only the peaks
  inside the core, so every sample belongs to exactly one core and peaks near
  a core edge are seen with context on both sides.
* **Fiducial point.** ``invert=True`` negates the signal, so heartpy finds the
  *troughs* (the pulse foot). Empatica's own IBI file marks the trough of its
  BVP signal (S01: median timing difference 0 ms, see ``docs/formats.md``).
* **Quality.** heartpy's ``binary_peaklist`` (its ``removed_beats``) gives
  ``accepted``. A window heartpy cannot fit, or holding a non-finite sample,
  yields no peaks at all: there is no beat to report there.
* **Intervals.** ``rr_ms`` of a beat is the time since the previous detected
  peak, set only when both peaks are accepted and lie in adjacent fitted
  cores (or the same one); otherwise NaN. A peak closer than
  ``MIN_PEAK_GAP_S`` to the previous one (the same pulse seen from two
  windows) is dropped.
* heartpy pitfalls (DESIGN.md): fresh ``working_data``/``measures`` dicts per
  call, ``calc_freq=False``; its warnings (numpy on short windows, scipy's
  spline in the breathing estimate it always runs) are silenced per call.

Examples
--------
>>> fs = 64.0
>>> t = np.arange(int(60 * fs)) / fs
>>> pulse = np.sin(2 * np.pi * t)  # 60 bpm: one beat every 64 samples
>>> beats = ppg_beats(pulse, fs)
>>> bool(beats.accepted.all()), round(float(np.nanmedian(beats.rr_ms)))
(True, 1000)
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tearsignals.arrays import BoolArray, FloatArray, IntArray

SEGMENT_S = 15.0
HOP_S = 10.0
MIN_WINDOW_S = 5.0
MIN_PEAK_GAP_S = 0.25


@dataclass(frozen=True)
class PpgBeats:
    """Detected peaks of a PPG signal, in time order.

    ``t_s``: peak time in seconds from the first sample; ``rr_ms``: interval
    ending at the peak (NaN where undefined, see the module notes);
    ``accepted``: heartpy kept the peak.
    """

    t_s: FloatArray
    rr_ms: FloatArray
    accepted: BoolArray

    @property
    def valid(self) -> BoolArray:
        """Peaks that make a beat: accepted and with a defined interval."""
        return self.accepted & np.isfinite(self.rr_ms)


@dataclass(frozen=True)
class BeatAgreement:
    """How well test beats reproduce reference beats (nearest test beat within tolerance)."""

    n_reference: int
    n_matched: int
    sensitivity: float
    mean_abs_error_ms: float


def _window_bounds(core_lo: int, core_hi: int, n: int, segment: int) -> tuple[int, int]:
    """Sample range of the analysis window around a core, at least ``segment`` long if possible."""
    margin = max(0, (segment - (core_hi - core_lo)) // 2)
    lo, hi = max(0, core_lo - margin), min(n, core_hi + margin)
    if hi - lo < segment:
        lo = max(0, min(lo, n - segment))
        hi = min(n, lo + segment)
    return lo, hi


def _window_peaks(window: FloatArray, fs: float) -> tuple[IntArray, BoolArray] | None:
    """heartpy peaks of one window (sample indices) and their acceptance; None if unfit."""
    # Imported here: heartpy (with matplotlib) costs ~100 MB at import.
    import heartpy as hp
    from heartpy.exceptions import BadSignalWarning

    if window.size < MIN_WINDOW_S * fs or not np.isfinite(window).all() or np.ptp(window) == 0:
        return None
    try:
        with warnings.catch_warnings():
            # Its breathing estimate (unused here) warns on short RR lists; BadSignalWarning
            # is raised, not warned, so ignoring warnings does not hide an unfit window.
            warnings.simplefilter("ignore")
            working, _ = hp.process(
                hp.scale_data(window), fs, calc_freq=False, working_data={}, measures={}
            )
    except BadSignalWarning:
        return None
    peaks = np.asarray(working["peaklist"], dtype=np.int64)
    accepted = np.asarray(working["binary_peaklist"], dtype=np.int64) == 1
    return peaks, accepted


def _core_peaks(
    signal: FloatArray, fs: float, segment_s: float, hop_s: float
) -> tuple[IntArray, BoolArray, IntArray]:
    """Peak samples, acceptance and core index of every fitted core, in time order."""
    n, hop, segment = signal.size, max(1, round(hop_s * fs)), max(1, round(segment_s * fs))
    samples: list[IntArray] = []
    accepted: list[BoolArray] = []
    cores: list[IntArray] = []
    for core, core_lo in enumerate(range(0, n, hop)):
        core_hi = min(n, core_lo + hop)
        lo, hi = _window_bounds(core_lo, core_hi, n, segment)
        found = _window_peaks(signal[lo:hi], fs)
        if found is None:
            continue
        at = found[0] + lo
        inside = (at >= core_lo) & (at < core_hi)
        samples.append(at[inside])
        accepted.append(found[1][inside])
        cores.append(np.full(int(inside.sum()), core, dtype=np.int64))
    if not samples:
        return np.zeros(0, np.int64), np.zeros(0, np.bool_), np.zeros(0, np.int64)
    return np.concatenate(samples), np.concatenate(accepted), np.concatenate(cores)


def ppg_beats(
    signal: npt.ArrayLike,
    fs: float,
    *,
    invert: bool = False,
    segment_s: float = SEGMENT_S,
    hop_s: float = HOP_S,
) -> PpgBeats:
    """Beats of a PPG signal by heartpy peak detection (see the module notes).

    Parameters
    ----------
    signal
        Samples, equally spaced; non-finite samples make their windows unfit.
    fs
        Sampling rate in Hz.
    invert
        Detect troughs (pulse foot) instead of peaks.
    segment_s, hop_s
        Analysis window length and core length in seconds (``segment_s >= hop_s``).

    Returns
    -------
    PpgBeats
        One entry per detected peak.
    """
    if fs <= 0 or segment_s < hop_s or hop_s <= 0:
        raise ValueError("need fs > 0 and segment_s >= hop_s > 0")
    values = np.asarray(signal, dtype=np.float64)
    samples, accepted, cores = _core_peaks(-values if invert else values, fs, segment_s, hop_s)
    keep = np.ones(samples.size, dtype=np.bool_)
    keep[1:] = np.diff(samples) >= MIN_PEAK_GAP_S * fs
    samples, accepted, cores = samples[keep], accepted[keep], cores[keep]
    t_s = samples / fs
    rr_ms = np.full(samples.size, np.nan)
    linked = accepted[1:] & accepted[:-1] & (np.diff(cores) <= 1)
    rr_ms[1:][linked] = np.diff(t_s)[linked] * 1000.0
    return PpgBeats(t_s=t_s, rr_ms=rr_ms, accepted=accepted)


def beat_agreement(
    test_s: npt.ArrayLike, reference_s: npt.ArrayLike, tolerance_s: float = 0.15
) -> BeatAgreement:
    """Sensitivity and mean absolute timing error of test beats against reference beats.

    A reference beat is matched when the nearest test beat lies within
    ``tolerance_s``; the error averages over matched beats (NaN if none).

    Examples
    --------
    >>> a = beat_agreement([1.0, 2.02, 3.5], [1.0, 2.0, 3.0])
    >>> a.n_matched, round(a.sensitivity, 3), round(a.mean_abs_error_ms, 1)
    (2, 0.667, 10.0)
    """
    test = np.sort(np.asarray(test_s, dtype=np.float64))
    reference = np.asarray(reference_s, dtype=np.float64)
    if test.size == 0 or reference.size == 0:
        return BeatAgreement(int(reference.size), 0, 0.0, float("nan"))
    right = np.clip(np.searchsorted(test, reference), 0, test.size - 1)
    left = np.clip(right - 1, 0, test.size - 1)
    error = np.minimum(np.abs(test[right] - reference), np.abs(test[left] - reference))
    matched = error <= tolerance_s
    n_matched = int(matched.sum())
    mae = float(error[matched].mean() * 1000.0) if n_matched else float("nan")
    return BeatAgreement(int(reference.size), n_matched, n_matched / reference.size, mae)
