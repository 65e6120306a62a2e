"""Reference beats in real recordings, and how our detected beats agree with them.

Agreement is :func:`tearsignals.beats.detect.beat_agreement`: one-to-one
matching within :data:`ECG_TOLERANCE_S` (ECG) or :data:`IBI_TOLERANCE_S` (the
Empatica E4's IBI beats). The golden tests ``test_peaks_real.py`` and
``test_e4_fit_real.py`` assert on these values; ``bench/validation_report.py``
tabulates them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl

from tearsignals.beats import detect
from tearsignals.ingest import adapters
from tearsignals.ingest.adapters import empatica, ishne, polar_h10

ECG_TOLERANCE_S = 0.05
IBI_TOLERANCE_S = 0.15
NST_FS = 360.0
HOLTER_S = 600.0  # the annotated first 10 min of the ISHNE Holter
S01_START = datetime(2022, 2, 7, 9, 27, 41, tzinfo=UTC)
FLIRT_START = datetime(2019, 6, 11, 19, 3, 45, tzinfo=UTC)
FLIRT_BVP_S = 156.2  # flirt's BVP.csv covers only the first 156 s of its IBI
HEARTPY_DATA_FIRST_PEAKS = [63, 165, 264, 360, 460]  # heartpy's detect_peaks doctest, data.csv
HEARTPY_DATA2_BPM = 62.376  # heartpy's doctest, data2.csv
HEARTPY_DATA3_FS = 100.42  # heartpy's process_segmentwise doctest, data3.csv ...
HEARTPY_DATA3_SEGMENT_BPM = [100.0, 96.8, 97.2, 97.9, 96.7, 96.8, 96.8, 95.0, 92.9, 96.7, 99.2]


def column(path: Path) -> np.ndarray:
    """A one-column text file of numbers (heartpy's example signals and annotations)."""
    return np.loadtxt(path, dtype=np.float64, ndmin=1)


# --- ECG ------------------------------------------------------------------------------------


def nst_agreement(realdata: Path, record: str) -> detect.Agreement:
    """R peaks of a MIT-BIH Noise Stress Test excerpt (heartpy's ``118e*``) vs its annotations."""
    signal = column(realdata / "heartpy" / f"{record}.csv")
    reference = column(realdata / "heartpy" / f"{record}_ann.csv")
    found = detect.ecg_beats(signal, NST_FS)
    return detect.beat_agreement(found.index / NST_FS, reference / NST_FS, ECG_TOLERANCE_S)


def holter_reference_s(path: Path) -> np.ndarray:
    """Annotated beat times (s from the start) except ``X`` (artifact / no signal)."""
    rows = [line.split() for line in path.read_text().splitlines()[1:] if line.strip()]
    return np.array([float(t) for t, label in rows if label != "X"])


def holter_agreement(realdata: Path) -> detect.Agreement:
    """R peaks of the ISHNE Holter's lead 1 vs its annotations over the first 10 min.

    Detections before the first annotated beat are left out: the file marks
    that stretch ``X`` (no usable signal).
    """
    path = realdata / "flirt" / "holter" / "holter.ecg"
    header = ishne.read_header(path)
    found = detect.ecg_beats(
        ishne.lead_samples(path, header)[: int(HOLTER_S * header.fs)], header.fs
    )
    reference = holter_reference_s(realdata / "flirt" / "holter" / "holter.txt")
    reference = reference[reference < HOLTER_S]
    detected = found.index / header.fs
    detected = detected[detected >= reference[0] - ECG_TOLERANCE_S]
    return detect.beat_agreement(detected, reference, ECG_TOLERANCE_S)


def rr_differences_ms(
    ecg_s: np.ndarray, device_s: np.ndarray, device_rr_ms: np.ndarray
) -> np.ndarray:
    """ECG RR minus device RR over intervals whose two device beats both matched successive peaks."""
    right = np.searchsorted(ecg_s, device_s).clip(1, ecg_s.size - 1)
    nearest = np.where(
        np.abs(ecg_s[right] - device_s) < np.abs(ecg_s[right - 1] - device_s), right, right - 1
    )
    matched = np.abs(ecg_s[nearest] - device_s) <= ECG_TOLERANCE_S
    pairs = matched[1:] & matched[:-1] & (np.diff(nearest) == 1)
    ecg_rr_ms = np.diff(ecg_s[nearest]) * 1000.0
    return (ecg_rr_ms - device_rr_ms[1:])[pairs]


def polar_h10_ecg_vs_device(realdata: Path) -> tuple[detect.Agreement, np.ndarray]:
    """R peaks of the Polar H10's ECG (~130 Hz) vs the strap's own RR beats, and the RR errors."""
    path = realdata / "polar_h10_ecg_detectPVC" / "polar_h10.csv"
    device = polar_h10.parse(path).frames["beats"].filter(pl.col("origin") == "rr")
    device_s = device["t_utc"].dt.epoch("us").to_numpy() / 1e6
    samples = pl.read_csv(path, columns=["time_ns", "ecg_mV"])
    time_s = samples["time_ns"].to_numpy() / 1e9
    fs = 1.0 / float(np.median(np.diff(time_s)))
    found = detect.ecg_beats(samples["ecg_mV"].to_numpy(), fs)
    ecg_s = time_s[found.index]
    agreement = detect.beat_agreement(ecg_s, device_s, ECG_TOLERANCE_S)
    return agreement, rr_differences_ms(ecg_s, device_s, device["rr_ms"].to_numpy())


# --- PPG: heartpy's example signals (systolic peaks) ----------------------------------------


def heartpy_ppg_beats(realdata: Path, name: str) -> tuple[detect.Beats, float]:
    """Systolic peaks of heartpy's ``data.csv`` (100 Hz), ``data2.csv`` or ``data3.csv`` and fs.

    ``data2``'s rate comes from its ms timer as heartpy's ``get_samplerate_mstimer``
    computes it; ``data3``'s is the one heartpy's doctest passes.
    """
    path = realdata / "heartpy" / name
    if name == "data.csv":
        return detect.ppg_beats(column(path), 100.0), 100.0
    frame = pl.read_csv(path)
    if name == "data2.csv":
        timer_ms = frame["timer"].to_numpy()
        fs = timer_ms.size / (timer_ms[-1] - timer_ms[0]) * 1000.0
    else:
        fs = HEARTPY_DATA3_FS
    signal = frame["hr"].to_numpy().astype(np.float64)
    return detect.ppg_beats(signal, fs), fs


def mean_ok_hr_bpm(found: detect.Beats, fs: float) -> float:
    """Mean heart rate of the intervals whose two ends pass the quality mask."""
    rr_ms = np.diff(found.index) / fs * 1000.0
    ok = found.ok[1:] & found.ok[:-1]
    return float(60000.0 / np.mean(rr_ms[ok]))


# --- PPG: Empatica E4 BVP (pulse foot) vs the device's IBI ----------------------------------


def parsed(path: Path) -> tuple[str, adapters.Parsed]:
    """The adapter that claims ``path`` and what it parsed."""
    adapter, result = adapters.parse_file(path)
    return adapter.name, result


def seconds_after(times: pl.Series, start: datetime) -> np.ndarray:
    """UTC times as seconds after ``start``."""
    return (times - start).dt.total_microseconds().to_numpy() / 1e6


def ibi_agreement(
    bvp_beats: pl.DataFrame, ibi_beats: pl.DataFrame, start: datetime, span_s: float | None = None
) -> detect.Agreement:
    """The E4 adapter's BVP beats vs the device's IBI beats (those within ``span_s`` of start)."""
    reference = seconds_after(ibi_beats["t_utc"], start)
    if span_s is not None:
        reference = reference[reference < span_s]
    return detect.beat_agreement(
        seconds_after(bvp_beats["t_utc"], start), reference, IBI_TOLERANCE_S
    )


def e4_bvp_and_ibi_s(folder: Path) -> tuple[np.ndarray, float, np.ndarray]:
    """BVP samples, their rate, and the IBI beat times in seconds from the first BVP sample."""
    start_s, fs = np.loadtxt(folder / "BVP.csv", max_rows=2)
    signal = np.loadtxt(folder / "BVP.csv", skiprows=2)
    ibi = empatica.parse_ibi(folder / "IBI.csv").frames["beats"]
    return signal, float(fs), ibi["t_utc"].dt.epoch("us").to_numpy() / 1e6 - start_s


def e4_pulse_agreement(folder: Path, fiducial: detect.PpgFiducial) -> detect.Agreement:
    """Every pulse the detector finds in an E4 BVP at ``fiducial`` vs the device's IBI beats."""
    signal, fs, ibi_s = e4_bvp_and_ibi_s(folder)
    found = detect.ppg_beats(signal, fs, fiducial)
    return detect.beat_agreement(found.index / fs, ibi_s, IBI_TOLERANCE_S)
