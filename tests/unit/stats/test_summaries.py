"""Subject and cohort summaries: bootstrap CIs, tests, effect sizes, exclusion counts."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from scipy import stats as sps

from tearsignals.config import AnalysisConfig, StatsConfig
from tearsignals.contract import schema
from tearsignals.stats.summaries import (
    bootstrap_mean_ci,
    cohort_summary,
    hierarchical_bootstrap_ci,
    person_mean_centred,
    subject_summary,
    t_test_and_dz,
)

CFG = AnalysisConfig(stats=StatsConfig(n_boot=2000, seed=7))


def shifts_frame(rows: list[dict[str, object]]) -> pl.DataFrame:
    """episode_shifts rows with defaults: metric rmssd_ms, window pre, 1 control."""
    full = []
    for i, r in enumerate(rows):
        row: dict[str, object] = {
            "subject_id": "s1",
            "episode_id": f"e{i:03d}",
            "window": "pre",
            "metric": "rmssd_ms",
            "value": None,
            "baseline_value": None,
            "shift": None,
            "n_controls": 1,
            "control_shift_mean": 0.0,
            "adjusted_shift": None,
            "excluded_reason": None,
            "params_hash": "h",
        }
        row.update(r)
        if "adjusted_shift" not in r and row["shift"] is not None:
            row["adjusted_shift"] = row["shift"]
        full.append(row)
    return schema.conform(
        pl.DataFrame(full, schema=schema.polars_schema("episode_shifts")), "episode_shifts"
    )


def one(summary: pl.DataFrame, kind: str = "raw", **keys: str) -> dict[str, object]:
    cond = pl.col("shift_kind") == kind
    for k, v in keys.items():
        cond &= pl.col(k) == v
    return summary.filter(cond).row(0, named=True)


def test_bootstrap_ci_covers_the_known_mean_of_a_large_sample() -> None:
    x = np.random.default_rng(1).normal(5.0, 2.0, 4000)
    lo, hi = bootstrap_mean_ci(x, 2000, np.random.default_rng(2))
    assert lo < 5.0 < hi
    se = 2.0 / np.sqrt(x.size)
    assert 2 * 1.96 * se * 0.8 < hi - lo < 2 * 1.96 * se * 1.2


def test_bootstrap_ci_for_zero_effect_contains_zero() -> None:
    half = np.random.default_rng(3).normal(0.0, 1.0, 50)
    rows = [{"shift": float(v)} for v in np.concatenate([half, -half])]
    row = one(subject_summary(shifts_frame(rows), CFG, "h"))
    assert row["ci_low"] < 0.0 < row["ci_high"]
    assert row["p_value"] == pytest.approx(1.0)
    assert row["effect_size"] == pytest.approx(0.0, abs=1e-12)


def test_hierarchical_ci_is_wider_than_naive_when_subjects_differ() -> None:
    rng = np.random.default_rng(4)
    groups = [m + rng.normal(0.0, 0.5, 20) for m in (-3.0, -2.0, -1.0, 1.0, 2.0, 3.0)]
    naive = bootstrap_mean_ci(np.concatenate(groups), 2000, np.random.default_rng(5))
    hier = hierarchical_bootstrap_ci(groups, 2000, np.random.default_rng(5))
    assert hier[1] - hier[0] > 2.5 * (naive[1] - naive[0])
    assert hier[0] < np.concatenate(groups).mean() < hier[1]


def test_hierarchical_ci_is_at_most_about_sqrt2_wider_when_subjects_agree() -> None:
    # Resampling both levels counts within-subject noise twice when subjects do not
    # differ: the known conservative bias of the two-stage bootstrap (variance x ~2).
    rng = np.random.default_rng(6)
    groups = [rng.normal(1.0, 1.0, 30) for _ in range(8)]
    naive = bootstrap_mean_ci(np.concatenate(groups), 4000, np.random.default_rng(7))
    hier = hierarchical_bootstrap_ci(groups, 4000, np.random.default_rng(7))
    ratio = (hier[1] - hier[0]) / (naive[1] - naive[0])
    assert 1.0 < ratio < 1.7


def test_subject_summary_statistics_and_exclusions() -> None:
    rows = [{"shift": v} for v in (1.0, 2.0, 3.0, 6.0)] + [
        {"excluded_reason": "poor quality window"},
        {"excluded_reason": "poor quality window"},
        {"excluded_reason": "no data in window"},
        {"shift": 4.0, "n_controls": 0, "adjusted_shift": None, "control_shift_mean": None},
    ]
    out = subject_summary(shifts_frame(rows), CFG, "h")
    assert out.equals(schema.conform(out, "subject_summary"))
    assert out.height == 2
    raw = one(out, "raw")
    values = np.array([1.0, 2.0, 3.0, 6.0, 4.0])
    assert raw["n_episodes"] == 5
    assert raw["n_excluded"] == 3
    assert raw["excluded_reasons"] == "poor quality window: 2; no data in window: 1"
    assert raw["mean_shift"] == pytest.approx(values.mean())
    assert raw["median_shift"] == pytest.approx(3.0)
    assert raw["p_value"] == pytest.approx(sps.ttest_1samp(values, 0.0).pvalue, rel=1e-9)
    assert raw["effect_size"] == pytest.approx(values.mean() / values.std(ddof=1))
    assert raw["ci_low"] < raw["mean_shift"] < raw["ci_high"]
    adjusted = one(out, "adjusted")
    assert adjusted["n_episodes"] == 4
    assert adjusted["excluded_reasons"] == (
        "poor quality window: 2; no data in window: 1; no usable control day: 1"
    )


def test_all_excluded_group_keeps_its_row_with_nulls() -> None:
    rows = [{"excluded_reason": "no data in window"}] * 3
    row = one(subject_summary(shifts_frame(rows), CFG, "h"))
    assert row["n_episodes"] == 0
    assert row["n_excluded"] == 3
    assert row["mean_shift"] is None
    assert row["ci_low"] is None
    assert row["p_value"] is None


def test_constant_or_single_shifts_give_null_tests_without_warnings() -> None:
    out = subject_summary(shifts_frame([{"shift": 2.0}] * 4), CFG, "h")
    row = one(out)
    assert row["mean_shift"] == 2.0
    assert row["p_value"] is None
    assert row["effect_size"] is None
    assert (row["ci_low"], row["ci_high"]) == (2.0, 2.0)
    single = one(subject_summary(shifts_frame([{"shift": 2.0}]), CFG, "h"))
    assert single["n_episodes"] == 1
    assert (single["ci_low"], single["p_value"], single["effect_size"]) == (None, None, None)
    assert t_test_and_dz(np.array([1.0])) == (None, None)


def test_summaries_are_deterministic_by_seed() -> None:
    rows = [{"shift": float(v)} for v in np.random.default_rng(8).normal(1.0, 1.0, 30)]
    shifts = shifts_frame(rows)
    a = subject_summary(shifts, CFG, "h")
    assert a.equals(subject_summary(shifts.reverse(), CFG, "h"))
    other = subject_summary(shifts, AnalysisConfig(stats=StatsConfig(n_boot=2000, seed=8)), "h")
    assert one(a)["ci_low"] != one(other)["ci_low"]


def cohort_rows(means: list[float], n: int, seed: int) -> list[dict[str, object]]:
    rng = np.random.default_rng(seed)
    rows: list[dict[str, object]] = []
    for s, m in enumerate(means):
        for i, v in enumerate(m + rng.normal(0.0, 0.5, n)):
            rows.append({"subject_id": f"s{s}", "episode_id": f"s{s}e{i}", "shift": float(v)})
    return rows


def test_cohort_summary_tests_subject_means() -> None:
    rows = [
        *cohort_rows([1.0, 2.0, 0.5, 1.5], 10, 9),
        {"subject_id": "s9", "excluded_reason": "no data in window"},
    ]
    shifts = shifts_frame(rows)
    out = cohort_summary(shifts, CFG, "h")
    assert out.equals(schema.conform(out, "cohort_summary"))
    row = one(out)
    usable = shifts.filter(pl.col("shift").is_not_null())
    subject_means = usable.group_by("subject_id").agg(pl.col("shift").mean())["shift"].to_numpy()
    assert row["n_subjects"] == 4
    assert row["n_episodes"] == 40
    assert row["n_excluded"] == 1
    assert row["excluded_reasons"] == "no data in window: 1"
    assert row["mean_shift"] == pytest.approx(usable["shift"].mean())
    assert row["median_shift"] == pytest.approx(usable["shift"].median())
    assert row["p_value"] == pytest.approx(sps.ttest_1samp(subject_means, 0.0).pvalue, rel=1e-9)
    assert row["effect_size"] == pytest.approx(subject_means.mean() / subject_means.std(ddof=1))
    assert row["ci_low"] < row["mean_shift"] < row["ci_high"]


def test_cohort_ci_is_wider_than_any_single_subject_ci_when_subjects_differ() -> None:
    shifts = shifts_frame(cohort_rows([-3.0, -1.0, 1.0, 3.0, 0.0, 2.0], 20, 10))
    cohort = one(cohort_summary(shifts, CFG, "h"))
    per_subject = subject_summary(shifts, CFG, "h").filter(pl.col("shift_kind") == "raw")
    widest = (per_subject["ci_high"] - per_subject["ci_low"]).max()
    assert isinstance(widest, float)
    assert cohort["ci_high"] - cohort["ci_low"] > 2 * widest


def test_cohort_with_one_subject_has_null_inference() -> None:
    row = one(cohort_summary(shifts_frame(cohort_rows([1.0], 10, 11)), CFG, "h"))
    assert row["n_subjects"] == 1
    assert (row["ci_low"], row["p_value"], row["effect_size"]) == (None, None, None)
    assert row["mean_shift"] is not None


def test_empty_shifts_give_empty_conforming_summaries() -> None:
    empty = schema.empty("episode_shifts")
    assert subject_summary(empty, CFG, "h").equals(schema.empty("subject_summary"))
    assert cohort_summary(empty, CFG, "h").equals(schema.empty("cohort_summary"))


def test_person_mean_centred_splits_subject_mean_and_within_part() -> None:
    frame = pl.DataFrame(
        {"subject_id": ["a", "a", "a", "b", "b"], "value": [1.0, 2.0, None, 10.0, 14.0]}
    )
    out = person_mean_centred(frame)
    assert out["subject_mean"].to_list() == [1.5, 1.5, 1.5, 12.0, 12.0]
    assert out["within"].to_list() == [-0.5, 0.5, None, -2.0, 2.0]
    assert frame.columns == ["subject_id", "value"]  # input untouched
    by_two = person_mean_centred(
        frame.with_columns(kind=pl.Series(["x", "y", "x", "x", "x"])), by=("subject_id", "kind")
    )
    assert by_two["within"].to_list()[:2] == [0.0, 0.0]
