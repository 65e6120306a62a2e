"""Sensitivity runs and power through the default path: the tearsignals command starts the
analyze-episodes flow (real Prefect), which writes the tables to the lake; ``tearsignals
power`` reads the lake's fitted model."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from tearsignals import cli, plan
from tearsignals.config import AnalysisConfig, FrequencyConfig, SensitivityConfig, StatsConfig
from tearsignals.lake import layout, store
from tearsignals.stats import power
from tearsignals.synth import SynthConfig, write_cohort

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("prefect_harness")]

COHORT = SynthConfig(n_subjects=4, n_days=8, seed=3, episodes_per_month=20.0, minute_hr_every=0)
# LF/HF off (the primary outcome is ln RMSSD): the tables need the path, not the spectrum.
PLAN = AnalysisConfig(
    frequency=FrequencyConfig(min_clean_s=1e9),
    stats=StatsConfig(
        sensitivity=SensitivityConfig(
            cleaning_methods=("median",), baselines_min=((-20.0, -10.0),), onset_jitter_min=(-5.0,)
        )
    ),
)


@pytest.fixture(scope="module")
def analysed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    root = tmp_path_factory.mktemp("sensitivity")
    inbox, lake, plan_file = root / "inbox", root / "lake", root / "plan.toml"
    write_cohort(inbox, COHORT)
    plan_file.write_text(plan.plan_toml(PLAN))
    assert cli.main(["ingest", str(inbox), "--lake", str(lake), "--no-analyze"]) == 0
    assert (
        cli.main(["analyze", "--lake", str(lake), "--plan", str(plan_file), "--sensitivity"]) == 0
    )
    return lake, PLAN.params_hash()


def test_analyze_sensitivity_writes_every_variant_of_the_plan(
    analysed: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    lake, params_hash = analysed
    table = store.read_table(lake, "sensitivity").filter(pl.col("params_hash") == params_hash)
    assert table.height == 2 * 2 * 2
    assert set(table["cleaning_method"]) == {"lipponen", "median"}
    assert set(table["onset_jitter_min"]) == {0.0, -5.0}
    assert set(zip(table["baseline_start_min"], table["baseline_end_min"], strict=True)) == {
        (-10.0, -5.0),
        (-20.0, -10.0),
    }
    assert (table["n_subjects"] == 4).all() and table["ci_low"].is_not_null().all()
    own = table.filter(pl.col("is_primary")).row(0, named=True)
    cohort = store.read_table(lake, "cohort_summary").filter(
        (pl.col("family") == "primary") & (pl.col("params_hash") == params_hash)
    )
    assert own["estimate"] == pytest.approx(cohort["mean_shift"][0], rel=1e-9)
    assert own["ci_high"] == pytest.approx(cohort["ci_high"][0], rel=1e-9)
    assert own["n_episodes"] == cohort["n_episodes"][0]
    page = layout.report_path(lake, params_hash).read_text()
    assert 'data-table="sensitivity"' in page and 'data-table="power"' in page


def test_power_table_and_command_use_the_fitted_primary_model(
    analysed: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    lake, params_hash = analysed
    models = store.read_table(lake, "cohort_model").filter(
        (pl.col("params_hash") == params_hash)
        & (pl.col("family") == "primary")
        & (pl.col("model") == "base")
    )
    sd = dict(zip(models["term"], models["estimate"], strict=True))
    table = store.read_table(lake, "power").filter(pl.col("params_hash") == params_hash)
    assert table["sd_subject"].unique().to_list() == [sd["sd_subject"]]
    assert table["sd_residual"].unique().to_list() == [sd["sd_residual"]]
    assert table["subjects_needed"].is_not_null().all()
    capsys.readouterr()
    assert cli.main(["power", "--lake", str(lake), "--effect", "0.2", "--episodes", "5"]) == 0
    out = capsys.readouterr().out
    n = power.subjects_needed(0.2, sd["sd_subject"], sd["sd_residual"], 5, 0.8, 0.05, 1000)
    assert f"{5:>16} {n:>9} {5 * n:>9}" in out, out


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--power", "1.5"], "target_power"),
        (["--effect", "0"], "non-zero"),
        (["--params", "0123456789abcdef"], "no analysis parameters"),
    ],
)
def test_power_command_refuses_bad_options_in_one_line(
    analysed: tuple[Path, str], capsys: pytest.CaptureFixture[str], argv: list[str], needle: str
) -> None:
    lake, _ = analysed
    with pytest.raises(SystemExit) as exc:
        cli.main(["power", "--lake", str(lake), *argv])
    err = capsys.readouterr().err.strip()
    assert exc.value.code == 1 and needle in err and len(err.splitlines()) == 1
