"""The report's figures: matplotlib, drawn headless, returned as self-contained SVG text.

Figures are built on :class:`matplotlib.figure.Figure` directly (no pyplot, no
display, no global figure registry), text is drawn as paths (no font needed
where the page is read), dense point clouds are rasterised inside the SVG,
and the SVG carries no date and fixed element ids, so the same frames give
the same bytes.

Inputs are the frames of :mod:`tearsignals.report.frames` and the gold
tables; nothing here reads the lake.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from typing import ParamSpec

import matplotlib
import numpy as np
import polars as pl
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.typing import RcKeyType

from tearsignals.config import WindowSpan

P = ParamSpec("P")

EPISODE_COLOUR = "#b2182b"
CONTROL_COLOUR = "#4d4d4d"
SUBJECT_COLOUR = "#2166ac"
WINDOW_COLOURS = ("#fde0c5", "#d9ead3", "#cfe2f3", "#fff2cc", "#ead1dc", "#d0e0e3")
BASELINE_COLOUR = "#e6e6e6"
METRIC_LABELS = {
    "mean_hr_bpm": "HR (bpm)",
    "ln_rmssd": "ln RMSSD (ln ms)",
    "rmssd_ms": "RMSSD (ms)",
    "sdnn_ms": "SDNN (ms)",
}
_RC: dict[RcKeyType, object] = {
    "svg.hashsalt": "tearsignals",
    "svg.fonttype": "path",
    "font.size": 9,
    "axes.titlesize": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
}


def metric_label(metric: str) -> str:
    """A metric's name with its unit, as axes show it.

    >>> metric_label("mean_hr_bpm"), metric_label("pnn50_pct")
    ('HR (bpm)', 'pnn50_pct')
    """
    return METRIC_LABELS.get(metric, metric)


def _styled(draw: Callable[P, str]) -> Callable[P, str]:
    """Run a drawing function under the report's matplotlib style (restored after)."""

    @functools.wraps(draw)
    def styled(*args: P.args, **kwargs: P.kwargs) -> str:
        with matplotlib.rc_context(_RC):
            return draw(*args, **kwargs)

    return styled


def svg_text(fig: Figure) -> str:
    """The figure as SVG text without a date (with the report style: fixed ids, same bytes)."""
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None}, bbox_inches="tight")
    return buffer.getvalue()


def _figure(width_in: float, height_in: float) -> Figure:
    return Figure(figsize=(width_in, height_in), layout="constrained")


def window_colours(spans: Sequence[WindowSpan]) -> dict[str, str]:
    """One fill colour per window name (baseline grey, the others from a fixed cycle)."""
    others = [s.name for s in spans if s.name != "baseline"]
    colours = {name: WINDOW_COLOURS[i % len(WINDOW_COLOURS)] for i, name in enumerate(others)}
    return {"baseline": BASELINE_COLOUR, **colours}


def _shade_windows(ax: Axes, spans: Sequence[WindowSpan], anchor: str, offset_min: float) -> None:
    """Shade the windows locked to ``anchor``, shifted by ``offset_min``, with their names."""
    colours = window_colours(spans)
    for span in spans:
        if span.start_anchor != anchor or span.end_anchor != anchor:
            continue
        lo, hi = span.start_min + offset_min, span.end_min + offset_min
        ax.axvspan(lo, hi, color=colours[span.name], alpha=0.8, lw=0, zorder=0)
        ax.text(
            (lo + hi) / 2, 0.98, span.name, transform=ax.get_xaxis_transform(),
            rotation=90, ha="center", va="top", fontsize=6.5, color="#555555",
        )  # fmt: skip


