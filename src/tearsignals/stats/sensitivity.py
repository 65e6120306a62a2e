"""Sensitivity runs: the primary analysis again under other analytic choices.

The primary outcome (``StatsConfig.primary``: the control-adjusted shift of one
metric in one window) is re-estimated for every combination of a cleaning
method, a baseline window and an onset jitter (:class:`~tearsignals.config.
SensitivityConfig`; each list joined with the plan's own choice, which comes
first). Each variant runs the default path - windows and matched controls,
window metrics, shifts, ``cohort_summary``'s mean of subject means with its
t-interval - with only its own choices changed, so the spread of the estimates
shows how much the result rests on them. No variant is a test of its own: the
rows carry the primary analysis' estimate, CI and p-value, not new families.

- **Cleaning**: ``cleaning.method`` (``lipponen`` corrects ectopic beats,
  ``median`` rejects outliers); the other cleaning settings stay the plan's.
- **Baseline**: ``windows.baseline_min`` (minutes from the logged onset).
- **Onset jitter**: every logged episode, onset and end, moved by ``d``
  minutes (:func:`jittered`); its matched control windows move with it (they
  keep the episode's clock time). Crying logs are written after the fact, so a
  logged onset may be minutes off; a planted effect read through a shifted log
  is diluted (``tests/unit/stats/test_sensitivity.py``).

Examples
--------
>>> from tearsignals.config import AnalysisConfig
>>> grid = variants(AnalysisConfig())
>>> len(grid), variant_label(grid[0]), variant_label(grid[-1])
(16, 'lipponen, baseline -10 to -5 min, jitter 0 min', 'median, baseline -20 to -10 min, jitter +2 min')
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from itertools import product
from typing import NamedTuple, TypeVar

import polars as pl

from tearsignals.config import AnalysisConfig, WindowConfig, minutes_text
from tearsignals.contract import schema
from tearsignals.stats import summaries

T = TypeVar("T")
SPECTRAL_METRICS = ("lf_ms2", "hf_ms2", "ln_hf", "lf_hf", "resp_rate_bpm")


class Variant(NamedTuple):
    """One analytic choice of the sensitivity grid."""

    cleaning_method: str
    baseline_min: tuple[float, float]
    onset_jitter_min: float


def _with_first(first: T, others: tuple[T, ...]) -> list[T]:
    """``first``, then ``others`` without repeats (in their order)."""
    return list(dict.fromkeys((first, *others)))


def variants(cfg: AnalysisConfig) -> list[Variant]:
    """Every variant of ``cfg.stats.sensitivity``, the plan's own analysis first."""
    s = cfg.stats.sensitivity
    methods: list[str] = _with_first(cfg.cleaning.method, s.cleaning_methods)
    baselines = _with_first(cfg.windows.baseline_min, s.baselines_min)
    jitters = _with_first(0.0, tuple(float(d) for d in s.onset_jitter_min))
    return [Variant(*v) for v in product(methods, baselines, jitters)]


def variant_label(v: Variant) -> str:
    """The variant in words, e.g. ``'median, baseline -20 to -10 min, jitter -5 min'``."""
    lo, hi = v.baseline_min
    jitter = minutes_text(v.onset_jitter_min)
    sign = "+" if v.onset_jitter_min > 0 else ""
    return (
        f"{v.cleaning_method}, baseline {minutes_text(lo)} to {minutes_text(hi)} min, "
        f"jitter {sign}{jitter} min"
    )


def variant_config(cfg: AnalysisConfig, v: Variant) -> AnalysisConfig:
    """``cfg`` with the variant's cleaning method and baseline (validated).

    The spectrum is left out (``min_clean_s`` beyond any window) when the
    primary metric is not spectral: it changes no other metric and is most of
    the cost of a window.
    """
    windows = WindowConfig.model_validate(
        {**cfg.windows.model_dump(), "baseline_min": v.baseline_min}
    )
    update: dict[str, object] = {
        "windows": windows,
        "cleaning": cfg.cleaning.model_copy(update={"method": v.cleaning_method}),
    }
    if cfg.stats.primary.metric not in SPECTRAL_METRICS:
        update["frequency"] = cfg.frequency.model_copy(update={"min_clean_s": float("inf")})
    return cfg.model_copy(update=update)


