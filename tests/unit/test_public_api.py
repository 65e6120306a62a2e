"""The public surface of ``import tearsignals``: what ``__all__`` promises, without Prefect."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import tearsignals
from tearsignals import config, pipeline
from tearsignals.lake import store


def test_all_names_exist_and_are_the_library_objects() -> None:
    assert sorted(tearsignals.__all__) == sorted(set(tearsignals.__all__))
    for name in tearsignals.__all__:
        assert hasattr(tearsignals, name), name
    assert tearsignals.AnalysisConfig is config.AnalysisConfig
    assert tearsignals.read_table is store.read_table
    assert tearsignals.read_params is store.read_params


def test_importing_tearsignals_loads_neither_prefect_nor_the_flows() -> None:
    probe = "import sys, tearsignals; print(sorted({m.split('.')[0] for m in sys.modules}))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    loaded = out.stdout
    assert "'polars'" in loaded  # the probe sees what tearsignals imports
    assert "'prefect'" not in loaded and "'tearsignals_flows'" not in loaded


def test_a_notebook_reads_a_run_and_its_parameters_by_public_names(tmp_path: Path) -> None:
    cfg = tearsignals.AnalysisConfig(
        windows=tearsignals.WindowConfig(post_bins_min=((0.0, 30.0),)),
        stats=tearsignals.StatsConfig(
            primary=tearsignals.Outcome(metric="ln_rmssd", window="post_0_30")
        ),
    )
    pipeline.record_params(tmp_path, cfg)
    doc = tearsignals.read_params(str(tmp_path), cfg.params_hash())
    again = tearsignals.AnalysisConfig.model_validate(doc["parameters"])
    assert again == cfg.model_copy(update={"subjects": None})
    assert doc["tearsignals_version"] == tearsignals.__version__
    assert tearsignals.read_table(str(tmp_path), "episode_windows").is_empty()
