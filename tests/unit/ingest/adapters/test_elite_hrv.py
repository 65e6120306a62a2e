"""Elite HRV readings: RR text named ``YYYY-MM-DD HH-MM-SS.txt`` (the phone's local start).

Crafted as the app exports them: one interval in ms per line, no header. Oddities planted:
CRLF and a trailing blank line, a zero and an unreadable interval, a name inside a DST gap,
no zone at all, a ``.tz`` sidecar over the profile, a ``# start:`` header over the name,
and the same content under another name (plain RR text, refused without a start).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tearsignals.errors import InputError
from tearsignals.ingest import adapters, files
from tearsignals.ingest.adapters import rr_text
from tearsignals.ingest.adapters.base import Context
from tearsignals.ingest.timeparse import LocalZones
from tearsignals.lake import store

BERLIN = Context(zones=LocalZones("Europe/Berlin"))
RR = ["812", "798", "805", "0", "820"]  # as exported: whole ms, one per line


def _write(folder: Path, name: str, lines: list[str], *, crlf: bool = False) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    newline = "\r\n" if crlf else "\n"
    path.write_text(newline.join(lines) + newline + newline, encoding="utf-8", newline="")
    return path


@pytest.mark.parametrize("crlf", [False, True])
def test_the_start_is_the_local_time_in_the_name(tmp_path: Path, crlf: bool) -> None:
    path = _write(tmp_path, "2026-01-17 07-47-13.txt", RR, crlf=crlf)
    assert adapters.detect(path) is rr_text.ELITE_ADAPTER
    parsed = rr_text.parse_elite(path, BERLIN)
    beats = parsed.frames["beats"]
    start = datetime(2026, 1, 17, 6, 47, 13, tzinfo=UTC)
    assert beats["t_utc"].to_list()[:3] == [
        start + timedelta(milliseconds=812),
        start + timedelta(milliseconds=812 + 798),
        start + timedelta(milliseconds=812 + 798 + 805),
    ]
    assert beats["source"].unique().to_list() == ["elite_hrv"]
    assert parsed.rejects["reason"].to_list() == ["rr not positive"]
    assert beats["t_utc"][3] == start + timedelta(milliseconds=812 + 798 + 805 + 820)


def test_an_unreadable_interval_loses_the_clock_of_what_follows(tmp_path: Path) -> None:
    path = _write(tmp_path, "2026-01-17 07-47-13.txt", ["812", "x", "798"])
    parsed = rr_text.parse_elite(path, BERLIN)
    assert parsed.frames["beats"].height == 1
    assert parsed.rejects["reason"].to_list() == [
        "unparseable rr", "time unknown: follows unparseable row 2"
    ]  # fmt: skip


def test_a_zone_sidecar_wins_and_a_header_start_wins_over_the_name(tmp_path: Path) -> None:
    path = _write(tmp_path, "2026-07-01 22-00-00.txt", RR[:3])
    (tmp_path / "2026-07-01 22-00-00.txt.tz").write_text("America/New_York\n")
    first = rr_text.parse_elite(path, BERLIN).frames["beats"]["t_utc"][0]
    assert first == datetime(2026, 7, 2, 2, 0, 0, 812000, tzinfo=UTC)
    header = _write(
        tmp_path / "h", "2026-07-01 22-00-00.txt", ["# start: 2026-07-01T20:00:00Z", *RR[:3]]
    )
    assert rr_text.parse_elite(header, BERLIN).frames["beats"]["t_utc"][0] == datetime(
        2026, 7, 1, 20, 0, 0, 812000, tzinfo=UTC
    )


def test_a_name_without_zone_or_in_a_dst_gap_is_refused(tmp_path: Path) -> None:
    alone = _write(tmp_path, "2026-01-17 07-47-13.txt", RR)
    with pytest.raises(
        InputError, match="start time in the file name is a local time without zone"
    ):
        rr_text.parse_elite(alone)
    gap = _write(tmp_path, "2026-03-29 02-30-00.txt", RR)
    with pytest.raises(InputError, match=r"start time in the file name: nonexistent local time"):
        rr_text.parse_elite(gap, BERLIN)


def test_ingest_from_the_profile_and_the_same_text_under_another_name(tmp_path: Path) -> None:
    inbox, lake = tmp_path / "inbox", tmp_path / "lake"
    (inbox / "S01").mkdir(parents=True)
    (inbox / "S01" / "subject.toml").write_text('timezone = "Europe/Berlin"\n')
    path = _write(inbox / "S01", "2026-01-17 07-47-13.txt", RR)
    report = files.ingest_file(lake, inbox, "S01", path)
    assert report is not None and report.format == "elite_hrv"
    assert (report.rows_in, report.rows_ok, report.rows_quarantined) == (5, 4, 1)
    assert store.read_table(lake, "beats").height == 4
    other = _write(tmp_path, "reading.txt", RR)
    assert adapters.detect(other) is rr_text.ADAPTER
