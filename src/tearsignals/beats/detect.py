"""Heartbeats in raw ECG and PPG signals: heartpy's peak fitting, chunked, with a quality mask.

One detector family for every waveform adapter (raw ECG/PPG CSVs, ISHNE
Holters, the Polar H10 ECG, the Empatica E4 BVP). Pure functions over
``(signal, fs)``: they return sample indices of beats, a quality mask and
whether each interval was observed, never times (adapters know the time
basis of their format).

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
   (heartpy's recommended band), blood volume assumed up; negated for the
   ``foot`` fiducial, so that heartpy finds the pulse minima.
3. heartpy's peak stage of ``hp.process`` (``rolling_mean`` + ``fit_peaks``,
   which raises the moving-average threshold until the RR spread is smallest
   with a plausible rate), with a fresh ``working_data`` dict per call.
   The breathing and HRV measures of ``process`` are skipped: they cost far
   more than the detection and are computed elsewhere.
4. Each peak is moved to its fiducial point within :data:`REFINE_S`, and
   peaks closer than :data:`REFRACTORY_S` are merged (the more pronounced
   wins). ECG: the maximum of the band-passed lead (the R wave, not the
   centre of the QRS energy). PPG ``systolic_peak``: the maximum of the
   band-passed pulse. PPG ``foot``: the minimum of the *unfiltered* pulse,
   because the band-pass moves the foot (below).
5. Quality mask: heartpy's ``check_peaks`` rule on the merged peaks of each
   padded chunk. A beat is not ``ok`` when the interval ending at it lies
   outside the chunk's mean RR ± max(30 %, 300 ms). Ectopic beats and their
   compensatory pauses fail this rule too; the mask flags doubtful beats, it
   does not classify them.
6. Intervals: a beat is ``linked`` to the previous one when both lie in the
   same or adjacent chunks with no non-finite sample between them. A chunk
   heartpy cannot fit gives no beats, so no interval spans it.

PPG fiducial (measured on the real recordings, ``docs/validation.md``)
-----------------------------------------------------------------------
``systolic_peak`` (default) is the point heartpy's examples mark: on
``heartpy/data.csv`` it gives heartpy's documented peaks exactly. ``foot``
(the pulse minimum before the upstroke) is where Empatica's E4 places the
beats of its ``IBI.csv``: against the 1,260 device beats of the session
``stress_predict_e4/S01`` (±150 ms, one-to-one, every detected pulse),
systolic peaks match 0.002 of them (a peak lies a median 390 ms after its
foot), minima of the band-passed pulse 0.950 but 8.9 ms early on average,
and minima of the unfiltered pulse 0.949 at 0.13 ms mean absolute error:
the device's own beat samples. The Empatica adapter therefore asks for
``foot``. An RR series is the same from either fiducial up to changes of
the pulse transit time.

Agreement with reference beats (:func:`beat_agreement`): one-to-one
matching within a tolerance, closest pairs first (±50 ms for ECG, ±150 ms
for the E4's IBI in the golden tests); sensitivity = matched / reference
beats, PPV = matched / detected.

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
from typing import Literal, get_args

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

# Where on the pulse wave a PPG beat is placed (module notes: which one, and why).
PpgFiducial = Literal["systolic_peak", "foot"]
PPG_FIDUCIALS: tuple[PpgFiducial, ...] = get_args(PpgFiducial)

# (signal chunk, fs) -> (band-passed signal for peak positions, signal to detect on)
Prepare = Callable[[FloatArray, float], tuple[FloatArray, FloatArray]]


@dataclass(frozen=True)
class Beats:
    """Detected beats, in time order, with three arrays of the same length.

    ``index``: ascending sample indices. ``ok``: the beat passes heartpy's
    RR outlier check. ``linked``: the interval from the previous beat was
    observed (same or adjacent chunk, no gap between; False for the first).
    """

    index: IntArray
    ok: BoolArray
    linked: BoolArray

    @property
    def interval_ok(self) -> BoolArray:
        """Whether the interval ending at each beat is an RR: linked, both ends ``ok``.

        >>> Beats(np.arange(4), np.array([1, 1, 0, 1], bool), np.array([0, 1, 1, 1], bool)).interval_ok
        array([False,  True, False, False])
        """
        previous_ok = np.concatenate(([False], self.ok[:-1]))
        return self.linked & self.ok & previous_ok


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


def _ppg_inputs(x: FloatArray, fs: float, fiducial: PpgFiducial) -> tuple[FloatArray, FloatArray]:
    """The PPG shape whose maxima are the fiducial points, and the signal heartpy detects on.

    Systolic peaks: the band-passed pulse for both. Foot: detected on the
    negated band-passed pulse, placed on the negated unfiltered one.
    """
    band = _band(x, fs, PPG_BAND_HZ)
    return (band, band) if fiducial == "systolic_peak" else (-x, -band)


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


def _chunk_beats(x: FloatArray, fs: float, prepare: Prepare) -> tuple[IntArray, BoolArray]:
    """Beat indices (relative to the chunk) and quality of one padded chunk's gap-free segments."""
    index = [np.zeros(0, dtype=np.int64)]
    ok = [np.zeros(0, dtype=np.bool_)]
    for a, b in _finite_runs(x, round(MIN_SEGMENT_S * fs)):
        if _is_flat(x[a:b]):
            continue  # filtering a flat line leaves float noise heartpy would find "peaks" in
        shape, detect_on = prepare(x[a:b], fs)
        peaks = _segment_peaks(shape, detect_on, fs)
        index.append(peaks + a)
        ok.append(_quality(peaks, shape, fs))
    return np.concatenate(index), np.concatenate(ok)