@_styled
def event_locked_svg(
    course: pl.DataFrame,
    controls: pl.DataFrame,
    spans: Sequence[WindowSpan],
    metrics: Sequence[str],
) -> str:
    """Cohort change from baseline around onset and end, one row per metric.

    ``course`` holds ``cohort_timecourse`` rows (``measure == "change"`` is
    drawn: mean of subject means, descriptive, without an interval); ``controls`` the
    matched control days' shift per window (:func:`tearsignals.report.frames.control_bands`),
    drawn as a grey band over each window's span; the windows are shaded.
    """
    anchors = ("onset", "end")
    fig = _figure(11.0, 2.9 * len(metrics) + 0.4)
    axes = fig.subplots(len(metrics), 2, sharey="row", squeeze=False)
    change = course.filter(pl.col("measure") == "change")
    for row, metric in enumerate(metrics):
        for col, anchor in enumerate(anchors):
            ax = axes[row][col]
            _shade_windows(ax, spans, anchor, 0.0)
            ax.axhline(0.0, color="#999999", lw=0.6)
            ax.axvline(0.0, color="black", lw=0.8, ls=":")
            band = controls.filter((pl.col("metric") == metric) & (pl.col("anchor") == anchor))
            for i, c in enumerate(band.iter_rows(named=True)):
                if c["ci_low"] is not None:
                    ax.fill_between(
                        [c["start_min"], c["end_min"]], c["ci_low"], c["ci_high"],
                        color=CONTROL_COLOUR, alpha=0.25, lw=0,
                        label="matched control days, 95% CI" if i == 0 else None,
                    )  # fmt: skip
                ax.plot(
                    [c["start_min"], c["end_min"]], [c["mean_value"]] * 2, color=CONTROL_COLOUR,
                    lw=1.6, label="matched control days (per window)" if i == 0 else None,
                )  # fmt: skip
            curve = change.filter((pl.col("metric") == metric) & (pl.col("anchor") == anchor)).sort(
                "bin_start_min"
            )
            mid = ((curve["bin_start_min"] + curve["bin_end_min"]) / 2).to_numpy()
            ax.plot(mid, curve["mean_value"].to_numpy(), color=EPISODE_COLOUR, lw=1.4,
                    label="episodes: mean of subject means")  # fmt: skip
            ax.set_title(f"{metric_label(metric)}: change from baseline, around {anchor}")
            if row == len(metrics) - 1:
                ax.set_xlabel(f"minutes from episode {anchor}")
            if col == 0:
                ax.set_ylabel(f"Δ {metric_label(metric)}")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=4, fontsize=8, frameon=False)
    return svg_text(fig)


@_styled
def forest_svg(rows: pl.DataFrame, metrics: Sequence[str], windows: Sequence[str]) -> str:
    """Control-adjusted shift per subject (dots, 95% CI) and cohort (diamond), n episodes at right.

    One row of panels per metric (x shared along it), one panel per window.
    """
    labels = sorted(rows.filter(~pl.col("is_cohort"))["label"].unique().to_list())
    ypos = {label: i for i, label in enumerate(labels)}
    cohort_y = len(labels) + 0.6
    height = max(1.6, 0.24 * (len(labels) + 2)) + 0.7
    fig = _figure(max(6.0, 1.9 * len(windows)), height * len(metrics))
    axes = fig.subplots(len(metrics), len(windows), sharey=True, sharex="row", squeeze=False)
    for r, metric in enumerate(metrics):
        for c, window in enumerate(windows):
            ax = axes[r][c]
            cell = rows.filter((pl.col("metric") == metric) & (pl.col("window") == window))
            ax.axvline(0.0, color="#999999", lw=0.7, ls="--")
            for p in cell.iter_rows(named=True):
                y = cohort_y if p["is_cohort"] else ypos[p["label"]]
                colour = EPISODE_COLOUR if p["is_cohort"] else SUBJECT_COLOUR
                if p["ci_low"] is not None:
                    ax.plot([p["ci_low"], p["ci_high"]], [y, y], color=colour,
                            lw=2.2 if p["is_cohort"] else 1.0)  # fmt: skip
                ax.plot(p["mean_shift"], y, marker="D" if p["is_cohort"] else "o", color=colour,
                        ms=6 if p["is_cohort"] else 3.5)  # fmt: skip
                ax.text(1.0, y, f"{p['n_episodes']}", transform=ax.get_yaxis_transform(),
                        ha="right", va="center", fontsize=6.5, color="#555555")  # fmt: skip
            ax.set_title(window)
            ax.set_xlabel(f"Δ {metric_label(metric)}", fontsize=8)
            ax.tick_params(labelsize=7)
    axes[0][0].set_yticks([*ypos.values(), cohort_y], [*labels, "cohort"])
    axes[0][0].set_ylim(cohort_y + 0.8, -0.8)
    return svg_text(fig)


