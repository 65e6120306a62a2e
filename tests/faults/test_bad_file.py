"""A file that fails mid-run: the night goes on, the other files and subjects land, the next
run reads it again and the lake converges to the clean run's."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import pytest

from tearsignals.config import AnalysisConfig
from tearsignals.ingest import adapters, files
from tearsignals.ingest.adapters.base import Adapter, Context, Parsed
from tearsignals.lake import store
from tearsignals_flows.nightly_ingest import nightly_ingest


def _breaking(victim: str) -> object:
    """``adapters.detected`` whose adapter for ``victim`` fails after its first batch."""
    real = adapters.detected

    def detected(path: Path) -> Adapter:
        adapter = real(path)
        if path.name != victim:
            return adapter

        def batches(p: Path, context: Context) -> Iterator[Parsed]:
            yield from list(adapter.read(p, context))[:1]
            raise RuntimeError("fault in a reader")

        return Adapter(adapter.name, adapter.sniff, adapter.parse, adapter.reads_profile, batches)

    return detected


def _nightly(lake: Path, inbox: Path, config: AnalysisConfig) -> list[files.FileReport]:
    """The real nightly flow (in this process, so the patched reader is the one it uses)."""
    result = nightly_ingest(inbox=str(inbox), lake=str(lake), config=config)
    return cast("list[files.FileReport]", result["reports"])


@pytest.mark.parametrize("victim", ["rr_S01.csv", "episodes.csv"])
def test_a_file_failing_mid_run_stops_nothing_else(
    tmp_path: Path,
    fault_inbox: Path,
    clean_run: SimpleNamespace,
    tools: SimpleNamespace,
    victim: str,
) -> None:
    inbox, lake = tmp_path / "inbox", tmp_path / "lake"
    shutil.copytree(fault_inbox, inbox)
    assert (inbox / "S01" / victim).is_file()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(adapters, "detected", _breaking(victim))
        reports = _nightly(lake, inbox, tools.config)
    failed = [r for r in reports if r.status == "failed"]
    assert [(r.subject_id, r.path) for r in failed] == [("S01", f"S01/{victim}")]
    assert {r.subject_id for r in reports if r.rows_ok} == {"S01", "S02"}
    assert "S02" in store.subjects_in(lake, "episode_windows")  # analysed despite S01's file
    assert store.uncommitted_files(lake) == []

    again = _nightly(lake, inbox, tools.config)
    assert [(r.path, r.status) for r in again] == [(f"S01/{victim}", "ingested")]
    for table in ("beats", "heart_rate", "episodes", "episode_windows"):
        assert (
            store.read_table(lake, table).height == store.read_table(clean_run.lake, table).height
        )
