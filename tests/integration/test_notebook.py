"""The example notebook runs against an analysed lake and prints the lake's own number."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import polars as pl
import pytest
from nbclient import NotebookClient

from tearsignals.lake import store
from tests.support.lakes import AnalysedLake

pytestmark = pytest.mark.integration

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "explore.ipynb"


def test_the_committed_notebook_carries_no_outputs() -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert code and all(not c.outputs and c.execution_count is None for c in code)


def test_the_notebook_runs_and_its_number_is_the_lake_s(
    desk_lake: AnalysedLake, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEARSIGNALS_LAKE", str(desk_lake.lake))
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
    )
    client.execute()
    outputs = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs]
    printed = [
        json.loads(line)
        for o in outputs
        if o.output_type == "stream"
        for line in o.text.splitlines()
        if line.startswith("{")
    ]
    assert len(printed) == 1
    (number,) = printed
    row = store.read_table(desk_lake.lake, "cohort_summary").filter(
        (pl.col("metric") == number["metric"])
        & (pl.col("window") == number["window"])
        & (pl.col("shift_kind") == "adjusted")
    )
    assert number["window"] == "post_0_20"
    assert number["mean_shift"] == pytest.approx(row["mean_shift"][0], abs=1e-12)
    assert number["n_episodes"] == row["n_episodes"][0]
    assert any("image/png" in o.get("data", {}) for o in outputs)
