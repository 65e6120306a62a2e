"""Peak detection on synthetic signals: positions, polarity, gaps, quality mask, agreement."""

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


def test_alignment_recovers_a_constant_delay() -> None:
    peak_s = _beat_times(60)
    shift, matched = detect.alignment_offset_s(peak_s + 1.7, peak_s[5:], (-3.0, 0.0), 0.05)
    assert shift == pytest.approx(-1.7, abs=1e-9)
    assert matched == pytest.approx(55 / 60)
