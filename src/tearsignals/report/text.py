"""Human-readable views of the gold tables (aggregates only, never raw samples)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import polars as pl

KEY_METRICS = ("mean_hr_bpm", "rmssd_ms", "ln_rmssd", "sdnn_ms")


def _fmt(x: float | None, digits: int = 3) -> str:
    return "—" if x is None else f"{x:+.{digits}f}"


def cohort_rows(
    cohort: pl.DataFrame,
    window_names: Sequence[str],
    planted: Mapping[tuple[str, str], float] | None = None,
    metrics: tuple[str, ...] = KEY_METRICS,
    shift_kind: str = "adjusted",
) -> pl.DataFrame:
    """The cohort summary for ``metrics`` in ``window_names`` order, with the planted effect.

    ``window_names`` is the run's ``WindowConfig.names()`` (as stored in its
    ``_analysis_params`` file); windows not among them come last.

    ``planted`` maps (metric, window) to the effect put into synthetic data;
    pairs not in it get null: the generator's physiology moves some of them
    too (e.g. faster beats during an episode lower RMSSD), so 0 is no truth.
    """
    order = {w: i for i, w in enumerate(window_names)}
    rows = cohort.filter(pl.col("metric").is_in(metrics))
    if "shift_kind" in rows.columns:  # cohort_model holds the adjusted shift only
        rows = rows.filter(pl.col("shift_kind") == shift_kind)
    rows = rows.with_columns(
        pl.col("window").replace_strict(order, default=len(order)).alias("_w"),
        pl.col("metric").replace_strict({m: i for i, m in enumerate(metrics)}).alias("_m"),
    ).sort("_m", "_w")
    if planted is None:
        return rows.drop("_w", "_m")
    truth = [planted.get((m, w)) for m, w in zip(rows["metric"], rows["window"], strict=True)]
    return (
        rows.drop("_w", "_m")
        .with_columns(
            planted=pl.Series(truth, dtype=pl.Float64),
        )
        .with_columns(
            inside_ci=(pl.col("ci_low") <= pl.col("planted"))
            & (pl.col("planted") <= pl.col("ci_high"))
        )
    )


def _q(x: float | None) -> str:
    return "—" if x is None else f"{x:.3g}"


def primary_text(cohort: pl.DataFrame) -> str:
    """The headline: the primary outcome's adjusted shift, 95% CI and family-corrected q."""
    rows = cohort.filter(pl.col("family") == "primary")
    if rows.is_empty():
        return "Primary outcome: no row in the cohort summary."
    r = rows.row(0, named=True)
    ci = f"[{_fmt(r['ci_low'])}, {_fmt(r['ci_high'])}]"
    return (
        f"Primary outcome: control-adjusted {r['metric']} shift in {r['window']}: "
        f"{_fmt(r['mean_shift'])}, 95% CI {ci}, q = {_q(r['q_value'])} "
        f"(mean of {r['n_subjects']} subject means, {r['n_episodes']} episodes; t over subjects)"
    )


def cohort_text(
    cohort: pl.DataFrame,
    window_names: Sequence[str],
    planted: Mapping[tuple[str, str], float] | None = None,
) -> str:
    """The primary outcome, then a fixed-width table of the adjusted shifts: metric,
    window, n, mean shift, 95% CI, the q-value within its family, the planted effect."""
    rows = cohort_rows(cohort, window_names, planted)
    w = max([11, *map(len, window_names)])
    header = (
        f"{'metric':<12} {'window':<{w}} {'subj':>4} {'ep':>4} {'shift':>9} {'95% CI':>21} "
        f"{'q':>7} {'family':<11}"
    )
    if planted is not None:
        header += f" {'planted':>8} {'in CI':>5}"
    lines = [primary_text(cohort), "", header, "-" * len(header)]
    for r in rows.iter_rows(named=True):
        ci = f"[{_fmt(r['ci_low'])}, {_fmt(r['ci_high'])}]"
        line = (
            f"{r['metric']:<12} {r['window']:<{w}} {r['n_subjects']:>4} {r['n_episodes']:>4} "
            f"{_fmt(r['mean_shift']):>9} {ci:>21} {_q(r['q_value']):>7} {r['family'] or '':<11}"
        )
        if planted is not None:
            inside = "" if r["inside_ci"] is None else ("yes" if r["inside_ci"] else "NO")
            truth = "" if r["planted"] is None else f"{r['planted']:+.3f}"
            line += f" {truth:>8} {inside:>5}"
        lines.append(line)
    return "\n".join(lines)


