"""Subject and cohort summaries: one estimand, t-intervals, tests, families, exclusion counts."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from scipy import stats as sps

from tearsignals.config import AnalysisConfig, Family, Outcome, StatsConfig
from tearsignals.contract import schema
from tearsignals.stats.families import bh_qvalues
from tearsignals.stats.summaries import cohort_summary, person_mean_centred, subject_summary

CFG = AnalysisConfig()


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


def t_ci(values: np.ndarray) -> tuple[float, float]:
    """scipy's 95% t-interval of the mean: the oracle."""
    lo, hi = sps.t.interval(0.95, values.size - 1, values.mean(), sps.sem(values))
    return float(lo), float(hi)


def test_zero_effect_has_a_ci_around_zero_and_p_one() -> None:
    half = np.random.default_rng(3).normal(0.0, 1.0, 50)
    rows = [{"shift": float(v)} for v in np.concatenate([half, -half])]
    row = one(subject_summary(shifts_frame(rows), CFG, "h"), "adjusted")
    assert row["ci_low"] < 0.0 < row["ci_high"]
    assert row["p_value"] == pytest.approx(1.0)
    assert row["effect_size"] == pytest.approx(0.0, abs=1e-12)


def test_subject_ci_is_the_t_interval_of_the_same_shifts_the_p_value_tests() -> None:
    values = np.random.default_rng(4).normal(0.4, 1.0, 9)
    row = one(
        subject_summary(shifts_frame([{"shift": float(v)} for v in values]), CFG, "h"), "adjusted"
    )
    assert (row["ci_low"], row["ci_high"]) == pytest.approx(t_ci(values), rel=1e-9)
    assert row["p_value"] == pytest.approx(sps.ttest_1samp(values, 0.0).pvalue, rel=1e-9)


def test_raw_rows_are_descriptive_only() -> None:
    rows = [{"shift": v} for v in (1.0, 2.0, 3.0, 6.0)]
    for table in (subject_summary, cohort_summary):
        raw = one(table(shifts_frame(rows), CFG, "h"), "raw")
        assert raw["mean_shift"] == pytest.approx(3.0)
        assert (raw["ci_low"], raw["ci_high"], raw["p_value"], raw["effect_size"]) == (None,) * 4
    cohort = cohort_summary(shifts_frame(rows), CFG, "h")
    raw = cohort.filter(pl.col("shift_kind") == "raw")
    assert raw["family"].null_count() == raw["q_value"].null_count() == raw.height


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
    adjusted = one(out, "adjusted")
    usable = values[:4]
    assert adjusted["n_episodes"] == 4
    assert adjusted["excluded_reasons"] == (
        "poor quality window: 2; no data in window: 1; no usable control day: 1"
    )
    assert adjusted["p_value"] == pytest.approx(sps.ttest_1samp(usable, 0.0).pvalue, rel=1e-9)
    assert adjusted["effect_size"] == pytest.approx(usable.mean() / usable.std(ddof=1))
    assert adjusted["ci_low"] < adjusted["mean_shift"] < adjusted["ci_high"]


def test_all_excluded_group_keeps_its_row_with_nulls() -> None:
    rows = [{"excluded_reason": "no data in window"}] * 3
    row = one(subject_summary(shifts_frame(rows), CFG, "h"), "adjusted")
    assert row["n_episodes"] == 0
    assert row["n_excluded"] == 3
    assert row["mean_shift"] is None
    assert row["ci_low"] is None
    assert row["p_value"] is None


def test_constant_or_single_shifts_give_null_tests_without_warnings() -> None:
    out = subject_summary(shifts_frame([{"shift": 2.0}] * 4), CFG, "h")
    row = one(out, "adjusted")
    assert row["mean_shift"] == 2.0
    assert row["p_value"] is None
    assert row["effect_size"] is None
    assert (row["ci_low"], row["ci_high"]) == (2.0, 2.0)
    single = one(subject_summary(shifts_frame([{"shift": 2.0}]), CFG, "h"), "adjusted")
    assert single["n_episodes"] == 1
    assert (single["ci_low"], single["p_value"], single["effect_size"]) == (None, None, None)


def test_summaries_do_not_depend_on_row_order() -> None:
    rows = [{"shift": float(v)} for v in np.random.default_rng(8).normal(1.0, 1.0, 30)]
    shifts = shifts_frame(rows)
    assert subject_summary(shifts, CFG, "h").equals(subject_summary(shifts.reverse(), CFG, "h"))
    assert cohort_summary(shifts, CFG, "h").equals(cohort_summary(shifts.reverse(), CFG, "h"))


