"""ISHNE 1.0 Holter ECG (binary) → beats by R-peak detection on lead 1.

Layout (little-endian; ISHNE standard output format 1.0, Badilini et al.,
*Ann Noninvasive Electrocardiol* 1998):

====== =========== ===================================================
offset type        field
====== =========== ===================================================
0      char[8]     magic ``ISHNE1.0``
8      uint16      CRC-CCITT (init 0xFFFF) of bytes 10 .. ECG block
10     int32       size of the variable-length block
14     int32       ECG size: samples per lead
18     int32       offset of the variable-length block
22     int32       offset of the ECG block
28     char[168]+  patient name, id, sex, race, birth date (never read)
138    int16[3]    record date: day, month, year
150    int16[3]    start time: hour, minute, second
156    int16       number of leads (1–12)
206    int16[12]   resolution per lead, nV per unit
232    char[40]    recorder (→ ``device``)
272    int16       sampling rate, Hz
====== =========== ===================================================

The ECG block holds int16 samples interleaved by lead. It is read through a
``numpy.memmap`` one detection chunk at a time, so memory stays bounded for a
24-h recording.

Time basis
----------
The record date and start time are the recorder's local wall time without a
zone. A sidecar text file ``<file name>.tz`` (``holter.ecg.tz``), else the
subject's zone from the subject profile, gives the IANA zone it was recorded in (``Europe/Zurich``; a fixed offset such as
``+02:00`` is accepted too, as for the other ``.tz`` sidecars, see
:mod:`tearsignals.ingest.adapters.rr_text`); without it the file is
refused (one-line InputError), as is a start time that falls in a DST gap or
overlap. Sample *k* is at ``start + k / fs`` by the recorder's clock.

Beats
-----
R peaks of lead 1 (:func:`tearsignals.beats.detect.ecg_beats`), origin ``ecg``. A
record is a detected beat: the interval ending at it; the first beat has none
and gives no row. ``row_number`` is the 1-based sample number of the R peak
and ``raw`` names it. Beats failing heartpy's RR outlier check, or whose
interval spans a chunk heartpy could not fit, are rejects.
File-level problems (bad magic, checksum, sizes, date, resolution, truncated
ECG block, missing zone) raise InputError.
"""

from __future__ import annotations

import binascii
import struct
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt
import polars as pl

from tearsignals.beats import detect
from tearsignals.ingest.adapters import _tabular as tab
from tearsignals.ingest.adapters import raw_signal as raw
from tearsignals.ingest.adapters.base import NO_CONTEXT, Adapter, Context, Parsed
from tearsignals.ingest.adapters.rr_text import local_time_utc, sidecar_text
from tearsignals.ingest.timeparse import LocalZones

NAME = "ishne"
MAGIC = b"ISHNE1.0"
HEADER_BYTES = 522
MAX_LEADS = 12
MAX_VARIABLE_BLOCK = 1 << 24
LEAD = 0  # lead 1
TZ_SUFFIX = ".tz"


@dataclass(frozen=True)
class Header:
    """The ISHNE header fields tearsignals uses (no personal data)."""

    samples_per_lead: int
    ecg_offset: int
    leads: int
    resolution_nv: tuple[int, ...]
    fs: float
    local_start: datetime
    recorder: str | None


def sniff(head: bytes, path: Path) -> bool:
    """Starts with the ISHNE 1.0 magic bytes."""
    return head.startswith(MAGIC)


def _local_start(path: Path, fixed: bytes) -> datetime:
    """Record date and start time as a naive datetime (InputError if invalid)."""
    day, month, year = struct.unpack_from("<3h", fixed, 138)
    hour, minute, second = struct.unpack_from("<3h", fixed, 150)
    try:
        return datetime(year, month, day, hour, minute, second)
    except ValueError as exc:
        raise tab.input_error(path, "invalid record date or start time in the header") from exc


def _fixed_header(path: Path, data: bytes) -> Header:
    """Parse the fixed header; InputError on any inconsistent size or value."""
    if len(data) < HEADER_BYTES or not data.startswith(MAGIC):
        raise tab.input_error(path, "not an ISHNE 1.0 file or header truncated")
    variable, samples, _, ecg_offset = struct.unpack_from("<4i", data, 10)
    (leads,) = struct.unpack_from("<h", data, 156)
    (fs,) = struct.unpack_from("<h", data, 272)
    if (
        not 0 <= variable <= MAX_VARIABLE_BLOCK
        or not HEADER_BYTES <= ecg_offset <= HEADER_BYTES + MAX_VARIABLE_BLOCK
    ):
        raise tab.input_error(path, "inconsistent block sizes or offsets in the header")
    if samples <= 0 or not 1 <= leads <= MAX_LEADS or fs <= 0:
        raise tab.input_error(path, "header gives no samples, no leads or no sampling rate")
    resolution = struct.unpack_from(f"<{leads}h", data, 206)
    if resolution[LEAD] <= 0:
        raise tab.input_error(path, "unknown unit: lead 1 resolution (nV per unit) is not positive")
    recorder = data[232:272].split(b"\x00", 1)[0].decode("ascii", "replace").strip() or None
    return Header(
        samples, ecg_offset, leads, tuple(resolution), float(fs), _local_start(path, data), recorder
    )