def _beats(signal: npt.ArrayLike, fs: float, prepare: Prepare) -> Beats:
    """Beats of the whole signal, chunk by chunk; a beat found in two chunks is kept once.

    Besides index and quality, each beat keeps its chunk number and the count
    of non-finite samples before it, which decide whether it is linked.
    """
    data = signal if isinstance(signal, np.ndarray) else np.asarray(signal)
    index, ok, chunk, gaps_before = [np.zeros(0, np.int64)], [np.zeros(0, np.bool_)], [], []
    n_gap_samples = 0
    for k, (lo, hi, core_lo, core_hi) in enumerate(_chunks(len(data), fs)):
        x = np.asarray(data[lo:hi], dtype=np.float64)
        found, found_ok = _chunk_beats(x, fs, prepare)
        at = found + lo
        core = (at >= core_lo) & (at < core_hi)
        gap = np.concatenate(([0], np.cumsum(~np.isfinite(x[core_lo - lo : core_hi - lo]))))
        index.append(at[core])
        ok.append(found_ok[core])
        chunk.append(np.full(int(core.sum()), k, dtype=np.int64))
        gaps_before.append(n_gap_samples + gap[at[core] - core_lo])
        n_gap_samples += int(gap[-1])
    all_index, all_ok = np.concatenate(index), np.concatenate(ok)
    all_chunk = np.concatenate([np.zeros(0, np.int64), *chunk])
    all_gaps = np.concatenate([np.zeros(0, np.int64), *gaps_before])
    first = np.ones(all_index.size, dtype=np.bool_)
    first[1:] = np.diff(all_index) >= REFRACTORY_S * fs
    linked = np.zeros(int(first.sum()), dtype=np.bool_)
    linked[1:] = (np.diff(all_chunk[first]) <= 1) & (np.diff(all_gaps[first]) == 0)
    return Beats(index=all_index[first], ok=all_ok[first], linked=linked)


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


def ppg_beats(signal: npt.ArrayLike, fs: float, fiducial: PpgFiducial = "systolic_peak") -> Beats:
    """Pulses of a PPG (blood volume up), sampled at ``fs`` Hz, at their ``fiducial`` point.

    Parameters
    ----------
    signal
        1-D pulse wave, any unit; NaN marks gaps. A signal with blood volume
        down (an absorbance trace) must be negated by its adapter.
    fs
        Sampling rate in Hz (at least :data:`MIN_PPG_FS`).
    fiducial
        ``"systolic_peak"`` (default) or ``"foot"`` (the pulse minimum before
        the upstroke, where the Empatica E4 places its IBI beats).

    Returns
    -------
    Beats
        Sample indices of the fiducial points and heartpy's quality mask.

    Examples
    --------
    >>> fs = 100.0
    >>> t = np.arange(int(30 * fs)) / fs
    >>> pulse = np.sin(2 * np.pi * (1.2 * t + 0.05 * np.sin(2 * np.pi * 0.1 * t)))
    >>> beats = ppg_beats(pulse, fs)
    >>> round(60 * fs / float(np.mean(np.diff(beats.index))))
    72
    >>> feet = ppg_beats(pulse, fs, "foot")
    >>> bool(np.all(pulse[feet.index] < -0.95)), bool(np.all(pulse[beats.index] > 0.95))
    (True, True)
    """
    if fiducial not in PPG_FIDUCIALS:
        raise ValueError(
            f"PPG fiducial must be one of {', '.join(PPG_FIDUCIALS)}, got {fiducial!r}"
        )
    rate = _checked_fs(fs, MIN_PPG_FS, "PPG")
    return _beats(signal, rate, lambda x, f: _ppg_inputs(x, f, fiducial))


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
