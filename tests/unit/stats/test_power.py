"""Power of the primary analysis: the analytic answer against a simulation of the design,
and the power table built from a cohort model's variance components."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from tearsignals.config import AnalysisConfig, PowerConfig
from tearsignals.stats import power
from tests.support import simulation as sim

TAU, SIGMA, EFFECT = 0.15, 0.35, 0.12


def _simulated_power(n: int, m: int, effect: float = EFFECT, seed: int = 0) -> float:
    return sim.simulated_power(effect, TAU, SIGMA, n, m, reps=4000, seed=seed)


@pytest.mark.parametrize("m", [1, 3, 8])
def test_subjects_needed_reach_the_target_in_simulation_and_one_fewer_does_not(m: int) -> None:
    n = power.subjects_needed(EFFECT, TAU, SIGMA, m, target=0.8, alpha=0.05, max_subjects=500)
    assert n is not None
    analytic = power.design_power(EFFECT, TAU, SIGMA, n, m, alpha=0.05)
    simulated = _simulated_power(n, m, seed=m)
    assert analytic >= 0.8 > power.design_power(EFFECT, TAU, SIGMA, n - 1, m, alpha=0.05)
    assert simulated == pytest.approx(analytic, abs=0.025)  # 4000 cohorts: SE ~0.006


def test_without_an_effect_the_power_is_the_level() -> None:
    assert power.design_power(0.0, TAU, SIGMA, 12, 4, alpha=0.05) == pytest.approx(0.05, abs=1e-9)
    assert _simulated_power(12, 4, effect=0.0) == pytest.approx(0.05, abs=0.012)


def test_episodes_help_only_down_to_the_between_subject_floor() -> None:
    needed = [
        power.subjects_needed(EFFECT, TAU, SIGMA, m, 0.8, 0.05, 500) for m in (1, 2, 4, 8, 64, 4096)
    ]
    assert needed == sorted(needed, reverse=True) and needed[0] > 2 * needed[-1]
    floor = power.subjects_needed(EFFECT, TAU, 0.0, 1, 0.8, 0.05, 500)
    assert needed[-1] == floor


def _cohort_model(method: str = "mixedlm") -> pl.DataFrame:
    sds = {"sd_subject": TAU, "sd_residual": SIGMA} if method == "mixedlm" else {}
    rows = [("intercept", 0.05), *sds.items()]
    return pl.DataFrame(
        {
            "metric": "ln_rmssd",
            "window": "post_60_90",
            "model": "base",
            "term": [t for t, _ in rows],
            "estimate": [v for _, v in rows],
            "method": method,
            "n_subjects": 6,
            "n_episodes": 40,
        }
    )


def test_power_table_reads_the_primary_base_model_and_sizes_each_design() -> None:
    cfg = AnalysisConfig()
    other = _cohort_model().with_columns(window=pl.lit("pre"), estimate=pl.col("estimate") * 3)
    table = power.power_table(pl.concat([other, _cohort_model()]), cfg, "h")
    assert table["episodes_per_subject"].to_list() == [1, 2, 3, 4, 6, 8, 12]
    assert table["sd_subject"].unique().to_list() == [TAU]
    default_effect = 0.5 * float(np.hypot(TAU, SIGMA))
    assert table["effect"].to_list() == pytest.approx([default_effect] * 7)
    assert table["effect_sd"].to_list() == pytest.approx([0.5] * 7)
    for r in table.iter_rows(named=True):
        m, n = r["episodes_per_subject"], r["subjects_needed"]
        assert n == power.subjects_needed(default_effect, TAU, SIGMA, m, 0.8, 0.05, 1000)
        assert r["episodes_needed"] == n * m and r["power"] >= 0.8
    assert table["n_subjects_fitted"].to_list() == [6] * 7


def test_power_table_without_fitted_components_says_why() -> None:
    table = power.power_table(_cohort_model("ols_cluster"), AnalysisConfig(), "h")
    assert table["subjects_needed"].is_null().all()
    assert table["note"].unique().to_list() == [
        "no fitted variance components (method ols_cluster)"
    ]


def test_power_table_names_designs_beyond_max_subjects() -> None:
    chosen = PowerConfig(effect=0.01, episodes_per_subject=(2,), max_subjects=50)
    table = power.power_table(_cohort_model(), AnalysisConfig(), "h", chosen)
    assert table["subjects_needed"].to_list() == [None]
    assert table["note"].to_list() == ["more than 50 subjects"]
