"""Files read in batches: the same rows and counts as one batch, and crash-safe commits."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from tearsignals.errors import InputError
from tearsignals.ingest import adapters, files, inspect
from tearsignals.ingest.adapters import apple_health, csv_beats
from tearsignals.ingest.adapters.apple_health import frames
from tearsignals.ingest.adapters.base import Adapter, Context, Parsed, in_order, whole
from tearsignals.lake import layout, store
from tests.support import apple_exports as ax

HR = (
    ' <Record type="HKQuantityTypeIdentifierHeartRate" sourceName="{source}" unit="count/min" '
    'startDate="{t}" endDate="{t}" value="{bpm}"/>\n'
)


def _export(tmp_path: Path, name: str = "export.xml") -> Path:
    """Heart rate over four months (with iPhone copies and a bad value), then HRV readings."""
    rng = random.Random(3)
    records = []
    for k in range(400):
        t = datetime(2024, 1, 1) + timedelta(hours=7 * k)
        stamp = f"{t:%Y-%m-%d %H:%M:%S} +0100"
        records.append(HR.format(source="Watch", t=stamp, bpm=rng.randint(50, 110)))
        if k % 9 == 0:
            records.append(HR.format(source="Anna’s iPhone", t=stamp, bpm=70))
        if k == 77:
            records.append(HR.format(source="Watch", t=stamp.replace(":00 ", ":01 "), bpm="x"))
    readings = ax.realistic_readings(30, seed=2)
    xml = ax.export_xml(readings).replace("</HealthData>\n", "".join(records) + "</HealthData>\n")
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / name
    path.write_text(xml, encoding="utf-8")
    return path


def test_batches_hold_the_rows_of_one_batch(tmp_path: Path) -> None:
    path = _export(tmp_path)
    one = apple_health.parse(path)
    batches = list(apple_health.read_batches(path, rows_per_batch=100))
    assert len(batches) > 5
    many = whole(batches)
    for table, frame in one.frames.items():
        key = ["t_utc", "row_number"]
        assert many.frames[table].sort(key).equals(frame.sort(key)), table
    assert many.rejects.sort("table", "row_number").equals(one.rejects.sort("table", "row_number"))
    assert (many.duplicates, many.rows_in) == (one.duplicates, one.rows_in)
    assert one.duplicates == 45 and one.rejects.height == 1


def test_a_batch_out_of_time_order_is_an_adapter_defect() -> None:
    def beats(at: list[int]) -> Parsed:
        t = [datetime(2026, 1, 5, 14, s) for s in at]
        frame = pl.DataFrame({"t_utc": t, "rr_ms": 800.0, "row_number": range(1, len(t) + 1)})
        return Parsed(frames={"beats": frame})

    assert len(list(in_order([beats([1, 2]), beats([3])]))) == 2
    with pytest.raises(AssertionError, match="beats: a batch starts before"):
        list(in_order([beats([1, 3]), beats([3, 4])]))


def _ingest(lake: Path, inbox: Path, path: Path) -> files.FileReport:
    report = files.ingest_file(lake, inbox, "S01", path)
    assert report is not None
    return report


def _lake_rows(lake: Path) -> dict[str, pl.DataFrame]:
    tables = ("heart_rate", "beats", "vendor_hrv", "quarantine")
    return {
        t: store.read_table(lake, t).drop("file_id").sort(pl.all().exclude("raw", "reason"))
        for t in tables
    }


def test_ingest_in_batches_stores_what_one_batch_stores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox = tmp_path / "inbox"
    path = _export(inbox / "S01")
    whole_lake, batched_lake = tmp_path / "one", tmp_path / "many"
    alone = _ingest(whole_lake, inbox, path)
    monkeypatch.setattr(frames, "ROWS_PER_BATCH", 100)
    batched = _ingest(batched_lake, inbox, path)
    counts = ("rows_in", "rows_ok", "rows_quarantined", "rows_duplicate", "rows_skipped")
    assert [getattr(batched, c) for c in counts] == [getattr(alone, c) for c in counts]
    assert _lake_rows(batched_lake).keys() == _lake_rows(whole_lake).keys()
    for table, rows in _lake_rows(batched_lake).items():
        assert rows.equals(_lake_rows(whole_lake)[table]), table
    parts = sorted(layout.partition_dir(batched_lake, "heart_rate", "S01").glob("*.parquet"))
    assert len(parts) > 3
    assert {layout.part_file_id(p) for p in parts} == {alone.file_id}
    assert store.uncommitted_files(batched_lake) == []


class _Killed(BaseException):
    """Stands for the process dying mid-file: nothing in ingest handles it."""


def _failing(after: int, error: BaseException) -> Adapter:
    """The beats CSV adapter, read as one-row batches, failing after ``after`` batches."""

    def batches(path: Path, context: Context) -> Iterator[Parsed]:
        rows = csv_beats.parse(path, context).frames["beats"]
        for k in range(rows.height):
            if k == after:
                raise error
            yield Parsed(frames={"beats": rows[k : k + 1]})

    return Adapter("csv_beats", csv_beats.sniff, csv_beats.parse, batches=batches)


def _beats_inbox(tmp_path: Path) -> tuple[Path, Path]:
    inbox = tmp_path / "inbox"
    path = inbox / "S01" / "rr.csv"
    path.parent.mkdir(parents=True)
    rows = "".join(f"2026-01-05T15:00:{s:02d}+01:00,{800 + s}\n" for s in range(1, 7))
    path.write_text("timestamp,rr_ms\n" + rows)
    return inbox, path


def test_a_file_failing_mid_way_leaves_no_batch_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox, path = _beats_inbox(tmp_path)
    lake = tmp_path / "lake"
    refusal = InputError("rr.csv: cut short")
    monkeypatch.setattr(adapters, "detected", lambda p: _failing(3, refusal))
    report = _ingest(lake, inbox, path)
    assert (report.status, report.detail, report.rows_in) == ("rejected", "rr.csv: cut short", 0)
    assert list((lake / "beats").rglob("*.parquet")) == []


def test_a_crash_mid_way_leaves_invisible_batches_the_next_run_replaces(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox, path = _beats_inbox(tmp_path)
    lake = tmp_path / "lake"
    with monkeypatch.context() as patched:
        patched.setattr(adapters, "detected", lambda p: _failing(4, _Killed("killed")))
        with pytest.raises(_Killed, match="killed"):
            files.ingest_file(lake, inbox, "S01", path)
    assert len(list((lake / "beats").rglob("*.parquet"))) == 4  # written, not committed
    assert store.scan_committed(lake, "beats").collect().is_empty()
    assert len(store.uncommitted_files(lake)) == 4
    report = _ingest(lake, inbox, path)
    assert (report.rows_in, report.rows_ok) == (6, 6)
    assert store.read_table(lake, "beats").height == 6
    assert store.uncommitted_files(lake) == []


def test_a_read_error_mid_way_is_a_failed_file_without_batches_read_again_next_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox, path = _beats_inbox(tmp_path)
    lake = tmp_path / "lake"
    with monkeypatch.context() as patched:
        patched.setattr(adapters, "detected", lambda p: _failing(4, OSError(5, "I/O error")))
        report = _ingest(lake, inbox, path)
    assert (report.status, report.detail) == ("failed", "rr.csv: could not be read (I/O error)")
    assert store.read_table(lake, "beats").is_empty() and store.uncommitted_files(lake) == []
    report = _ingest(lake, inbox, path)
    assert (report.status, report.rows_ok) == ("ingested", 6)


def test_scratch_leftovers_are_removed_by_the_next_writer(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    path = _export(inbox / "S01")
    lake = tmp_path / "lake"
    _ingest(lake, inbox, path)
    scratch = layout.scratch_dir(lake)
    assert scratch.is_dir() and list(scratch.iterdir()) == []  # the adapter cleaned up
    (scratch / ".apple-health-killed").mkdir()
    (scratch / ".apple-health-killed" / "heart_rate-202401-0.arrow").write_bytes(b"x")
    assert store.remove_uncommitted(lake) == 1
    assert list(scratch.iterdir()) == []


# --- inspect: coverage blocks and gaps -------------------------------------------------------------


def test_inspect_shows_blocks_and_gaps_not_one_span(tmp_path: Path) -> None:
    day1 = "".join(f"2026-01-05T15:{m:02d}:00+01:00,{800 + m}\n" for m in range(0, 50))
    day3 = "".join(f"2026-01-07T09:{m:02d}:00+01:00,{850 + m}\n" for m in range(0, 20))
    path = tmp_path / "rr.csv"
    path.write_text("timestamp,rr_ms\n" + day1 + day3)
    summary = inspect.inspect_file(path)
    start = datetime(2026, 1, 5, 14, tzinfo=UTC)
    blocks = summary.tables["beats"].blocks
    assert [(b - a) for a, b in blocks] == [timedelta(minutes=49), timedelta(minutes=19)]
    assert blocks[1][0] - blocks[0][1] == timedelta(days=1, hours=17, minutes=11)
    assert blocks[0][0] == start
    text = inspect.summary_text(summary)
    assert "coverage: 2 blocks (split at gaps over 1 h), 1 h 8 min covered" in text
    assert "largest gaps: 1 d 17 h" in text


def test_inspect_blocks_merge_across_batches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _export(tmp_path)
    monkeypatch.setattr(frames, "ROWS_PER_BATCH", 100)
    summary = inspect.inspect_file(path)
    hr = summary.tables["heart_rate"]
    # heart rate every 7 hours: a block per sample, whatever the batches
    assert len(hr.blocks) == 400 and hr.rows_ok == 400
    text = inspect.summary_text(summary)
    assert "coverage: 400 blocks" in text and "… 394 more blocks" in text
