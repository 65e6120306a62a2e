"""Heartbeats in raw ECG and PPG signals: heartpy's peak fitting, chunked, with a quality mask.

Pure functions over ``(signal, fs)``: they return sample indices of beats and a
quality mask, never times (adapters know the time basis of their format).

Recipe
------
1. The signal is cut into chunks of :data:`CHUNK_S` seconds, each read with
   :data:`PAD_S` seconds of padding on both sides (filter edges and beats at
   a border are found in the padding and discarded). Only one padded chunk is
   in memory at a time, so a ``numpy.memmap`` of a 24-h Holter is fine.
   Non-finite samples (gaps) split a chunk into segments; segments shorter
   than :data:`MIN_SEGMENT_S` give no beats.
2. ECG: heartpy ``filter_signal`` band-pass :data:`ECG_BAND_HZ` (the QRS
   band: removes baseline wander, T waves and mains hum), oriented so that R
   waves point up (:func:`qrs_polarity`, one vote over the record), then the
   QRS energy envelope ``sqrt(lowpass(x**2))`` (:data:`ECG_ENVELOPE_HZ`). The
   envelope has one bump per beat whatever the QRS shape (PVCs included), so
   heartpy never splits a beat in two. PPG: band-pass :data:`PPG_BAND_HZ`
   (heartpy's recommended band); the systolic peak is assumed to point up.
3. heartpy's peak stage of ``hp.process`` (``rolling_mean`` + ``fit_peaks``,
   which raises the moving-average threshold until the RR spread is smallest
   with a plausible rate), with a fresh ``working_data`` dict per call.
   The breathing and HRV measures of ``process`` are skipped: they cost far
   more than the detection and are computed elsewhere.
4. Each peak is moved to the maximum of the band-passed signal within
   :data:`REFINE_S` (the R wave, not the centre of the QRS energy), and
   peaks closer than :data:`REFRACTORY_S` are merged (the larger wins).
5. Quality mask: heartpy's ``check_peaks`` rule on the merged peaks of each
   padded chunk. A beat is not ``ok`` when the interval ending at it lies
   outside the chunk's mean RR ± max(30 %, 300 ms). Ectopic beats and their
   compensatory pauses fail this rule too; the mask flags doubtful beats, it
   does not classify them.

Agreement with reference beats (:func:`beat_agreement`): one-to-one nearest
matching within a tolerance (±50 ms for ECG, ±100 ms for PPG in the golden
tests); sensitivity = matched / reference beats, PPV = matched / detected.

Examples
--------
>>> fs = 250.0
>>> t = np.arange(int(30 * fs)) / fs
>>> ecg = np.zeros_like(t)
>>> beat_s = np.cumsum(0.8 + 0.03 * np.sin(np.arange(36)))  # heartpy needs some RR spread
>>> for b in beat_s:
...     ecg += np.exp(-0.5 * ((t - b) / 0.012) ** 2)
>>> beats = ecg_beats(ecg, fs)
>>> found = beat_agreement(beats.index / fs, beat_s, 0.05)
>>> found.sensitivity, found.ppv
(1.0, 1.0)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tearsignals.arrays import BoolArray, FloatArray, IntArray

# heartpy (and the matplotlib it imports) costs ~100 MB of memory at import, so it
# is imported where a signal is actually processed, not when the adapters load.


ECG_BAND_HZ = (8.0, 20.0)
FLAT_RELATIVE_RANGE = 1e-6
ECG_ENVELOPE_HZ = 5.0
PPG_BAND_HZ = (0.7, 3.5)
MIN_ECG_FS = 50.0  # the ECG band must lie below Nyquist
MIN_PPG_FS = 10.0
CHUNK_S = 20.0
PAD_S = 2.0
MIN_SEGMENT_S = 4.0
REFINE_S = 0.05
REFRACTORY_S = 0.25
MOVING_AVERAGE_S = 0.75  # heartpy's default window for its threshold
POLARITY_CHUNKS = 16

# (signal chunk, fs) -> (band-passed signal for peak positions, signal to detect on)
Prepare = Callable[[FloatArray, float], tuple[FloatArray, FloatArray]]


@dataclass(frozen=True)
class Beats:
    """Detected beats: ascending sample indices and a quality mask of the same length."""

    index: IntArray
    ok: BoolArray


@dataclass(frozen=True)
class Agreement:
    """How detected beat times agree with reference beat times."""

    n_reference: int
    n_detected: int
    n_matched: int
    sensitivity: float
    ppv: float
    mean_abs_error_ms: float
    mean_error_ms: float


def _no_beats() -> Beats:
    """An empty :class:`Beats`."""
    return Beats(index=np.zeros(0, dtype=np.int64), ok=np.zeros(0, dtype=np.bool_))


def _band(x: FloatArray, fs: float, band_hz: tuple[float, float]) -> FloatArray:
    """Zero-phase Butterworth band-pass (heartpy ``filter_signal``, order 3)."""
    from heartpy.filtering import filter_signal

    return np.asarray(filter_signal(x, list(band_hz), fs, order=3, filtertype="bandpass"))


def _ecg_inputs(x: FloatArray, fs: float, polarity: float) -> tuple[FloatArray, FloatArray]:
    """R-wave-up band-passed ECG and its QRS energy envelope."""
    from heartpy.filtering import filter_signal

    band = _band(x, fs, ECG_BAND_HZ) * polarity
    energy = np.asarray(filter_signal(band**2, ECG_ENVELOPE_HZ, fs, order=2, filtertype="lowpass"))
    return band, np.sqrt(np.clip(energy, 0.0, None))


def _ppg_inputs(x: FloatArray, fs: float) -> tuple[FloatArray, FloatArray]:
    """Band-passed PPG, used both to detect and to place the systolic peaks."""
    band = _band(x, fs, PPG_BAND_HZ)
    return band, band


def _chunks(n: int, fs: float) -> Iterator[tuple[int, int, int, int]]:
    """``(lo, hi, core_lo, core_hi)``: padded bounds and core of each chunk of ``n`` samples."""
    step = max(1, round(CHUNK_S * fs))
    pad = round(PAD_S * fs)
    for core_lo in range(0, n, step):
        core_hi = min(n, core_lo + step)
        yield max(0, core_lo - pad), min(n, core_hi + pad), core_lo, core_hi


def _finite_runs(x: FloatArray, min_len: int) -> list[tuple[int, int]]:
    """``[start, stop)`` of the runs of finite samples at least ``min_len`` long."""
    finite = np.concatenate(([0], np.isfinite(x).astype(np.int8), [0]))
    edges = np.flatnonzero(np.diff(finite))
    return [
        (int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True) if b - a >= min_len
    ]


def qrs_polarity(signal: npt.ArrayLike, fs: float) -> float:
    """``1.0`` when R waves point up in the band-passed ECG, ``-1.0`` when they point down.

    Each of up to :data:`POLARITY_CHUNKS` evenly spread chunks votes by
    comparing its 99.5th percentile with minus its 0.5th percentile.

    >>> fs = 250.0
    >>> t = np.arange(int(20 * fs)) / fs
    >>> spikes = sum(np.exp(-0.5 * ((t - b) / 0.012) ** 2) for b in np.arange(0.5, 20, 0.8))
    >>> qrs_polarity(spikes, fs), qrs_polarity(-spikes, fs)
    (1.0, -1.0)
    """
    data = np.asarray(signal) if not isinstance(signal, np.ndarray) else signal
    chunks = list(_chunks(len(data), fs))
    picks = np.unique(np.linspace(0, len(chunks) - 1, min(POLARITY_CHUNKS, len(chunks))).round())
    votes = 0
    for k in picks.astype(int):
        lo, hi, _, _ = chunks[k]
        x = np.asarray(data[lo:hi], dtype=np.float64)
        for a, b in _finite_runs(x, round(MIN_SEGMENT_S * fs)):
            band = _band(x[a:b], fs, ECG_BAND_HZ)
            votes += 1 if np.percentile(band, 99.5) >= -np.percentile(band, 0.5) else -1
    return 1.0 if votes >= 0 else -1.0


def _refined(peaks: IntArray, shape: FloatArray, fs: float) -> IntArray:
    """Each peak moved to the maximum of ``shape`` within ±REFINE_S."""
    half = max(1, round(REFINE_S * fs))
    lo = np.clip(peaks - half, 0, len(shape))
    hi = np.clip(peaks + half + 1, 0, len(shape))
    return np.array([a + int(np.argmax(shape[a:b])) for a, b in zip(lo, hi, strict=True)], np.int64)


def _merged(peaks: IntArray, shape: FloatArray, fs: float) -> IntArray:
    """Sorted unique peaks with those closer than REFRACTORY_S merged (larger ``shape`` wins)."""
    gap = REFRACTORY_S * fs
    kept: list[int] = []
    for p in np.unique(peaks).tolist():
        if kept and p - kept[-1] < gap:
            if shape[p] > shape[kept[-1]]:
                kept[-1] = p
        else:
            kept.append(p)
    return np.asarray(kept, dtype=np.int64)


def _segment_peaks(shape: FloatArray, detect_on: FloatArray, fs: float) -> IntArray:
    """heartpy's fitted peaks of one gap-free segment, refined and merged (none if flat/no fit)."""
    from heartpy.datautils import rolling_mean
    from heartpy.exceptions import BadSignalWarning
    from heartpy.peakdetection import fit_peaks
    from heartpy.preprocessing import scale_data

    if not np.ptp(detect_on) > 0:
        return np.zeros(0, dtype=np.int64)
    scaled = scale_data(detect_on)
    try:
        fitted = fit_peaks(scaled, rolling_mean(scaled, MOVING_AVERAGE_S, fs), fs, working_data={})
    except BadSignalWarning:  # heartpy raises it when no threshold gives a plausible rate
        return np.zeros(0, dtype=np.int64)
    peaks = np.asarray(fitted["peaklist"], dtype=np.int64)
    return _merged(_refined(peaks, shape, fs), shape, fs)


