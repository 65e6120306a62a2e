"""The ingest summary the CLI prints: failed files and refused entries counted, status 1."""

from __future__ import annotations

import pytest

from tearsignals.cli import commands
from tearsignals.ingest import files


def _row(path: str, status: str, detail: str | None = None, ok: int = 0) -> files.FileReport:
    subject_id = path.split("/", 1)[0]
    return files.FileReport(
        subject_id, "f" * 64, path, "csv_beats", ok, ok, 0, 0, 0, status, detail
    )


def test_failed_files_and_refused_entries_are_listed_and_exit_1(
    capsys: pytest.CaptureFixture[str],
) -> None:
    reports = [
        _row("S01/a.csv", "ingested", ok=5),
        _row("S01/b.csv", "failed", "b.csv: could not be read (Input/output error)"),
        _row("S02/c.csv", "failed", "c.csv: unexpected KeyError while reading"),
        _row("S02/d.csv", "rejected", "d.csv: empty file"),
    ]
    refused = [
        "p-1 (folder name withheld): not a valid subject id",
        "p-2 (folder name withheld): x",
    ]
    assert commands._print_ingest({"reports": reports, "refused": refused}) == 1
    out = capsys.readouterr().out.splitlines()
    assert "failed 2 files: read again by the next run" in out
    assert "refused 2 inbox entries:" in out
    assert sum(line.startswith("  S0") for line in out) == 3


def test_a_clean_run_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    reports = [_row("S01/a.csv", "ingested", ok=5), _row("S01/d.csv", "unknown_format", "d.csv")]
    assert commands._print_ingest({"reports": reports, "refused": []}) == 0
    assert "failed" not in capsys.readouterr().out


FORGED = [
    "rr.csv\n  S02/forged.csv: ingested: fine",
    "rr.csv\r  S02/forged.csv: ingested: fine",
    "rr\x1b[2K\x1b[1Gforged.csv",
    "rr\u2028forged.csv",
    "rr\u202evsc.exe",
]


@pytest.mark.parametrize("name", FORGED)
def test_a_name_cannot_forge_or_hide_summary_lines(
    capsys: pytest.CaptureFixture[str], name: str
) -> None:
    reports = [_row(f"S01/{name}", "rejected", f"{name}: empty file")]
    refused = [f"S01/{name}: symbolic link, not followed"]
    commands._print_ingest({"reports": reports, "refused": refused})
    out = capsys.readouterr().out
    lines = out.split("\n")
    assert len(lines) == 5 and lines[-1] == "", lines  # summary, file, refused head, entry
    assert not any(c in out for c in "\r\x1b\u2028\u202e")
    assert not any(line.startswith("  S02/") for line in lines)