def read_header(path: Path) -> Header:
    """The checked header of an ISHNE 1.0 file.

    Raises
    ------
    InputError
        Unreadable file, bad magic, checksum mismatch, impossible sizes,
        date, sampling rate or resolution, or an ECG block shorter than the
        header announces.
    """
    try:
        with path.open("rb") as handle:
            head = handle.read(HEADER_BYTES + MAX_VARIABLE_BLOCK)
        size = path.stat().st_size
    except OSError as exc:
        raise tab.input_error(path, f"cannot read file ({exc.strerror or exc})") from exc
    header = _fixed_header(path, head)
    (crc,) = struct.unpack_from("<H", head, 8)
    if binascii.crc_hqx(head[10 : header.ecg_offset], 0xFFFF) != crc:
        raise tab.input_error(path, "header checksum mismatch (corrupt header)")
    expected = header.ecg_offset + header.samples_per_lead * header.leads * 2
    if size < expected:
        present = max(0, size - header.ecg_offset) // (2 * header.leads)
        raise tab.input_error(
            path, f"truncated ECG block: {present} of {header.samples_per_lead} samples per lead"
        )
    return header


def start_utc(path: Path, header: Header, zones: LocalZones | None = None) -> datetime:
    """The recording start in UTC, read in the ``<file name>.tz`` sidecar's zone, else in ``zones``.

    Raises
    ------
    InputError
        No zone (neither sidecar nor profile), an unreadable or empty
        sidecar, an unknown zone, or a start time in a DST gap or overlap.
    """
    zone = sidecar_text(path, TZ_SUFFIX)
    return local_time_utc(path, header.local_start.isoformat(), zone, zones, "start time")


def lead_samples(path: Path, header: Header, lead: int = LEAD) -> npt.NDArray[np.int16]:
    """One lead's raw int16 samples as a read-only memmap view (multiply by resolution for nV)."""
    frames = np.memmap(
        path,
        dtype="<i2",
        mode="r",
        offset=header.ecg_offset,
        shape=(header.samples_per_lead, header.leads),
    )
    view: npt.NDArray[np.int16] = frames[:, lead]
    return view


def beats_frame(found: detect.Beats, start: datetime, fs: float) -> pl.DataFrame:
    """``t_utc, rr_ms, row_number, raw, reason`` of the detected beats (first beat has no row)."""
    start_us = int(pl.Series([start]).dt.epoch("us")[0])
    t_us = start_us + np.round(found.index * (1e6 / fs)).astype(np.int64)
    failed = "ecg beat failed the peak quality check (RR outlier)"
    frame = pl.DataFrame({
        "t_us": t_us[1:],
        "rr_ms": np.diff(t_us) / 1000.0,
        "sample": found.index[1:] + 1,
        "ok": found.interval_ok[1:],
    })  # fmt: skip
    return frame.select(
        t_utc=pl.from_epoch("t_us", time_unit="us").dt.replace_time_zone("UTC"),
        rr_ms="rr_ms",
        row_number=pl.col("sample").cast(pl.Int64),
        raw=pl.format("lead {} sample {}", pl.lit(LEAD + 1), pl.col("sample")),
        reason=pl.when(~pl.col("ok")).then(pl.lit(failed)),
    )


def parse(path: Path, context: Context = NO_CONTEXT) -> Parsed:
    """Read an ISHNE 1.0 Holter file and detect the beats of lead 1.

    Raises
    ------
    InputError
        See :func:`read_header` and :func:`start_utc`.
    """
    header = read_header(path)
    start = start_utc(path, header, context.zones)
    try:
        found = detect.ecg_beats(lead_samples(path, header), header.fs)
    except ValueError as exc:  # a sampling rate too low for the QRS band
        raise tab.input_error(path, str(exc)) from exc
    good, bad = raw.beats_parsed(beats_frame(found, start, header.fs), "ecg", NAME, header.recorder)
    return Parsed(frames={raw.TABLE: good}, rejects=bad)


ADAPTER = Adapter(name=NAME, sniff=sniff, parse=parse, reads_profile=True)
