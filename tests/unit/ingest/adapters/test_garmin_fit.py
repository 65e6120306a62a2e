"""Garmin FIT adapter on FIT files encoded here (hrv + record messages), and broken variants."""

from __future__ import annotations

import struct
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from fitdecode.utils import compute_crc

from tearsignals.contract import schema
from tearsignals.errors import InputError
from tearsignals.ingest import adapters, files
from tearsignals.ingest.adapters import garmin_fit
from tearsignals.lake import store

FIT_EPOCH_S = 631_065_600  # 1989-12-31T00:00:00Z
T0 = datetime(2026, 1, 5, 14, 0, tzinfo=UTC)
# local message number: (global message number, [(field number, size, base type)])
DEFINITIONS = {
    0: (0, [(0, 1, 0x00), (1, 2, 0x84), (4, 4, 0x86)]),  # file_id: type, manufacturer, created
    1: (20, [(253, 4, 0x86), (3, 1, 0x02)]),  # record: timestamp, heart_rate
    2: (78, [(0, 10, 0x84)]),  # hrv: time[5], uint16 ms
}


def _fit_time(t: datetime) -> int:
    return int(t.timestamp()) - FIT_EPOCH_S


def _definition(local: int) -> bytes:
    number, fields = DEFINITIONS[local]
    head = struct.pack("<BBBHB", 0x40 | local, 0, 0, number, len(fields))
    return head + b"".join(struct.pack("<BBB", *f) for f in fields)


def _data(message: Sequence[object]) -> bytes:
    kind = message[0]
    if kind == "file_id":
        return struct.pack("<BBHI", 0, 4, 1, _fit_time(message[1]))  # type: ignore[arg-type]
    if kind == "record":
        return struct.pack("<BIB", 1, _fit_time(message[1]), message[2])  # type: ignore[arg-type]
    seconds: list[float] = list(message[1])  # type: ignore[call-overload]
    ms = [round(s * 1000) for s in seconds] + [0xFFFF] * (5 - len(seconds))
    return struct.pack("<B5H", 2, *ms)


def fit_bytes(messages: Sequence[Sequence[object]]) -> bytes:
    """A valid FIT file (14-byte header, both CRCs) holding ``messages``."""
    body = b"".join(_definition(k) for k in DEFINITIONS) + b"".join(_data(m) for m in messages)
    header = struct.pack("<BBHI4s", 14, 0x10, 2132, len(body), b".FIT")
    data = header + struct.pack("<H", compute_crc(header)) + body
    return data + struct.pack("<H", compute_crc(data))


def _second(k: int) -> datetime:
    return T0 + timedelta(seconds=k)


ACTIVITY: list[Sequence[object]] = [
    ("file_id", T0),
    ("record", _second(0), 60),
    ("hrv", [0.8, 0.81]),
    ("record", _second(1), 62),
    ("hrv", [0.79]),
    ("record", _second(2), 64),
    ("hrv", [0.8, 0.8, 0.8]),
]


def _write(tmp_path: Path, data: bytes, name: str = "activity.fit") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_hrv_rr_become_beats_anchored_at_the_first_record(tmp_path: Path) -> None:
    parsed = garmin_fit.parse(_write(tmp_path, fit_bytes(ACTIVITY)))
    beats = parsed.frames["beats"]
    assert beats["rr_ms"].to_list() == [800.0, 810.0, 790.0, 800.0, 800.0, 800.0]
    expected = [T0 + timedelta(milliseconds=ms) for ms in (800, 1610, 2400, 3200, 4000, 4800)]
    assert beats["t_utc"].to_list() == expected
    assert beats.schema["t_utc"] == pl.Datetime("us", "UTC")
    assert set(beats["origin"]) == {"rr"} and set(beats["device"]) == {"garmin"}


def test_record_heart_rate_keeps_its_timestamp_and_rows_number_in_file_order(
    tmp_path: Path,
) -> None:
    parsed = garmin_fit.parse(_write(tmp_path, fit_bytes(ACTIVITY)))
    hr = parsed.frames["heart_rate"]
    assert hr["t_utc"].to_list() == [_second(0), _second(1), _second(2)]
    assert hr["hr_bpm"].to_list() == [60.0, 62.0, 64.0]
    numbers = sorted(hr["row_number"].to_list() + parsed.frames["beats"]["row_number"].to_list())
    assert numbers == list(range(1, 10)) and hr["row_number"].to_list() == [1, 4, 6]
    assert parsed.rows_in == 9 and parsed.rejects.is_empty()


