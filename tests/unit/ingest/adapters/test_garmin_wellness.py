"""Garmin Connect export ``*_healthStatusData.json``: nightly HRV and resting HR per day.

Crafted from the published layout. Oddities planted, several of each: metrics in any order
and metrics not taken (skipped by type), metrics without value (skipped), a metric that is
not an object, unreadable values, days without or with an unreadable ``calendarDate``, a
day without metrics, the key order reversed (detection), no profile (refused per row).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from tearsignals.ingest import adapters, files
from tearsignals.ingest.adapters import garmin_wellness
from tearsignals.ingest.adapters.base import Context
from tearsignals.ingest.timeparse import LocalZones
from tearsignals.lake import store

BERLIN = Context(zones=LocalZones("Europe/Berlin"))


def _metric(kind: str, value: object) -> dict[str, object]:
    return {
        "type": kind,
        "value": value,
        "status": "IN_RANGE",
        "baselineLowerLimit": 38,
        "baselineUpperLimit": 52,
    }


DAYS: list[object] = [
    {"calendarDate": "2024-03-30", "createTimestampUTC": "2024-03-30T06:12:40.0", "metrics": [
        _metric("HRV", 45.0), _metric("HR", 52.0), _metric("SPO2", 96), _metric("SKIN_TEMP_C", -0.2),
        _metric("RESPIRATION", 14.1)]},
    {"calendarDate": "2024-03-31", "metrics": [_metric("HR", 54), _metric("HRV", 41.5)]},  # summer time starts at 02:00: midnight is still UTC+1
    {"calendarDate": "2024-04-01", "metrics": [_metric("HRV", None), _metric("HR", None)]},  # not worn
    {"calendarDate": "2024-04-02", "metrics": [_metric("HRV", "n/a"), "garbage", _metric("HR", 51)]},
    {"calendarDate": "02.04.2024", "metrics": [_metric("HRV", 40)]},
    {"metrics": [_metric("HR", 50)]},
    {"calendarDate": "2024-04-04"},
]  # fmt: skip


def _write(folder: Path, days: list[object], *, metrics_first: bool = False) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "123456_20240301_20240405_healthStatusData.json"
    if metrics_first:
        days = [
            {"metrics": d["metrics"], **d} if isinstance(d, dict) and "metrics" in d else d
            for d in days
        ]
    path.write_text(json.dumps(days, indent=2), encoding="utf-8")
    return path


def test_hrv_and_resting_hr_per_day_at_local_midnight(tmp_path: Path) -> None:
    path = _write(tmp_path, DAYS)
    assert adapters.detect(path) is garmin_wellness.ADAPTER
    parsed = garmin_wellness.parse(path, BERLIN)
    hrv, rhr = parsed.frames["vendor_hrv"], parsed.frames["vendor_resting_hr"]
    assert hrv["t_utc"].to_list() == [
        datetime(2024, 3, 29, 23, tzinfo=UTC),
        datetime(2024, 3, 30, 23, tzinfo=UTC),
    ]
    assert hrv["rmssd_ms"].to_list() == [45.0, 41.5]
    assert set(hrv["period"]) == {"day"}
    assert rhr["resting_hr_bpm"].to_list() == [52.0, 54.0, 51.0]
    assert parsed.skipped == {
        "measure not ingested: SPO2": 1, "measure not ingested: SKIN_TEMP_C": 1,
        "measure not ingested: RESPIRATION": 1, "metric without value": 2,
    }  # fmt: skip
    assert sorted(parsed.rejects["reason"]) == [
        "calendarDate: missing or unreadable", "calendarDate: missing or unreadable",
        "metric is not an object", "no metrics list", "unparseable value",
    ]  # fmt: skip


def test_detection_does_not_depend_on_key_order(tmp_path: Path) -> None:
    assert adapters.detect(_write(tmp_path, DAYS, metrics_first=True)) is garmin_wellness.ADAPTER


def test_ingest_needs_the_profile_and_counts_each_metric(tmp_path: Path) -> None:
    inbox, lake = tmp_path / "inbox", tmp_path / "lake"
    path = _write(inbox / "S01", DAYS[:2])
    alone = files.ingest_file(lake, inbox, "S01", path)
    assert alone is not None and (alone.rows_ok, alone.rows_quarantined) == (0, 4)
    (inbox / "S01" / "subject.toml").write_text('timezone = "Europe/Berlin"\n')
    report = files.ingest_file(lake, inbox, "S01", path)  # read again: the profile appeared
    assert report is not None and report.format == "garmin_health_status"
    counts = (report.rows_in, report.rows_ok, report.rows_quarantined, report.rows_skipped)
    assert counts == (7, 4, 0, 3)
    assert store.read_table(lake, "vendor_resting_hr").height == 2
