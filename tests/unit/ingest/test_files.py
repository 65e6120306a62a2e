"""Ingest of single files into a lake: accounting, skipping, bad files, no crash."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from tearsignals.ingest import files
from tearsignals.lake import store

BEATS = "timestamp,rr_ms\n" + "".join(
    f"2026-01-05T15:00:{s:02d}.000+01:00,1000.0\n" for s in range(1, 31)
)


def _inbox(tmp_path: Path, contents: dict[str, bytes | str]) -> Path:
    inbox = tmp_path / "inbox"
    for rel, content in contents.items():
        path = inbox / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        data = content.encode() if isinstance(content, str) else content
        path.write_bytes(data)
    return inbox


def _ingest_all(inbox: Path, lake: Path) -> list[files.FileReport]:
    reports = [files.ingest_file(lake, inbox, s, p) for s, p in files.inbox_files(inbox)]
    return [r for r in reports if r is not None]


def test_rows_are_accounted_and_a_known_file_is_skipped(tmp_path: Path) -> None:
    bad = (
        BEATS
        + "2026-01-05T15:00:31+01:00,-5\nnot-a-time,900\n2026-01-05T15:00:30.000+01:00,1000.0\n"
    )
    inbox = _inbox(tmp_path, {"S01/rr.csv": bad})
    lake = tmp_path / "lake"
    (report,) = _ingest_all(inbox, lake)
    assert (report.rows_in, report.rows_ok, report.rows_quarantined, report.rows_duplicate) == (
        33,
        30,
        2,
        1,
    )
    reasons = store.read_table(lake, "quarantine")["reason"].to_list()
    assert len(reasons) == 2 and all(reasons)
    assert _ingest_all(inbox, lake) == []


def test_same_rows_in_a_second_file_count_as_duplicates(tmp_path: Path) -> None:
    inbox = _inbox(tmp_path, {"S01/a.csv": BEATS, "S01/b.csv": BEATS + "\n"})
    reports = _ingest_all(inbox, tmp_path / "lake")
    assert [r.rows_duplicate for r in reports] == [0, 30]
    assert store.read_table(tmp_path / "lake", "beats").height == 30


@pytest.mark.parametrize(
    ("content", "status", "needle"),
    [
        (b"\x00\x01\x02junk\xff\xfe" * 50, "unknown_format", "rr.csv"),
        (b"", "rejected", "empty"),
        ("timestamp,hr\n2026-01-05T15:00:00Z,60\n", "unknown_format", "rr.csv"),
        ("start,intensity\n2026-01-05T15:00:00Z,3\n", "rejected", "rr.csv"),
    ],
)
def test_unreadable_files_are_logged_with_a_one_line_reason(
    tmp_path: Path, content: bytes | str, status: str, needle: str
) -> None:
    inbox = _inbox(tmp_path, {"S01/rr.csv": content})
    (report,) = _ingest_all(inbox, tmp_path / "lake")
    assert report.status == status
    assert report.detail is not None and "\n" not in report.detail and needle in report.detail
    log = store.read_table(tmp_path / "lake", "_ingest_log")
    assert log["status"].to_list() == [status]


def test_episode_ids_depend_on_the_subject(tmp_path: Path) -> None:
    log = "start,end,intensity\n2026-01-05T19:00:00+01:00,2026-01-05T19:10:00+01:00,4\n"
    inbox = _inbox(tmp_path, {"S01/e.csv": log, "S02/e.csv": log})
    _ingest_all(inbox, tmp_path / "lake")
    ids = store.read_table(tmp_path / "lake", "episodes")["episode_id"]
    assert ids.n_unique() == 2


def test_invalid_subject_folder_is_refused_not_read(tmp_path: Path) -> None:
    inbox = _inbox(tmp_path, {"bad name/rr.csv": BEATS, "S01/rr.csv": BEATS})
    assert [s for s, _ in files.inbox_files(inbox)] == ["S01"]
    (refusal,) = files.inbox_refusals(inbox)
    assert refusal.line().startswith("bad name: not a valid subject id")


def test_hidden_files_are_ignored_but_nested_files_are_seen(tmp_path: Path) -> None:
    inbox = _inbox(tmp_path, {"S01/.DS_Store": b"x", "S01/export/rr.csv": BEATS})
    assert [p.name for _, p in files.inbox_files(inbox)] == ["rr.csv"]
    _ingest_all(inbox, tmp_path / "lake")
    assert store.read_table(tmp_path / "lake", "_ingest_log")["path"].to_list() == [
        "S01/export/rr.csv"
    ]


def test_log_entry_is_written_last(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    inbox = _inbox(tmp_path, {"S01/rr.csv": BEATS})
    lake = tmp_path / "lake"
    real = store.write_part

    def crash_on_log(lake_: Path, table: str, df: pl.DataFrame, subject: str, part: str) -> Path:
        if table == "_ingest_log":
            raise OSError("simulated crash before commit")
        return real(lake_, table, df, subject, part)

    monkeypatch.setattr(store, "write_part", crash_on_log)
    with pytest.raises(OSError, match="simulated"):
        _ingest_all(inbox, lake)
    monkeypatch.setattr(store, "write_part", real)
    (report,) = _ingest_all(inbox, lake)  # not committed, so processed again
    assert report.rows_ok == 30
    assert store.read_table(lake, "beats").height == 30
