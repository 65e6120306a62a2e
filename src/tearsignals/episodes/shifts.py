"""Shifts from baseline: each window's metric minus the same episode's (or control day's) baseline."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from tearsignals.contract import schema
from tearsignals.episodes.window_metrics import SHIFT_METRICS
from tearsignals.episodes.windows import OVERLAP_REASON, SPEC_KEY, nearest_controls

SHIFT_EXCLUSIONS = (
    "another episode within window",
    "no baseline window",
    "another episode within baseline",
    "no data in window",
    "no data in baseline",
    "poor quality window",
    "poor quality baseline",
    "minute HR only in window",
    "metric undefined in window",
    "minute HR only in baseline",
    "metric undefined in baseline",
)


def _long_metrics(windows: pl.DataFrame) -> pl.DataFrame:
    """One row per window row and metric in ``SHIFT_METRICS``."""
    return windows.unpivot(
        on=list(SHIFT_METRICS),
        index=[*SPEC_KEY, "window", "basis", "quality", "reason"],
        variable_name="metric",
        value_name="value",
    )


def _exclusion(
    side: str, quality: str, reason: str, basis: str, value: str
) -> list[tuple[pl.Expr, str]]:
    """Exclusion tests for one side (window or baseline), in priority order."""
    return [
        (pl.col(quality) == "none", f"no data in {side}"),
        (pl.col(quality) == "poor", f"poor quality {side}"),
        (pl.col(value).is_null() & (pl.col(basis) == "minute_hr"), f"minute HR only in {side}"),
        (pl.col(value).is_null(), f"metric undefined in {side}"),
    ]


def _excluded_reason() -> pl.Expr:
    """First matching category of ``SHIFT_EXCLUSIONS`` for a window-vs-baseline pair."""
    flagged = pl.col("reason").fill_null("").str.contains(OVERLAP_REASON, literal=True)
    b_flagged = pl.col("b_reason").fill_null("").str.contains(OVERLAP_REASON, literal=True)
    tests = [
        (flagged, "another episode within window"),
        (pl.col("b_quality").is_null(), "no baseline window"),
        (b_flagged, "another episode within baseline"),
        *_exclusion("window", "quality", "reason", "basis", "value")[:2],
        *_exclusion("baseline", "b_quality", "b_reason", "b_basis", "baseline_value")[:2],
        *_exclusion("window", "quality", "reason", "basis", "value")[2:],
        *_exclusion("baseline", "b_quality", "b_reason", "b_basis", "baseline_value")[2:],
    ]
    expr: pl.Expr = pl.lit(None, pl.String)
    for cond, label in reversed(tests):
        expr = pl.when(cond).then(pl.lit(label)).otherwise(expr)
    return expr.alias("excluded_reason")


def shifts_vs_baseline(windows: pl.DataFrame) -> pl.DataFrame:
    """Every non-baseline window x metric with its baseline value, shift and exclusion."""
    long = _long_metrics(windows)
    on = [*SPEC_KEY, "metric"]
    base = long.filter(pl.col("window") == "baseline").select(
        *on,
        pl.col("value").alias("baseline_value"),
        pl.col("quality").alias("b_quality"),
        pl.col("reason").alias("b_reason"),
        pl.col("basis").alias("b_basis"),
    )
    paired = long.filter(pl.col("window") != "baseline").join(base, on=on, how="left")
    return paired.with_columns(_excluded_reason()).with_columns(
        shift=pl.when(pl.col("excluded_reason").is_null()).then(
            pl.col("value") - pl.col("baseline_value")
        )
    )


def episode_shifts(
    windows: pl.DataFrame,
    window_names: Sequence[str],
    params_hash: str,
    max_controls: int | None = None,
) -> pl.DataFrame:
    """The ``episode_shifts`` table from an ``episode_windows`` frame.

    For every episode, non-baseline window and metric in ``SHIFT_METRICS``: the
    shift from the episode's own baseline, the mean of the same shift over the
    control days with a usable shift *in that window* (each against that day's
    baseline; the nearest ``max_controls`` of them, all when None; a day without
    data in the window adds nothing and is not counted in ``n_controls``), and
    ``adjusted_shift = shift - control_shift_mean`` (null without a control).
    A shift is null when either window is ``none``/``poor`` or a value is
    null; ``excluded_reason`` names the first cause (``SHIFT_EXCLUSIONS``).
    Rows are in ``window_names`` order (the run's ``WindowConfig.names()``).
    """
    pairs = shifts_vs_baseline(windows)
    key = ["subject_id", "episode_id", "window", "metric"]
    k = pairs.height if max_controls is None else max_controls
    controls = (
        nearest_controls(pairs, key, "shift", k)
        .group_by(key)
        .agg(
            n_controls=pl.col("shift").count().cast(pl.Int64),
            control_shift_mean=pl.col("shift").mean(),
        )
    )
    out = (
        pairs.filter(pl.col("role") == "episode")
        .join(controls, on=key, how="left")
        .with_columns(
            n_controls=pl.col("n_controls").fill_null(0),
            adjusted_shift=pl.col("shift") - pl.col("control_shift_mean"),
            params_hash=pl.lit(params_hash),
        )
        .sort(
            "subject_id",
            "episode_id",
            pl.col("window").cast(pl.Enum(window_names)),
            pl.col("metric").cast(pl.Enum(SHIFT_METRICS)),
        )
    )
    return schema.conform(out, "episode_shifts")
