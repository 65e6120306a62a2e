"""PPG → beats (heartpy in overlapping segments) and the beat-agreement measure."""

from __future__ import annotations

import numpy as np
import pytest

from tearsignals.beats.ppg_troughs import beat_agreement, ppg_beats

FS = 64.0


def _pulse(seconds: float, rate_hz: float = 1.25) -> np.ndarray:
    """A PPG-like wave: sharp troughs at whole cycles (t = k / rate), smooth peaks between."""
    t = np.arange(int(seconds * FS)) / FS
    phase = (t * rate_hz) % 1.0
    return np.sin(np.pi * phase) ** 0.5  # 0 at every cycle start, 1 mid-cycle


def test_regular_pulse_gives_accepted_beats_at_the_true_rate() -> None:
    beats = ppg_beats(_pulse(60.0), FS)
    rr = beats.rr_ms[beats.valid]
    assert beats.accepted.all()
    assert 70 <= beats.t_s.size <= 76  # 75 cycles in 60 s
    assert np.abs(rr - 800.0).max() <= 1000.0 / FS + 1e-9  # within one sample


def test_invert_marks_the_troughs() -> None:
    beats = ppg_beats(_pulse(60.0), FS, invert=True)
    cycle_phase = (beats.t_s * 1.25) % 1.0
    distance = np.minimum(cycle_phase, 1.0 - cycle_phase) / 1.25
    assert beats.t_s.size >= 70 and distance.max() <= 1.0 / FS + 1e-9
    peaks = ppg_beats(_pulse(60.0), FS)
    peak_phase = (peaks.t_s * 1.25) % 1.0
    assert np.abs(peak_phase - 0.5).max() < 0.05  # without invert: mid-cycle maxima


def test_a_flat_gap_has_no_beats_and_breaks_the_intervals() -> None:
    signal = np.concatenate([_pulse(40.0), np.zeros(int(40 * FS)), _pulse(40.0)])
    beats = ppg_beats(signal, FS)
    in_gap = (beats.t_s > 42.0) & (beats.t_s < 78.0)
    assert not in_gap.any()
    first_after = int(np.flatnonzero(beats.t_s >= 78.0)[0])
    assert np.isnan(beats.rr_ms[first_after])
    assert np.nanmax(beats.rr_ms) < 1000.0  # no interval spans the gap


def test_non_finite_samples_make_their_window_unfit_without_crashing() -> None:
    signal = _pulse(60.0)
    signal[int(30 * FS)] = np.nan
    beats = ppg_beats(signal, FS)
    assert beats.t_s.size > 40
    assert not ((beats.t_s > 30.0) & (beats.t_s < 30.5)).any()


def test_heartpy_rejected_peaks_are_marked_and_have_no_interval() -> None:
    signal = _pulse(60.0)
    skipped = slice(int(20.0 * FS), int(20.8 * FS))  # one missing pulse: a 1.6 s interval
    signal[skipped] = 0.0
    beats = ppg_beats(signal, FS)
    assert not beats.accepted.all()
    assert np.isnan(beats.rr_ms[~beats.accepted]).all()
    rr = beats.rr_ms[beats.valid]
    assert rr.size > 50 and np.abs(rr - 800.0).max() <= 1000.0 / FS + 1e-9


def test_invalid_parameters_raise() -> None:
    with pytest.raises(ValueError, match="segment_s >= hop_s"):
        ppg_beats(_pulse(10.0), FS, segment_s=5.0, hop_s=10.0)
    with pytest.raises(ValueError, match="fs > 0"):
        ppg_beats(_pulse(10.0), 0.0)


def test_agreement_counts_matches_within_tolerance() -> None:
    reference = np.arange(1.0, 101.0) * 0.8
    shifted = beat_agreement(reference + 0.02, reference)
    assert shifted.n_matched == 100 and shifted.mean_abs_error_ms == pytest.approx(20.0)
    far = beat_agreement(reference + 0.2, reference, tolerance_s=0.15)
    assert far.n_matched == 0 and np.isnan(far.mean_abs_error_ms)
    half = beat_agreement(reference[::2], reference)
    assert half.sensitivity == pytest.approx(0.5)
    assert beat_agreement([], reference).sensitivity == 0.0
