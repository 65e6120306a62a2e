"""Simulation study: the reported CIs cover the truth with few heterogeneous subjects, and a
null cohort with circadian drift yields no more false positives than the nominal rate.

The studies live in :mod:`tests.support.simulation` (``bench/validation_report.py`` prints
the same figures into ``docs/validation.md``). The default run uses a few cohorts and loose
bounds; the ``slow`` run uses 100 heterogeneous and 60 null cohorts and the bounds of the analysis' claims:
the primary CI covers the truth in >= 93 % of heterogeneous 4-subject cohorts, and <= 5 % of
primary-family rows have q < 0.05 in null cohorts of 8 subjects, and the share of
control-adjusted time-course bins whose CI excludes 0 stays near the nominal 5 % (at most
6 %: bins of one cohort are correlated, so the share varies more than a binomial one).
"""

from __future__ import annotations

import math

import polars as pl
import pytest

from tests.support import simulation as sim

pytestmark = pytest.mark.integration


def check_coverage(n_cohorts: int, primary_min: float, rows_min: float) -> dict[str, float]:
    """Coverage of the reported (subject-level) CIs, beside the episode-pooled CI that
    ignores who the episodes belong to and must undercover when subjects differ."""
    out = sim.coverage_figures(sim.coverage_study(range(n_cohorts)))
    assert out["primary_coverage"] >= primary_min, out
    assert out["all_rows_coverage"] >= rows_min, out
    assert out["model_coverage"] >= rows_min, out
    assert out["primary_pooled_coverage"] < out["primary_coverage"] - 0.2, out
    return out


def check_null(n_cohorts: int, q_rate_max: float, bin_rate_max: float) -> dict[str, float]:
    """False positives among declared rows and time-course bins stay at or below the
    nominal rate; the raw shifts and raw changes, drift included, would have shown many
    (which is why they are descriptive only)."""
    out = sim.null_figures(sim.null_study(range(1000, 1000 + n_cohorts)))
    assert out["primary_rows"] == n_cohorts, out
    assert out["primary_q_rate"] <= q_rate_max, out
    assert out["declared_q_rate"] <= q_rate_max, out
    assert out["model_declared_q_rate"] <= q_rate_max, out
    assert out["raw_p_rate"] >= 0.1, out
    assert out["raw_hr_post_60_90_bpm"] > 1.0 > abs(out["adjusted_hr_post_60_90_bpm"]) * 4, out
    assert out["bins"] >= 0.9 * n_cohorts * 300, out  # 2 anchors x 75 bins x 2 metrics
    assert out["bin_ci_excludes_0_rate"] <= bin_rate_max, out
    assert out["raw_bin_ci_excludes_0_rate"] >= 0.2, out
    return out


def test_small_study_covers_the_truth_with_heterogeneous_subjects() -> None:
    print(f"\ncoverage, 8 cohorts: {check_coverage(8, primary_min=0.75, rows_min=0.85)}")


def test_small_null_study_keeps_false_positives_rare() -> None:
    print(f"\nnull, 3 cohorts: {check_null(3, q_rate_max=0.1, bin_rate_max=0.1)}")


@pytest.mark.slow
def test_large_study_primary_ci_covers_at_93_percent_of_100_cohorts() -> None:
    print(f"\ncoverage, 100 cohorts: {check_coverage(100, primary_min=0.93, rows_min=0.93)}")


@pytest.mark.slow
def test_large_null_study_keeps_primary_false_positives_at_or_below_5_percent() -> None:
    print(f"\nnull, 60 cohorts: {check_null(60, q_rate_max=0.05, bin_rate_max=0.06)}")


def test_truth_table_matches_the_planted_effect() -> None:
    table = sim.truths(sim.HETEROGENEOUS)
    planted = table.filter(pl.col("truth") != 0.0)
    assert planted.height == 2
    hr = planted.filter(pl.col("metric") == "mean_hr_bpm").row(0, named=True)
    assert (hr["window"], hr["truth"]) == ("during", sim.HETEROGENEOUS.hr_during_bpm)
    ln = planted.filter(pl.col("metric") == "ln_rmssd").row(0, named=True)
    assert ln["window"] == sim.COVERAGE_PLAN.stats.primary.window
    assert ln["truth"] == pytest.approx(math.log(sim.HETEROGENEOUS.rmssd_post_0_20_ratio))
    assert table.height == 2 + 2 * len(sim.ZERO_WINDOWS)
