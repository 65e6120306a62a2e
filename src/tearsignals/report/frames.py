"""What the report draws, as frames: pure functions over the lake's tables.

Each function takes gold or silver rows (already narrowed to one parameter
set) and returns the small frame one figure or table of the report shows;
:mod:`tearsignals.report.figures` draws them, :mod:`tearsignals.report.document`
reads the lake and puts them on the page.

Definitions:

- **Control band** (:func:`control_bands`): for each window locked to one
  anchor (``baseline`` excluded: it is the reference), the matched control
  days' shift of each episode (``episode_shifts.control_shift_mean``), averaged
  per subject, then the mean of subject means with a 95% t-interval over
  subjects - the same recipe as ``cohort_timecourse``, so the band and the
  episode curve ("change" from baseline) are on one scale.
- **Data yield** (:func:`daily_data_hours`): per subject and UTC day, the
  clock minutes holding at least one beat or heart-rate sample, in hours.
- **Quality ledger** (:func:`quality_ledger`, :func:`correction_ledger`):
  windows counted by grade and reason, and the beats the cleaning corrected
  per window name (windows overlap - ``acute`` lies inside ``during`` - so the
  rows are not added up).
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from tearsignals.config import WindowSpan
from tearsignals.episodes.window_metrics import LEDGER_COUNTS
from tearsignals.stats.cohort_timecourse import t_interval

ADJUSTED = "adjusted"
COHORT_LABEL = "cohort"
HOUR_MINUTES = 60.0


def anchored_spans(spans: Sequence[WindowSpan]) -> pl.DataFrame:
    """Windows whose bounds share one anchor, but ``baseline``: name, anchor, start and end (min).

    >>> from tearsignals.config import WindowConfig
    >>> anchored_spans(WindowConfig().spans())["window"].to_list()
    ['pre', 'acute', 'post_0_20', 'post_20_60', 'post_60_90']
    """
    rows = [
        (s.name, s.start_anchor, s.start_min, s.end_min)
        for s in spans
        if s.start_anchor == s.end_anchor and s.name != "baseline"
    ]
    return pl.DataFrame(
        rows,
        schema={
            "window": pl.String,
            "anchor": pl.String,
            "start_min": pl.Float64,
            "end_min": pl.Float64,
        },
        orient="row",
    )


def control_bands(shifts: pl.DataFrame, spans: Sequence[WindowSpan]) -> pl.DataFrame:
    """Matched-control shift per anchored window and metric: mean of subject means, 95% t-interval.

    Columns: ``anchor``, ``window``, ``start_min``, ``end_min``, ``metric``,
    ``n_subjects``, ``mean_value``, ``ci_low``, ``ci_high``.
    """
    per_subject = (
        shifts.filter(pl.col("control_shift_mean").is_not_null())
        .group_by("subject_id", "window", "metric")
        .agg(subject_mean=pl.col("control_shift_mean").mean())
    )
    cohort = (
        per_subject.group_by("window", "metric")
        .agg(
            n_subjects=pl.len().cast(pl.Int64),
            mean_value=pl.col("subject_mean").mean(),
            sd=pl.col("subject_mean").std(ddof=1),
        )
        .join(anchored_spans(spans), on="window", how="inner")
        .sort("metric", "anchor", "start_min")
    )
    lo, hi = t_interval(cohort["mean_value"], cohort["sd"], cohort["n_subjects"])
    return cohort.with_columns(ci_low=lo, ci_high=hi).select(
        "anchor", "window", "start_min", "end_min", "metric", "n_subjects",
        "mean_value", "ci_low", "ci_high",
    )  # fmt: skip


def forest_rows(
    subject_summary: pl.DataFrame,
    cohort_summary: pl.DataFrame,
    metrics: Sequence[str],
    window_names: Sequence[str],
) -> pl.DataFrame:
    """The control-adjusted shift per subject and for the cohort, for each metric x window.

    Columns: ``metric``, ``window``, ``label`` (subject id or ``cohort``),
    ``is_cohort``, ``n_episodes``, ``mean_shift``, ``ci_low``, ``ci_high``;
    the cohort row last in each group. Subjects without a usable episode in a
    window have no row there.
    """
    columns = ["metric", "window", "n_episodes", "mean_shift", "ci_low", "ci_high"]
    chosen = pl.col("metric").is_in(list(metrics)) & pl.col("window").is_in(list(window_names))
    usable = (pl.col("shift_kind") == ADJUSTED) & (pl.col("n_episodes") > 0) & chosen
    subjects = subject_summary.filter(usable).select(
        *columns, label=pl.col("subject_id"), is_cohort=pl.lit(False)
    )
    cohort = cohort_summary.filter(usable).select(
        *columns, label=pl.lit(COHORT_LABEL), is_cohort=pl.lit(True)
    )
    return pl.concat([subjects, cohort]).sort("metric", "window", "is_cohort", "label")


def daily_data_hours(times: pl.LazyFrame) -> pl.DataFrame:
    """Hours with data per subject and UTC day, from ``subject_id``/``t_utc`` rows of any source.

    An hour here is 60 clock minutes that hold at least one sample.

    >>> from datetime import datetime, UTC
    >>> t = [datetime(2026, 1, 5, 10, m, s, tzinfo=UTC) for m in (0, 0, 1) for s in (1,)]
    >>> rows = pl.LazyFrame({"subject_id": ["S1"] * 3, "t_utc": t})
    >>> daily_data_hours(rows)["hours"].to_list() == [2 / 60]
    True
    """
    return (
        times.select("subject_id", minute=pl.col("t_utc").dt.truncate("1m"))
        .unique()
        .group_by("subject_id", day=pl.col("minute").dt.date())
        .agg(hours=pl.len() / HOUR_MINUTES)
        .sort("subject_id", "day")
        .collect()
    )


def episode_days(episodes: pl.DataFrame) -> pl.DataFrame:
    """Episodes per subject and UTC day of onset: ``subject_id``, ``day``, ``n_episodes``."""
    return (
        episodes.group_by("subject_id", day=pl.col("start_utc").dt.date())
        .agg(n_episodes=pl.len().cast(pl.Int64))
        .sort("subject_id", "day")
    )


def quality_ledger(windows: pl.DataFrame) -> pl.DataFrame:
    """Windows by grade and reason: ``quality``, ``reason`` and a count per role.

    Grades run good, fair, poor, none; a null reason reads "(none)".
    """
    grades = {g: i for i, g in enumerate(("good", "fair", "poor", "none"))}
    counts = windows.group_by("quality", "reason", "role").agg(n=pl.len().cast(pl.Int64))
    wide = counts.pivot(on="role", index=["quality", "reason"], values="n").fill_null(0)
    for role in ("episode", "control"):
        if role not in wide.columns:
            wide = wide.with_columns(pl.lit(0, pl.Int64).alias(role))
    return (
        wide.with_columns(
            reason=pl.col("reason").fill_null("(none)"),
            _grade=pl.col("quality").replace_strict(grades, default=len(grades)),
        )
        .sort("_grade", pl.col("episode") + pl.col("control"), descending=[False, True])
        .select("quality", "reason", "episode", "control")
    )


def correction_ledger(windows: pl.DataFrame, window_names: Sequence[str]) -> pl.DataFrame:
    """Beats the cleaning corrected, per window name (episode and control windows on RR).

    Columns: ``window``, ``n_windows``, ``n_beats``, one sum per Lipponen class
    (``n_ectopic``, ``n_missed``, ``n_extra``, ``n_long_short``; null under the
    median rule, which rejects without classifying) and ``pct_corrected`` =
    100 x (sum of the classes) / ``n_beats``.
    """
    order = {w: i for i, w in enumerate(window_names)}
    classes = list(LEDGER_COUNTS)
    rr = windows.filter(pl.col("basis") == "rr")
    return (
        rr.group_by("window")
        .agg(
            pl.len().cast(pl.Int64).alias("n_windows"),
            pl.col("n_beats").sum(),
            *[pl.col(c).sum() for c in classes],
            pl.col(classes[0]).is_null().all().alias("_all_null"),
        )
        .with_columns(
            [pl.when(~pl.col("_all_null")).then(pl.col(c)).alias(c) for c in classes],
        )
        .with_columns(
            pct_corrected=pl.when(pl.col("n_beats") > 0).then(
                100.0 * pl.sum_horizontal(classes) / pl.col("n_beats")
            )
        )
        .with_columns(_w=pl.col("window").replace_strict(order, default=len(order)))
        .sort("_w")
        .drop("_w", "_all_null")
    )
