"""Renamed post bins through the CLI and both flows: every gold table labels windows by bounds."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import polars as pl
import pytest

from tearsignals import cli
from tearsignals.config import AnalysisConfig
from tearsignals.lake import layout, store
from tearsignals.plan import load_plan
from tearsignals.synth import SynthConfig, write_cohort

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("prefect_harness")]

POST_BINS = "0:30;30:60;60:120"
PRIMARY = "ln_rmssd,post_60_120"
NAMES = ("baseline", "pre", "acute", "during", "post_0_30", "post_30_60", "post_60_120")
COHORT = SynthConfig(n_subjects=3, n_days=8, seed=5, episodes_per_month=8.0, minute_hr_every=0)


@pytest.fixture(scope="module")
def analysed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A lake ingested and analysed by the CLI with renamed post bins, and what it printed."""
    root = tmp_path_factory.mktemp("renamed")
    inbox, lake = root / "inbox", root / "lake"
    write_cohort(inbox, COHORT)
    assert cli.main(["ingest", str(inbox), "--lake", str(lake), "--no-analyze"]) == 0
    argv = ["analyze", "--lake", str(lake), "--post-bins", POST_BINS, "--primary", PRIMARY]
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert cli.main(argv) == 0
    return lake, printed.getvalue()


def _offsets_min(windows: pl.DataFrame) -> pl.DataFrame:
    """Each episode window's start and end in minutes after its episode's end."""
    ends = windows.filter(pl.col("window") == "during").select(
        "subject_id", "episode_id", "role", "control_day_offset", end="window_end_utc"
    )
    minutes = 60_000_000
    return windows.join(ends, on=["subject_id", "episode_id", "role", "control_day_offset"]).select(
        "window",
        start_min=(pl.col("window_start_utc") - pl.col("end")).dt.total_microseconds() / minutes,
        end_min=(pl.col("window_end_utc") - pl.col("end")).dt.total_microseconds() / minutes,
    )


def test_episode_windows_are_named_after_their_bounds(analysed: tuple[Path, str]) -> None:
    lake, _ = analysed
    windows = store.read_table(lake, "episode_windows")
    assert set(windows["window"]) == set(NAMES)
    post = _offsets_min(windows).filter(pl.col("window").str.starts_with("post_"))
    assert post.height > 0
    named = post.select(
        "window",
        bounds=pl.format(
            "post_{}_{}", pl.col("start_min").cast(pl.Int64), pl.col("end_min").cast(pl.Int64)
        ),
    )
    assert (named["window"] == named["bounds"]).all()


@pytest.mark.parametrize(
    "table", ["episode_shifts", "subject_summary", "cohort_summary", "cohort_model"]
)
def test_every_gold_table_uses_the_run_window_names(analysed: tuple[Path, str], table: str) -> None:
    lake, _ = analysed
    assert set(store.read_table(lake, table)["window"]) == set(NAMES[1:])


def test_the_printed_report_names_the_renamed_windows(analysed: tuple[Path, str]) -> None:
    _, printed = analysed
    assert "post_0_30" in printed and "post_60_120" in printed
    assert "post_0_20" not in printed
    assert "Primary outcome: control-adjusted ln_rmssd shift in post_60_120" in printed


@pytest.mark.parametrize("table", ["episode_windows", "episode_shifts", "cohort_summary"])
def test_every_params_hash_resolves_to_parameters_that_reproduce_it(
    analysed: tuple[Path, str], table: str
) -> None:
    lake, _ = analysed
    (params_hash,) = store.read_table(lake, table)["params_hash"].unique().to_list()
    doc = store.read_params(lake, params_hash)
    assert AnalysisConfig.model_validate(doc["parameters"]).params_hash() == params_hash
    assert doc["window_names"] == list(NAMES)


def test_the_run_stored_its_plan_and_the_plan_reproduces_the_run(
    analysed: tuple[Path, str],
) -> None:
    lake, _ = analysed
    (params_hash,) = store.read_table(lake, "cohort_summary")["params_hash"].unique().to_list()
    cfg = load_plan(layout.analysis_plan_path(lake, params_hash))
    assert cfg.params_hash() == params_hash
    assert cfg.stats.primary.window == "post_60_120"