def _quality(peaks: IntArray, shape: FloatArray, fs: float) -> BoolArray:
    """heartpy ``check_peaks`` mask: False where the interval ending at the peak is an outlier."""
    from heartpy.peakdetection import check_peaks

    if peaks.size < 3:
        return np.zeros(peaks.size, dtype=np.bool_)
    rr = np.diff(peaks) / fs * 1000.0
    checked = check_peaks(rr, peaks, shape[peaks], working_data={"RR_list": rr})
    return np.asarray(checked["binary_peaklist"], dtype=np.bool_)


def _is_flat(x: FloatArray) -> bool:
    """True when a segment carries no signal: its range is below 1e-6 of its magnitude."""
    return bool(np.ptp(x) <= FLAT_RELATIVE_RANGE * max(1.0, float(np.max(np.abs(x)))))


def _chunk_beats(x: FloatArray, fs: float, prepare: Prepare) -> Beats:
    """Beats of one padded chunk (indices relative to the chunk), over its gap-free segments."""
    index, ok = [], []
    for a, b in _finite_runs(x, round(MIN_SEGMENT_S * fs)):
        if _is_flat(x[a:b]):
            continue  # filtering a flat line leaves float noise heartpy would find "peaks" in
        shape, detect_on = prepare(x[a:b], fs)
        peaks = _segment_peaks(shape, detect_on, fs)
        index.append(peaks + a)
        ok.append(_quality(peaks, shape, fs))
    if not index:
        return _no_beats()
    return Beats(index=np.concatenate(index), ok=np.concatenate(ok))


