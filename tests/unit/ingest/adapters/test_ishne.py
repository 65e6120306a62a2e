"""ISHNE 1.0 Holter adapter: the real Lifecard recording, crafted broken variants, ingest.

Times of an ISHNE file follow from the header and the sample index, so there are no
per-record times that could repeat or go backwards; broken variants are about the
header, the ECG block and the time-zone sidecar.
"""

from __future__ import annotations

import binascii
import struct
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from tearsignals.errors import InputError
from tearsignals.ingest import adapters, files
from tearsignals.ingest.adapters import ishne
from tearsignals.lake import store

FS = 128
HOLTER_START_UTC = datetime(2019, 8, 9, 8, 5, tzinfo=UTC)  # 10:05 CEST


@pytest.fixture(scope="module")
def holter_path(realdata: Path) -> Path:
    return realdata / "flirt" / "holter" / "holter.ecg"


@pytest.fixture(scope="module")
def excerpt(holter_path: Path) -> np.ndarray:
    """Three minutes of the real 3-lead recording (from 200 s on), int16 samples."""
    header = ishne.read_header(holter_path)
    frames = np.memmap(
        holter_path, dtype="<i2", mode="r", offset=header.ecg_offset, shape=(597376, 3)
    )
    return np.array(frames[200 * FS : 380 * FS])


def _ishne_bytes(
    samples: np.ndarray,
    *,
    fs: int = FS,
    date: tuple[int, int, int] = (9, 8, 2019),
    start: tuple[int, int, int] = (10, 5, 0),
    resolution: int = 2441,
    samples_per_lead: int | None = None,
) -> bytes:
    """A valid ISHNE 1.0 file (checksum included) around ``samples`` (n × leads, int16)."""
    n, leads = samples.shape
    header = bytearray(512)  # bytes 10..522 of the file
    struct.pack_into("<4ih", header, 0, 0, samples_per_lead or n, 522, 522, 1)
    struct.pack_into("<3h", header, 128, *date)
    struct.pack_into("<3h", header, 140, *start)
    struct.pack_into("<h", header, 146, leads)
    struct.pack_into(f"<{leads}h", header, 196, *([resolution] * leads))
    header[222:233] = b"Lifecard CF"
    struct.pack_into("<h", header, 262, fs)
    crc = binascii.crc_hqx(bytes(header), 0xFFFF)
    return b"ISHNE1.0" + struct.pack("<H", crc) + bytes(header) + samples.astype("<i2").tobytes()


def _detected_name(path: Path) -> str | None:
    """Name of the adapter that claims ``path`` (names, not objects: doctest runs re-import modules)."""
    adapter = adapters.detect(path)
    return adapter.name if adapter is not None else None


def _write(tmp_path: Path, data: bytes, zone: str | bytes | None = "Europe/Zurich") -> Path:
    path = tmp_path / "rec.ecg"
    path.write_bytes(data)
    if zone is not None:
        sidecar = tmp_path / "rec.ecg.tz"
        sidecar.write_bytes(zone.encode() if isinstance(zone, str) else zone)
    return path


# --- the real recording --------------------------------------------------------------------------


def test_real_header_matches_the_readme(holter_path: Path) -> None:
    header = ishne.read_header(holter_path)
    assert (header.leads, header.fs, header.samples_per_lead) == (3, 128.0, 597376)
    assert header.resolution_nv == (2441, 2441, 2441)
    assert header.local_start == datetime(2019, 8, 9, 10, 5)
    assert header.recorder == "Lifecard CF"
    assert ishne.lead_samples(holter_path, header).shape == (597376,)


def test_real_recording_gives_the_annotated_beats(
    tmp_path: Path, holter_path: Path, realdata: Path
) -> None:
    path = _write(tmp_path, holter_path.read_bytes())
    assert _detected_name(path) == ishne.NAME
    parsed = ishne.parse(path)
    beats = parsed.frames["beats"]
    assert parsed.rejects["reason"].is_not_null().all()
    # README: 4,767 N + 1 S annotated beats; every interval is a row or a reject
    assert 0.99 * 4768 <= parsed.rows_in <= 1.01 * 4768
    assert beats.height >= 0.99 * parsed.rows_in
    # UTC conversion: sample k at 10:05:00 Europe/Zurich (CEST, +02:00) + k / 128 s
    offsets = beats["t_utc"] - HOLTER_START_UTC
    expected = (beats["row_number"] - 1).cast(pl.Float64) / FS
    np.testing.assert_allclose(
        offsets.dt.total_microseconds().to_numpy() / 1e6, expected.to_numpy(), atol=1e-6
    )
    assert beats["t_utc"].max() < HOLTER_START_UTC + timedelta(seconds=4667)  # 77.8 min
    # the annotations mark the first beat at 98.6 s (X = no usable signal before)
    first_annotated = HOLTER_START_UTC + timedelta(seconds=98.643)
    assert first_annotated - timedelta(seconds=5) <= beats["t_utc"].min()
    assert set(beats["device"]) == {"Lifecard CF"} and set(beats["origin"]) == {"ecg"}
    assert beats["rr_ms"].is_between(300, 2000).all()


