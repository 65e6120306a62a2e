"""``inspect`` says what ingest stores: the same counts and reasons, and it writes nothing."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tearsignals.contract import expectations
from tearsignals.errors import InputError
from tearsignals.ingest import files, inspect
from tearsignals.lake import store

T = "2026-01-05T15:00:{:02d}+01:00"
GOOD_BEATS = "timestamp,rr_ms\n" + "".join(f"{T.format(s)},{800 + s}\n" for s in range(1, 9))
BAD_BEATS = (
    "timestamp,rr_ms\n"
    f"{T.format(1)},800\n"
    f"{T.format(2)},-3\n"  # out of range: a row rule
    "yesterday,900\n"  # no time: the adapter rejects it
    f"{T.format(3)},810\n"
    f"{T.format(3)},810\n"  # an exact copy: a duplicate
    f"{T.format(3)},820\n"  # same key, other value: a conflict
    f"{T.format(2)},830\n"  # before the latest beat: non-monotonic
)
EPISODES = (
    "start,end,tz,intensity\n"
    "2026-01-05 14:00,2026-01-05 14:20,Europe/Berlin,7\n"
    "2026-01-06 09:00,2026-01-06 09:10,,3\n"  # local time without zone: rejected
    "2026-01-07T08:00:00+01:00,2026-01-07T07:00:00+01:00,,\n"  # end before start
    "2026-01-08T08:00:00+01:00,2026-01-08T08:30:00+01:00,,11\n"  # intensity out of range
)
_HR_RECORD = (
    ' <Record type="HKQuantityTypeIdentifierHeartRate" sourceName="Watch" sourceVersion="10.2"'
    ' unit="count/min" creationDate="{t}" startDate="{t}" endDate="{t}" value="{v}"/>\n'
)
APPLE_HEALTH = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<HealthData locale="en_US">\n'
    ' <ExportDate value="2024-03-11 10:00:00 +0100"/>\n'
    + _HR_RECORD.format(t="2024-03-09 08:12:00 +0100", v="61") * 2  # a copy the adapter drops
    + _HR_RECORD.format(t="2024-03-09 08:13:00 +0100", v="300")  # out of range
    + _HR_RECORD.format(t="2024-03-09 08:14:00 +0100", v="64")
    + "</HealthData>\n"
)
GARMIN_LOGGER = (
    "2026-01-05T15:00:00.800+01:00;HEART_RATE_VARIABILITY;800.0\n"
    "2026-01-05T15:00:01.000+01:00;STEPS;12\n"  # a measure no table takes: skipped
    "2026-01-05T15:00:01.000+01:00;HEART_RATE;-1\n"  # the logger's "invalid": quarantined
    "2026-01-05T15:00:02.000+01:00;STRESS;25\n"
    "2026-01-05T15:00:03.000+01:00;STEPS;14\n"
)
CASES = {
    "good": ("rr.csv", GOOD_BEATS),
    "garmin_logger": ("data.csv", GARMIN_LOGGER),
    "bad_rows": ("rr.csv", BAD_BEATS),
    "episodes": ("episodes.csv", EPISODES),
    "apple_health": ("export.xml", APPLE_HEALTH),
}


def _ingested(
    tmp_path: Path, name: str, content: str | bytes
) -> tuple[Path, Path, files.FileReport]:
    """Ingest one file into a new lake; the file, the lake and the file's report."""
    inbox, lake = tmp_path / "inbox", tmp_path / "lake"
    path = inbox / "S01" / name
    path.parent.mkdir(parents=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    report = files.ingest_file(lake, inbox, "S01", path)
    assert report is not None
    return path, lake, report


def _stored_reasons(lake: Path) -> Counter[str]:
    quarantine = store.read_table(lake, "quarantine")
    return Counter(f"{t}: {r}" for t, r in quarantine.select("table", "reason").iter_rows())


def _assert_inspect_agrees_with_ingest(tmp_path: Path, name: str, content: str) -> None:
    path, lake, report = _ingested(tmp_path, name, content)
    summary = inspect.inspect_file(path)
    assert report.status == "ingested" and summary.format == report.format
    ingest_counts = (
        report.rows_in, report.rows_ok, report.rows_quarantined, report.rows_duplicate,
        report.rows_skipped,
    )  # fmt: skip
    inspect_counts = (
        summary.rows_in, summary.rows_ok, summary.rows_quarantined, summary.rows_duplicate,
        summary.rows_skipped,
    )  # fmt: skip
    assert inspect_counts == ingest_counts
    problems = summary.problems.copy()
    del problems[inspect.REASON_SOURCE_PRIORITY]
    assert problems == _stored_reasons(lake)
    for table, t in summary.tables.items():
        if table in store.file_parted_tables():
            assert t.rows_ok == store.read_table(lake, table).height, table


@pytest.mark.parametrize("case", sorted(CASES))
def test_inspect_counts_what_ingest_stores(tmp_path: Path, case: str) -> None:
    name, content = CASES[case]
    _assert_inspect_agrees_with_ingest(tmp_path, name, content)


def test_the_cases_cover_every_way_a_row_can_go(tmp_path: Path) -> None:
    bad = inspect.inspect_file(_ingested(tmp_path / "a", *CASES["bad_rows"])[0])
    assert (bad.rows_ok, bad.rows_quarantined, bad.rows_duplicate) == (2, 4, 1)
    assert {"beats: rr_ms out of range [200, 5000]", "beats: non-monotonic time"} <= set(
        bad.problems
    )
    apple = inspect.inspect_file(_ingested(tmp_path / "b", *CASES["apple_health"])[0])
    assert apple.problems[inspect.REASON_SOURCE_PRIORITY] == 1
    assert apple.rows_duplicate == 1 and apple.tables["heart_rate"].rows_duplicate == 0


def test_skipped_measures_are_neither_stored_nor_quarantined(tmp_path: Path) -> None:
    path, lake, _ = _ingested(tmp_path, *CASES["garmin_logger"])
    log = store.read_table(lake, "_ingest_log").row(0, named=True)
    counts = ("rows_in", "rows_ok", "rows_quarantined", "rows_duplicate", "rows_skipped")
    assert tuple(log[c] for c in counts) == (5, 1, 1, 0, 3)
    assert store.read_table(lake, "quarantine")["reason"].to_list() == [
        "hr_bpm out of range [20, 250]"
    ]
    summary = inspect.inspect_file(path)
    assert summary.skipped == {"measure not ingested: STEPS": 2, "measure not ingested: STRESS": 1}
    text = inspect.summary_text(summary)
    assert "1 would be quarantined, 0 duplicate, 3 skipped" in text
    assert "2 × measure not ingested: STEPS" in text


@pytest.fixture
def strict_beats_gate(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A real great-expectations suite for beats that only RR intervals up to 850 ms pass.

    The row rules allow 200-5000 ms, so the rows pass them and the batch fails the gate.
    """
    gx = expectations._gx()
    strict = gx.ExpectationSuite(
        name="tearsignals.beats",
        expectations=[
            gx.expectations.ExpectColumnValuesToBeBetween(
                column="rr_ms", min_value=200, max_value=850
            )
        ],
    )
    declared = expectations.suite
    monkeypatch.setattr(expectations, "suite", lambda t: strict if t == "beats" else declared(t))
    yield


@pytest.mark.usefixtures("strict_beats_gate")
def test_a_batch_failing_the_gate_is_quarantined_whole_by_both(tmp_path: Path) -> None:
    content = GOOD_BEATS + f"{T.format(30)},900\n"
    _assert_inspect_agrees_with_ingest(tmp_path, "rr.csv", content)
    summary = inspect.inspect_file(tmp_path / "inbox" / "S01" / "rr.csv")
    assert summary.rows_ok == 0 and summary.rows_quarantined == 9
    (reason,) = summary.problems
    assert reason.startswith("beats: batch failed expectations: ")


@pytest.mark.parametrize(
    ("content", "status"),
    [(b"\x00\x01junk" * 10, "unknown_format"), (b"timestamp,rr_ms\n\xff\xfe,1\n", "rejected")],
)
def test_a_file_ingest_cannot_read_is_the_same_one_line_error(
    tmp_path: Path, content: bytes, status: str
) -> None:
    path, lake, report = _ingested(tmp_path, "x.csv", content)
    with pytest.raises(InputError) as raised:
        inspect.inspect_file(path)
    assert (report.status, report.detail) == (status, str(raised.value))
    assert (report.rows_in, report.rows_ok, report.rows_quarantined) == (0, 0, 0)
    assert store.read_table(lake, "quarantine").is_empty()


def test_inspect_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "rr.csv"
    path.write_text(BAD_BEATS)
    inspect.inspect_file(path)
    assert [p.name for p in tmp_path.iterdir()] == ["rr.csv"]
