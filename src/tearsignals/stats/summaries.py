"""Shift statistics per subject and across the cohort: one estimand, one interval.

Both summaries have one row per metric x window x shift kind (``raw`` = the
``shift`` column, ``adjusted`` = ``adjusted_shift``), per subject for
:func:`subject_summary`. Rows without a usable shift are counted in
``n_excluded`` with their reasons, never dropped silently.

The estimand is the **control-adjusted shift** (episode window minus its
baseline, minus the mean of the same on the matched control days). Raw
shifts are descriptive: their rows carry the counts, mean and median and no
CI, p-value, effect size or family (:mod:`tearsignals.stats.families`).

Definitions (adjusted rows):

- ``subject_summary``: mean and median of the subject's episode shifts; 95%
  t-interval ``mean +/- t(0.975, n-1) SD / sqrt(n)`` over its episodes; the
  p-value of the one-sample t-test of the same shifts against 0 (so the CI
  excludes 0 exactly when p < 0.05); ``effect_size`` = Cohen's dz = mean /
  SD (N-1). Per-person rows are descriptive of that person: no FDR family.
- ``cohort_summary``: the subject is the unit of inference. Each subject's
  mean shift over its usable episodes, then ``mean_shift`` = the mean of the
  subject means (subjects weigh equally), ``median_shift`` their median, the
  95% t-interval over subject means (df = subjects - 1), the p-value of the
  one-sample t-test of the subject means against 0, dz = mean / SD of the
  subject means, and ``q_value`` - Benjamini-Hochberg within the row's
  ``family`` (``primary``, a declared family, or ``exploratory``). Mean, CI,
  p and q are all statements about the same number. The t-interval over
  subject means is exact when subject means are normal, whether or not the
  subjects' true effects differ; the simulation study
  (``tests/support/simulation.py``, ``docs/validation.md``) shows its coverage
  with four subjects whose effects differ.
- CI, p-value and dz are null with fewer than 2 episodes (subject) or
  subjects (cohort); p-value and dz are null when the SD is 0 (the CI is then
  the single value).
- Within-person effects: :func:`person_mean_centred` splits a shift (or a
  covariate) into the subject's mean and the episode's deviation from it;
  ``tearsignals.stats.mixed_model`` models the adjusted shift with a random
  intercept per subject.

Examples
--------
>>> import numpy as np
>>> lo, hi, p = t_inference(np.array([2.0]), np.array([0.5]), np.array([9.0]))
>>> round(float(lo[0]), 3), round(float(hi[0]), 3), round(float(p[0]), 4)
(0.869, 3.131, 0.0031)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl
from scipy import stats as sps

from tearsignals.arrays import FloatArray
from tearsignals.config import AnalysisConfig
from tearsignals.contract import schema
from tearsignals.hrv import time_domain
from tearsignals.stats import families

_KINDS = {"raw": "shift", "adjusted": "adjusted_shift"}
_METRIC_ORDER = {name: i for i, name in enumerate(time_domain.METRICS)}


def t_inference(
    estimate: FloatArray, std_error: FloatArray, df: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """95% t-interval ``estimate +/- t(0.975, df) SE`` and the two-sided p-value per row.

    NaN where the estimate, SE or df is missing or df < 1; an SE of 0 gives the
    single-value interval and no p-value.
    """
    estimate, std_error, df = (np.asarray(a, dtype=np.float64) for a in (estimate, std_error, df))
    ok = np.isfinite(estimate) & np.isfinite(std_error) & (std_error >= 0) & (df >= 1)
    dof = np.where(ok, df, 1.0)
    se = np.where(ok, std_error, 0.0)
    half = sps.t.ppf(0.975, dof) * se
    testable = ok & (se > 0)
    t = np.where(testable, estimate, 0.0) / np.where(testable, se, 1.0)
    nan = np.full(ok.shape, np.nan)
    return (
        np.where(ok, estimate - half, nan),
        np.where(ok, estimate + half, nan),
        np.where(testable, 2.0 * sps.t.sf(np.abs(t), dof), nan),
    )


def kind_long(shifts: pl.DataFrame) -> pl.DataFrame:
    """Shifts stacked by kind: ``subject_id, episode_id, metric, window, shift_kind,
    value, excluded`` (``excluded`` names why ``value`` is null)."""
    parts = []
    for kind, col in _KINDS.items():
        why = pl.col("excluded_reason")
        if kind == "adjusted":
            why = (
                pl.when(pl.col("shift").is_null())
                .then(why)
                .when(pl.col("n_controls") == 0)
                .then(pl.lit("no usable control day"))
            )
        why = pl.when(pl.col(col).is_null()).then(why.fill_null(pl.lit("shift undefined")))
        parts.append(
            shifts.select(
                "subject_id",
                "episode_id",
                "metric",
                "window",
                shift_kind=pl.lit(kind),
                value=pl.col(col),
                excluded=why,
            )
        )
    return pl.concat(parts).sort("subject_id", "episode_id")


def person_mean_centred(
    frame: pl.DataFrame, column: str = "value", by: Sequence[str] = ("subject_id",)
) -> pl.DataFrame:
    """``frame`` plus ``subject_mean`` and ``within`` = ``column`` minus its mean per ``by``.

    The within-person part of a shift (an episode's deviation from the
    subject's own mean shift) or of a covariate such as intensity: the model's
    within-person term. Nulls are left out of the mean and stay null.

    Examples
    --------
    >>> f = pl.DataFrame({"subject_id": ["a", "a", "b"], "value": [1.0, 3.0, 5.0]})
    >>> person_mean_centred(f)["within"].to_list()
    [-1.0, 1.0, 0.0]
    """
    mean = pl.col(column).mean().over(list(by))
    return frame.with_columns(subject_mean=mean, within=pl.col(column) - mean)


def exclusion_counts(long: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """Per group: ``n_excluded`` and ``excluded_reasons`` as 'reason: n; ...' (most first)."""
    counted = (
        long.filter(pl.col("value").is_null())
        .group_by(*keys, "excluded")
        .len()
        .sort("len", "excluded", descending=[True, False])
    )
    return counted.group_by(keys, maintain_order=True).agg(
        n_excluded=pl.col("len").sum().cast(pl.Int64),
        excluded_reasons=pl.format("{}: {}", "excluded", "len").str.join("; "),
    )


def display_order(keys: list[str], window_names: Sequence[str]) -> list[pl.Expr]:
    """Sort keys: metric, window (in ``window_names`` order) and kind in their declared order.

    Values outside the declared orders sort after them, by name.
    """

    def rank(col: str, order: dict[str, int]) -> pl.Expr:
        return pl.col(col).replace_strict(order, default=len(order), return_dtype=pl.Int64)

    chosen = {
        "metric": rank("metric", _METRIC_ORDER),
        "window": rank("window", {name: i for i, name in enumerate(window_names)}),
        "shift_kind": rank("shift_kind", {kind: i for i, kind in enumerate(_KINDS)}),
    }
    by = [chosen.get(k, pl.col(k)) for k in keys]
    return [*by, pl.col("metric"), pl.col("window")]


def mean_inference(groups: pl.DataFrame) -> pl.DataFrame:
    """``groups`` (``shift_kind``, ``n``, ``mean_shift``, ``sd``) with ``ci_low``,
    ``ci_high``, ``p_value`` and ``effect_size`` on adjusted rows (module docstring)."""
    n = groups["n"].cast(pl.Float64).to_numpy()
    sd = groups["sd"].fill_null(np.nan).to_numpy()
    mean = groups["mean_shift"].fill_null(np.nan).to_numpy()
    adjusted = (groups["shift_kind"] == "adjusted").to_numpy()
    usable = adjusted & (n >= 2)
    se = np.where(usable, sd / np.sqrt(np.maximum(n, 1.0)), np.nan)
    lo, hi, p = t_inference(mean, se, n - 1.0)
    dz = np.where(usable & (sd > 0), mean / np.where(sd > 0, sd, 1.0), np.nan)
    columns = {"ci_low": lo, "ci_high": hi, "p_value": p, "effect_size": dz}
    return groups.with_columns(
        pl.Series(k, v, dtype=pl.Float64).fill_nan(None) for k, v in columns.items()
    )


def _location(values: pl.Expr) -> dict[str, pl.Expr]:
    """Count, mean, median and SD (N-1) of the usable ``values``."""
    return {
        "n": values.count().cast(pl.Int64),
        "mean_shift": values.mean(),
        "median_shift": values.median(),
        "sd": values.std(ddof=1),
    }


def _summarised(long: pl.DataFrame, keys: list[str], stats: pl.DataFrame) -> pl.DataFrame:
    """Every group of ``long`` (even all-excluded ones) with its ``stats`` and exclusions."""
    groups = long.select(keys).unique()
    return (
        groups.join(stats, on=keys, how="left")
        .join(exclusion_counts(long, keys), on=keys, how="left")
        .with_columns(
            pl.col("n").fill_null(0),
            n_excluded=pl.col("n_excluded").fill_null(0),
        )
    )


def subject_summary(shifts: pl.DataFrame, cfg: AnalysisConfig, params_hash: str) -> pl.DataFrame:
    """The ``subject_summary`` table from an ``episode_shifts`` frame.

    One row per subject x metric x window x shift kind, in the run's window
    order; CI and p-value over the subject's episodes (module docstring).
    """
    keys = ["subject_id", "metric", "window", "shift_kind"]
    long = kind_long(shifts)
    stats = long.group_by(keys).agg(**_location(pl.col("value")))
    groups = mean_inference(_summarised(long, keys, stats))
    out = groups.with_columns(n_episodes="n", params_hash=pl.lit(params_hash))
    return schema.conform(out.sort(display_order(keys, cfg.windows.names())), "subject_summary")


def cohort_summary(shifts: pl.DataFrame, cfg: AnalysisConfig, params_hash: str) -> pl.DataFrame:
    """The ``cohort_summary`` table from an ``episode_shifts`` frame (all subjects).

    One row per metric x window x shift kind, in the run's window order:
    statistics of the subjects' mean shifts, families and q-values from the
    plan (``cfg.stats``; see the module docstring).
    """
    keys = ["metric", "window", "shift_kind"]
    long = kind_long(shifts)
    subject_means = (
        long.filter(pl.col("value").is_not_null())
        .group_by(*keys, "subject_id")
        .agg(value=pl.col("value").mean(), n_episodes=pl.len().cast(pl.Int64))
    )
    stats = subject_means.group_by(keys).agg(
        n_episodes=pl.col("n_episodes").sum(), **_location(pl.col("value"))
    )
    groups = mean_inference(_summarised(long, keys, stats))
    out = families.with_q_values(families.with_families(groups, cfg)).with_columns(
        n_subjects="n",
        n_episodes=pl.col("n_episodes").fill_null(0),
        params_hash=pl.lit(params_hash),
    )
    return schema.conform(out.sort(display_order(keys, cfg.windows.names())), "cohort_summary")
