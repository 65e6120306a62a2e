"""Beat detection on synthetic signals: positions, fiducials, polarity, gaps, quality, agreement."""

from __future__ import annotations

import numpy as np
import pytest

from tearsignals.beats import detect

FS = 250.0


def _beat_times(n: int, mean_rr_s: float = 0.8, start_s: float = 0.6) -> np.ndarray:
    """Beat times with a little respiratory-like spread (heartpy needs some RR spread)."""
    rr = mean_rr_s + 0.04 * np.sin(np.arange(n) * 0.7)
    return start_s + np.cumsum(rr)


def _ecg(beat_s: np.ndarray, duration_s: float, fs: float = FS, seed: int = 1) -> np.ndarray:
    """QRS-like spikes (R 12 ms wide, a small S wave) on a wandering baseline with noise."""
    t = np.arange(int(duration_s * fs)) / fs
    rng = np.random.default_rng(seed)
    signal = 0.3 * np.sin(2 * np.pi * 0.15 * t) + 0.02 * rng.standard_normal(t.size)
    for b in beat_s:
        signal += np.exp(-0.5 * ((t - b) / 0.012) ** 2)
        signal -= 0.3 * np.exp(-0.5 * ((t - b - 0.03) / 0.01) ** 2)
    return signal


def _ppg(beat_s: np.ndarray, duration_s: float, fs: float) -> np.ndarray:
    """A pulse wave peaking at each beat time."""
    t = np.arange(int(duration_s * fs)) / fs
    signal = np.zeros_like(t)
    for b in beat_s:
        signal += np.exp(-0.5 * ((t - b) / 0.12) ** 2)
    return signal


def _feet(n: int, fs: float) -> np.ndarray:
    """Pulse-foot times on the sample grid, the first at t = 0."""
    return np.round(np.concatenate(([0.0], _beat_times(n, start_s=0.0))) * fs) / fs


def _pulse(foot_s: np.ndarray, duration_s: float, fs: float) -> np.ndarray:
    """A BVP-like wave: at each foot time a minimum, a fast upstroke, then a slow decline."""
    t = np.arange(int(duration_s * fs)) / fs
    k = np.clip(np.searchsorted(foot_s, t, side="right") - 1, 0, foot_s.size - 2)
    phase = np.clip((t - foot_s[k]) / (foot_s[k + 1] - foot_s[k]), 0.0, 1.0)
    rise = (1 - np.cos(np.pi * phase / 0.3)) / 2
    decline = (1 + np.cos(np.pi * (phase - 0.3) / 0.7)) / 2
    return np.where(phase < 0.3, rise, decline)


def test_ecg_beats_find_every_r_peak_at_its_sample() -> None:
    beat_s = _beat_times(70)
    found = detect.ecg_beats(_ecg(beat_s, 60.0), FS)
    agreement = detect.beat_agreement(found.index / FS, beat_s[beat_s < 60.0], 0.05)
    assert agreement.sensitivity == 1.0
    assert agreement.ppv == 1.0
    assert agreement.mean_abs_error_ms < 1000 / FS  # within one sample
    assert found.ok.all()
    assert found.index.dtype == np.int64 and np.all(np.diff(found.index) > 0)


def test_inverted_lead_gives_the_same_beats() -> None:
    signal = _ecg(_beat_times(40), 35.0)
    upright = detect.ecg_beats(signal, FS)
    inverted = detect.ecg_beats(-signal, FS)
    assert detect.qrs_polarity(signal, FS) == 1.0
    assert detect.qrs_polarity(-signal, FS) == -1.0
    np.testing.assert_array_equal(upright.index, inverted.index)


def test_beats_in_chunk_padding_are_kept_once() -> None:
    # Beats within a few ms of every 20-s chunk border.
    beat_s = np.sort(np.concatenate([_beat_times(85), [19.999, 40.002]]))
    beat_s = beat_s[np.concatenate(([True], np.diff(beat_s) > 0.3))]
    found = detect.ecg_beats(_ecg(beat_s, 65.0), FS)
    assert detect.beat_agreement(found.index / FS, beat_s[beat_s < 65.0], 0.02).ppv == 1.0
    assert np.all(np.diff(found.index) >= detect.REFRACTORY_S * FS)


def test_nan_gap_splits_the_signal_and_gives_no_beats_inside() -> None:
    beat_s = _beat_times(70)
    signal = _ecg(beat_s, 60.0)
    signal[int(25 * FS) : int(32 * FS)] = np.nan
    found = detect.ecg_beats(signal, FS)
    times = found.index / FS
    assert not np.any((times >= 25.0) & (times < 32.0))
    outside = beat_s[(beat_s < 60.0) & ((beat_s < 24.5) | (beat_s > 32.5))]
    assert detect.beat_agreement(times, outside, 0.05).sensitivity >= 0.95