def test_real_recording_lands_in_the_lake_and_its_sidecar_is_logged(
    tmp_path: Path, holter_path: Path
) -> None:
    inbox = tmp_path / "INBOX"
    (inbox / "S01").mkdir(parents=True)
    path = inbox / "S01" / "holter.ecg"
    path.write_bytes(holter_path.read_bytes())
    (inbox / "S01" / "holter.ecg.tz").write_text("Europe/Zurich\n")
    lake = tmp_path / "lake"
    reports = [files.ingest_file(lake, inbox, s, p) for s, p in files.inbox_files(inbox)]
    by_name = {Path(r.path).name: r for r in reports if r is not None}
    ecg = by_name["holter.ecg"]
    assert ecg.status == "ingested" and ecg.format == "ishne"
    assert ecg.rows_in == ecg.rows_ok + ecg.rows_quarantined + ecg.rows_duplicate + ecg.rows_skipped
    assert store.read_table(lake, "beats").height == ecg.rows_ok > 4700
    assert by_name["holter.ecg.tz"].rows_in == 0


# --- time zone sidecar ---------------------------------------------------------------------------


def test_offset_sidecar_and_bom_give_the_same_times(tmp_path: Path, excerpt: np.ndarray) -> None:
    zurich = ishne.parse(_write(tmp_path, _ishne_bytes(excerpt))).frames["beats"]
    offset = ishne.parse(_write(tmp_path, _ishne_bytes(excerpt), b"\xef\xbb\xbf+02:00\n")).frames[
        "beats"
    ]
    assert zurich.height > 150
    assert zurich["t_utc"].equals(offset["t_utc"])
    assert zurich["t_utc"].min() > HOLTER_START_UTC


@pytest.mark.parametrize(
    ("zone", "start", "needle"),
    [
        (None, (10, 5, 0), "local time without zone: .* in rec.ecg.tz or .* subject.toml"),
        ("Mars/Olympus", (10, 5, 0), "unknown time zone"),
        ("", (10, 5, 0), "rec.ecg.tz is empty"),
        ("Z\xfcrich".encode("latin-1"), (10, 5, 0), "cannot read rec.ecg.tz"),
        ("Europe/Zurich", (2, 30, 0), "nonexistent local time"),
    ],
)
def test_start_time_problems_are_input_errors(
    tmp_path: Path,
    excerpt: np.ndarray,
    zone: str | bytes | None,
    start: tuple[int, int, int],
    needle: str,
) -> None:
    date = (31, 3, 2019) if start == (2, 30, 0) else (9, 8, 2019)
    path = _write(tmp_path, _ishne_bytes(excerpt, date=date, start=start), zone)
    with pytest.raises(InputError, match=needle) as err:
        ishne.parse(path)
    assert str(err.value).startswith("rec.ecg: ") and "\n" not in str(err.value)


# --- broken files --------------------------------------------------------------------------------


def _corrupt(data: bytes, offset: int, fmt: str, value: int) -> bytes:
    """``data`` with one header field replaced, checksum recomputed."""
    out = bytearray(data)
    struct.pack_into(fmt, out, offset, value)
    struct.pack_into("<H", out, 8, binascii.crc_hqx(bytes(out[10:522]), 0xFFFF))
    return bytes(out)


@pytest.mark.parametrize(
    ("damage", "needle"),
    [
        (lambda d: b"", "not an ISHNE 1.0 file or header truncated"),
        (lambda d: d[:300], "header truncated"),
        (lambda d: d[: 522 + 3 * 2 * 1000 + 5], "truncated ECG block: 1000 of 23040 samples"),
        (lambda d: d[:200] + b"\x01" + d[201:], "checksum mismatch"),
        (lambda d: _corrupt(d, 206, "<h", 0), "unknown unit"),
        (lambda d: _corrupt(d, 140, "<h", 13), "invalid record date"),
        (lambda d: _corrupt(d, 272, "<h", 0), "no sampling rate"),
        (lambda d: _corrupt(d, 156, "<h", 0), "no leads"),
        (lambda d: _corrupt(d, 22, "<i", 100), "inconsistent block sizes"),
        (lambda d: _corrupt(d, 272, "<h", 32), "below|at least 50 Hz"),
    ],
)
def test_broken_files_are_one_line_input_errors(
    tmp_path: Path, excerpt: np.ndarray, damage, needle: str
) -> None:  # type: ignore[no-untyped-def]
    path = _write(tmp_path, damage(_ishne_bytes(excerpt)))
    with pytest.raises(InputError, match=needle) as err:
        ishne.parse(path)
    assert str(err.value).startswith("rec.ecg: ") and "\n" not in str(err.value)


def test_other_binary_is_not_taken_for_ishne(tmp_path: Path, excerpt: np.ndarray) -> None:
    path = _write(tmp_path, b"ISHNE2.0" + _ishne_bytes(excerpt)[8:])
    assert not ishne.sniff(path.read_bytes()[:65536], path)
    with pytest.raises(InputError, match=r"not an ISHNE 1\.0 file"):
        ishne.parse(path)


def test_flat_lead_gives_no_beats(tmp_path: Path) -> None:
    parsed = ishne.parse(_write(tmp_path, _ishne_bytes(np.zeros((FS * 60, 2), dtype=np.int16))))
    assert parsed.rows_in == 0 and parsed.frames["beats"].height == 0
