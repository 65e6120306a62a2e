"""Polar H10 ECG CSV (ECGLogger app): raw ECG plus the strap's own RR and heart rate.

Format: header ``time_ns,ecg_mV,hr_bpm,rr_ms`` (as written by the detectPVC
package's conversion of ECGLogger data), one line per ECG sample (~130 Hz);
``hr_bpm`` and ``rr_ms`` are blank except on the lines where the strap
reported them (one HR per notification, about 1 Hz; one or more RR values per
notification, on consecutive lines).

Time basis
----------
``time_ns`` is epoch nanoseconds in UTC, one per sample. An HR value is
placed at its line's time. RR values arrive late: the strap buffers its beats
and the phone stamps each notification 1–3 s after the beats it reports, so a
line's time is *not* the beat time. Beat times are rebuilt as a chain
``t_k = anchor + cumsum(rr)_k`` (so consecutive device beats are exactly
``rr_ms`` apart):

1. coarse anchor: the latest anchor that puts no beat after the notification
   that reported it;
2. fine anchor: the shift within :data:`MAX_DELAY_S` before the coarse one
   that best lines the chain up with the R peaks detected in the ECG of the
   same strap (:func:`tearsignals.beats.detect.alignment_offset_s`, ±50 ms), used
   when at least :data:`MIN_ALIGNED` of the device beats then match a peak.

A notification more than :data:`MAX_DELAY_S` later than its chain predicts
means beats were lost (a dropout): a new chain starts there.

Canonical beats (source priority)
---------------------------------
Device RR wins: the strap measures RR on its internal ECG at 1 ms resolution,
the streamed ECG is only ~130 Hz. Device beats are emitted with origin ``rr``.
ECG-derived beats (origin ``ecg``, as in :mod:`raw_signal`) are emitted only
where no device interval covers them: a detected beat within
:data:`COVER_MARGIN_S` of ``[t_k - rr_k, notification time of k]`` for some
device beat *k* is the same heartbeat as that device beat and is counted in
``duplicates``. ``heart_rate`` gets the device HR values.

Records: a device RR or HR value, a detected ECG beat, or a rejected line
(bad time, non-monotonic time, bad ECG value; a bad RR or HR value is a
reject of its own). An exact repeat of a line is a duplicate.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import numpy.typing as npt
import polars as pl

from tearsignals.arrays import FloatArray
from tearsignals.beats import detect
from tearsignals.ingest.adapters import _tabular as tab
from tearsignals.ingest.adapters import raw_signal as raw
from tearsignals.ingest.adapters.base import NO_CONTEXT, Adapter, Context, Parsed, as_rejects

NAME = "polar_h10"
DEVICE = "Polar H10"
COLUMNS = ("time_ns", "ecg_mv", "hr_bpm", "rr_ms")
MAX_DELAY_S = 5.0
MIN_ALIGNED = 0.5
ALIGN_TOLERANCE_S = 0.05
COVER_MARGIN_S = 0.15


def sniff(head: bytes, path: Path) -> bool:
    """A text table whose header names all of ``time_ns, ecg_mv, hr_bpm, rr_ms``."""
    return set(COLUMNS) <= set(tab.header_columns(head))


def _given(name: str) -> pl.Expr:
    """Whether the text field holds anything besides whitespace."""
    return pl.col(name).str.strip_chars().fill_null("") != ""


def device_values(fields: pl.DataFrame, samples: pl.DataFrame, column: str) -> pl.DataFrame:
    """``row_number, raw, utc, value, reason`` of the lines with a usable time that give ``column``."""
    value, reason = tab.float_and_reason(pl.col(column), column)
    usable = samples["time_reason"].is_null() & ~samples["duplicate"]
    return (
        fields.with_columns(utc=samples["utc"], usable=usable)
        .filter(pl.col("usable") & _given(column))
        .select("row_number", "raw", "utc", value=value, reason=reason)
    )


def chain_starts(notified_ms: FloatArray, rr_ms: FloatArray) -> list[int]:
    """First index of each chain: a new one where a notification is > MAX_DELAY_S late.

    A notification's delay is its time minus the chain's running sum of RR;
    beats lost in a dropout make the delay jump by their total length.

    >>> chain_starts(np.array([1000.0, 2000, 3000, 12000]), np.array([900.0, 1000, 1000, 1000]))
    [0, 3]
    """
    cumulative = np.cumsum(rr_ms)
    starts, base, low = [0], 0.0, np.inf
    for k in range(notified_ms.size):
        delay = notified_ms[k] - (cumulative[k] - base)
        if delay - low > MAX_DELAY_S * 1000:
            starts.append(k)
            base, low = float(cumulative[k - 1]), np.inf
            delay = notified_ms[k] - (cumulative[k] - base)
        low = min(low, delay)
    return starts


def _chain_times_ms(notified_ms: FloatArray, rr_ms: FloatArray, peak_ms: FloatArray) -> FloatArray:
    """Beat times of one chain: coarse anchor, then aligned on the ECG peaks when they agree."""
    cumulative = np.cumsum(rr_ms)
    coarse = cumulative + float(np.min(notified_ms - cumulative))
    shift_s, matched = detect.alignment_offset_s(
        coarse / 1000, peak_ms / 1000, (-MAX_DELAY_S, 0.0), ALIGN_TOLERANCE_S
    )
    return coarse + shift_s * 1000 if matched >= MIN_ALIGNED else coarse


def device_beat_times_ms(
    notified_ms: FloatArray, rr_ms: FloatArray, peak_ms: FloatArray
) -> FloatArray:
    """Epoch-ms beat times of the device RR values (chains anchored as the module explains)."""
    bounds = [*chain_starts(notified_ms, rr_ms), notified_ms.size]
    parts = [
        _chain_times_ms(notified_ms[a:b], rr_ms[a:b], peak_ms)
        for a, b in itertools.pairwise(bounds)
        if b > a
    ]
    return np.concatenate(parts) if parts else np.zeros(0)


def covered(
    beat_ms: FloatArray, device_ms: FloatArray, rr_ms: FloatArray, notified_ms: FloatArray
) -> npt.NDArray[np.bool_]:
    """Whether each ECG beat lies in a device interval ``[t - rr, max(t, notified)]`` ± margin.

    >>> covered(np.array([500.0, 5000]), np.array([1000.0]), np.array([800.0]), np.array([2000.0])).tolist()
    [True, False]
    """
    if device_ms.size == 0:
        return np.zeros(beat_ms.size, dtype=np.bool_)
    margin = COVER_MARGIN_S * 1000
    lo = device_ms - rr_ms - margin
    order = np.argsort(lo)
    reach = np.maximum.accumulate(np.maximum(device_ms, notified_ms)[order] + margin)
    last_started = np.searchsorted(lo[order], beat_ms, side="right") - 1
    return (last_started >= 0) & (beat_ms <= reach[np.maximum(last_started, 0)])


def _device_beats(rr: pl.DataFrame, peak_ms: FloatArray) -> tuple[pl.DataFrame, FloatArray]:
    """Canonical device beats (origin ``rr``) and the notification times (epoch ms) of each."""
    notified_ms = rr["utc"].dt.epoch("us").to_numpy() / 1000.0
    rr_ms = rr["value"].to_numpy()
    beat_ms = device_beat_times_ms(notified_ms, rr_ms, peak_ms)
    frame = rr.select(
        t_utc=pl.from_epoch(
            pl.Series(np.round(beat_ms * 1000).astype(np.int64)), time_unit="us"
        ).dt.replace_time_zone("UTC"),
        rr_ms="value",
        row_number="row_number",
        source=pl.lit(NAME),
        device=pl.lit(DEVICE),
        origin=pl.lit("rr"),
    )
    return raw.canonical(frame, raw.TABLE), notified_ms


def _value_rejects(values: pl.DataFrame, table: str) -> pl.DataFrame:
    """The device values with a reason, as rejects of ``table``."""
    return as_rejects(values.filter(pl.col("reason").is_not_null()), table)


def _heart_rate(hr: pl.DataFrame) -> pl.DataFrame:
    """Canonical ``heart_rate`` rows of the good device HR values, at their line's time."""
    good = hr.filter(pl.col("reason").is_null())
    frame = good.select(
        t_utc="utc",
        hr_bpm="value",
        row_number="row_number",
        source=pl.lit(NAME),
        device=pl.lit(DEVICE),
    )
    return raw.canonical(frame, "heart_rate")