def _beats(signal: npt.ArrayLike, fs: float, prepare: Prepare) -> Beats:
    """Beats of the whole signal, chunk by chunk; a beat found in two chunks is kept once."""
    data = signal if isinstance(signal, np.ndarray) else np.asarray(signal)
    index, ok = [], []
    for lo, hi, core_lo, core_hi in _chunks(len(data), fs):
        found = _chunk_beats(np.asarray(data[lo:hi], dtype=np.float64), fs, prepare)
        at = found.index + lo
        core = (at >= core_lo) & (at < core_hi)
        index.append(at[core])
        ok.append(found.ok[core])
    if not index:
        return _no_beats()
    all_index, all_ok = np.concatenate(index), np.concatenate(ok)
    first = np.ones(all_index.size, dtype=np.bool_)
    first[1:] = np.diff(all_index) >= REFRACTORY_S * fs
    return Beats(index=all_index[first], ok=all_ok[first])


def _checked_fs(fs: float, minimum: float, what: str) -> float:
    """``fs`` as float; ValueError unless finite and at least ``minimum`` Hz."""
    if not (np.isfinite(fs) and fs >= minimum):
        raise ValueError(f"{what} sampling rate must be at least {minimum:g} Hz, got {fs!r}")
    return float(fs)


def ecg_beats(signal: npt.ArrayLike, fs: float) -> Beats:
    """R peaks of a single-lead ECG (any unit, any polarity), sampled at ``fs`` Hz.

    Parameters
    ----------
    signal
        One lead, 1-D; a ``numpy.memmap`` is read chunk by chunk. NaN marks gaps.
    fs
        Sampling rate in Hz (at least :data:`MIN_ECG_FS`).

    Returns
    -------
    Beats
        Sample indices of the R peaks and heartpy's quality mask.
    """
    rate = _checked_fs(fs, MIN_ECG_FS, "ECG")
    polarity = qrs_polarity(signal, rate)
    return _beats(signal, rate, lambda x, f: _ecg_inputs(x, f, polarity))


