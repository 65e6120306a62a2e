"""Fitbit / Google Takeout ``heart_rate-YYYY-MM-DD.json`` and the ``heart_rate.confidence`` column.

No real Fitbit export is among the recordings, so every file is crafted here
following the documented export format (``MM/DD/YY HH:MM:SS`` in UTC,
``value.bpm``, ``value.confidence`` 0-3).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from tearsignals.contract import schema
from tearsignals.errors import InputError
from tearsignals.ingest import adapters, files, plan, validate
from tearsignals.ingest.adapters import fitbit
from tearsignals.ingest.adapters.base import Parsed
from tearsignals.lake import store

PRETTY = """[{
  "dateTime" : "01/25/23 13:00:07",
  "value" : {
    "bpm" : 54,
    "confidence" : 2
  }
},{
  "dateTime" : "01/25/23 13:00:22",
  "value" : {
    "bpm" : 55,
    "confidence" : 3
  }
}]"""


def _write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8", newline="")
    else:
        path.write_bytes(content)
    return path


def _records(*samples: tuple[str, object, object]) -> str:
    return json.dumps(
        [{"dateTime": d, "value": {"bpm": b, "confidence": c}} for d, b, c in samples]
    )


def _checked(parsed: Parsed) -> validate.Checked:
    rows = plan.canonical_rows("heart_rate", parsed.frames["heart_rate"], "S01", "f1")
    return validate.row_rules("heart_rate", rows)


def test_pretty_printed_export_is_detected_by_content_and_read_as_utc(tmp_path: Path) -> None:
    adapter, parsed = adapters.parse_file(_write(tmp_path, "export.txt", PRETTY))
    hr = parsed.frames["heart_rate"]
    assert adapter.name == "fitbit"
    assert hr.columns == list(schema.adapter_columns("heart_rate"))
    # the basis is UTC: a UTC+11 user's local day 2023-01-26 starts at 01/25 13:00 UTC
    assert hr.select("t_utc", "hr_bpm", "confidence").rows() == [
        (datetime(2023, 1, 25, 13, 0, 7, tzinfo=UTC), 54.0, 2),
        (datetime(2023, 1, 25, 13, 0, 22, tzinfo=UTC), 55.0, 3),
    ]
    assert hr.schema["confidence"] == pl.Int64
    assert set(hr["source"]) == {"fitbit"} and hr["device"].to_list() == [None, None]
    assert parsed.rejects.height == 0


def test_the_file_name_date_does_not_move_the_samples(tmp_path: Path) -> None:
    one = fitbit.parse(_write(tmp_path, "heart_rate-2023-01-26.json", PRETTY))
    other = fitbit.parse(_write(tmp_path, "heart_rate-1999-12-31.json", PRETTY))
    assert one.frames["heart_rate"].equals(other.frames["heart_rate"])


def test_key_order_inside_a_record_does_not_matter(tmp_path: Path) -> None:
    content = '[{"value": {"bpm": 61, "confidence": 1}, "dateTime": "12/31/99 23:59:59"}]'
    adapter, parsed = adapters.parse_file(_write(tmp_path, "hr.json", content))
    assert adapter.name == "fitbit"
    assert parsed.frames["heart_rate"]["t_utc"].to_list() == [
        datetime(1999, 12, 31, 23, 59, 59, tzinfo=UTC)
    ]


def test_record_problems_are_rejects_with_reasons(tmp_path: Path) -> None:
    records = [
        {"dateTime": "01/05/26 15:00:05", "value": {"bpm": 62, "confidence": 2}},
        {"dateTime": "01/05/26 15:00:10", "value": {"confidence": 2}},
        {"dateTime": "2026-01-05T15:00:15Z", "value": {"bpm": 63, "confidence": 2}},
        {"dateTime": "13/45/26 15:00:20", "value": {"bpm": 63, "confidence": 2}},
        {"value": {"bpm": 64, "confidence": 2}},
        {"dateTime": "01/05/26 15:00:30", "value": {"bpm": "fast", "confidence": 2}},
        {"dateTime": "01/05/26 15:00:35", "value": {"bpm": 65, "confidence": "high"}},
        {"dateTime": "01/05/26 15:00:40", "value": 66},
        7,
        {"dateTime": "01/05/26 15:00:50", "value": {"bpm": 67}},
    ]
    parsed = fitbit.parse(_write(tmp_path, "hr.json", json.dumps(records)))
    hr = parsed.frames["heart_rate"]
    assert hr.select("row_number", "confidence").rows() == [(1, 2), (10, None)]
    assert parsed.rejects.select("row_number", "reason").rows() == [
        (2, "missing bpm"),
        (3, "unparseable dateTime"),
        (4, "unparseable dateTime"),
        (5, "missing dateTime"),
        (6, "unparseable bpm"),
        (7, "unparseable confidence"),
        (8, "missing bpm"),
        (9, "record is not an object"),
    ]
    assert parsed.rejects["raw"][7] == "7"
    assert parsed.rows_in == 10


def test_confidence_out_of_range_and_bad_bpm_are_quarantined_by_the_schema(tmp_path: Path) -> None:
    content = _records(
        ("01/05/26 15:00:05", 62, 3),
        ("01/05/26 15:00:10", 63, 4),
        ("01/05/26 15:00:15", 64, -1),
        ("01/05/26 15:00:20", 400, 2),
    )
    checked = _checked(fitbit.parse(_write(tmp_path, "hr.json", content)))
    assert checked.ok["row_number"].to_list() == [1]
    assert checked.quarantined["reason"].to_list() == [
        "confidence out of range [0, 3]",
        "confidence out of range [0, 3]",
        "hr_bpm out of range [20, 250]",
    ]


def test_duplicate_and_conflicting_samples(tmp_path: Path) -> None:
    content = _records(
        ("01/05/26 15:00:05", 62, 2),
        ("01/05/26 15:00:05", 62, 2),  # exact copy
        ("01/05/26 15:00:05", 70, 2),  # same time, another value
        ("01/05/26 15:00:00", 61, 2),  # earlier than the row before: allowed for heart rate
    )
    checked = _checked(fitbit.parse(_write(tmp_path, "hr.json", content)))
    assert checked.ok["row_number"].to_list() == [1, 4]
    assert checked.duplicates == 1
    assert checked.quarantined["reason"].to_list() == ["duplicate key with different values"]


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b'{"dateTime": "01/05/26 15:00:05", "value": {"bpm": 62}}', "not a list"),
        (b'[{"dateTime": "01/05/26 15:00:05", "value": {"bpm": 62}', "invalid JSON"),
        (b"", "empty file"),
        (b'\xef\xbb\xbf[{"dateTime": "01/05/26 15:00:05", "value": {"bpm": 6\xff2}}]', "not UTF-8"),
    ],
)
def test_file_level_problems_are_one_line_input_errors(
    tmp_path: Path, content: bytes, needle: str
) -> None:
    with pytest.raises(InputError) as err:
        fitbit.parse(_write(tmp_path, "heart_rate-2026-01-05.json", content))
    message = str(err.value)
    assert message.startswith("heart_rate-2026-01-05.json: ") and needle in message
    assert "\n" not in message


def test_truncated_export_is_invalid_json_through_detection(tmp_path: Path) -> None:
    path = _write(tmp_path, "heart_rate-2026-01-05.json", PRETTY[: len(PRETTY) // 2])
    adapter = adapters.detect(path)
    assert adapter is not None and adapter.name == "fitbit"
    with pytest.raises(InputError, match="invalid JSON"):
        adapters.parse_file(path)


def test_an_empty_day_gives_zero_rows(tmp_path: Path) -> None:
    parsed = fitbit.parse(_write(tmp_path, "heart_rate-2026-01-05.json", "[]"))
    assert parsed.rows_in == 0
    assert parsed.frames["heart_rate"].schema["t_utc"] == pl.Datetime("us", "UTC")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (PRETTY, "fitbit"),
        (json.dumps([{"start": "2026-01-07T19:42Z", "duration_min": 5}]), "episodes_json"),
        (json.dumps([{"dateTime": "01/05/26 15:00:05", "value": "7"}]), None),  # steps-like
        (PRETTY.encode("utf-16"), None),
    ],
)
def test_detection_does_not_confuse_json_logs(
    tmp_path: Path, content: str | bytes, expected: str | None
) -> None:
    detected = adapters.detect(_write(tmp_path, "x.json", content))
    assert (detected.name if detected else None) == expected


# --- the confidence column through ingest --------------------------------------------------


def test_confidence_is_stored_and_other_heart_rate_sources_store_null(tmp_path: Path) -> None:
    inbox, lake = tmp_path / "inbox", tmp_path / "lake"
    folder = inbox / "S01"
    folder.mkdir(parents=True)
    _write(folder, "heart_rate-2023-01-26.json", PRETTY)
    _write(folder, "hr.csv", "epoch_ms,hr_bpm\n1674651700000,70\n")
    reports = [files.ingest_file(lake, inbox, s, p) for s, p in files.inbox_files(inbox)]
    assert [(r.format, r.rows_ok) for r in reports if r is not None] == [
        ("fitbit", 2),
        ("csv_hr", 1),
    ]
    stored = store.read_table(lake, "heart_rate").sort("t_utc")
    assert stored.schema["confidence"] == pl.Int64
    assert stored.select("source", "confidence").rows() == [
        ("fitbit", 2),
        ("fitbit", 3),
        ("csv_hr", None),
    ]


def test_ingest_adds_missing_nullable_columns_as_typed_nulls() -> None:
    frame = pl.DataFrame(
        {
            "source": ["older_adapter"],
            "device": [None],
            "t_utc": [datetime(2026, 1, 5, 14, tzinfo=UTC)],
            "hr_bpm": [60.0],
            "row_number": [1],
        }
    )
    out = plan.canonical_rows("heart_rate", frame, "S01", "f1")
    assert out.schema["confidence"] == pl.Int64 and out["confidence"].to_list() == [None]
    assert out.schema["device"] == pl.String and out["subject_id"].to_list() == ["S01"]
    assert out.columns == [*schema.table("heart_rate").column_names, "row_number"]
    with pytest.raises(KeyError, match="hr_bpm"):
        plan.canonical_rows("heart_rate", frame.drop("hr_bpm"), "S01", "f1")