def parse(path: Path, context: Context = NO_CONTEXT) -> Parsed:
    """Read a Polar H10 ECG CSV into device beats, gap-filling ECG beats and heart rate.

    Raises
    ------
    InputError
        File-level problems, a missing column, or a sampling rate too low for detection.
    """
    fields = raw.read_signal_file(path).fields
    tab.require_columns(path, fields.columns, [(c,) for c in COLUMNS])
    samples = raw.samples_with_reasons(fields, "ecg_mv", raw.column_times(fields))
    kept = raw.kept_samples(samples)
    fs = raw.checked_rate(
        path, raw.sampling_rate(None, kept["utc"].dt.epoch("us").to_numpy()), "ecg"
    )
    ecg = raw.detected_beats(kept if fs else kept.head(0), fs or 1.0, "ecg")
    ecg_ms = ecg["t_utc"].dt.epoch("us").to_numpy() / 1000.0
    rr = device_values(fields, samples, "rr_ms")
    hr = device_values(fields, samples, "hr_bpm")
    rr_ok = rr.filter(pl.col("reason").is_null())
    device, notified_ms = _device_beats(rr_ok, ecg_ms)
    device_ms = device["t_utc"].dt.epoch("us").to_numpy() / 1000.0
    same_beat = covered(ecg_ms, device_ms, rr_ok["value"].to_numpy(), notified_ms)
    ecg_good, ecg_bad = raw.beats_parsed(ecg.filter(~pl.Series(same_beat)), "ecg", NAME, DEVICE)
    rejects = [
        raw.sample_rejects(samples),
        _value_rejects(rr, "beats"),
        _value_rejects(hr, "heart_rate"),
        ecg_bad,
    ]
    return Parsed(
        frames={
            "beats": pl.concat([device, ecg_good]).sort("row_number"),
            "heart_rate": _heart_rate(hr),
        },
        rejects=pl.concat(rejects),
        duplicates=int(samples["duplicate"].sum()) + int(same_beat.sum()),
    )


ADAPTER = Adapter(name=NAME, sniff=sniff, parse=parse)
