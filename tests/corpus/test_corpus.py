"""Bad-input corpus: every crafted input ends in its documented outcome.

For each case of :mod:`tests.support.corpus` the files are written into ``INBOX/S01/`` and ingested
one by one (then analysed where the case says so). Any exception fails the case; so
does a case that takes longer than :data:`WALL_CLOCK_S`.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from tearsignals.lake import store
from tests.support import corpus

WALL_CLOCK_S = 60.0
SILVER = ("beats", "heart_rate", "episodes", "vendor_hrv")


def run_guarded(case: corpus.Case, root: Path) -> corpus.CaseResult:
    """``corpus.run_case`` in a thread: re-raise its exception, fail if it outlives the guard."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["result"] = corpus.run_case(case, root)
        except BaseException as exc:  # handed to the test thread
            box["error"] = exc

    thread = threading.Thread(target=target, name=f"corpus-{case.name}", daemon=True)
    thread.start()
    thread.join(WALL_CLOCK_S)
    if thread.is_alive():
        pytest.fail(f"{case.name}: still running after {WALL_CLOCK_S:.0f} s (hang?)")
    if "error" in box:
        raise box["error"]
    return box["result"]


def _params() -> list[Any]:
    return [
        pytest.param(c, id=c.name, marks=pytest.mark.xfail(strict=True, reason=c.known_bug))
        if c.known_bug
        else pytest.param(c, id=c.name)
        for c in corpus.CASES
    ]


def test_corpus_is_big_and_well_formed() -> None:
    names = [c.name for c in corpus.CASES]
    assert len(names) >= 30 and len(set(names)) == len(names)
    for case in corpus.CASES:
        assert case.expect and set(case.expect) <= set(corpus.KINDS), case.name
    assert {c.outcome for c in corpus.CASES} >= {"accepted", "quarantined", "rejected",
                                                  "unknown_format", "skipped", "refused"}  # fmt: skip


@pytest.mark.parametrize("case", _params())
def test_bad_input_has_its_documented_outcome(case: corpus.Case, tmp_path: Path) -> None:
    result = run_guarded(case, tmp_path)
    observed = tuple(f.outcome for f in result.files)
    assert observed == case.expect, [(f.name, f.outcome, f.report) for f in result.files]

    lake = result.lake
    log = store.read_table(lake, "_ingest_log")
    assert log.height == sum(f.outcome not in ("skipped", "refused") for f in result.files)
    for refused in (f for f in result.files if f.outcome == "refused"):
        assert refused.name and "\n" not in refused.name, refused
    for row in log.iter_rows(named=True):
        accounted = (
            row["rows_ok"] + row["rows_quarantined"] + row["rows_duplicate"] + row["rows_skipped"]
        )
        assert row["rows_in"] == accounted, row
        if row["status"] in ("rejected", "unknown_format"):
            detail = row["detail"] or ""
            assert detail and "\n" not in detail and "\r" not in detail, row
            assert Path(row["path"]).name in detail, row
            assert row["rows_in"] == 0, row

    quarantine = store.scan_committed(lake, "quarantine").collect()
    assert quarantine.height == log["rows_quarantined"].sum()
    if quarantine.height:
        assert quarantine["reason"].is_not_null().all()
        assert (quarantine["reason"].str.strip_chars().str.len_chars() > 0).all()

    stored = sum(store.scan_committed(lake, t).collect().height for t in SILVER)
    assert stored == log["rows_ok"].sum(), "rows lost or invented between the log and the lake"
    # Committed parts and all parts agree: nothing left half-written.
    for table in SILVER:
        assert (
            store.read_table(lake, table).height
            == store.scan_committed(lake, table).collect().height
        )


def test_a_renamed_copy_is_skipped_and_logged_once(tmp_path: Path) -> None:
    case = next(c for c in corpus.CASES if c.name == "duplicate_export_renamed")
    result = run_guarded(case, tmp_path)
    assert [f.report is None for f in result.files] == [False, True]
    log = store.read_table(result.lake, "_ingest_log")
    # The copy leaves no trace: one log entry, under the first name seen.
    assert log["path"].to_list() == ["S01/rr.csv"]
    assert store.read_table(result.lake, "beats").filter(pl.col("rr_ms") > 0).height == 60
