"""Golden tests: beats detected by ``tearsignals.beats.detect`` against reference beats in real recordings.

Matching is one-to-one within ±50 ms (ECG) or ±150 ms (the E4's IBI beats).
Thresholds sit just below what the detector achieves here (achieved values in
comments), so a regression fails and an improvement does not. Both PPG
fiducials are covered: systolic peaks on heartpy's example PPGs, the pulse
foot on the Empatica E4 session S01 (whose device IBI marks the foot). The
recipes live in :mod:`tests.support.beat_references`; recordings are read
from ``../shared/realdata`` through the ``realdata`` fixture, never copied.

Not tested: 118e00 (0 dB SNR). heartpy's fitting fails there: sensitivity
0.64, PPV 0.50 at ±50 ms; such noise needs a different detector.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.support import beat_references as ref_beats

pytestmark = pytest.mark.golden


# --- MIT-BIH Noise Stress Test record 118 (heartpy example excerpts) ---------------------------


@pytest.mark.parametrize(
    ("record", "min_sensitivity", "min_ppv", "max_error_ms"),
    [
        ("118e24", 0.99, 0.99, 2.0),  # achieved 1.000, 1.000, 0.8 ms
        ("118e12", 0.99, 0.92, 2.0),  # achieved 1.000, 0.936, 1.2 ms
        ("118e06", 0.88, 0.70, 3.0),  # achieved 0.895, 0.714, 1.8 ms
    ],
)
def test_nst_r_peaks_match_the_reference_annotations(
    realdata: Path, record: str, min_sensitivity: float, min_ppv: float, max_error_ms: float
) -> None:
    agreement = ref_beats.nst_agreement(realdata, record)
    assert agreement.n_reference in (162, 167)  # README: 167 beats for e24, 162 for e12/e06
    assert agreement.sensitivity >= min_sensitivity
    assert agreement.ppv >= min_ppv
    assert agreement.mean_abs_error_ms <= max_error_ms


# --- ISHNE Holter (Lifecard CF) vs its beat annotations ---------------------------------------


def test_holter_lead_1_beats_match_the_annotations_in_the_first_10_minutes(realdata: Path) -> None:
    agreement = ref_beats.holter_agreement(realdata)
    assert agreement.n_reference == 585
    assert agreement.sensitivity >= 0.99  # achieved 0.997
    assert agreement.ppv >= 0.99  # achieved 1.000
    # The annotations sit a constant ~42 ms before lead 1's R peak (another fiducial point).
    assert 35.0 <= agreement.mean_error_ms <= 46.0  # achieved +42.4 ms
    assert agreement.mean_abs_error_ms <= 46.0  # achieved 42.4 ms


# --- Polar H10: beats from the ECG vs the strap's own RR --------------------------------------


def test_polar_h10_ecg_beats_agree_with_the_device_rr(realdata: Path) -> None:
    agreement, rr_error = ref_beats.polar_h10_ecg_vs_device(realdata)
    assert agreement.n_reference == 798
    assert agreement.sensitivity >= 0.99  # achieved 0.997
    assert agreement.ppv >= 0.99  # achieved 0.994
    assert agreement.mean_abs_error_ms <= 7.0  # achieved 5.6 ms (ECG at 130 Hz: 7.7 ms steps)
    assert rr_error.size >= 780  # achieved 792 of 797 intervals
    assert float(np.mean(np.abs(rr_error))) <= 3.5  # achieved 2.8 ms


# --- PPG systolic peaks (heartpy example data) -----------------------------------------------


def test_ppg_peaks_of_data_csv_are_heartpys_documented_peaks(realdata: Path) -> None:
    found, _ = ref_beats.heartpy_ppg_beats(realdata, "data.csv")
    assert found.index[:5].tolist() == ref_beats.HEARTPY_DATA_FIRST_PEAKS
    assert found.index.size == 24 and found.ok.all()


def test_ppg_heart_rate_of_data2_matches_heartpy_reference(realdata: Path) -> None:
    found, fs = ref_beats.heartpy_ppg_beats(realdata, "data2.csv")
    assert fs == pytest.approx(116.996, abs=1e-3)  # heartpy's get_samplerate_mstimer
    # heartpy doctest: 62.376 bpm; achieved 61.49 (1.4 % lower)
    hr_bpm = ref_beats.mean_ok_hr_bpm(found, fs)
    assert hr_bpm == pytest.approx(ref_beats.HEARTPY_DATA2_BPM, rel=0.025)


def test_ppg_heart_rate_of_data3_matches_heartpy_segmentwise_reference(realdata: Path) -> None:
    found, fs = ref_beats.heartpy_ppg_beats(realdata, "data3.csv")
    # heartpy process_segmentwise doctest; achieved 97.82 vs 96.91 (0.9 % higher)
    assert ref_beats.mean_ok_hr_bpm(found, fs) == pytest.approx(
        np.mean(ref_beats.HEARTPY_DATA3_SEGMENT_BPM), rel=0.015
    )
    assert found.ok.mean() >= 0.98  # achieved 0.99


# --- PPG fiducial: Empatica E4 BVP vs the device's own IBI beats ----------------------------


def test_e4_bvp_feet_are_the_device_ibi_beats(realdata: Path) -> None:
    agreement = ref_beats.e4_pulse_agreement(realdata / "stress_predict_e4" / "S01", "foot")
    assert agreement.n_reference == 1260
    assert agreement.sensitivity >= 0.94  # achieved 0.949
    assert agreement.mean_abs_error_ms <= 1.0  # achieved 0.13 ms: the same sample, nearly always


def test_e4_bvp_systolic_peaks_are_not_where_the_device_places_its_beats(realdata: Path) -> None:
    """Negative control for the fiducial choice: the same pulses at their peaks miss the IBI."""
    folder = realdata / "stress_predict_e4" / "S01"
    agreement = ref_beats.e4_pulse_agreement(folder, "systolic_peak")
    assert agreement.n_detected >= 3000  # achieved 3,251 pulses (3,325 feet)
    assert agreement.sensitivity <= 0.01  # achieved 0.002
