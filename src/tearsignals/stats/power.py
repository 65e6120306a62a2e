"""Power of the primary analysis: subjects x episodes needed to detect an effect.

The design is the primary analysis itself (``cohort_summary``): ``n`` subjects
with ``m`` episodes each, episodes nested in subjects,

    shift_ij = delta + u_i + e_ij,   u_i ~ N(0, tau^2),  e_ij ~ N(0, sigma^2),

and the mean of the subject means tested against 0 by a one-sample t-test
over subjects (df ``n - 1``). A subject mean has variance ``tau^2 +
sigma^2 / m``, so the test statistic is non-central t with df ``n - 1`` and
non-centrality ``delta / sqrt((tau^2 + sigma^2 / m) / n)``; the two-sided
power is exact (no normal approximation), and :func:`subjects_needed` is the
smallest ``n >= 2`` whose power reaches the target. ``tau`` and ``sigma`` are
the REML variance components of the base model of the primary row
(``cohort_model``: ``sd_subject``, ``sd_residual``). More episodes per subject
help only until ``sigma^2 / m`` is small beside ``tau^2``: the between-subject
spread sets a floor no number of episodes removes.

``tests/unit/stats/test_power.py`` checks the analytic power against a
simulation of the same design through ``summaries.mean_inference``.

Examples
--------
With ``tau = 0.3`` and ``sigma = 0.6``, an effect of 0.2 needs 38 subjects
with 4 episodes each for 80 % power, and still 22 with 40 episodes each:

>>> round(design_power(0.2, 0.3, 0.6, n_subjects=20, episodes=4, alpha=0.05), 3)
0.516
>>> [subjects_needed(0.2, 0.3, 0.6, m, target=0.8, alpha=0.05, max_subjects=1000)
...  for m in (4, 40)]
[38, 22]
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl
from scipy import stats as sps

from tearsignals.arrays import FloatArray
from tearsignals.config import AnalysisConfig, PowerConfig
from tearsignals.contract import schema


def _power(effect: float, sd_subject_mean: float, n: FloatArray, alpha: float) -> FloatArray:
    """Two-sided power of the one-sample t-test over ``n`` subject means."""
    df = n - 1.0
    ncp = effect / (sd_subject_mean / np.sqrt(n))
    crit = sps.t.ppf(1.0 - alpha / 2.0, df)
    return np.asarray(sps.nct.sf(crit, df, ncp) + sps.nct.cdf(-crit, df, ncp), dtype=np.float64)


def design_power(
    effect: float,
    sd_subject: float,
    sd_residual: float,
    n_subjects: int,
    episodes: int,
    alpha: float,
) -> float:
    """Power of ``n_subjects`` x ``episodes`` to detect ``effect`` (module docstring)."""
    sd_mean = math.sqrt(sd_subject**2 + sd_residual**2 / episodes)
    return float(_power(effect, sd_mean, np.array([float(n_subjects)]), alpha)[0])


def subjects_needed(
    effect: float,
    sd_subject: float,
    sd_residual: float,
    episodes: int,
    target: float,
    alpha: float,
    max_subjects: int,
) -> int | None:
    """The smallest ``n`` in ``2..max_subjects`` with power >= ``target``; ``None`` if none."""
    n = np.arange(2, max_subjects + 1, dtype=np.float64)
    sd_mean = math.sqrt(sd_subject**2 + sd_residual**2 / episodes)
    if sd_mean == 0.0:
        return 2
    reached = np.flatnonzero(_power(effect, sd_mean, n, alpha) >= target)
    return int(n[reached[0]]) if reached.size else None


def primary_components(cohort_model: pl.DataFrame, cfg: AnalysisConfig) -> dict[str, object]:
    """``sd_subject``, ``sd_residual``, counts and ``note`` of the primary row's base model."""
    primary = cfg.stats.primary
    rows = cohort_model.filter(
        (pl.col("metric") == primary.metric)
        & (pl.col("window") == primary.window)
        & (pl.col("model") == "base")
    )
    sd = {t: v for t, v in zip(rows["term"], rows["estimate"], strict=True)}
    n_subjects, n_episodes = (
        rows.select(pl.col("n_subjects", "n_episodes").max()).row(0) if rows.height else (0, 0)
    )
    found: dict[str, object] = {
        "sd_subject": sd.get("sd_subject"),
        "sd_residual": sd.get("sd_residual"),
        "n_subjects_fitted": n_subjects,
        "n_episodes_fitted": n_episodes,
        "note": None,
    }
    method = rows["method"][0] if rows.height else None
    if method != "mixedlm" or found["sd_subject"] is None or found["sd_residual"] is None:
        found.update(sd_subject=None, sd_residual=None)
        found["note"] = (
            "no base model of the primary outcome in cohort_model"
            if method is None
            else f"no fitted variance components (method {method})"
        )
    return found


def _design_row(
    components: dict[str, object], effect: float | None, m: int, p: PowerConfig
) -> dict[str, object]:
    tau, sigma = components["sd_subject"], components["sd_residual"]
    row: dict[str, object] = {"episodes_per_subject": m, "effect": effect}
    if not (isinstance(tau, float) and isinstance(sigma, float)):
        return row
    total = math.hypot(tau, sigma)
    if total == 0.0:
        return {**row, "note": "fitted variance components are 0: power undefined"}
    effect = 0.5 * total if effect is None else effect
    needed = subjects_needed(effect, tau, sigma, m, p.target_power, p.alpha, p.max_subjects)
    return {
        **row,
        "effect": effect,
        "effect_sd": effect / total,
        "subjects_needed": needed,
        "episodes_needed": None if needed is None else needed * m,
        "power": None if needed is None else design_power(effect, tau, sigma, needed, m, p.alpha),
        "note": None if needed is not None else f"more than {p.max_subjects} subjects",
    }


def power_table(
    cohort_model: pl.DataFrame,
    cfg: AnalysisConfig,
    params_hash: str,
    power: PowerConfig | None = None,
) -> pl.DataFrame:
    """The ``power`` table: one row per design of ``power`` (default ``cfg.stats.power``).

    Parameters
    ----------
    cohort_model
        The ``cohort_model`` rows of ``params_hash``; the base model of the
        plan's primary row gives ``tau`` and ``sigma``.
    cfg
        The analysis configuration (its primary outcome).
    params_hash
        Stored on every row.
    power
        The effect, target power, level and designs (``tearsignals power`` passes its options).
    """
    p = power or cfg.stats.power
    components = primary_components(cohort_model, cfg)
    rows = [
        {**components, **_design_row(components, p.effect, m, p)}
        for m in sorted(set(p.episodes_per_subject))
    ]
    nulls = ("effect", "effect_sd", "subjects_needed", "episodes_needed", "power")
    frame = pl.DataFrame(
        [{**dict.fromkeys(nulls), **r} for r in rows],
        schema_overrides={c: pl.Float64 for c in ("effect", "effect_sd", "power")},
    )
    return schema.conform(
        frame.with_columns(
            metric=pl.lit(cfg.stats.primary.metric),
            window=pl.lit(cfg.stats.primary.window),
            target_power=pl.lit(p.target_power),
            alpha=pl.lit(p.alpha),
            params_hash=pl.lit(params_hash),
        ),
        "power",
    )
