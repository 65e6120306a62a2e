"""Design matrices of the cohort models: moderators, covariates, and whether a random slope
can be estimated (``tearsignals.stats.mixed_model`` fits them).

Each design returns the rows it keeps (episodes lacking a needed value are left
out, and the note says how many), the matrix with the intercept first, the
term names and a note.

- Moderators (``StatsConfig.moderators``): ``intensity_within`` - the
  episode's intensity minus the subject's mean intensity; ``intensity_between``
  - the subject's mean intensity centred over subjects; ``context[<level>]`` -
  treatment contrasts against the most frequent context (rare ones pooled into
  ``other``, a missing one the level ``(missing)``).
- Covariates (``StatsConfig.covariates``): ``<covariate>_shift`` - the
  episode's control-adjusted shift of mean HR or breathing rate in the same
  window, *uncentred*, so the model's intercept is the outcome's shift at no
  change in HR or breathing (e.g. "RMSSD fell" beyond what "HR rose" explains).
  One pooled slope per covariate (within and between subjects alike: the
  coupling of RMSSD to the beat rate is physiological, not a trait). A
  covariate is left out of the model of its own metric.
- Random slope of ``intensity_within``: estimable when at least
  ``random_slope_min_subjects`` subjects have >= :data:`SLOPE_MIN_EPISODES`
  episodes with differing intensity (:func:`slope_subjects`).

Examples
--------
>>> f = pl.DataFrame({"subject_id": ["a", "a", "b", "b"], "intensity": [1.0, 3.0, 5.0, 5.0]})
>>> intensity_columns(f)["intensity_within"].tolist()
[-1.0, 1.0, 0.0, 0.0]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from tearsignals.arrays import FloatArray
from tearsignals.config import StatsConfig
from tearsignals.stats import summaries

SLOPE_MIN_EPISODES = 3
Design = tuple[pl.DataFrame, FloatArray, tuple[str, ...], str | None]


def covariate_column(covariate: str) -> str:
    """The column of ``covariate``'s adjusted shift in a model group's frame."""
    return f"{covariate}_shift"


def intensity_columns(frame: pl.DataFrame) -> dict[str, FloatArray]:
    """Person-mean-centred intensity and the subject's mean intensity centred over subjects
    (columns without variation are left out)."""
    centred = summaries.person_mean_centred(frame, "intensity")
    subject_means = centred.select("subject_id", "subject_mean").unique()["subject_mean"]
    between = (centred["subject_mean"] - subject_means.mean()).to_numpy()
    columns = {"intensity_within": centred["within"].to_numpy(), "intensity_between": between}
    return {k: v.astype(np.float64) for k, v in columns.items() if np.ptp(v) > 1e-12}


def context_levels(context: pl.Series, min_episodes: int) -> tuple[pl.Series, list[str]]:
    """Contexts with rare ones pooled to ``other`` and nulls as ``(missing)``;
    levels ordered most frequent first (the first is the reference), ties by name."""
    filled = context.cast(pl.String).fill_null("(missing)")
    counts = filled.value_counts(name="n")
    rare = counts.filter(pl.col("n") < min_episodes)[context.name or ""].to_list()
    pooled = filled.replace(dict.fromkeys(rare, "other"))
    ordered = pooled.value_counts(name="n").sort(["n", pooled.name], descending=[True, False])
    return pooled, ordered[pooled.name].to_list()


def _matrix(rows: pl.DataFrame, columns: dict[str, FloatArray]) -> FloatArray:
    if not rows.height:
        return np.ones((0, 1))
    return np.column_stack([np.ones(rows.height), *columns.values()])


def _complete(frame: pl.DataFrame, column: str, what: str, notes: list[str]) -> pl.DataFrame:
    """``frame`` without rows lacking ``column``, noting how many went."""
    rows = frame.filter(pl.col(column).is_not_null())
    if rows.height < frame.height:
        notes.append(f"{frame.height - rows.height} episode(s) without {what} left out")
    return rows


def moderator_design(frame: pl.DataFrame, cfg: StatsConfig) -> Design:
    """Rows, design matrix, term names and note of the moderator model."""
    notes: list[str] = []
    rows = frame
    columns: dict[str, FloatArray] = {}
    if "intensity" in cfg.moderators:
        rows = _complete(frame, "intensity", "intensity", notes)
        columns = intensity_columns(rows) if rows.height else {}
    if "context" in cfg.moderators and rows.height:
        pooled, levels = context_levels(rows["context"].alias("context"), cfg.min_context_episodes)
        for level in levels[1:]:
            columns[f"context[{level}]"] = (pooled == level).cast(pl.Float64).to_numpy()
        if len(levels) > 1:
            notes.append(f"reference context: {levels[0]}")
    return rows, _matrix(rows, columns), ("intercept", *columns), "; ".join(notes) or None


def covariate_design(frame: pl.DataFrame, metric: str, covariates: Sequence[str]) -> Design:
    """Rows, design matrix, term names and note of the covariate model of ``metric``."""
    notes: list[str] = []
    rows = frame
    chosen = [c for c in covariates if c != metric]
    for covariate in chosen:
        rows = _complete(rows, covariate_column(covariate), f"a {covariate} shift", notes)
    columns = {covariate_column(c): rows[covariate_column(c)].to_numpy() for c in chosen}
    columns = {k: v.astype(np.float64) for k, v in columns.items() if np.ptp(v) > 1e-12}
    return rows, _matrix(rows, columns), ("intercept", *columns), "; ".join(notes) or None


def slope_subjects(rows: pl.DataFrame, within: FloatArray) -> int:
    """Subjects with >= :data:`SLOPE_MIN_EPISODES` episodes whose ``within`` values differ."""
    per_subject = (
        pl.DataFrame({"subject_id": rows["subject_id"], "within": within})
        .group_by("subject_id")
        .agg(n=pl.len(), spread=pl.col("within").max() - pl.col("within").min())
    )
    usable = (per_subject["n"] >= SLOPE_MIN_EPISODES) & (per_subject["spread"] > 1e-12)
    return int(usable.sum())
