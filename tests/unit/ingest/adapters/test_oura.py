"""Oura: API v2 documents (heart rate, sleep HRV series) and the oura.com trends CSV.

Crafted from the published formats. Oddities planted, several of each: offsets ``Z``,
``+00:00``, ``+01:00`` and ``-08:00``; items that are not objects or lack values;
``null`` HRV slots (skipped), series without items or interval; pages with a next token;
the trends CSV's duplicated column, days without HRV (skipped), days without a bedtime
(the profile's zone) and across a DST change.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tearsignals.errors import InputError
from tearsignals.ingest import adapters, files
from tearsignals.ingest.adapters import oura
from tearsignals.ingest.adapters.base import Context
from tearsignals.ingest.timeparse import LocalZones
from tests.support.vendor_exports import (
    OURA_TRENDS_HEADER,
    csv_text,
    oura_document,
    oura_trends_row,
)


def _write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


HEART_RATE = [
    {"bpm": 52, "source": "rest", "timestamp": "2024-03-02T01:05:00+00:00"},
    {"bpm": 55, "source": "sleep", "timestamp": "2024-03-02T02:10:00Z"},
    {"bpm": 61.0, "source": "awake", "timestamp": "2024-03-02T08:15:00+01:00"},
    {"bpm": 130, "source": "workout", "timestamp": "2024-03-02T17:00:30.500-08:00"},
    {"bpm": None, "source": "live", "timestamp": "2024-03-02T18:00:00+00:00"},
    {"bpm": 60, "source": "live"},
    "garbage",
]


def test_heart_rate_document_keeps_each_samples_offset(tmp_path: Path) -> None:
    path = _write(tmp_path, "heartrate.json", oura_document(HEART_RATE, next_token="abc"))
    adapter, parsed = adapters.parse_file(path)
    assert adapter.name == "oura"
    hr = parsed.frames["heart_rate"]
    assert hr["t_utc"].to_list() == [
        datetime(2024, 3, 2, 1, 5, tzinfo=UTC),
        datetime(2024, 3, 2, 2, 10, tzinfo=UTC),
        datetime(2024, 3, 2, 7, 15, tzinfo=UTC),
        datetime(2024, 3, 3, 1, 0, 30, 500000, tzinfo=UTC),
    ]
    assert hr["hr_bpm"].to_list() == [52.0, 55.0, 61.0, 130.0]
    assert sorted(parsed.rejects["reason"]) == [
        "item is not an object", "missing bpm", "timestamp: missing time"
    ]  # fmt: skip


SLEEP = [
    {
        "day": "2024-03-02",
        "type": "long_sleep",
        "average_hrv": 44,
        "hrv": {
            "interval": 300.0,
            "items": [45.0, None, 47.5, None, None, 39.0, "x"],
            "timestamp": "2024-03-01T23:40:00.000+01:00",
        },
    },
    {"day": "2024-03-02", "type": "late_nap", "hrv": None},
    {"day": "2024-03-03", "hrv": {"interval": 300.0, "timestamp": "2024-03-02T23:00:00+01:00"}},
    {
        "day": "2024-03-04",
        "hrv": {"interval": 300, "items": [50, 52], "timestamp": "2024-03-03T22:30:00-08:00"},
    },
]


def test_sleep_hrv_series_become_five_minute_readings(tmp_path: Path) -> None:
    inbox, lake = tmp_path / "inbox", tmp_path / "lake"
    path = _write(inbox / "S01", "sleep.json", oura_document(SLEEP))
    parsed = oura.parse(path)
    vendor = parsed.frames["vendor_hrv"]
    start = datetime(2024, 3, 1, 22, 40, tzinfo=UTC)
    night2 = datetime(2024, 3, 4, 6, 30, tzinfo=UTC)
    assert vendor["t_utc"].to_list() == [
        start, start + timedelta(minutes=10), start + timedelta(minutes=25),
        night2, night2 + timedelta(minutes=5),
    ]  # fmt: skip
    assert vendor["rmssd_ms"].to_list() == [45.0, 47.5, 39.0, 50.0, 52.0]
    assert set(vendor["period"]) == {"reading"}
    assert sorted(parsed.rejects["reason"]) == [
        "hrv series without items", "no hrv series", "unparseable hrv item"
    ]  # fmt: skip
    assert parsed.skipped == {"no value in Oura's 5-minute HRV slot": 3}
    report = files.ingest_file(lake, inbox, "S01", path)
    assert report is not None and report.format == "oura"
    counts = (report.rows_in, report.rows_ok, report.rows_quarantined, report.rows_skipped)
    assert counts == (11, 5, 3, 3)


def test_a_document_without_a_data_list_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, "x.json", '{"data": {"bpm": 52}, "next_token": null}')
    with pytest.raises(
        InputError, match=r'x.json: JSON is not an Oura API document \(no "data" list\)'
    ):
        oura.parse(path)


TRENDS = [
    oura_trends_row("2020-03-04", ("2020-03-03T22:14:42-08:00", "2020-03-04T05:49:42-08:00"), "69"),
    oura_trends_row("2020-03-05", None, ""),  # ring not worn
    oura_trends_row("2020-03-06", None, "71"),  # no bedtime: the profile's zone
    oura_trends_row(
        "2020-03-08", ("2020-03-07T23:01:00-08:00", "2020-03-08T06:40:10-07:00"), "58.5"
    ),
    oura_trends_row(
        "2020-03-09", ("2020-03-08T23:30:00-07:00", "2020-03-09T07:00:00-07:00"), "n/a"
    ),
]


def test_trends_average_hrv_is_a_daily_value_at_local_midnight(tmp_path: Path) -> None:
    path = _write(
        tmp_path, "oura_2020-03-04_2020-03-09_trends.csv", csv_text(OURA_TRENDS_HEADER, TRENDS)
    )
    assert adapters.detect(path) is oura.TRENDS_ADAPTER
    parsed = oura.parse_trends(path, Context(zones=LocalZones("America/Los_Angeles")))
    vendor = parsed.frames["vendor_hrv"]
    assert vendor["t_utc"].to_list() == [
        datetime(2020, 3, 4, 8, tzinfo=UTC),
        datetime(2020, 3, 6, 8, tzinfo=UTC),
        datetime(2020, 3, 8, 7, tzinfo=UTC),  # midnight at the wake-up offset (summer time)
    ]
    assert vendor["rmssd_ms"].to_list() == [69.0, 71.0, 58.5]
    assert set(vendor["period"]) == {"day"}
    assert parsed.rejects["reason"].to_list() == ["unparseable Average HRV"]
    assert parsed.skipped == {"day without Average HRV": 1}
    without_profile = oura.parse_trends(path)
    assert without_profile.frames["vendor_hrv"].height == 2
    assert "date: local time without offset or tz" in without_profile.rejects["reason"].to_list()
