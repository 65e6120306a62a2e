"""Time plausibility, declared once in the schemas: every time column of every format in range.

Times of 1970, 2100 and 9999 are quarantined as out of range whatever notation
they came in, and the genuine beat after them is not "non-monotonic".
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tearsignals.ingest import files, validate
from tearsignals.lake import store

OUT_OF_RANGE = ("1970-01-01T00:00:01Z", "2100-01-01T00:00:00.001Z", "9999-12-31T23:59:59Z", "1989-12-31T23:59:59Z")  # fmt: skip
GENUINE = "2026-01-05T14:00:01Z"


def _ingest(tmp_path: Path, name: str, text: str) -> tuple[files.FileReport, list[str]]:
    folder = tmp_path / "inbox" / "S01"
    folder.mkdir(parents=True)
    (folder / "subject.toml").write_text('timezone = "UTC"\n')
    (folder / name).write_text(text)
    lake = tmp_path / "lake"
    report = files.ingest_file(lake, tmp_path / "inbox", "S01", folder / name)
    assert report is not None and report.status == "ingested", report
    return report, store.read_table(lake, "quarantine")["reason"].to_list()


def _apple(stamp: str) -> str:
    return (
        '<Record type="HKQuantityTypeIdentifierHeartRate" sourceName="Watch" unit="count/min" '
        f'startDate="{stamp}" endDate="{stamp}" value="61"/>\n'
    )


CASES = {
    "beats_csv_iso": (
        "rr.csv",
        "timestamp,rr_ms\n" + "".join(f"{t},1000\n" for t in (*OUT_OF_RANGE, GENUINE)),
        "t_utc out of range",
    ),
    "heart_rate_csv_iso": (
        "hr.csv",
        "timestamp,hr_bpm\n" + "".join(f"{t},60\n" for t in (*OUT_OF_RANGE, GENUINE)),
        "t_utc out of range",
    ),
    "episodes_csv": (
        "episodes.csv",
        "start,end,intensity\n"
        "1970-01-01T00:00:00Z,1970-01-01T00:05:00Z,3\n"
        "2099-12-31T23:58:00Z,2100-01-01T00:05:00Z,3\n"
        "9999-01-01T00:00:00Z,9999-01-01T00:05:00Z,3\n"
        "2026-01-05T14:00:00Z,2026-01-05T14:05:00Z,3\n",
        "_utc out of range",
    ),
    "apple_health_record": (
        "export.xml",
        '<?xml version="1.0" encoding="UTF-8"?>\n<HealthData locale="en_US">\n'
        + _apple("1970-01-01 01:00:00 +0100")
        + _apple("9999-12-31 12:00:00 +0000")
        + _apple("2026-01-05 15:00:00 +0100")
        + "</HealthData>\n",
        "t_utc out of range",
    ),
    "rr_text_start": (
        "rest.txt",
        "# start: 1970-01-01T00:00:00Z\n800\n810\n",
        "t_utc out of range",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_times_out_of_range_are_quarantined_in_every_format(tmp_path: Path, case: str) -> None:
    name, text, needle = CASES[case]
    report, reasons = _ingest(tmp_path, name, text)
    assert report.rows_quarantined >= 1 and reasons
    assert all(needle in r for r in reasons), reasons
    assert validate.REASON_NON_MONOTONIC not in reasons
    if case != "rr_text_start":
        assert report.rows_ok == 1  # the genuine row, after the implausible ones


def test_a_genuine_beat_after_implausible_ones_is_not_non_monotonic(tmp_path: Path) -> None:
    text = "timestamp,rr_ms\n" + "".join(f"{t},1000\n" for t in (*OUT_OF_RANGE, GENUINE))
    report, reasons = _ingest(tmp_path, "rr.csv", text)
    assert (report.rows_ok, report.rows_quarantined) == (1, len(OUT_OF_RANGE))
    assert reasons == ["t_utc out of range [1990-01-01T00:00:00Z, 2100-01-01T00:00:00Z]"] * len(
        OUT_OF_RANGE
    )
