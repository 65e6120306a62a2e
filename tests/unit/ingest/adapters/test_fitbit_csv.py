"""Fitbit CSVs of a Google Takeout (heart rate, HRV): crafted from the published layouts.

Oddities planted, several of each: timestamps in UTC with and without fractions, local
without offset (read in the subject profile's zone, refused without one), two data
sources at one instant, quoted source names, CRLF; daily HRV dated four ways
(``T00:00:00``, a bare date, ``T03:00:00``, ``Z``) in both table generations, the
5-minute details table, unreadable and missing values; a daily resting-HR file of the
heart-rate shape left undetected.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from tearsignals.ingest import adapters, files
from tearsignals.ingest.adapters import fitbit_csv
from tearsignals.ingest.adapters.base import Context
from tearsignals.ingest.timeparse import LocalZones
from tearsignals.lake import store
from tests.support.vendor_exports import (
    FITBIT_HR_HEADER,
    FITBIT_HRV_DETAILS_HEADER,
    FITBIT_HRV_SUMMARY_HEADER,
    GOOGLE_DAILY_HRV_HEADER,
    csv_text,
)

BERLIN = Context(zones=LocalZones("Europe/Berlin"))
PROFILE = 'timezone = "Europe/Berlin"\n'


def _write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8", newline="")
    return path


HR_ROWS = [
    "2024-10-27T00:00:04Z,65.0,Pixel Watch 2",
    "2024-10-27T00:00:09Z,62,Pixel Watch 2",
    "2024-10-27T00:00:14.250000Z,61.0,Pixel Watch 2",
    '2024-10-27T00:00:19Z,63.0,"Fitbit Charge 6, α"',
    "2024-10-27T00:00:19Z,64.0,Pixel Watch 2",  # a second source at the same instant
    "2024-10-27T09:30:00,70.0,Pixel Watch 2",  # local, no offset: the profile's zone
    "2024-10-27T00:00:29Z,,Pixel Watch 2",
    "2024-10-27T00:00:34Z,NaN,Pixel Watch 2",
    "2024-10-27T00:00:39Z,0.0,Pixel Watch 2",
]


@pytest.mark.parametrize("crlf", [False, True])
def test_heart_rate_csv_is_read_in_utc_and_the_profile_zone(tmp_path: Path, crlf: bool) -> None:
    header = FITBIT_HR_HEADER + ",data source"
    path = _write(tmp_path, "heart_rate_2024-10-27.csv", csv_text(header, HR_ROWS, crlf=crlf))
    assert adapters.detect(path) is fitbit_csv.HEART_RATE_ADAPTER
    parsed = fitbit_csv.parse_heart_rate(path, BERLIN)
    hr = parsed.frames["heart_rate"]
    assert hr["hr_bpm"].to_list() == [65.0, 62.0, 61.0, 63.0, 64.0, 70.0, 0.0]
    assert hr["t_utc"][2] == datetime(2024, 10, 27, 0, 0, 14, 250000, tzinfo=UTC)
    assert hr["t_utc"][5] == datetime(2024, 10, 27, 8, 30, tzinfo=UTC)  # winter time again
    assert hr["device"][3] == "Fitbit Charge 6, α"
    assert sorted(parsed.rejects["reason"]) == [
        "missing beats per minute",
        "unparseable beats per minute",
    ]


def test_a_local_time_is_refused_without_a_profile_and_on_an_ambiguous_hour(tmp_path: Path) -> None:
    rows = ["2024-10-27T02:30:00,70.0", "2024-10-28T09:00:00,71.0", "2024-10-28T08:00:00Z,72"]
    path = _write(tmp_path, "heart_rate_2024-10-28.csv", csv_text(FITBIT_HR_HEADER, rows))
    alone = fitbit_csv.parse_heart_rate(path)
    assert alone.frames["heart_rate"]["hr_bpm"].to_list() == [72.0]
    assert alone.rejects["reason"].to_list() == ["timestamp: local time without offset or tz"] * 2
    placed = fitbit_csv.parse_heart_rate(path, BERLIN)
    assert placed.frames["heart_rate"]["t_utc"].to_list() == [
        datetime(2024, 10, 28, 8, 0, tzinfo=UTC), datetime(2024, 10, 28, 8, 0, tzinfo=UTC)
    ]  # fmt: skip
    assert placed.rejects["reason"].to_list() == ["timestamp: ambiguous local time (DST overlap)"]


def test_heart_rate_ingest_counts_each_row_once(tmp_path: Path) -> None:
    inbox, lake = tmp_path / "inbox", tmp_path / "lake"
    _write(inbox / "S01", "subject.toml", PROFILE)
    rows = [r for r in HR_ROWS if "09:30" not in r]
    text = csv_text(FITBIT_HR_HEADER + ",data source", rows)
    path = _write(inbox / "S01", "heart_rate_2024-10-27.csv", text)
    report = files.ingest_file(lake, inbox, "S01", path)
    assert report is not None and report.format == "fitbit_csv"
    counts = (report.rows_in, report.rows_ok, report.rows_quarantined, report.rows_duplicate)
    assert counts == (8, 4, 4, 0)
    reasons = sorted(store.read_table(lake, "quarantine")["reason"])
    assert reasons == [
        "duplicate key with different values", "hr_bpm out of range [20, 250]",
        "missing beats per minute", "unparseable beats per minute",
    ]  # fmt: skip


@pytest.mark.parametrize(
    "name", ["daily_resting_heart_rate_2024-10-27.csv", "resting_heart_rate_2026-05-27.csv"]
)
def test_daily_resting_heart_rate_of_the_same_shape_is_not_heart_rate(
    tmp_path: Path, name: str
) -> None:
    text = csv_text(FITBIT_HR_HEADER + ",data source", ["2024-10-27T00:00:00Z,62,Fitbit Air"])
    assert adapters.detect(_write(tmp_path, name, text)) is None


def _midnight_berlin(day: int) -> datetime:
    return datetime(2024, 7, day - 1, 22, tzinfo=UTC)  # summer: UTC+2


def test_daily_summaries_are_dated_by_their_day_in_the_profile_zone(tmp_path: Path) -> None:
    old = csv_text(
        FITBIT_HRV_SUMMARY_HEADER,
        [
            "2024-07-21T00:00:00,29.232,49.623,2.472",
            "2024-07-22,31.5,50.1,2.5",
            "2024-07-23T03:00:00,42,55,2.1",
            "2024-07-24T00:00:00,,55,2.1",
            "bad,40,1,1",
        ],
    )
    new = csv_text(
        GOOGLE_DAILY_HRV_HEADER,
        [
            "2024-07-25T00:00:00Z,41.5,58,2.9,45.0,Fitbit Air",
            "2024-07-26T00:00:00Z,44.2,57,3.0,47.1,Fitbit Air",
        ],
    )
    old_path = _write(tmp_path, "Daily Heart Rate Variability Summary - 2024-07-(21).csv", old)
    new_path = _write(tmp_path, "daily_heart_rate_variability_2024-07-25.csv", new)
    for path in (old_path, new_path):
        assert adapters.detect(path) is fitbit_csv.HRV_ADAPTER
    old_rows = fitbit_csv.parse_hrv(old_path, BERLIN)
    vendor = old_rows.frames["vendor_hrv"]
    assert vendor["t_utc"].to_list() == [_midnight_berlin(d) for d in (21, 22, 23)]
    assert vendor["rmssd_ms"].to_list() == [29.232, 31.5, 42.0]
    assert set(vendor["period"]) == {"day"} and vendor["sdnn_ms"].null_count() == 3
    assert sorted(old_rows.rejects["reason"]) == ["missing rmssd", "timestamp: unparseable time"]
    new_vendor = fitbit_csv.parse_hrv(new_path, BERLIN).frames["vendor_hrv"]
    assert new_vendor["t_utc"].to_list() == [_midnight_berlin(25), _midnight_berlin(26)]
    assert new_vendor["rmssd_ms"].to_list() == [41.5, 44.2]
    assert new_vendor["device"].to_list() == ["Fitbit Air"] * 2
    no_zone = fitbit_csv.parse_hrv(new_path)
    assert no_zone.frames["vendor_hrv"].is_empty()
    assert no_zone.rejects["reason"].to_list() == ["timestamp: local time without offset or tz"] * 2


def test_details_are_five_minute_readings_and_ingest_counts_them(tmp_path: Path) -> None:
    inbox, lake = tmp_path / "inbox", tmp_path / "lake"
    _write(inbox / "S01", "subject.toml", PROFILE)
    rows = [
        "2024-07-21T01:05:00,38.2,0.93,512.1,301.2",
        "2024-07-21T01:10:00,41.0,0.6,500.0,280.0",
        "2024-07-21T01:15:00,1200.0,0.2,10.0,8.0",
        "2024-07-21T01:20:00,n/a,0.0,,",
    ]
    name = "Heart Rate Variability Details - 2024-07-21.csv"
    path = _write(inbox / "S01", name, csv_text(FITBIT_HRV_DETAILS_HEADER, rows))
    report = files.ingest_file(lake, inbox, "S01", path)
    assert report is not None and report.format == "fitbit_hrv"
    assert (report.rows_in, report.rows_ok, report.rows_quarantined) == (4, 2, 2)
    vendor = store.read_table(lake, "vendor_hrv").sort("t_utc")
    assert vendor["period"].to_list() == ["reading", "reading"]
    assert vendor["t_utc"].to_list() == [
        datetime(2024, 7, 20, 23, 5, tzinfo=UTC), datetime(2024, 7, 20, 23, 10, tzinfo=UTC)
    ]  # fmt: skip
    reasons = sorted(store.read_table(lake, "quarantine")["reason"])
    assert reasons == ["rmssd_ms out of range [0, 1000]", "unparseable rmssd"]
