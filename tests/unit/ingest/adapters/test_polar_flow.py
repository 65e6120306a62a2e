"""Polar Flow account export: training-session JSON with heart-rate and RR samples.

Crafted from the published layout. Oddities planted, several of each: the literal ``NaN``
Polar writes in its arrays and samples without value (gaps, skipped), RR entries offline
(clock advances, skipped), an unreadable RR duration (it and what follows rejected), two
exercises with different offsets (+120, -300, +330 minutes), an exercise without offset
(the profile's zone), an exercise that is not an object.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tearsignals.errors import InputError
from tearsignals.ingest import adapters, files
from tearsignals.ingest.adapters import polar_flow
from tearsignals.ingest.adapters.base import Context
from tearsignals.ingest.timeparse import LocalZones
from tearsignals.lake import store


def _rr(*durations: str, offline: tuple[int, ...] = ()) -> list[dict[str, object]]:
    return [{"duration": d, "offline": k in offline} for k, d in enumerate(durations)]


def _exercise(
    start: str, offset: int | None, hr: list[object], rr: list[dict[str, object]]
) -> dict[str, object]:
    exercise: dict[str, object] = {
        "startTime": start, "stopTime": start, "duration": "PT600.000S", "sport": "RUNNING",
        "kiloCalories": 80, "heartRate": {"min": 60, "avg": 80, "max": 120},
        "samples": {"heartRate": hr, "rr": rr},
    }  # fmt: skip
    if offset is not None:
        exercise["timezoneOffset"] = offset
    return exercise


def _session(exercises: list[object]) -> str:
    """A training-session file: Python's json writes NaN literally, as Polar does."""
    return json.dumps(
        {
            "exportVersion": "1.6",
            "name": "Run",
            "startTime": "2017-09-12T16:05:50.000",
            "exercises": exercises,
        },
        indent=1,
    )


HR = [
    {"dateTime": "2017-09-12T16:05:51.000", "value": 80},
    {"dateTime": "2017-09-12T16:05:52.000", "value": float("nan")},
    {"dateTime": "2017-09-12T16:05:53.000"},
    {"dateTime": "2017-09-12T16:05:54.000", "value": 83},
    {"dateTime": "2017-09-12T16:05:55.000", "value": "x"},
]
EXERCISES: list[object] = [
    _exercise("2017-09-12T16:05:50.000", 120, HR, _rr("PT0.521S", "PT0.525S", "PT2.000S", "PT0.531S", offline=(2,))),
    _exercise("2017-09-13T07:00:00.000", -300, [{"dateTime": "2017-09-13T07:00:01.000", "value": 70}], _rr("PT0.800S", "PT0,8S", "PT0.810S")),
    _exercise("2017-09-14T06:30:00.000", 330, [], _rr("PT1S")),
    "garbage",
]  # fmt: skip


def _write(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "training-session-2017-09-12-2061578400-5f0d0ba4.json"
    path.write_text(text, encoding="utf-8")
    return path


def test_samples_are_read_at_each_exercises_offset(tmp_path: Path) -> None:
    path = _write(tmp_path, _session(EXERCISES))
    assert "NaN" in path.read_text()
    assert adapters.detect(path) is polar_flow.ADAPTER
    parsed = polar_flow.parse(path)
    hr = parsed.frames["heart_rate"]
    assert hr["t_utc"].to_list() == [
        datetime(2017, 9, 12, 14, 5, 51, tzinfo=UTC),
        datetime(2017, 9, 12, 14, 5, 54, tzinfo=UTC),
        datetime(2017, 9, 13, 12, 0, 1, tzinfo=UTC),
    ]
    assert hr["hr_bpm"].to_list() == [80.0, 83.0, 70.0]
    beats = parsed.frames["beats"]
    start = datetime(2017, 9, 12, 14, 5, 50, tzinfo=UTC)
    assert beats["t_utc"].to_list() == [
        start + timedelta(milliseconds=521),
        start + timedelta(milliseconds=521 + 525),
        start + timedelta(milliseconds=521 + 525 + 2000 + 531),  # the offline stretch passes
        datetime(2017, 9, 13, 12, 0, 0, 800000, tzinfo=UTC),
        datetime(2017, 9, 14, 1, 0, 1, tzinfo=UTC),
    ]
    assert beats["rr_ms"].to_list() == [521.0, 525.0, 531.0, 800.0, 1000.0]
    assert parsed.skipped == {
        "heart-rate sample without value (sensor gap)": 2,
        "RR sensor offline": 1,
    }
    assert sorted(parsed.rejects["reason"]) == [
        "exercise is not an object",
        "time unknown: follows unparseable rr entry 2",
        "unparseable rr duration",
        "unparseable value",
    ]


def test_an_exercise_without_offset_is_read_in_the_profile_zone(tmp_path: Path) -> None:
    exercise = _exercise(
        "2017-09-12T16:05:50.000",
        None,
        [{"dateTime": "2017-09-12T16:05:51.000", "value": 80}],
        _rr("PT0.5S"),
    )
    path = _write(tmp_path, _session([exercise]))
    placed = polar_flow.parse(path, Context(zones=LocalZones("Europe/Warsaw")))
    assert placed.frames["heart_rate"]["t_utc"].to_list() == [
        datetime(2017, 9, 12, 14, 5, 51, tzinfo=UTC)
    ]
    alone = polar_flow.parse(path)
    assert sorted(alone.rejects["reason"]) == [
        "dateTime: local time without offset or tz", "exercise startTime: local time without offset or tz"
    ]  # fmt: skip


def test_ingest_counts_every_sample_once(tmp_path: Path) -> None:
    inbox, lake = tmp_path / "inbox", tmp_path / "lake"
    path = _write(inbox / "S01", _session(EXERCISES))
    report = files.ingest_file(lake, inbox, "S01", path)
    assert report is not None and report.format == "polar_flow"
    counts = (report.rows_in, report.rows_ok, report.rows_quarantined, report.rows_skipped)
    assert counts == (15, 8, 4, 3)
    assert store.read_table(lake, "beats").height == 5


def test_a_document_without_exercises_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, json.dumps({"startTime": "2017-09-12T16:05:50.000", "exercises": {}}))
    with pytest.raises(InputError, match='no "exercises" list'):
        polar_flow.parse(path)
