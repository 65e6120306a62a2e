"""Property tests: ingest order does not matter, later exports add only new rows, re-runs add nothing.

Files are small beat and episode logs drawn from a few timestamps and values,
so files overlap, repeat rows exactly, and disagree about the same key (a
*conflict*) all the time. The guarantees checked are the ones documented in
``tearsignals.ingest.files``:

* the stored values of every table do not depend on the order files arrive
  in (the lineage column ``file_id`` of an exact copy does: it names the file
  that brought the row first);
* with two files, quarantine and each file's ``rows_in``/``rows_quarantined``
  do not depend on the order either (``path`` does when both files have the
  same bytes: they are one file, logged under the path seen first);
* every input record is accounted for; no natural key is stored twice.
"""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from tearsignals.contract import schema
from tearsignals.ingest import files
from tearsignals.lake import store
from tests.support.ingest import ingest_every_file

T0 = datetime(2026, 1, 5, 14, tzinfo=UTC)
DATA = ("beats", "episodes")

BEAT = st.tuples(st.integers(0, 12), st.sampled_from([700.0, 800.0, 900.0]))
BEAT_FILE = st.lists(BEAT, min_size=1, max_size=12)
EPISODE = st.tuples(st.integers(0, 3), st.sampled_from([None, 2, 5]))
EPISODE_FILE = st.lists(EPISODE, min_size=1, max_size=4)


def _local(t: datetime) -> str:
    """The time as a local ISO string with an offset (the adapter converts it to UTC)."""
    return t.astimezone(UTC).replace(tzinfo=None).isoformat() + "+00:00"


def beats_csv(rows: Sequence[tuple[int, float]]) -> str:
    lines = [f"{_local(T0 + timedelta(seconds=s))},{rr}" for s, rr in rows]
    return "timestamp,rr_ms\n" + "\n".join(lines) + "\n"


def episodes_csv(rows: Sequence[tuple[int, int | None]]) -> str:
    def line(day: int, intensity: int | None) -> str:
        start = T0 + timedelta(days=day, hours=5)
        shown = "" if intensity is None else str(intensity)
        return f"{_local(start)},{_local(start + timedelta(minutes=10))},{shown}"

    return "start,end,intensity\n" + "\n".join(line(d, i) for d, i in rows) + "\n"


def _write_inbox(root: Path, contents: dict[str, str]) -> Path:
    inbox = root / "inbox"
    for name, text in contents.items():
        path = inbox / "S01" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return inbox


def _ingest_in_order(root: Path, contents: dict[str, str], order: Sequence[str]) -> Path:
    """A new lake with the inbox's files ingested in ``order``."""
    inbox = _write_inbox(root, contents)
    lake = root / "lake"
    for name in order:
        files.ingest_file(lake, inbox, "S01", inbox / "S01" / name)
    return lake


