"""The cohort's event-locked time course: subject means per bin, then a t-interval over subjects
(for the control-adjusted change)."""

from __future__ import annotations

import numpy as np
import polars as pl

from tearsignals.contract import schema
from tearsignals.episodes.timecourse import TIMECOURSE_SERIES
from tearsignals.stats import summaries


def subject_timecourse(timecourse: pl.DataFrame) -> pl.DataFrame:
    """Per subject, anchor, bin, ``metric`` and ``measure`` (``value`` or ``change``):
    ``subject_mean`` over the subject's usable episodes and their count ``n_episodes``."""
    long = timecourse.unpivot(
        on=list(TIMECOURSE_SERIES),
        index=["subject_id", "episode_id", "anchor", "bin_start_min", "bin_end_min"],
        variable_name="series",
        value_name="value",
    ).filter(pl.col("value").is_not_null())
    return (
        long.with_columns(
            metric=pl.col("series").replace_strict({k: v[0] for k, v in TIMECOURSE_SERIES.items()}),
            measure=pl.col("series").replace_strict(
                {k: v[1] for k, v in TIMECOURSE_SERIES.items()}
            ),
        )
        .group_by("subject_id", "anchor", "bin_start_min", "bin_end_min", "metric", "measure")
        .agg(subject_mean=pl.col("value").mean(), n_episodes=pl.len().cast(pl.Int64))
        .sort("subject_id", "anchor", "metric", "measure", "bin_start_min")
    )


def t_interval(mean: pl.Series, sd: pl.Series, n: pl.Series) -> tuple[pl.Series, pl.Series]:
    """95% t-interval ``mean +/- t(0.975, n - 1) sd / sqrt(n)``; null where n < 2."""
    count = n.cast(pl.Float64).to_numpy()
    se = sd.fill_null(np.nan).to_numpy() / np.sqrt(np.maximum(count, 1.0))
    se = np.where(count >= 2, se, np.nan)
    lo, hi, _ = summaries.t_inference(mean.fill_null(np.nan).to_numpy(), se, count - 1.0)
    return pl.Series(lo).fill_nan(None), pl.Series(hi).fill_nan(None)


def cohort_timecourse(timecourse: pl.DataFrame, params_hash: str) -> pl.DataFrame:
    """The ``cohort_timecourse`` table: mean of subject means per bin, with a 95%
    t-interval for the control-adjusted change (the estimand; levels and raw
    changes are descriptive and get none).

    ``timecourse`` holds ``episode_timecourse`` rows of every subject made
    with one parameter set; bins without any usable value have no row.
    """
    per_subject = subject_timecourse(timecourse)
    key = ["anchor", "bin_start_min", "bin_end_min", "metric", "measure"]
    cohort = (
        per_subject.group_by(key)
        .agg(
            n_subjects=pl.len().cast(pl.Int64),
            n_episodes=pl.col("n_episodes").sum().cast(pl.Int64),
            mean_value=pl.col("subject_mean").mean(),
            sd=pl.col("subject_mean").std(ddof=1),
        )
        .sort("anchor", "metric", "measure", "bin_start_min")
    )
    lo, hi = t_interval(cohort["mean_value"], cohort["sd"], cohort["n_subjects"])
    adjusted = pl.col("measure") == "adjusted"
    out = cohort.with_columns(ci_low=lo, ci_high=hi).with_columns(
        pl.when(adjusted).then("ci_low").alias("ci_low"),
        pl.when(adjusted).then("ci_high").alias("ci_high"),
        params_hash=pl.lit(params_hash),
    )
    return schema.conform(out, "cohort_timecourse")
