"""A quarantined row keeps at most 4,096 characters of its text, and the text's full length."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tearsignals.ingest import files, validate
from tearsignals.lake import store

LONG = "9" * (3 * 2**20)
CASES = {
    "beats_csv_line": ("rr.csv", "timestamp,rr_ms\n2026-01-05T14:00:01Z,1000\n2026-01-05T14:00:02Z," + LONG + "\n"),
    "heart_rate_csv_line": ("hr.csv", "timestamp,hr_bpm\n2026-01-05T14:00:01Z,60\n2026-01-05T14:00:02Z,6" + LONG + "\n"),
    "episode_json_field": ("episodes.json", json.dumps([{"start": "2026-01-05T15:00:00+01:00", "end": "x" + LONG}])),
    "rr_text_line": ("rest.txt", "# start: 2026-01-05T14:00:00Z\n800\n8" + LONG + "\n810\n"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(CASES))
def test_raw_text_is_capped_and_its_length_kept(tmp_path: Path, case: str) -> None:
    name, text = CASES[case]
    folder = tmp_path / "inbox" / "S01"
    folder.mkdir(parents=True)
    (folder / name).write_text(text)
    lake = tmp_path / "lake"
    report = files.ingest_file(lake, tmp_path / "inbox", "S01", folder / name)
    assert report is not None and report.status == "ingested" and report.rows_quarantined, report
    quarantine = store.read_table(lake, "quarantine")
    longest = quarantine.sort("raw_chars").row(-1, named=True)
    assert len(longest["raw"]) == validate.MAX_RAW_CHARS
    assert longest["raw_chars"] > len(LONG)
    short = quarantine.filter(quarantine["raw_chars"] < validate.MAX_RAW_CHARS)
    assert (short["raw"].str.len_chars() == short["raw_chars"]).all()
