"""Adapters: detection by content, canonical output, rejects for bad records, InputError for bad files."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from tearsignals.contract import schema
from tearsignals.errors import InputError
from tearsignals.ingest import adapters
from tearsignals.ingest.adapters import csv_beats, csv_hr, episode_log
from tearsignals.ingest.adapters.base import REJECT_SCHEMA, SNIFF_BYTES

BEATS = (
    "timestamp,rr_ms,device,note\n"
    "2026-01-05T15:00:00.000+01:00,812,polar-h10,a\n"
    "2026-01-05T15:00:00.812+01:00,800.5,polar-h10,b\n"
    "2026-01-05T14:00:01.612Z,790,polar-h10,c\n"
)
HR = "epoch_ms,hr_bpm\n1767621600000,61\n1767621601000,62.5\n"
EPISODES_CSV = (
    "start,end,duration_min,tz,intensity,context\n"
    "2026-01-07 19:42,2026-01-07 20:00,,Europe/Berlin,7,film\n"
    "2026-01-08T08:00:00+01:00,,15,,,\n"
)


def _write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8", newline="")
    else:
        path.write_bytes(content)
    return path


# --- detection ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("beats.txt", BEATS, "csv_beats"),
        ("data", "epoch_ms;rr_ms\n1767621600000;800\n", "csv_beats"),
        ("hr.csv", HR, "csv_hr"),
        ("hr_per_s.csv", "timestamp_ms,HR_COUNT_PER_S\n1767621600000,1.2\n", "csv_hr"),
        ("log.csv", EPISODES_CSV, "episodes_csv"),
        (
            "log.json",
            json.dumps([{"start": "2026-01-07T19:42Z", "duration_min": 5}]),
            "episodes_json",
        ),
        ("log.txt", json.dumps({"episodes": []}), "episodes_json"),
    ],
)
def test_detection_is_by_content(tmp_path: Path, name: str, content: str, expected: str) -> None:
    detected = adapters.detect(_write(tmp_path, name, content))
    assert detected is not None
    assert detected.name == expected


def test_large_json_log_is_detected_from_a_truncated_head(tmp_path: Path) -> None:
    record = {"context": "x" * 1000, "start": "2026-01-07T19:42:00Z", "duration_min": 5}
    path = _write(tmp_path, "big.json", json.dumps({"episodes": [record] * 200}))
    assert path.stat().st_size > SNIFF_BYTES
    adapter, parsed = adapters.parse_file(path)
    assert adapter.name == "episodes_json"
    assert parsed.frames["episodes"].height == 200


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("junk.csv", bytes(range(256)) * 8),
        ("latin1.csv", "Zeit,Wert\nMärz,1\n".encode("latin-1")),
        ("other.csv", "a,b,c\n1,2,3\n"),
        ("list.json", "[1, 2, 3]"),
        ("deep.json", "[" * 100_000),
    ],
)
def test_unrecognised_content_is_unknown_format(
    tmp_path: Path, name: str, content: str | bytes
) -> None:
    path = _write(tmp_path, name, content)
    assert adapters.detect(path) is None
    with pytest.raises(adapters.UnknownFormat, match=name):
        adapters.parse_file(path)


def test_unknown_format_message_never_echoes_data_values(tmp_path: Path) -> None:
    path = _write(tmp_path, "noheader.csv", "1767621600000,812\n")
    with pytest.raises(adapters.UnknownFormat) as err:
        adapters.parse_file(path)
    assert "812" not in str(err.value)
    assert "\n" not in str(err.value)


def test_registry_names_are_unique_and_found_by_name() -> None:
    names = [a.name for a in adapters.REGISTRY]
    assert len(names) == len(set(names))
    assert adapters.by_name("csv_hr") is csv_hr.ADAPTER
    with pytest.raises(KeyError):
        adapters.by_name("nope")


# --- good files -------------------------------------------------------------------------


def test_csv_beats_good_file(tmp_path: Path) -> None:
    adapter, parsed = adapters.parse_file(_write(tmp_path, "b.csv", BEATS))
    beats = parsed.frames["beats"]
    assert adapter.name == "csv_beats"
    assert beats.columns == list(schema.adapter_columns("beats"))
    assert beats.schema["t_utc"] == pl.Datetime("us", "UTC")
    assert beats["t_utc"].to_list() == [
        datetime(2026, 1, 5, 14, 0, 0, tzinfo=UTC),
        datetime(2026, 1, 5, 14, 0, 0, 812000, tzinfo=UTC),
        datetime(2026, 1, 5, 14, 0, 1, 612000, tzinfo=UTC),
    ]
    assert beats["rr_ms"].to_list() == [812.0, 800.5, 790.0]
    assert beats["row_number"].to_list() == [1, 2, 3]
    assert set(beats["source"]) == {"csv_beats"}
    assert set(beats["origin"]) == {"rr"}
    assert set(beats["device"]) == {"polar-h10"}
    assert parsed.rejects.height == 0
    assert parsed.rows_in == 3


def test_csv_beats_without_device_column_has_null_device(tmp_path: Path) -> None:
    parsed = csv_beats.parse(_write(tmp_path, "b.csv", "t_utc,rr_ms\n2026-01-05 14:00:00,800\n"))
    beats = parsed.frames["beats"]
    assert beats["device"].to_list() == [None]
    assert beats.schema["device"] == pl.String
    # a naive value in a column whose header says UTC is UTC
    assert beats["t_utc"][0] == datetime(2026, 1, 5, 14, tzinfo=UTC)


def test_csv_hr_good_file_and_per_second_conversion(tmp_path: Path) -> None:
    parsed = csv_hr.parse(_write(tmp_path, "hr.csv", HR))
    hr = parsed.frames["heart_rate"]
    assert hr.columns == list(schema.adapter_columns("heart_rate"))
    assert hr["hr_bpm"].to_list() == [61.0, 62.5]
    assert hr["t_utc"][1] == datetime(2026, 1, 5, 14, 0, 1, tzinfo=UTC)
    per_s = csv_hr.parse(
        _write(tmp_path, "s.csv", "timestamp_ms,hr_count_per_s\n1767621600000,1.25\n")
    )
    assert per_s.frames["heart_rate"]["hr_bpm"].to_list() == [75.0]


def test_episodes_csv_good_file(tmp_path: Path) -> None:
    adapter, parsed = adapters.parse_file(_write(tmp_path, "e.csv", EPISODES_CSV))
    episodes = parsed.frames["episodes"]
    assert adapter.name == "episodes_csv"
    assert episodes.columns == list(schema.adapter_columns("episodes"))
    assert episodes["start_utc"].to_list() == [
        datetime(2026, 1, 7, 18, 42, tzinfo=UTC),
        datetime(2026, 1, 8, 7, 0, tzinfo=UTC),
    ]
    assert episodes["end_utc"].to_list() == [
        datetime(2026, 1, 7, 19, 0, tzinfo=UTC),
        datetime(2026, 1, 8, 7, 15, tzinfo=UTC),
    ]
    assert episodes["tz"].to_list() == ["Europe/Berlin", "+01:00"]
    assert episodes["intensity"].to_list() == [7.0, None]
    assert episodes["context"].to_list() == ["film", None]
    assert parsed.rejects.height == 0


def test_episodes_json_both_shapes_give_the_same_rows(tmp_path: Path) -> None:
    records = [
        {
            "start": "2026-01-07 19:42",
            "end": "2026-01-07 20:00",
            "tz": "Europe/Berlin",
            "intensity": 7,
        },
        {"start": "2026-01-08T08:00:00+01:00", "duration_min": 15, "context": "phone call"},
    ]
    listed = episode_log.parse_json(_write(tmp_path, "a.json", json.dumps(records)))
    wrapped = episode_log.parse_json(_write(tmp_path, "b.json", json.dumps({"episodes": records})))
    assert listed.frames["episodes"].equals(wrapped.frames["episodes"])
    from_json = listed.frames["episodes"].drop("source")
    from_csv = episode_log.parse_csv(_write(tmp_path, "e.csv", EPISODES_CSV)).frames["episodes"]
    times = ["start_utc", "end_utc"]
    assert from_json.select(times).equals(from_csv.select(times))
    assert from_json["intensity"].to_list() == [7.0, None]


# --- file-level problems ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty file"),
        (b"\xef\xbb\xbf\r\n", "empty file"),
        (b"timestamp,rr_ms\n2026-01-05T15:00:00Z,800\n\xff\xfe,1\n", "not UTF-8"),
        (b'timestamp,rr_ms\n2026-01-05T15:00:00Z,"800\n', "malformed CSV"),
        (b"timestamp,rr_ms,RR_MS\n2026-01-05T15:00:00Z,800,800\n", "duplicate column"),
    ],
)
def test_file_level_problems_raise_input_error_naming_the_file(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = _write(tmp_path, "broken-beats.csv", content)
    with pytest.raises(InputError, match=message) as err:
        adapters.parse_file(path)
    assert str(err.value).startswith("broken-beats.csv: ")
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("adapter", "content", "missing"),
    [
        (csv_beats.ADAPTER, "rr_ms,device\n800,x\n", "timestamp"),
        (csv_hr.ADAPTER, "hr_bpm\n60\n", "epoch_ms"),
        (
            episode_log.CSV_ADAPTER,
            "start,tz\n2026-01-07 19:42,Europe/Berlin\n",
            "end or duration_min",
        ),
        (episode_log.JSON_ADAPTER, '[{"begin": "2026-01-07T19:42Z"}]', "start"),
    ],
)
def test_missing_required_column_is_input_error(
    tmp_path: Path, adapter: adapters.Adapter, content: str, missing: str
) -> None:
    path = _write(tmp_path, "missing-col.csv", content)
    with pytest.raises(InputError, match="missing required column") as err:
        adapter.parse(path)
    assert "missing-col.csv" in str(err.value)
    assert missing in str(err.value)


def test_missing_required_column_through_parse_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"^nots\.csv: missing required column"):
        adapters.parse_file(_write(tmp_path, "nots.csv", "rr_ms\n800\n"))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "invalid JSON"),
        ('{"episodes": 3}', "neither a list"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ],
)
def test_broken_json_log_is_input_error(tmp_path: Path, content: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        episode_log.parse_json(_write(tmp_path, "log.json", content))


# --- encodings, line endings, odd shapes --------------------------------------------------


def test_header_only_file_gives_zero_rows(tmp_path: Path) -> None:
    adapter, parsed = adapters.parse_file(_write(tmp_path, "h.csv", "timestamp,rr_ms\r\n"))
    assert adapter.name == "csv_beats"
    assert parsed.frames["beats"].height == 0
    assert parsed.frames["beats"].columns == list(schema.adapter_columns("beats"))
    assert parsed.rejects.height == 0
    assert parsed.rows_in == 0


def test_bom_crlf_blank_lines_and_extra_columns_do_not_matter(tmp_path: Path) -> None:
    plain = csv_beats.parse(_write(tmp_path, "plain.csv", BEATS)).frames["beats"]
    messy_text = (
        "\ufeff" + BEATS.replace("\n", "\r\n").replace(",note", ", NOTE ,extra") + "\r\n\r\n"
    )
    messy = csv_beats.parse(_write(tmp_path, "messy.csv", messy_text.encode("utf-8")))
    assert messy.frames["beats"].equals(plain)
    assert messy.rejects.height == 0


def test_very_long_lines_are_read(tmp_path: Path) -> None:
    context = "ä" * 200_000
    path = _write(
        tmp_path, "e.csv", f'start,duration_min,context\n2026-01-07T19:42Z,5,"{context}"\n'
    )
    episodes = episode_log.parse_csv(path).frames["episodes"]
    assert episodes["context"].to_list() == [context]


# --- record-level problems ----------------------------------------------------------------


def test_bad_numbers_and_times_become_rejects_with_reasons(tmp_path: Path) -> None:
    content = (
        "timestamp,rr_ms\n"
        "2026-01-05T15:00:00+01:00,800\n"
        "2026-01-05T15:00:01+01:00,eight hundred\n"
        "2026-01-05T15:00:02+01:00,\n"
        "not a time,800\n"
        "2026-01-05 15:00:03,800\n"
        "2026-01-05T15:00:04+01:00,inf\n"
        "2026-01-05T15:00:05+01:00\n"
    )
    parsed = csv_beats.parse(_write(tmp_path, "b.csv", content))
    assert parsed.frames["beats"]["row_number"].to_list() == [1]
    assert parsed.rejects.schema == REJECT_SCHEMA
    assert parsed.rejects.rows() == [
        ("beats", 2, "unparseable rr_ms", "2026-01-05T15:00:01+01:00,eight hundred"),
        ("beats", 3, "missing rr_ms", "2026-01-05T15:00:02+01:00,"),
        ("beats", 4, "timestamp: unparseable time", "not a time,800"),
        ("beats", 5, "timestamp: local time without offset or tz", "2026-01-05 15:00:03,800"),
        ("beats", 6, "unparseable rr_ms", "2026-01-05T15:00:04+01:00,inf"),
        ("beats", 7, "missing rr_ms", "2026-01-05T15:00:05+01:00,"),
    ]
    assert parsed.rows_in == 7


def test_epoch_column_rejects_seconds_and_text(tmp_path: Path) -> None:
    content = "timestamp_ms,hr_bpm\n1767621600000,60\n1767621600,60\nsoon,60\n1767621601000,sixty\n"
    parsed = csv_hr.parse(_write(tmp_path, "hr.csv", content))
    assert parsed.frames["heart_rate"].height == 1
    assert parsed.rejects["reason"].to_list() == [
        "timestamp_ms: epoch ms out of range [1990, 2100)",
        "timestamp_ms: unparseable epoch ms",
        "unparseable hr_bpm",
    ]


def test_episode_rejects(tmp_path: Path) -> None:
    content = (
        "start,end,duration_min,tz,intensity\n"
        "2026-01-07 19:42,2026-01-07 20:00,,,\n"  # naive, no tz
        "2026-01-07T19:42Z,2026-01-07T19:42Z,,,\n"  # end == start
        "2026-01-07T19:42Z,2026-01-07T19:00Z,,,\n"  # end before start
        "2026-01-07T19:42Z,,,,\n"  # no end, no duration
        "2026-01-07T19:42Z,,ten,,\n"  # bad duration
        "2026-01-07T19:42Z,,-5,,\n"  # negative duration
        "2026-01-07T19:42Z,,5,,very\n"  # bad intensity
        "2026-03-29 02:30,,5,Europe/Berlin,\n"  # DST gap
        "2026-01-07T19:42+01:00,2026-01-07 19:50,,,\n"  # local end uses start's offset: ok
    )
    parsed = episode_log.parse_csv(_write(tmp_path, "e.csv", content))
    assert parsed.rejects["reason"].to_list() == [
        "start: local time without offset or tz",
        "end not after start",
        "end not after start",
        "missing end and duration_min",
        "unparseable duration_min",
        "end not after start",
        "unparseable intensity",
        "start: nonexistent local time (DST gap)",
    ]
    assert parsed.frames["episodes"]["row_number"].to_list() == [9]
    assert parsed.frames["episodes"]["end_utc"][0] == datetime(2026, 1, 7, 18, 50, tzinfo=UTC)
    assert parsed.rows_in == 9


def test_json_records_that_are_not_objects_are_rejects(tmp_path: Path) -> None:
    content = json.dumps([{"start": "2026-01-07T19:42Z", "duration_min": 5}, 3, "x"])
    parsed = episode_log.parse_json(_write(tmp_path, "log.json", content))
    assert parsed.frames["episodes"].height == 1
    assert parsed.rejects.select("row_number", "reason", "raw").rows() == [
        (2, "record is not an object", "3"),
        (3, "record is not an object", '"x"'),
    ]


@pytest.mark.parametrize(
    ("content", "rejects"),
    [("[]", []), ('{"episodes": []}', []), ("[3]", [(1, "record is not an object", "3")])],
)
def test_json_logs_without_episode_objects(tmp_path: Path, content: str, rejects: list) -> None:
    parsed = episode_log.parse_json(_write(tmp_path, "log.json", content))
    assert parsed.frames["episodes"].height == 0
    assert parsed.frames["episodes"].schema["start_utc"] == pl.Datetime("us", "UTC")
    assert parsed.rejects.select("row_number", "reason", "raw").rows() == rejects