@_styled
def yield_svg(hours: pl.DataFrame, episode_days: pl.DataFrame) -> str:
    """Subjects x UTC days coloured by hours with data; a dot per day with episodes (count if > 1)."""
    subjects = sorted(set(hours["subject_id"]) | set(episode_days["subject_id"]))
    days = [*hours["day"], *episode_days["day"]]
    first, last = min(days), max(days)
    n_days = (last - first).days + 1
    grid = np.zeros((len(subjects), n_days))
    row_of = {s: i for i, s in enumerate(subjects)}
    for s, d, h in hours.iter_rows():
        grid[row_of[s], (d - first).days] = h
    fig = _figure(min(12.0, 2.5 + 0.22 * n_days), 1.2 + 0.32 * len(subjects))
    ax = fig.subplots()
    image = ax.imshow(grid, aspect="auto", cmap="viridis", vmin=0.0, vmax=24.0,
                      interpolation="nearest")  # fmt: skip
    for s, d, n in episode_days.iter_rows():
        x, y = (d - first).days, row_of[s]
        ax.plot(x, y, "o", ms=7, mfc="white", mec="black", mew=0.8)
        if n > 1:
            ax.text(x, y, str(n), ha="center", va="center", fontsize=5.5)
    ax.set_yticks(range(len(subjects)), subjects)
    ticks = list(range(0, n_days, max(1, n_days // 12)))
    ax.set_xticks(ticks, [_day_label(first + timedelta(days=t)) for t in ticks], fontsize=7)
    ax.set_xlabel("UTC day (dots: days with episodes, number = episodes that day)")
    fig.colorbar(image, ax=ax, label="hours with data", shrink=0.9)
    return svg_text(fig)


def _day_label(day: date) -> str:
    return day.strftime("%d %b")


@_styled
def tachogram_svg(
    series: pl.DataFrame,
    windows: pl.DataFrame,
    spans: Sequence[WindowSpan],
    value: str,
) -> str:
    """One episode and its control days: the RR (or HR) series with each day's windows shaded.

    ``series`` holds ``day`` (a row label), ``minutes`` (from that day's
    onset) and ``value``; ``windows`` holds the same ``day`` with each
    window's ``window``, ``start_min``, ``end_min`` and ``quality``. Windows
    graded poor or none are hatched.
    """
    colours = window_colours(spans)
    days = windows["day"].unique(maintain_order=True).to_list()
    fig = _figure(11.0, 1.7 * len(days) + 0.6)
    axes = fig.subplots(len(days), 1, sharex=True, sharey=True, squeeze=False)
    for ax, day in zip(axes[:, 0], days, strict=True):
        # "during" first and lighter: the onset-locked windows and acute lie inside it.
        own = windows.filter(pl.col("day") == day).sort(pl.col("window") != "during")
        for w in own.iter_rows(named=True):
            during = w["window"] == "during"
            bad = w["quality"] in ("poor", "none")
            ax.axvspan(w["start_min"], w["end_min"], facecolor=colours.get(w["window"], "#eeeeee"),
                       edgecolor="#555555", alpha=0.35 if during else 0.8, lw=0, zorder=0,
                       hatch="///" if bad else None)  # fmt: skip
            ax.text((w["start_min"] + w["end_min"]) / 2, 0.03 if during else 0.97, w["window"],
                    transform=ax.get_xaxis_transform(), rotation=0 if during else 90,
                    ha="center", va="bottom" if during else "top", fontsize=6)  # fmt: skip
        points = series.filter(pl.col("day") == day)
        ax.plot(points["minutes"].to_numpy(), points[value].to_numpy(), ".", ms=1.2,
                color=EPISODE_COLOUR if day == days[0] else CONTROL_COLOUR,
                rasterized=True)  # fmt: skip
        ax.axvline(0.0, color="black", lw=0.8, ls=":")
        ax.set_ylabel(value, fontsize=7)
        ax.set_title(day, loc="left", fontsize=8)
    axes[-1][0].set_xlabel("minutes from onset (hatched: window graded poor or none)")
    return svg_text(fig)
