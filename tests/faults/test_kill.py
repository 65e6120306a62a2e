"""SIGKILL at many points of a run, then the next run: the lake equals the lake of a clean run.

A forked child runs the nightly flow (writer lock, ingest, analysis of the
subjects that changed) with ``TEARSIGNALS_FAULT=<point>:<n>``, which kills it
with SIGKILL at the n-th pass through the point (see ``store.fault_point``).
While it lies dead, every visible file must be readable by pyarrow, polars
and DuckDB. The next run (in this process) removes its leftovers and finishes
the work; the lake must then equal the clean lake table by table (every
column but ``ingested_at``), hold no duplicate keys and no temp or
uncommitted files, and one more run must add nothing.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from tearsignals import pipeline
from tearsignals.lake import store
from tearsignals_flows.analyze_episodes import analyze_episodes

# (point, hit): a hit is a number, or for write points the lake path prefix of the write
QUICK = [
    ("write.during", "beats/"),  # the first beats Parquet, half written
    ("write.after_temp", "_ingest_log/"),  # the first log entry written, not yet renamed
    ("ingest.before_log", 2),  # parts of the second file written, no log entry
    ("ingest.after_uncommit", 1),  # a file withdrawn for re-ingest, the winner not committed
    ("write.after_rename", "episode_windows/"),  # gold of one subject only partly replaced
]  # the slow test kills at every other pass as well


def _hit(point: str, which: int | str, write_targets: list[str]) -> int:
    if isinstance(which, int):
        return which
    return next(i for i, t in enumerate(write_targets, 1) if t.startswith(which))


def _rows(lake: Path) -> int:
    return sum(store.read_table(lake, t).height for t in store.file_parted_tables())


def crash_then_rerun(
    forker: Any, tools: SimpleNamespace, inbox: Path, lake: Path, point: str, n: int, clean: Any
) -> dict[str, Any]:
    """Kill a nightly run at ``point``:``n``, run the next one; what was observed.

    ``clean`` is the ``clean_run`` fixture.
    """
    (code,) = forker.run(tools.job(lake, inbox, env={store.FAULT_ENV: f"{point}:{n}"}))
    checked, unreadable = tools.unreadable(lake)
    left = len(store.temp_litter(lake)) + len(store.uncommitted_files(lake))
    removed = tools.rerun(lake, inbox)
    rows = _rows(lake)
    equal = tools.digest(lake) == clean.digest
    tools.rerun(lake, inbox)
    return {
        "kind": point,
        "hit": n,
        "killed": code == -signal.SIGKILL,
        "files_checked_while_dead": checked,
        "partial_files_seen": len(unreadable),
        "leftovers_after_crash": left,
        "leftovers_removed_by_next_run": removed,
        "lake_equals_clean_run": equal,
        "rows_lost": max(_rows(clean.lake) - rows, 0),
        "duplicate_keys": tools.duplicate_keys(lake),
        "rows_added_by_another_run": _rows(lake) - rows,
        "litter_after_rerun": len(store.temp_litter(lake)) + len(store.uncommitted_files(lake)),
    }


def _assert_recovered(record: dict[str, Any]) -> None:
    assert record["killed"], f"the child never reached {record['kind']}:{record['hit']}"
    assert record["partial_files_seen"] == 0, record
    assert record["lake_equals_clean_run"], record
    assert (record["rows_lost"], record["duplicate_keys"]) == (0, 0), record
    assert (record["rows_added_by_another_run"], record["litter_after_rerun"]) == (0, 0), record


@pytest.mark.parametrize(("point", "which"), QUICK, ids=[f"{p}@{w}" for p, w in QUICK])
def test_killed_nightly_run_is_finished_by_the_next(
    point: str,
    which: int | str,
    tmp_path: Path,
    forker: Any,
    tools: SimpleNamespace,
    fault_inbox: Path,
    clean_run: SimpleNamespace,
    fault_figures: list[dict[str, Any]],
) -> None:
    n = _hit(point, which, clean_run.targets)
    record = crash_then_rerun(forker, tools, fault_inbox, tmp_path / "lake", point, n, clean_run)
    fault_figures.append({"suite": "quick", **record})
    _assert_recovered(record)


def test_killed_manual_analysis_is_finished_by_rerunning_it(
    tmp_path: Path,
    forker: Any,
    tools: SimpleNamespace,
    fault_inbox: Path,
    clean_run: SimpleNamespace,
    fault_figures: list[dict[str, Any]],
) -> None:
    lake = tmp_path / "lake"
    shutil.copytree(clean_run.lake, lake)
    for table in ("episode_windows", "episode_shifts", "subject_summary", "cohort_summary"):
        shutil.rmtree(lake / table)  # gold from scratch: the kill leaves a half-built gold layer
    # the 1st write is the parameters file, the 3rd a subject's second gold table
    job = tools.job(lake, fault_inbox, "analyze", env={store.FAULT_ENV: "write.after_rename:3"})
    assert forker.run(job) == [-signal.SIGKILL]
    gold_rows = [store.read_table(lake, t).height for t in pipeline.GOLD_PER_SUBJECT]
    assert sum(gold_rows) > 0  # the kill hit mid-analysis ...
    assert store.read_table(lake, "cohort_summary").height == 0  # ... before the cohort
    assert tools.unreadable(lake)[1] == []
    analyze_episodes(lake=str(lake), config=tools.config)
    assert tools.digest(lake) == clean_run.digest
    fault_figures.append({"suite": "quick", "kind": "analyze write.after_rename", "hit": 3,
                          "killed": True, "lake_equals_clean_run": True})  # fmt: skip


@pytest.mark.slow
def test_every_fault_point_of_a_nightly_run(
    tmp_path: Path,
    forker: Any,
    tools: SimpleNamespace,
    fault_inbox: Path,
    clean_run: SimpleNamespace,
    fault_figures: list[dict[str, Any]],
) -> None:
    """Every pass through every fault point of a clean run, one kill each."""
    failed = []
    for point, hits in sorted(clean_run.hits.items()):
        for n in range(1, hits + 1):
            lake = tmp_path / f"{point}-{n}" / "lake"
            record = crash_then_rerun(forker, tools, fault_inbox, lake, point, n, clean_run)
            fault_figures.append({"suite": "full", **record})
            try:
                _assert_recovered(record)
            except AssertionError as err:
                failed.append(f"{point}:{n}: {err}")
            shutil.rmtree(lake.parent)
    assert not failed, "\n".join(failed)


@pytest.mark.slow
@pytest.mark.integration
@pytest.mark.usefixtures("prefect_harness")
def test_flow_run_killed_mid_ingest_is_no_obstacle_to_the_next(
    tmp_path: Path, fault_inbox: Path, clean_run: SimpleNamespace, tools: SimpleNamespace
) -> None:
    """A nightly flow run killed by SIGKILL stays "Running" in Prefect; the next run just works."""
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterState
    from prefect.client.schemas.filters import FlowRunFilterStateType as StateTypeFilter
    from prefect.client.schemas.objects import StateType
    from prefect.settings import PREFECT_API_URL

    from tearsignals_flows.nightly_ingest import nightly_ingest

    lake = tmp_path / "lake"
    code = (
        "from tearsignals_flows.nightly_ingest import nightly_ingest\n"
        "from tearsignals.config import AnalysisConfig\n"
        f"cfg = AnalysisConfig.model_validate_json({tools.config.model_dump_json()!r})\n"
        f"nightly_ingest({str(fault_inbox)!r}, {str(lake)!r}, config=cfg)\n"
    )
    env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value())}
    env[store.FAULT_ENV] = "ingest.before_log:3"
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, timeout=300, check=False
    )
    assert done.returncode == -signal.SIGKILL, done.stderr[-2000:]
    nightly_ingest(inbox=str(fault_inbox), lake=str(lake), config=tools.config)
    assert tools.digest(lake) == clean_run.digest
    running = FlowRunFilter(
        state=FlowRunFilterState(type=StateTypeFilter(any_=[StateType.RUNNING]))
    )
    with get_client(sync_client=True) as client:
        stuck = [r for r in client.read_flow_runs(flow_run_filter=running)
                 if r.parameters.get("lake") == str(lake)]  # fmt: skip
    assert len(stuck) == 1  # Prefect still shows the killed run as Running
