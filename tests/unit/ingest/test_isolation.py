"""One bad file or subject folder never stops the others: ``failed`` rows and refused folders."""

from __future__ import annotations

import errno
import hashlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from tearsignals.ingest import adapters, files
from tearsignals.ingest.adapters.base import Adapter, Context, Parsed
from tearsignals.lake import privacy, store
from tests.support.ingest import ingest_every_file

SECRET = "4711"  # stands for a data value an error message might quote


def _beats(hour: int, n: int = 30) -> str:
    start = datetime(2026, 1, 5, hour, tzinfo=UTC)
    stamps = (start + timedelta(seconds=k) for k in range(1, n + 1))
    return "timestamp,rr_ms\n" + "".join(f"{t.isoformat()},1000.0\n" for t in stamps)


def _inbox(tmp_path: Path, folders: dict[str, dict[str, str]]) -> Path:
    inbox = tmp_path / "inbox"
    for folder, contents in folders.items():
        (inbox / folder).mkdir(parents=True)
        for name, text in contents.items():
            (inbox / folder / name).write_text(text)
    return inbox


BAD = _beats(16)
BAD_ID = hashlib.sha256(BAD.encode()).hexdigest()
FOLDERS = {
    "S01": {"a.csv": _beats(14), "bad.csv": BAD, "c.csv": _beats(15)},
    "S02": {"rr.csv": _beats(17)},
}


def _break_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    real = files.file_sha256

    def sha(path: Path) -> str:
        if path.name == "bad.csv":
            raise OSError(errno.EIO, "Input/output error", str(path))
        return real(path)

    monkeypatch.setattr(files, "file_sha256", sha)


def _break_detection(monkeypatch: pytest.MonkeyPatch) -> None:
    real = adapters.detected

    def detected(path: Path) -> Adapter:
        if path.name == "bad.csv":
            raise ZeroDivisionError(SECRET)
        return real(path)

    monkeypatch.setattr(adapters, "detected", detected)


def _break_second_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    """An adapter that yields one good batch of the file, then fails (a bug mid-file)."""
    real = adapters.detected

    def detected(path: Path) -> Adapter:
        adapter = real(path)
        if path.name != "bad.csv":
            return adapter

        def batches(p: Path, context: Context) -> Iterator[Parsed]:
            yield adapter.parse(p, context)
            raise ValueError(f"could not convert {SECRET!r}")

        return Adapter(adapter.name, adapter.sniff, adapter.parse, adapter.reads_profile, batches)

    monkeypatch.setattr(adapters, "detected", detected)


def _break_planning(monkeypatch: pytest.MonkeyPatch) -> None:
    real = files.file_plan

    def file_plan(format_name: str, parsed: Parsed, subject_id: str, file_id: str, *a: object):  # type: ignore[no-untyped-def]
        if file_id == BAD_ID:
            raise KeyError(SECRET)
        return real(format_name, parsed, subject_id, file_id, *a)  # type: ignore[arg-type]

    monkeypatch.setattr(files, "file_plan", file_plan)


FAULTS: dict[str, Callable[[pytest.MonkeyPatch], None]] = {
    "eio_while_hashing": _break_hashing,
    "bug_in_detection": _break_detection,
    "bug_after_first_batch": _break_second_batch,
    "bug_in_validation": _break_planning,
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_failing_file_is_logged_failed_and_the_others_land(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fault: str
) -> None:
    inbox, lake = _inbox(tmp_path, FOLDERS), tmp_path / "lake"
    with monkeypatch.context() as patch:
        FAULTS[fault](patch)
        reports = ingest_every_file(lake, inbox)
    by_path = {r.path: r for r in reports}
    assert sorted(by_path) == ["S01/a.csv", "S01/bad.csv", "S01/c.csv", "S02/rr.csv"]
    failed = by_path.pop("S01/bad.csv")
    assert (failed.status, failed.rows_in, failed.rows_ok) == ("failed", 0, 0)
    assert failed.detail and failed.detail.startswith("bad.csv: ") and "\n" not in failed.detail
    assert SECRET not in failed.detail and str(tmp_path) not in failed.detail
    assert {r.status for r in by_path.values()} == {"ingested"}
    beats = store.scan_committed(lake, "beats").collect()
    assert beats.height == 90 == store.read_table(lake, "beats").height  # no part of bad.csv left

    again = ingest_every_file(lake, inbox)  # the failure was one attempt: read again
    assert [(r.path, r.status, r.rows_ok) for r in again] == [("S01/bad.csv", "ingested", 30)]
    log = store.read_table(lake, "_ingest_log")
    assert log.height == 4 and "failed" not in log["status"].to_list()
    assert ingest_every_file(lake, inbox) == []


def test_a_file_failing_every_run_keeps_one_failed_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox, lake = _inbox(tmp_path, FOLDERS), tmp_path / "lake"
    _break_hashing(monkeypatch)
    for _ in range(3):
        reports = ingest_every_file(lake, inbox)
    assert [(r.path, r.status) for r in reports] == [("S01/bad.csv", "failed")]
    log = store.read_table(lake, "_ingest_log").filter(pl.col("status") == "failed")
    assert log["file_id"].to_list() == [files.unreadable_file_id("S01/bad.csv")]


def test_a_copy_failing_leaves_the_committed_original_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox, lake = _inbox(tmp_path, {"S01": {"rr.csv": BAD}}), tmp_path / "lake"
    assert [r.rows_ok for r in ingest_every_file(lake, inbox)] == [30]
    (inbox / "S01" / "bad.csv").write_text(BAD)  # the same bytes under another name
    _break_detection(monkeypatch)
    (failed,) = ingest_every_file(lake, inbox)
    assert (failed.path, failed.status) == ("S01/bad.csv", "failed")
    assert failed.file_id == files.unreadable_file_id("S01/bad.csv")
    assert store.scan_committed(lake, "beats").collect().height == 30
    log = store.read_table(lake, "_ingest_log").sort("path")
    assert log.select("path", "status").rows() == [
        ("S01/bad.csv", "failed"),
        ("S01/rr.csv", "ingested"),
    ]


BAD_NAMES = ("Zoë Müller", "Jane Doe", "S 02x", "semi;colon")


def test_invalid_subject_folders_are_refused_and_the_others_ingested(tmp_path: Path) -> None:
    inbox = _inbox(
        tmp_path, {"S01": {"rr.csv": _beats(14)}} | {n: {"rr.csv": _beats(15)} for n in BAD_NAMES}
    )
    assert [s for s, _ in files.inbox_files(inbox)] == ["S01"]
    refusals = files.inbox_refusals(inbox)
    assert sorted(r.folder for r in refusals) == sorted(BAD_NAMES)
    assert all(r.folder in r.line() and "\n" not in r.line() for r in refusals)
    reports = ingest_every_file(tmp_path / "lake", inbox)
    assert [(r.subject_id, r.status) for r in reports] == [("S01", "ingested")]


def test_a_refused_folder_name_is_withheld_under_a_key(tmp_path: Path) -> None:
    inbox = _inbox(tmp_path, {n: {"rr.csv": _beats(15)} for n in BAD_NAMES})
    key = b"k" * 32
    lines = [r.line(key) for r in files.inbox_refusals(inbox)]
    assert len(lines) == len(BAD_NAMES)
    for line in lines:
        assert "withheld" in line and "\n" not in line
        for name in BAD_NAMES:
            assert all(word not in line for word in name.split()), line
    assert {line.split(" ", 1)[0] for line in lines} == {
        privacy.pseudonym(n, key) for n in BAD_NAMES
    }
