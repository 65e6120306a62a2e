"""JSON numbers of any size: every JSON format quarantines the row or refuses the file, in one line.

Python refuses to convert integer literals of more than 4,300 digits; a document
holding one must never end in a traceback (nor stop the subject's later files).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tearsignals.ingest import files
from tearsignals.ingest.adapters import _tabular as tab
from tearsignals.lake import store

HUGE = "9" * 5000
PLACEHOLDER = 123456789  # replaced by the huge literal in the written text


def _huge(document: object, sign: str = "") -> str:
    return json.dumps(document).replace(str(PLACEHOLDER), sign + HUGE)


EPISODE = {"start": "2026-01-05T15:00:00+01:00", "end": "2026-01-05T15:05:00+01:00"}
FITBIT = [{"dateTime": "01/25/23 13:00:07", "value": {"bpm": 54, "confidence": 2}}]
OURA_HR = {"bpm": 52, "source": "rest", "timestamp": "2024-03-02T01:05:00+00:00"}
POLAR_HR = {"dateTime": "2017-09-12T16:05:51.000", "value": 80}


def _polar(hr: list[object]) -> dict[str, object]:
    exercise = {"startTime": "2017-09-12T16:05:50.000", "timezoneOffset": 120,
                "samples": {"heartRate": hr, "rr": []}}  # fmt: skip
    return {"exportVersion": "1.6", "startTime": "2017-09-12T16:05:50.000", "exercises": [exercise]}


def _garmin(value: object) -> list[object]:
    metric = {"type": "HR", "value": value, "status": "IN_RANGE"}
    return [{"calendarDate": "2024-03-30", "metrics": [metric]}]


CASES = {
    "episode_intensity": ("episodes.json", _huge([{**EPISODE, "intensity": PLACEHOLDER}])),
    "episode_negative_intensity": (
        "episodes.json",
        _huge([{**EPISODE, "intensity": PLACEHOLDER}], "-"),
    ),
    "episode_start": ("episodes.json", _huge([{**EPISODE, "start": PLACEHOLDER}])),
    "fitbit_bpm": (
        "heart_rate-2023-01-25.json",
        _huge([*FITBIT, {**FITBIT[0], "value": {"bpm": PLACEHOLDER, "confidence": 2}}]),
    ),
    "fitbit_confidence": (
        "heart_rate-2023-01-25.json",
        _huge([{**FITBIT[0], "value": {"bpm": 54, "confidence": PLACEHOLDER}}]),
    ),
    "oura_bpm": (
        "heartrate.json",
        _huge({"data": [OURA_HR, {**OURA_HR, "bpm": PLACEHOLDER}], "next_token": None}),
    ),
    "polar_flow_hr": (
        "training-session-2017-09-12-1-2.json",
        _huge(_polar([POLAR_HR, {**POLAR_HR, "value": PLACEHOLDER}])),
    ),
    "garmin_wellness_value": (
        "1_20240301_20240405_healthStatusData.json",
        _huge(_garmin(PLACEHOLDER)),
    ),
}


def test_a_huge_offset_is_no_offset_and_the_profile_zone_applies(tmp_path: Path) -> None:
    # As for any non-numeric timezoneOffset (docs of polar_flow): the sample is kept.
    exercise = {**_polar([POLAR_HR])["exercises"][0], "timezoneOffset": PLACEHOLDER}  # type: ignore[index]
    text = _huge({**_polar([POLAR_HR]), "exercises": [exercise]})
    report = _ingested(tmp_path, "training-session-2017-09-12-1-2.json", text)
    assert (report.status, report.rows_ok, report.rows_quarantined) == ("ingested", 1, 0)


def _ingested(tmp_path: Path, file_name: str, text: str) -> files.FileReport:
    assert HUGE in text
    folder = tmp_path / "inbox" / "S01"
    folder.mkdir(parents=True)
    (folder / "subject.toml").write_text('timezone = "UTC"\n')
    path = folder / file_name
    path.write_text(text)
    report = files.ingest_file(tmp_path / "lake", tmp_path / "inbox", "S01", path)
    assert report is not None
    return report


def test_huge_integer_literals_are_read_as_floats() -> None:
    assert tab.loads_json("[" + HUGE + ", -" + HUGE + ", 7]") == [float("inf"), float("-inf"), 7]
    assert tab.loads_json("9" * tab.MAX_JSON_INT_DIGITS) == int("9" * tab.MAX_JSON_INT_DIGITS)


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_huge_number_quarantines_its_row_or_refuses_the_file(tmp_path: Path, name: str) -> None:
    report = _ingested(tmp_path, *CASES[name])
    lake = tmp_path / "lake"
    assert report.format != "unknown", report
    if report.status == "ingested":
        assert report.rows_quarantined >= 1, report
        reasons = store.read_table(lake, "quarantine")["reason"].to_list()
        assert all(r and "\n" not in r for r in reasons), reasons
    else:
        assert report.status == "rejected", report
        assert report.detail and "\n" not in report.detail and HUGE not in report.detail