@pytest.mark.parametrize("signal", [np.zeros(5000), np.full(5000, np.nan), np.zeros(10)])
def test_flat_missing_or_short_signals_give_no_beats(signal: np.ndarray) -> None:
    found = detect.ecg_beats(signal, FS)
    assert found.index.size == 0 and found.ok.size == 0


def test_quality_mask_flags_the_interval_of_a_missed_beat() -> None:
    beat_s = _beat_times(50)
    kept = np.delete(beat_s, 20)  # a dropped beat: one interval twice as long
    found = detect.ecg_beats(_ecg(kept, 42.0), FS)
    long_interval_end = int(np.argmin(np.abs(found.index / FS - kept[20])))
    assert not found.ok[long_interval_end]
    assert found.ok.mean() > 0.9


def test_sampling_rate_too_low_for_the_qrs_band_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 50 Hz"):
        detect.ecg_beats(np.zeros(1000), 32.0)
    with pytest.raises(ValueError, match="PPG"):
        detect.ppg_beats(np.zeros(1000), float("nan"))


def test_ppg_beats_at_the_systolic_peaks() -> None:
    fs = 64.0
    beat_s = _beat_times(70, mean_rr_s=0.75)
    found = detect.ppg_beats(_ppg(beat_s, 50.0, fs), fs)
    agreement = detect.beat_agreement(found.index / fs, beat_s[beat_s < 49.0], 0.1)
    assert agreement.sensitivity >= 0.98 and agreement.ppv >= 0.98
    assert agreement.mean_abs_error_ms < 1000 / fs
    assert found.interval_ok[1:].all()


def test_ppg_foot_is_the_sample_of_the_pulse_minimum() -> None:
    fs = 64.0
    foot_s = _feet(80, fs)
    signal = _pulse(foot_s, 60.0, fs)
    feet = detect.ppg_beats(signal, fs, "foot")
    inside = foot_s[(foot_s > 0.5) & (foot_s < 59.5)]
    t_s = feet.index / fs
    agreement = detect.beat_agreement(t_s[(t_s > 0.5) & (t_s < 59.5)], inside, 0.1)
    assert agreement.sensitivity == 1.0 and agreement.mean_abs_error_ms == 0.0
    assert feet.interval_ok[1:].all()
    # The systolic peaks of the same wave sit at its maxima, 30 % of a pulse after each foot.
    peaks = detect.ppg_beats(signal, fs).index / fs
    peaks = peaks[(peaks > 1.0) & (peaks < 59.0)]  # the band-pass bends the wave's first/last
    k = np.searchsorted(foot_s, peaks) - 1
    error_s = peaks - (foot_s[k] + 0.3 * (foot_s[k + 1] - foot_s[k]))
    assert peaks.size >= 70 and np.abs(error_s).max() <= 0.05


def test_ppg_fiducial_must_be_known() -> None:
    with pytest.raises(ValueError, match="systolic_peak, foot"):
        detect.ppg_beats(np.zeros(1000), 64.0, "trough")  # type: ignore[arg-type]


def test_a_flat_stretch_gives_no_beats_and_no_interval_across_it() -> None:
    fs = 64.0
    foot_s = _feet(130, fs)
    signal = _pulse(foot_s, 100.0, fs)
    signal[int(20 * fs) : int(65 * fs)] = 0.0  # two whole chunks (20-40 s, 40-60 s) and more
    feet = detect.ppg_beats(signal, fs, "foot")
    t_s = feet.index / fs
    assert not ((t_s > 20.5) & (t_s < 64.5)).any()
    after = int(np.flatnonzero(t_s > 64.5)[0])
    assert not feet.linked[after] and not feet.interval_ok[after]
    assert feet.linked[after + 1 :].all() and feet.linked[1:after].all()


def test_a_non_finite_sample_breaks_the_interval_but_not_the_detection() -> None:
    fs = 64.0
    foot_s = _feet(80, fs)
    signal = _pulse(foot_s, 60.0, fs)
    signal[int(30.5 * fs)] = np.nan
    feet = detect.ppg_beats(signal, fs, "foot")
    t_s = feet.index / fs
    spans_gap = (np.concatenate(([-np.inf], t_s[:-1])) < 30.5) & (t_s > 30.5)
    assert spans_gap.sum() == 1 and not feet.linked[spans_gap].any()
    assert feet.linked[~spans_gap][1:].all()
    assert detect.beat_agreement(t_s, foot_s[foot_s < 59.0], 0.05).sensitivity >= 0.95