def test_frames_follow_the_table_contract(tmp_path: Path) -> None:
    parsed = garmin_fit.parse(_write(tmp_path, fit_bytes(ACTIVITY)))
    for table, frame in parsed.frames.items():
        assert frame.columns == list(schema.adapter_columns(table))


def test_padding_slots_are_not_records(tmp_path: Path) -> None:
    parsed = garmin_fit.parse(_write(tmp_path, fit_bytes([("file_id", T0), ("hrv", [0.9])])))
    assert parsed.frames["beats"]["rr_ms"].to_list() == [900.0]  # four 0xFFFF slots skipped
    assert parsed.frames["beats"]["t_utc"].to_list() == [T0 + timedelta(milliseconds=900)]


def test_detected_by_header_not_by_name(tmp_path: Path) -> None:
    path = _write(tmp_path, fit_bytes(ACTIVITY), name="export.bin")
    assert adapters.detect(path) is garmin_fit.ADAPTER
    fake = _write(tmp_path, b"\x0e\x10" + b"\x00" * 30, name="fake.fit")
    assert adapters.detect(fake) is None


def test_non_monotonic_record_is_rejected_with_a_reason(tmp_path: Path) -> None:
    messages = [*ACTIVITY, ("record", _second(1) - timedelta(seconds=1), 70)]
    parsed = garmin_fit.parse(_write(tmp_path, fit_bytes(messages)))
    assert parsed.frames["heart_rate"].height == 3
    assert parsed.rejects["reason"].to_list() == [garmin_fit.REASON_NON_MONOTONIC]
    assert parsed.rejects["table"].to_list() == ["heart_rate"]


def test_duplicate_record_counts_as_duplicate_on_ingest(tmp_path: Path) -> None:
    messages = [*ACTIVITY, ("record", _second(2), 64)]
    folder = tmp_path / "inbox" / "S01"
    folder.mkdir(parents=True)
    path = _write(folder, fit_bytes(messages))
    lake = tmp_path / "lake"
    report = files.ingest_file(lake, tmp_path / "inbox", "S01", path)
    assert report is not None and report.format == "garmin_fit"
    assert (report.rows_in, report.rows_ok, report.rows_quarantined, report.rows_duplicate) == (
        10,
        9,
        0,
        1,
    )
    assert store.read_table(lake, "beats").height == 6
    assert store.read_table(lake, "heart_rate").height == 3


@pytest.mark.parametrize(
    ("messages", "needle"),
    [
        ([("file_id", T0)], "no heart data"),
        ([("hrv", [0.8])], "no timestamp to anchor"),
    ],
)
def test_files_without_usable_heart_data_raise_one_line(
    tmp_path: Path, messages: list[Sequence[object]], needle: str
) -> None:
    path = _write(tmp_path, fit_bytes(messages))
    with pytest.raises(InputError, match=needle) as err:
        garmin_fit.parse(path)
    assert str(err.value).startswith("activity.fit: ") and "\n" not in str(err.value)


def _truncated(data: bytes) -> bytes:
    return data[: len(data) - 7]


def _bad_crc(data: bytes) -> bytes:
    return data[:-2] + bytes([data[-2] ^ 0xFF, data[-1]])


def _flipped_hr(data: bytes) -> bytes:
    record = struct.pack("<BIB", 1, _fit_time(_second(1)), 62)
    at = data.index(record) + len(record) - 1  # the heart-rate byte; the CRC must catch it
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


@pytest.mark.parametrize(
    ("damage", "needle"),
    [
        (_truncated, "truncated FIT file"),
        (_bad_crc, "CRC mismatch"),
        (_flipped_hr, "CRC mismatch"),
        (lambda d: d[:14], "truncated FIT file"),
    ],
)
def test_damaged_files_raise_one_line_input_error(
    tmp_path: Path, damage: object, needle: str
) -> None:
    path = _write(tmp_path, damage(fit_bytes(ACTIVITY)))  # type: ignore[operator]
    with pytest.raises(InputError, match=needle) as err:
        adapters.parse_file(path)
    assert str(err.value).startswith("activity.fit: ") and "\n" not in str(err.value)


def test_empty_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"^activity\.fit: empty file$"):
        adapters.parse_file(_write(tmp_path, b""))
