"""Transient I/O errors inside a Prefect task are retried by Prefect and the run succeeds."""

from __future__ import annotations

import errno
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import tearsignals_flows.nightly_ingest as nightly_module
from tearsignals.lake import store

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("prefect_harness")]


def test_a_transient_write_error_is_retried_and_the_lake_is_complete(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fault_inbox: Path,
    clean_run: SimpleNamespace,
    tools: SimpleNamespace,
    fault_figures: list[dict[str, Any]],
) -> None:
    real = store._write_atomic
    failures: list[str] = []

    def flaky(target: Path, write: Any) -> Path:
        if "beats" in target.parts and not failures:
            failures.append(str(target))
            raise OSError(errno.EIO, "simulated transient I/O error", str(target))
        return real(target, write)

    monkeypatch.setattr(store, "_write_atomic", flaky)
    fast_retry = nightly_module.ingest_subject.with_options(retry_delay_seconds=0)
    monkeypatch.setattr(nightly_module, "ingest_subject", fast_retry)
    lake = tmp_path / "lake"
    state = nightly_module.nightly_ingest(
        inbox=str(fault_inbox), lake=str(lake), config=tools.config, return_state=True
    )
    assert state.is_completed()
    assert len(failures) == 1  # the error happened, inside a task, and the retry got past it
    assert tools.digest(lake) == clean_run.digest
    assert store.temp_litter(lake) == [] and store.uncommitted_files(lake) == []
    fault_figures.append({"suite": "quick", "kind": "transient I/O error (EIO) in a task",
                          "retried": True, "lake_equals_clean_run": True})  # fmt: skip