def ppg_beats(signal: npt.ArrayLike, fs: float) -> Beats:
    """Systolic peaks of a PPG (blood volume up), sampled at ``fs`` Hz; NaN marks gaps.

    >>> fs = 100.0
    >>> t = np.arange(int(30 * fs)) / fs
    >>> pulse = np.sin(2 * np.pi * (1.2 * t + 0.05 * np.sin(2 * np.pi * 0.1 * t)))
    >>> beats = ppg_beats(pulse, fs)
    >>> round(60 * fs / float(np.mean(np.diff(beats.index))))
    72
    """
    rate = _checked_fs(fs, MIN_PPG_FS, "PPG")
    return _beats(signal, rate, _ppg_inputs)


def _matched_pairs(
    detected: FloatArray, reference: FloatArray, tolerance: float
) -> tuple[IntArray, IntArray]:
    """One-to-one (reference, detected) index pairs within ``tolerance``, closest pairs first."""
    right = np.searchsorted(detected, reference)
    ref_i = np.concatenate([np.arange(reference.size)] * 2)
    det_i = np.concatenate([right - 1, right])
    valid = (det_i >= 0) & (det_i < detected.size)
    ref_i, det_i = ref_i[valid], det_i[valid]
    error = np.abs(detected[det_i] - reference[ref_i])
    order = np.argsort(error, kind="stable")
    order = order[error[order] <= tolerance]
    used_ref: set[int] = set()
    used_det: set[int] = set()
    for r, d in zip(ref_i[order].tolist(), det_i[order].tolist(), strict=True):
        if r not in used_ref and d not in used_det:
            used_ref.add(r)
            used_det.add(d)
    # Both sequences are sorted, so matched pairs never cross: sorting each side pairs them.
    return np.array(sorted(used_ref), np.int64), np.array(sorted(used_det), np.int64)


def beat_agreement(
    detected_s: npt.ArrayLike, reference_s: npt.ArrayLike, tolerance_s: float
) -> Agreement:
    """Sensitivity, PPV and timing error of detected beat times against reference times.

    Each reference beat matches at most one detected beat within ``tolerance_s``
    (closest pairs first). Errors are detected minus reference, in ms.

    >>> a = beat_agreement([1.01, 2.0, 2.5, 3.2], [1.0, 2.0, 3.0], 0.05)
    >>> (a.n_matched, round(a.sensitivity, 3), a.ppv, round(a.mean_abs_error_ms, 1))
    (2, 0.667, 0.5, 5.0)
    """
    detected = np.sort(np.asarray(detected_s, dtype=np.float64))
    reference = np.sort(np.asarray(reference_s, dtype=np.float64))
    ref_i, det_i = _matched_pairs(detected, reference, tolerance_s)
    error_ms = (detected[det_i] - reference[ref_i]) * 1000.0
    return Agreement(
        n_reference=reference.size,
        n_detected=detected.size,
        n_matched=ref_i.size,
        sensitivity=ref_i.size / reference.size if reference.size else float("nan"),
        ppv=ref_i.size / detected.size if detected.size else float("nan"),
        mean_abs_error_ms=float(np.mean(np.abs(error_ms))) if error_ms.size else float("nan"),
        mean_error_ms=float(np.mean(error_ms)) if error_ms.size else float("nan"),
    )


def alignment_offset_s(
    beat_s: npt.ArrayLike,
    peak_s: npt.ArrayLike,
    search_s: tuple[float, float],
    tolerance_s: float,
) -> tuple[float, float]:
    """The shift of ``beat_s`` that best lines it up with ``peak_s``, and the matched fraction.

    Tries shifts over ``search_s`` in steps of ``tolerance_s / 2``, keeps the one
    that matches most beats within ``tolerance_s``, then adds the median
    residual of its matches. Used to place device beats (known intervals,
    uncertain anchor) on the R peaks of the same device's ECG.

    >>> peaks_s = np.cumsum(np.full(50, 0.8) + 0.02 * np.sin(np.arange(50)))
    >>> shift, matched = alignment_offset_s(peaks_s + 1.234, peaks_s, (-3.0, 0.0), 0.05)
    >>> round(shift, 3), matched
    (-1.234, 1.0)
    """
    beats = np.sort(np.asarray(beat_s, dtype=np.float64))
    found = np.sort(np.asarray(peak_s, dtype=np.float64))
    if beats.size == 0 or found.size == 0:
        return 0.0, 0.0
    shifts = np.arange(search_s[0], search_s[1] + tolerance_s / 4, tolerance_s / 2)
    counts = [beat_agreement(found, beats + s, tolerance_s).n_matched for s in shifts]
    best = float(shifts[int(np.argmax(counts))])
    ref_i, det_i = _matched_pairs(found, beats + best, tolerance_s)
    if ref_i.size == 0:
        return best, 0.0
    shift = best + float(np.median(found[det_i] - (beats[ref_i] + best)))
    return shift, beat_agreement(found, beats + shift, tolerance_s).n_matched / beats.size
