"""Re-runs change nothing, re-analysis replaces a subject's gold as a unit, pending gold is built."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

from tearsignals import pipeline
from tearsignals.config import WindowConfig
from tearsignals.ingest import files
from tearsignals.lake import store
from tearsignals_flows.nightly_ingest import nightly_ingest


def _copy_of(lake: Path, root: Path) -> Path:
    copy = root / "lake"
    shutil.copytree(lake, copy)
    return copy


def test_three_more_nightly_runs_change_nothing(
    tmp_path: Path, fault_inbox: Path, clean_run: SimpleNamespace, tools: SimpleNamespace
) -> None:
    lake = _copy_of(clean_run.lake, tmp_path)
    for _ in range(3):
        tools.rerun(lake, fault_inbox)
    assert tools.digest(lake) == clean_run.digest
    assert store.pending_analysis(lake) == []


def test_reanalysis_with_new_parameters_leaves_only_new_rows_for_the_subject(
    tmp_path: Path, clean_run: SimpleNamespace, tools: SimpleNamespace
) -> None:
    lake = _copy_of(clean_run.lake, tmp_path)
    p1 = tools.config
    p2 = p1.model_copy(update={"windows": WindowConfig(acute_min=(0.0, 3.0), n_controls=1)})
    assert p1.params_hash() != p2.params_hash()
    pipeline.analyze_subject(lake, "S01", p2)
    alone = _copy_of(clean_run.lake, tmp_path / "alone")
    for table in pipeline.GOLD_PER_SUBJECT:
        shutil.rmtree(alone / table)
    pipeline.analyze_subject(alone, "S01", p2)
    for table in pipeline.GOLD_PER_SUBJECT:
        s01 = store.read_table(lake, table, ["S01"])
        assert set(s01["params_hash"]) <= {p2.params_hash()}, table
        assert s01.height or table == "clock_offsets", table  # one source: no offsets
        assert s01.sort(s01.columns).equals(
            store.read_table(alone, table, ["S01"]).sort(s01.columns)
        )
        s02 = store.read_table(lake, table, ["S02"])
        assert set(s02["params_hash"]) <= {p1.params_hash()}, table
        assert s02.height or table == "clock_offsets", table


def test_gold_a_crashed_run_never_built_is_built_by_the_next_run(
    tmp_path: Path, fault_inbox: Path, clean_run: SimpleNamespace, tools: SimpleNamespace
) -> None:
    lake = tmp_path / "lake"
    # an ingest without its analysis, as left by a run that died in between
    nightly_ingest(inbox=str(fault_inbox), lake=str(lake), analyze=False)
    assert store.pending_analysis(lake) == ["S01", "S02"]
    tools.rerun(lake, fault_inbox)  # no new file, but both subjects are pending
    assert tools.digest(lake) == clean_run.digest
    assert store.pending_analysis(lake) == []


@pytest.mark.golden
def test_a_real_recording_lands_once_and_re_runs_add_nothing(
    tmp_path: Path, realdata: Path, tools: SimpleNamespace
) -> None:
    """End to end on a real file: Empatica E4 ``IBI.csv`` in ``INBOX/S01/``."""
    inbox, lake = tmp_path / "inbox", tmp_path / "lake"
    (inbox / "S01").mkdir(parents=True)
    path = inbox / "S01" / "IBI.csv"
    shutil.copy(realdata / "stress_predict_e4" / "S01" / "IBI.csv", path)
    report = files.ingest_file(lake, inbox, "S01", path)
    assert report is not None and report.status == "ingested" and report.rows_ok > 0
    stored = sum(store.read_table(lake, t).height for t in store.file_parted_tables())
    assert stored == report.rows_ok + report.rows_quarantined
    before = tools.digest(lake)
    for _ in range(3):
        assert files.ingest_file(lake, inbox, "S01", path) is None
    assert tools.digest(lake) == before