def cohort_markdown(
    cohort: pl.DataFrame, window_names: Sequence[str], report_path: Path | None = None
) -> str:
    """Markdown version for the Prefect artifact, linking the run's HTML report when given."""
    rows = cohort_rows(cohort, window_names)
    out = [
        "# Cohort shifts (control-adjusted)",
        "",
        primary_text(cohort),
        "",
        "| metric | window | subjects | episodes | mean shift | 95% CI | q | family |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows.iter_rows(named=True):
        out.append(
            f"| {r['metric']} | {r['window']} | {r['n_subjects']} | {r['n_episodes']} | "
            f"{_fmt(r['mean_shift'])} | [{_fmt(r['ci_low'])}, {_fmt(r['ci_high'])}] | "
            f"{_q(r['q_value'])} | {r['family'] or ''} |"
        )
    if report_path is not None:
        out += [
            "",
            f"Report: [{report_path.name}]({report_path.resolve().as_uri()}) (`{report_path}`)",
        ]
    return "\n".join(out) + "\n"


def sensitivity_text(table: pl.DataFrame) -> str:
    """The sensitivity runs as a fixed-width table: variant, subjects, episodes, estimate, CI."""
    if table.is_empty():
        return "Sensitivity runs: none."
    first = table.row(0, named=True)
    w = max(len(v) for v in table["variant"])
    header = f"{'variant':<{w}} {'subj':>4} {'ep':>4} {'estimate':>9} {'95% CI':>21}"
    lines = [
        f"Sensitivity of the primary outcome (control-adjusted {first['metric']} shift in "
        f"{first['window']}; * = the plan's analysis):",
        header,
        "-" * len(header),
    ]
    for r in table.iter_rows(named=True):
        ci = f"[{_fmt(r['ci_low'])}, {_fmt(r['ci_high'])}]"
        mark = "*" if r["is_primary"] else " "
        lines.append(
            f"{r['variant']:<{w}} {r['n_subjects']:>4} {r['n_episodes']:>4} "
            f"{_fmt(r['estimate']):>9} {ci:>21}{mark}"
        )
    return "\n".join(lines)


def power_text(table: pl.DataFrame) -> str:
    """The power table as text: the fitted components and effect, then subjects per design."""
    r0 = table.row(0, named=True)
    head = (
        f"Power for the control-adjusted {r0['metric']} shift in {r0['window']} "
        f"(parameters {r0['params_hash']}):"
    )
    if r0["sd_subject"] is None:
        return f"{head}\n  {r0['note']}"
    lines = [
        head,
        f"  fitted SDs: between subjects {r0['sd_subject']:.4g}, within subjects "
        f"{r0['sd_residual']:.4g} ({r0['n_subjects_fitted']} subjects, "
        f"{r0['n_episodes_fitted']} episodes)",
        f"  effect {r0['effect']:.4g} ({r0['effect_sd']:.2f} SD of one episode's shift), "
        f"two-sided alpha {r0['alpha']:g}, target power {100 * r0['target_power']:g} %",
        f"  {'episodes/subject':>16} {'subjects':>9} {'episodes':>9} {'power':>6}",
    ]
    for r in table.iter_rows(named=True):
        if r["subjects_needed"] is None:
            lines.append(f"  {r['episodes_per_subject']:>16} {r['note']}")
            continue
        lines.append(
            f"  {r['episodes_per_subject']:>16} {r['subjects_needed']:>9} "
            f"{r['episodes_needed']:>9} {r['power']:>6.3f}"
        )
    return "\n".join(lines)