def test_a_missing_pulse_fails_the_quality_mask_and_breaks_two_intervals() -> None:
    fs = 64.0
    foot_s = _feet(80, fs)
    kept = np.delete(foot_s, 30)  # one foot missing: one interval twice as long
    feet = detect.ppg_beats(_pulse(kept, 60.0, fs), fs, "foot")
    late = int(np.argmin(np.abs(feet.index / fs - kept[30])))
    assert not feet.ok[late] and feet.linked[late]
    assert not feet.interval_ok[late] and not feet.interval_ok[late + 1]
    assert feet.interval_ok.sum() >= feet.index.size - 4


def test_calls_do_not_leak_state_between_signals() -> None:
    """heartpy keeps results in mutable default dicts; every call must start fresh."""
    slow = _ecg(_beat_times(40, mean_rr_s=1.1), 45.0)
    fast = _ecg(_beat_times(90, mean_rr_s=0.5), 45.0, seed=2)
    first = detect.ecg_beats(slow, FS)
    detect.ecg_beats(fast, FS)
    again = detect.ecg_beats(slow, FS)
    np.testing.assert_array_equal(first.index, again.index)
    np.testing.assert_array_equal(first.ok, again.ok)


def test_memmap_input_reads_the_same_beats(tmp_path) -> None:  # type: ignore[no-untyped-def]
    signal = _ecg(_beat_times(50), 40.0)
    path = tmp_path / "lead.bin"
    np.stack([np.zeros_like(signal), signal], axis=1).astype("<f8").tofile(path)
    mapped = np.memmap(path, dtype="<f8", mode="r", shape=(signal.size, 2))[:, 1]
    np.testing.assert_array_equal(
        detect.ecg_beats(mapped, FS).index, detect.ecg_beats(signal, FS).index
    )


def test_agreement_counts_one_to_one_matches() -> None:
    reference = np.array([1.0, 2.0, 3.0, 4.0])
    # Two detections near 2.0: only the closer one matches; 3.0 is missed; 5.5 is extra.
    detected = np.array([1.02, 1.98, 2.03, 4.0, 5.5])
    a = detect.beat_agreement(detected, reference, 0.05)
    assert (a.n_reference, a.n_detected, a.n_matched) == (4, 5, 3)
    assert a.sensitivity == pytest.approx(0.75)
    assert a.ppv == pytest.approx(0.6)
    assert a.mean_abs_error_ms == pytest.approx((20 + 20 + 0) / 3)
    assert a.mean_error_ms == pytest.approx((20 - 20 + 0) / 3)


def test_agreement_with_nothing_detected_is_zero_sensitivity() -> None:
    a = detect.beat_agreement([], [1.0, 2.0], 0.05)
    assert a.n_matched == 0 and a.sensitivity == 0.0 and np.isnan(a.ppv)


def test_agreement_tolerance_is_inclusive_and_errors_are_signed() -> None:
    reference = np.arange(1.0, 101.0) * 0.8
    late = detect.beat_agreement(reference + 0.02, reference, 0.15)
    assert late.n_matched == 100 and late.mean_error_ms == pytest.approx(20.0)
    early = detect.beat_agreement(reference - 0.125, reference, 0.125)
    assert early.n_matched == 100 and early.mean_error_ms == pytest.approx(-125.0)
    far = detect.beat_agreement(reference + 0.2, reference, 0.15)
    assert far.n_matched == 0 and np.isnan(far.mean_abs_error_ms)
    half = detect.beat_agreement(reference[::2], reference, 0.15)
    assert half.sensitivity == pytest.approx(0.5) and half.ppv == 1.0


def test_agreement_matches_a_detection_to_one_reference_only() -> None:
    # One detection between two close reference beats: the closer reference takes it.
    a = detect.beat_agreement([1.06], [1.0, 1.1], 0.1)
    assert (a.n_matched, a.sensitivity, a.ppv) == (1, 0.5, 1.0)
    assert a.mean_error_ms == pytest.approx(-40.0)


def test_alignment_recovers_a_constant_delay() -> None:
    peak_s = _beat_times(60)
    shift, matched = detect.alignment_offset_s(peak_s + 1.7, peak_s[5:], (-3.0, 0.0), 0.05)
    assert shift == pytest.approx(-1.7, abs=1e-9)
    assert matched == pytest.approx(55 / 60)