def cohort_rows(means: list[float], n: int, seed: int) -> list[dict[str, object]]:
    rng = np.random.default_rng(seed)
    rows: list[dict[str, object]] = []
    for s, m in enumerate(means):
        for i, v in enumerate(m + rng.normal(0.0, 0.5, n)):
            rows.append({"subject_id": f"s{s}", "episode_id": f"s{s}e{i}", "shift": float(v)})
    return rows


def test_cohort_mean_ci_and_p_are_all_about_the_mean_of_subject_means() -> None:
    rows = [
        *cohort_rows([1.0, 2.0, 0.5, 1.5], 10, 9),
        {"subject_id": "s0", "episode_id": "s0e99", "shift": 9.0},  # s0 has 11 episodes
        {"subject_id": "s9", "excluded_reason": "no data in window"},
    ]
    shifts = shifts_frame(rows)
    out = cohort_summary(shifts, CFG, "h")
    assert out.equals(schema.conform(out, "cohort_summary"))
    row = one(out, "adjusted")
    usable = shifts.filter(pl.col("shift").is_not_null())
    subject_means = usable.group_by("subject_id").agg(pl.col("shift").mean())["shift"].to_numpy()
    assert row["n_subjects"] == 4
    assert row["n_episodes"] == 41
    assert row["n_excluded"] == 1
    assert row["excluded_reasons"] == "no data in window: 1"
    assert row["mean_shift"] == pytest.approx(subject_means.mean())
    assert row["mean_shift"] != pytest.approx(usable["shift"].mean())  # not episode-pooled
    assert row["median_shift"] == pytest.approx(np.median(subject_means))
    assert (row["ci_low"], row["ci_high"]) == pytest.approx(t_ci(subject_means), rel=1e-9)
    assert row["p_value"] == pytest.approx(sps.ttest_1samp(subject_means, 0.0).pvalue, rel=1e-9)
    assert row["effect_size"] == pytest.approx(subject_means.mean() / subject_means.std(ddof=1))


def test_with_four_heterogeneous_subjects_the_ci_and_the_p_value_agree() -> None:
    # Subjects whose effects differ: the interval and the test share one estimand and
    # one reference distribution, so the CI excludes 0 exactly when p < 0.05.
    for seed in range(40):
        means = list(np.random.default_rng(seed).normal(0.8, 1.0, 4))
        row = one(cohort_summary(shifts_frame(cohort_rows(means, 8, seed)), CFG, "h"), "adjusted")
        excludes_zero = row["ci_low"] > 0 or row["ci_high"] < 0
        assert excludes_zero == (row["p_value"] < 0.05), (seed, row)


def test_families_follow_the_plan_and_q_is_bh_within_each() -> None:
    rng = np.random.default_rng(12)
    rows = [
        {
            "subject_id": f"s{s}",
            "episode_id": f"s{s}e{i}",
            "window": w,
            "metric": m,
            "shift": float(rng.normal(mu, 1.0)),
        }
        for s in range(5)
        for i in range(4)
        for m, w, mu in (
            ("ln_rmssd", "post_60_90", 0.5),
            ("ln_rmssd", "pre", 0.0),
            ("ln_rmssd", "acute", 1.0),
            ("mean_hr_bpm", "pre", 0.2),
            ("pnn50_pct", "pre", 0.3),
        )
    ]
    out = cohort_summary(shifts_frame(rows), CFG, "h").filter(pl.col("shift_kind") == "adjusted")
    family = dict(zip(out["metric"] + "/" + out["window"], out["family"], strict=True))
    assert family == {
        "ln_rmssd/post_60_90": "primary",
        "ln_rmssd/pre": "hrv",
        "ln_rmssd/acute": "hrv",
        "mean_hr_bpm/pre": "heart_rate",
        "pnn50_pct/pre": "exploratory",
    }
    primary = out.filter(pl.col("family") == "primary").row(0, named=True)
    assert primary["q_value"] == primary["p_value"]
    hrv = out.filter(pl.col("family") == "hrv")
    assert np.allclose(hrv["q_value"].to_numpy(), bh_qvalues(hrv["p_value"].to_numpy()))
    renamed = AnalysisConfig(
        stats=StatsConfig(
            primary=Outcome(metric="mean_hr_bpm", window="pre"),
            families=(Family(name="vagal", metrics=("ln_rmssd",), windows=("pre",)),),
        )
    )
    again = cohort_summary(shifts_frame(rows), renamed, "h").filter(
        pl.col("shift_kind") == "adjusted"
    )
    assert sorted(again["family"].to_list()) == ["exploratory"] * 3 + ["primary", "vagal"]


def test_cohort_with_one_subject_has_null_inference() -> None:
    row = one(cohort_summary(shifts_frame(cohort_rows([1.0], 10, 11)), CFG, "h"), "adjusted")
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
