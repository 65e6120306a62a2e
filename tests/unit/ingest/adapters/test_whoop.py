"""Whoop ``physiological_cycles.csv``: daily HRV and resting HR into the vendor tables.

Crafted from the published export. Oddities planted, several of each: the cycle timezone
written ``UTC+01:00``, ``UTC-07:00``, ``-05:00``, ``UTC`` and ``UTCZ``; the cycle in progress
(no end, no wake); cycles without any value (skipped) or with one of the two; unreadable
values; the older header without units; the other files of the export left undetected.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from tearsignals.ingest import adapters, files
from tearsignals.ingest.adapters import whoop
from tearsignals.lake import store
from tests.support.vendor_exports import WHOOP_CYCLES_HEADER, csv_text, whoop_cycle_row

ROWS = [
    whoop_cycle_row(
        "2024-01-01 22:10:00",
        "2024-01-02 22:30:00",
        "UTC+01:00",
        "52",
        "74.1",
        "2024-01-01 23:15:00",
        "2024-01-02 06:30:00",
    ),
    whoop_cycle_row(
        "2024-01-02 22:30:00",
        "2024-01-03 23:00:00",
        "UTC-07:00",
        "57",
        "61",
        "2024-01-02 22:40:00",
        "2024-01-03 06:25:00",
    ),
    whoop_cycle_row("2024-01-03 23:00:00", "2024-01-04 23:10:00", "-05:00", "", "", "", ""),
    whoop_cycle_row(
        "2024-01-04 23:10:00",
        "2024-01-05 23:30:00",
        "UTC",
        "49",
        "",
        "2024-01-04 23:30:00",
        "2024-01-05 07:00:00",
    ),
    whoop_cycle_row(
        "2024-01-05 23:30:00",
        "2024-01-06 22:50:00",
        "UTCZ",
        "abc",
        "80.5",
        "2024-01-05 23:45:00",
        "2024-01-06 07:10:00",
    ),
    whoop_cycle_row("2024-01-06 22:50:00", "", "-05:00", "50", "77", "2024-01-06 23:05:00", ""),
]


def _write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_cycles_give_daily_values_at_the_cycles_offset(tmp_path: Path) -> None:
    path = _write(tmp_path, "physiological_cycles.csv", csv_text(WHOOP_CYCLES_HEADER, ROWS))
    assert adapters.detect(path) is whoop.ADAPTER
    parsed = whoop.parse(path)
    hrv = parsed.frames["vendor_hrv"]
    assert hrv["t_utc"].to_list() == [
        datetime(2024, 1, 1, 23, tzinfo=UTC),  # wake day 2 Jan at UTC+1
        datetime(2024, 1, 3, 7, tzinfo=UTC),  # wake day 3 Jan at UTC-7
        datetime(2024, 1, 6, 0, tzinfo=UTC),  # UTCZ
        datetime(2024, 1, 6, 5, tzinfo=UTC),  # in progress: the start day at -05:00
    ]
    assert hrv["rmssd_ms"].to_list() == [74.1, 61.0, 80.5, 77.0]
    assert set(hrv["period"]) == {"day"}
    rhr = parsed.frames["vendor_resting_hr"]
    assert rhr["resting_hr_bpm"].to_list() == [52.0, 57.0, 49.0, 50.0]
    assert rhr["t_utc"][2] == datetime(2024, 1, 5, tzinfo=UTC)
    assert parsed.rejects["reason"].to_list() == ["unparseable resting heart rate (bpm)"]
    assert parsed.skipped == {"cycle without HRV or resting heart rate": 1}


def test_ingest_counts_each_value_once(tmp_path: Path) -> None:
    inbox, lake = tmp_path / "inbox", tmp_path / "lake"
    path = _write(inbox / "S01", "physiological_cycles.csv", csv_text(WHOOP_CYCLES_HEADER, ROWS))
    report = files.ingest_file(lake, inbox, "S01", path)
    assert report is not None and report.format == "whoop"
    counts = (report.rows_in, report.rows_ok, report.rows_quarantined, report.rows_skipped)
    assert counts == (10, 8, 1, 1)
    assert store.read_table(lake, "vendor_resting_hr").height == 4
    assert store.read_table(lake, "vendor_hrv").height == 4


def test_the_older_header_without_units_is_read(tmp_path: Path) -> None:
    header = "Cycle start time,Cycle end time,Cycle timezone,Day Strain,Recovery score %,Resting heart rate,Heart rate variability,Skin temp (celsius),Respiratory rate"
    rows = ["2026-09-01 07:00:00,2026-09-02 07:00:00,UTC,12.5,72,52,60,36.2,14.2"]
    parsed = whoop.parse(_write(tmp_path, "physiological_cycles.csv", csv_text(header, rows)))
    assert parsed.frames["vendor_hrv"]["t_utc"].to_list() == [datetime(2026, 9, 1, tzinfo=UTC)]
    assert parsed.frames["vendor_resting_hr"]["resting_hr_bpm"].to_list() == [52.0]


def test_the_other_files_of_the_export_are_not_detected(tmp_path: Path) -> None:
    sleeps = "Cycle start time,Cycle end time,Cycle timezone,Sleep onset,Wake onset,Sleep performance %,Nap\n2025-11-04 03:10:36,2025-11-05 04:59:53,UTC+07:00,2025-11-04 03:10:36,2025-11-04 09:17:37,66,false\n"
    journal = "Cycle start time,Cycle end time,Cycle timezone,Question text,Answered yes,Notes\n2026-08-29 22:30:00,,UTC-07:00,Felt stressed today?,true,\n"
    assert adapters.detect(_write(tmp_path, "sleeps.csv", sleeps)) is None
    assert adapters.detect(_write(tmp_path, "journal_entries.csv", journal)) is None