def _sorted(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.sort(frame.columns, nulls_last=True)


def stored_values(lake: Path) -> dict[str, pl.DataFrame]:
    """Every data table without its lineage column, in a canonical row order."""
    return {t: _sorted(store.read_table(lake, t).drop("file_id")) for t in DATA}


def accounting(lake: Path) -> dict[str, pl.DataFrame]:
    """Quarantine, and what each file brought in and lost to quarantine."""
    log = store.read_table(lake, "_ingest_log")
    return {
        "quarantine": _sorted(store.read_table(lake, "quarantine")),
        "log": _sorted(log.select("file_id", "rows_in", "rows_quarantined", "status")),
        "ok+dup": _sorted(log.select("file_id", pl.col("rows_ok") + pl.col("rows_duplicate"))),
    }


def _assert_sound(lake: Path, contents: dict[str, str]) -> None:
    """Every record is accounted for and no natural key is stored twice."""
    log = store.read_table(lake, "_ingest_log")
    records = sum(
        len(text.splitlines()) - 1 for text in set(contents.values())
    )  # same bytes, one file
    assert int(log["rows_in"].sum()) == records
    stored = sum(store.read_table(lake, t).height for t in DATA)
    assert stored == int(log["rows_ok"].sum())
    for table in DATA:
        frame = store.read_table(lake, table)
        assert frame.height == frame.unique(subset=list(schema.table(table).key)).height


def _files(
    beats: list[list[tuple[int, float]]], episodes: list[tuple[int, int | None]]
) -> dict[str, str]:
    contents = {f"b{i}.csv": beats_csv(rows) for i, rows in enumerate(beats)}
    contents["episodes.csv"] = episodes_csv(episodes)
    return contents


@settings(max_examples=25, deadline=None)
@given(a=BEAT_FILE, b=BEAT_FILE, ep_a=EPISODE_FILE, ep_b=EPISODE_FILE)
def test_two_files_give_the_same_lake_in_either_order(
    a: list[tuple[int, float]],
    b: list[tuple[int, float]],
    ep_a: list[tuple[int, int | None]],
    ep_b: list[tuple[int, int | None]],
) -> None:
    contents = {"a.csv": beats_csv(a), "b.csv": beats_csv(b)}
    contents |= {"ea.csv": episodes_csv(ep_a), "eb.csv": episodes_csv(ep_b)}
    with tempfile.TemporaryDirectory() as one, tempfile.TemporaryDirectory() as other:
        forward = _ingest_in_order(Path(one), contents, ["a.csv", "ea.csv", "b.csv", "eb.csv"])
        backward = _ingest_in_order(Path(other), contents, ["eb.csv", "b.csv", "ea.csv", "a.csv"])
        _assert_sound(forward, contents)
        _assert_sound(backward, contents)
        for table, frame in stored_values(forward).items():
            assert frame.equals(stored_values(backward)[table]), table
        for part, frame in accounting(forward).items():
            assert frame.equals(accounting(backward)[part]), part


@settings(max_examples=10, deadline=None)
@given(beats=st.lists(BEAT_FILE, min_size=3, max_size=3), data=st.data())
def test_three_files_store_the_same_values_in_any_order(
    beats: list[list[tuple[int, float]]], data: st.DataObject
) -> None:
    contents = _files(beats, [(0, 1)])
    order = data.draw(st.sampled_from(list(itertools.permutations(sorted(contents)))))
    with tempfile.TemporaryDirectory() as one, tempfile.TemporaryDirectory() as other:
        first = _ingest_in_order(Path(one), contents, sorted(contents))
        shuffled = _ingest_in_order(Path(other), contents, order)
        _assert_sound(shuffled, contents)
        for table, frame in stored_values(first).items():
            assert frame.equals(stored_values(shuffled)[table]), table


@settings(max_examples=15, deadline=None)
@given(
    seconds=st.lists(st.integers(0, 40), min_size=1, max_size=15, unique=True),
    n_new=st.integers(1, 10),
    rr=st.sampled_from([700.0, 800.0]),
)
def test_a_later_export_containing_an_earlier_one_adds_only_the_new_rows(
    seconds: list[int], n_new: int, rr: float
) -> None:
    earlier = [(s, rr) for s in sorted(seconds)]
    later = earlier + [(max(seconds) + 1 + k, 900.0) for k in range(n_new)]
    contents = {"export-1.csv": beats_csv(earlier), "export-2.csv": beats_csv(later)}
    with tempfile.TemporaryDirectory() as root:
        lake = _ingest_in_order(Path(root), contents, ["export-1.csv"])
        inbox = Path(root) / "inbox"
        report = files.ingest_file(lake, inbox, "S01", inbox / "S01" / "export-2.csv")
        assert report is not None
        assert (report.rows_ok, report.rows_duplicate, report.rows_quarantined) == (
            n_new,
            len(earlier),
            0,
        )
        assert store.read_table(lake, "beats").height == len(later)


@settings(max_examples=10, deadline=None)
@given(beats=st.lists(BEAT_FILE, min_size=1, max_size=3), episodes=EPISODE_FILE)
def test_three_re_runs_add_nothing(
    beats: list[list[tuple[int, float]]], episodes: list[tuple[int, int | None]]
) -> None:
    contents = _files(beats, episodes)
    with tempfile.TemporaryDirectory() as root:
        inbox = _write_inbox(Path(root), contents)
        lake = Path(root) / "lake"
        assert len(ingest_every_file(lake, inbox)) == len(contents)
        before = stored_values(lake) | accounting(lake)
        for _ in range(3):
            assert ingest_every_file(lake, inbox) == []
        after = stored_values(lake) | accounting(lake)
        assert all(after[k].equals(frame) for k, frame in before.items())