def primary_windows(cfg: AnalysisConfig) -> tuple[str, str]:
    """The windows a sensitivity run computes: ``baseline`` and the primary outcome's."""
    return ("baseline", cfg.stats.primary.window)


def jittered(episodes: pl.DataFrame, minutes: float) -> pl.DataFrame:
    """``episodes`` with every ``start_utc`` and ``end_utc`` moved by ``minutes``.

    >>> from datetime import datetime, UTC
    >>> e = pl.DataFrame({"start_utc": [datetime(2024, 1, 1, 20, tzinfo=UTC)],
    ...                   "end_utc": [datetime(2024, 1, 1, 20, 10, tzinfo=UTC)]})
    >>> jittered(e, -2.5)["start_utc"].dt.strftime("%H:%M:%S").to_list()
    ['19:57:30']
    """
    shift = timedelta(minutes=minutes)
    return episodes.with_columns(pl.col("start_utc") + shift, pl.col("end_utc") + shift)


def beats_near_windows(beats: pl.DataFrame, spec: pl.DataFrame, margin_min: float) -> pl.DataFrame:
    """The ``beats`` within ``margin_min`` of a window of ``spec`` (same subject).

    Cleaning looks only at a beat's neighbours (at most ``lipponen_window``
    beats), so a margin of several minutes leaves every window's cleaned beats
    as they are in the whole recording while skipping the hours between windows.
    """
    margin = timedelta(minutes=margin_min)
    spans = (
        spec.select(
            "subject_id",
            lo=pl.col("window_start_utc") - margin,
            hi=pl.col("window_end_utc") + margin,
        )
        .sort("subject_id", "lo")
        .with_columns(reach=pl.col("hi").cum_max().over("subject_id"))
    )
    inside = beats.sort("subject_id", "t_utc").join_asof(
        spans.select("subject_id", "lo", "reach"),
        left_on="t_utc",
        right_on="lo",
        by="subject_id",
        strategy="backward",
        check_sortedness=False,  # sorted by subject and time just above
    )
    return inside.filter(pl.col("t_utc") < pl.col("reach")).drop("lo", "reach")


def variant_row(shifts: pl.DataFrame, cfg: AnalysisConfig) -> dict[str, object]:
    """The primary outcome's estimate, CI, p-value and counts from a variant's shifts."""
    primary = cfg.stats.primary
    wanted = shifts.filter(
        (pl.col("metric") == primary.metric) & (pl.col("window") == primary.window)
    )
    summary = summaries.cohort_summary(wanted, cfg, "").filter(
        (pl.col("shift_kind") == "adjusted")
        & (pl.col("metric") == primary.metric)
        & (pl.col("window") == primary.window)
    )
    columns = ("mean_shift", "ci_low", "ci_high", "p_value", "n_subjects", "n_episodes")
    if summary.is_empty():
        return {c: (0 if c.startswith("n_") else None) for c in columns}
    return {c: summary[c][0] for c in columns}


def sensitivity_table(
    found: Mapping[Variant, pl.DataFrame], cfg: AnalysisConfig, params_hash: str
) -> pl.DataFrame:
    """The ``sensitivity`` table from each variant's ``episode_shifts`` rows."""
    primary, own = cfg.stats.primary, variants(cfg)[0]
    rows = []
    for v, shifts in found.items():
        row = variant_row(shifts, cfg)
        rows.append(
            {
                "variant": variant_label(v),
                "cleaning_method": v.cleaning_method,
                "baseline_start_min": float(v.baseline_min[0]),
                "baseline_end_min": float(v.baseline_min[1]),
                "onset_jitter_min": float(v.onset_jitter_min),
                "is_primary": v == own,
                "metric": primary.metric,
                "window": primary.window,
                "estimate": row.pop("mean_shift"),
                **row,
            }
        )
    frame = pl.DataFrame(rows, schema_overrides={"estimate": pl.Float64})
    return schema.conform(frame.with_columns(params_hash=pl.lit(params_hash)), "sensitivity")
