"""Properties of the shift summaries against brute-force oracles (Hypothesis)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from tearsignals.config import AnalysisConfig, StatsConfig
from tearsignals.contract import schema
from tearsignals.stats import mixed_model
from tearsignals.stats.families import bh_qvalues
from tearsignals.stats.summaries import cohort_summary, subject_summary

CFG = AnalysisConfig()
REASONS = ("no data in window", "poor quality window", "poor quality baseline")
shift_values = st.floats(-500.0, 500.0, allow_nan=False, allow_infinity=False)


def shifts_frame(subjects: list[list[float | str]]) -> pl.DataFrame:
    """One row per entry: a float is a usable shift, a string an exclusion reason."""
    rows = []
    for s, entries in enumerate(subjects):
        for i, entry in enumerate(entries):
            usable = not isinstance(entry, str)
            rows.append(
                {
                    "subject_id": f"s{s}",
                    "episode_id": f"s{s}e{i:03d}",
                    "window": "acute",
                    "metric": "mean_hr_bpm",
                    "value": None,
                    "baseline_value": None,
                    "shift": entry if usable else None,
                    "n_controls": 1 if usable else 0,
                    "control_shift_mean": 0.0 if usable else None,
                    "adjusted_shift": entry if usable else None,
                    "excluded_reason": None if usable else entry,
                    "params_hash": "h",
                }
            )
    frame = pl.DataFrame(rows, schema=schema.polars_schema("episode_shifts"))
    return schema.conform(frame, "episode_shifts")


entries = st.lists(st.one_of(shift_values, st.sampled_from(REASONS)), min_size=1, max_size=25)


@settings(max_examples=60, deadline=None)
@given(entries)
def test_subject_summary_matches_brute_force(row_entries: list[float | str]) -> None:
    out = subject_summary(shifts_frame([row_entries]), CFG, "h")
    values = np.array([e for e in row_entries if not isinstance(e, str)], dtype=np.float64)
    reasons = [e for e in row_entries if isinstance(e, str)]
    assert out.height == 2  # raw and adjusted
    for row in out.iter_rows(named=True):
        assert row["n_episodes"] == values.size
        assert row["n_excluded"] == len(reasons)
        if reasons:
            parsed = dict(part.rsplit(": ", 1) for part in row["excluded_reasons"].split("; "))
            assert {k: int(v) for k, v in parsed.items()} == {r: reasons.count(r) for r in reasons}
        else:
            assert row["excluded_reasons"] is None
        if values.size == 0:
            assert row["mean_shift"] is None
            continue
        assert row["mean_shift"] == pytest.approx(values.mean(), abs=1e-9)
        assert row["median_shift"] == pytest.approx(float(np.median(values)), abs=1e-9)
        inferential = row["shift_kind"] == "adjusted" and values.size >= 2
        assert (row["ci_low"] is not None) == inferential
        if inferential:
            assert row["ci_low"] <= row["mean_shift"] <= row["ci_high"]


def adjusted_row(out: pl.DataFrame) -> dict[str, object]:
    return out.filter(pl.col("shift_kind") == "adjusted").row(0, named=True)


@settings(max_examples=60, deadline=None)
@given(st.lists(shift_values, min_size=2, max_size=30))
def test_p_value_and_dz_match_scipy(values: list[float]) -> None:
    x = np.array(values)
    assume(np.std(x) > 1e-3 * (1.0 + np.abs(x).max()))  # keep scipy's oracle well-conditioned
    row = adjusted_row(subject_summary(shifts_frame([values]), CFG, "h"))
    assert row["p_value"] == pytest.approx(sps.ttest_1samp(x, 0.0).pvalue, rel=1e-6, abs=1e-12)
    assert row["effect_size"] == pytest.approx(x.mean() / x.std(ddof=1), rel=1e-9)
    lo, hi = sps.t.interval(0.95, x.size - 1, x.mean(), sps.sem(x))
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((lo, hi), rel=1e-6, abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(shift_values, min_size=1, max_size=6), min_size=2, max_size=6))
def test_the_cohort_ci_excludes_zero_exactly_when_p_is_below_005(
    subjects: list[list[float]],
) -> None:
    row = adjusted_row(cohort_summary(shifts_frame(subjects), CFG, "h"))
    assume(row["p_value"] is not None and abs(row["p_value"] - 0.05) > 1e-9)
    excludes_zero = row["ci_low"] > 0.0 or row["ci_high"] < 0.0
    assert excludes_zero == (row["p_value"] < 0.05)


@settings(max_examples=40, deadline=None)
@given(st.lists(shift_values, min_size=2, max_size=30), st.floats(-100.0, 100.0))
def test_translation_moves_mean_median_and_ci_by_the_same_amount(
    values: list[float], c: float
) -> None:
    a = adjusted_row(subject_summary(shifts_frame([values]), CFG, "h"))
    b = adjusted_row(subject_summary(shifts_frame([[v + c for v in values]]), CFG, "h"))
    for col in ("mean_shift", "median_shift", "ci_low", "ci_high"):
        assert b[col] == pytest.approx(a[col] + c, abs=1e-6)


@settings(max_examples=40, deadline=None)
@given(st.lists(entries, min_size=1, max_size=5))
def test_cohort_counts_and_the_mean_of_subject_means(subjects: list[list[float | str]]) -> None:
    out = cohort_summary(shifts_frame(subjects), CFG, "h")
    usable = [[e for e in s if not isinstance(e, str)] for s in subjects]
    means = np.array([np.mean(s) for s in usable if s], dtype=np.float64)
    for row in out.iter_rows(named=True):
        assert row["n_subjects"] == means.size
        assert row["n_episodes"] == sum(len(s) for s in usable)
        assert row["n_episodes"] + row["n_excluded"] == sum(len(s) for s in subjects)
        if means.size:
            assert row["mean_shift"] == pytest.approx(means.mean(), abs=1e-9)
            assert means.min() - 1e-9 <= row["median_shift"] <= means.max() + 1e-9


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.floats(0.0, 1.0), st.just(float("nan"))), min_size=1, max_size=40))
def test_bh_q_values_match_statsmodels(p: list[float]) -> None:
    from statsmodels.stats.multitest import multipletests

    x = np.array(p)
    q = bh_qvalues(x)
    ok = np.isfinite(x)
    assert np.array_equal(np.isnan(q), ~ok)
    if ok.any():
        expected = multipletests(x[ok], method="fdr_bh")[1]
        assert np.allclose(q[ok], expected, rtol=1e-12, atol=1e-15)
        assert np.all(q[ok] >= x[ok] - 1e-15)


cohort_groups = st.lists(
    st.lists(st.floats(-50.0, 50.0, allow_nan=False), min_size=1, max_size=6),
    min_size=3,
    max_size=6,
)


@settings(max_examples=40, deadline=None)
@given(cohort_groups, st.floats(-100.0, 100.0))
def test_mixed_intercept_lies_between_subject_means_and_moves_with_the_data(
    groups: list[list[float]], c: float
) -> None:
    y = np.concatenate([np.array(g) for g in groups])
    assume(np.std(y) > 1e-3)
    codes = np.repeat(np.arange(len(groups)), [len(g) for g in groups])
    names = ("intercept",)
    cfg = StatsConfig(moderators=())
    fit = mixed_model.fit_model(y, np.ones((y.size, 1)), codes, names, cfg)
    means = [float(np.mean(g)) for g in groups]
    assert fit.method in ("mixedlm", "ols_cluster")
    assert min(means) - 1e-6 <= fit.estimate[0] <= max(means) + 1e-6
    moved = mixed_model.fit_model(y + c, np.ones((y.size, 1)), codes, names, cfg)
    assert moved.estimate[0] == pytest.approx(fit.estimate[0] + c, abs=1e-6)
    assert moved.std_error[0] == pytest.approx(fit.std_error[0], rel=1e-6, abs=1e-9)
