"""The HTML report of one parameter set: read the lake, draw the figures, assemble one page.

:func:`read_inputs` (and :func:`read_episode` for an episode's panel) is the
only part that reads, through :mod:`tearsignals.lake.store`;
:func:`report_sections` and :func:`episode_section` are pure; :func:`write_report`
writes the page to ``LAKE/reports/<params_hash>/`` (:func:`tearsignals.lake.store.report_target`).

Sections: the cohort's event-locked curves against matched control days, a
forest plot of the control-adjusted shift, the cohort table, the mixed model,
data yield, the quality ledger, every other cohort-level gold table the lake
holds for the parameter set (e.g. sensitivity runs or power, when an analysis
wrote them; absent otherwise), methods and parameters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from tearsignals.beats.source_priority import beats_by_priority
from tearsignals.contract import schema
from tearsignals.episodes.window_metrics import SHIFT_METRICS
from tearsignals.errors import InputError
from tearsignals.lake import privacy, store
from tearsignals.report import figures, frames, html, methods
from tearsignals.report.html import Section, p_value, plain, signed
from tearsignals.report.text import cohort_rows

HEADLINE_METRICS = ("mean_hr_bpm", "ln_rmssd")
DRAWN_TABLES = ("cohort_summary", "cohort_model", "cohort_timecourse")
MAX_TABLE_ROWS = 200
_SHIFT_FORMATS: dict[str, html.Formatter] = {
    "mean_shift": signed,
    "median_shift": signed,
    "ci_low": signed,
    "ci_high": signed,
    "estimate": signed,
    "p_value": p_value,
    "q_value": p_value,
    "effect_size": signed,
}


@dataclass(frozen=True)
class ReportInputs:
    """The lake's rows behind one report, narrowed to one ``params_hash``."""

    document: dict[str, Any]
    cohort_summary: pl.DataFrame
    subject_summary: pl.DataFrame
    cohort_model: pl.DataFrame
    cohort_timecourse: pl.DataFrame
    episode_shifts: pl.DataFrame
    episode_windows: pl.DataFrame
    episodes: pl.DataFrame
    data_hours: pl.DataFrame
    other_tables: dict[str, tuple[str, pl.DataFrame]]
    """Further cohort tables to show: name -> (description, rows)."""


@dataclass(frozen=True)
class EpisodeInputs:
    """One episode's windows (its own and its control days') and the beats or HR around them."""

    episode_id: str
    windows: pl.DataFrame
    shifts: pl.DataFrame
    series: pl.DataFrame
    value: str


def other_cohort_tables() -> list[str]:
    """Unpartitioned gold tables the report shows as tables when they hold rows."""
    return [
        t
        for t in schema.TABLE_NAMES
        if schema.table(t).layer == "gold"
        and not schema.table(t).partition_by
        and t not in DRAWN_TABLES
    ]


def _of_params(frame: pl.DataFrame, params_hash: str) -> pl.DataFrame:
    if "params_hash" not in frame.columns:
        return frame
    return frame.filter(pl.col("params_hash") == params_hash)


def latest_params_hash(lake: Path) -> str:
    """The parameter set of the lake's cohort tables (the last cohort summary written)."""
    hashes = store.read_table(lake, "cohort_summary")["params_hash"].unique().sort().to_list()
    if not hashes:
        raise InputError(f"lake {lake} holds no analysis yet: run `tearsignals analyze` first")
    return str(hashes[-1])


def read_inputs(lake: Path, params_hash: str) -> ReportInputs:
    """Every table the cohort report draws, for ``params_hash``."""
    document = store.read_params(lake, params_hash)
    gold = {
        t: _of_params(store.read_table(lake, t), params_hash)
        for t in (*DRAWN_TABLES, "subject_summary", "episode_shifts", "episode_windows")
    }
    if gold["episode_windows"].is_empty():
        raise InputError(f"lake {lake} holds no analysed episodes for parameters {params_hash}")
    analysed = gold["episode_windows"]["episode_id"].unique().implode()
    episodes = store.scan_committed(lake, "episodes").collect()
    times = pl.concat(
        [
            store.scan_committed(lake, table).select("subject_id", "t_utc")
            for table in ("beats", "heart_rate")
        ]
    )
    return ReportInputs(
        document=document,
        **gold,
        episodes=episodes.filter(pl.col("episode_id").is_in(analysed)),
        data_hours=frames.daily_data_hours(times),
        other_tables={
            t: (schema.table(t).description, _of_params(store.read_table(lake, t), params_hash))
            for t in other_cohort_tables()
        },
    )


def _timecourse_section(inputs: ReportInputs, spans: Sequence[Any]) -> Section:
    course = inputs.cohort_timecourse
    metrics = [m for m in SHIFT_METRICS if m in set(course["metric"])]
    if not metrics:
        return Section("timecourse", "Event-locked time course", html.paragraph("No time course."))
    controls = frames.control_bands(inputs.episode_shifts, spans)
    during = inputs.episode_windows.filter(
        (pl.col("role") == "episode") & (pl.col("window") == "during")
    )
    minutes = (during["window_end_utc"] - during["window_start_utc"]).dt.total_seconds() / 60
    median, shortest, longest = (float(x) for x in (minutes.median(), minutes.min(), minutes.max()))  # type: ignore[arg-type]
    caption = (
        "Change from each episode's baseline window, mean of subject means per bin (red; "
        "descriptive, the time-of-day drift included), against the same change on matched "
        "control days per window (grey band: 95% t-interval over subjects). The "
        "control-adjusted change per bin and its 95% CI are in cohort_timecourse (measure "
        "adjusted). Shaded: the analysis windows; dotted: onset or end. Episodes last a "
        f"median {median:.0f} min (range {shortest:.0f}-{longest:.0f})."
    )
    svg = figures.event_locked_svg(course, controls, spans, metrics)
    return Section(
        "timecourse", "Event-locked time course", html.figure_html("event-locked", svg, caption)
    )


def _forest_section(inputs: ReportInputs, window_names: Sequence[str]) -> Section:
    windows = list(window_names[1:])
    metrics = [m for m in HEADLINE_METRICS if m in set(inputs.cohort_summary["metric"])]
    rows = frames.forest_rows(inputs.subject_summary, inputs.cohort_summary, metrics, windows)
    caption = (
        "Control-adjusted shift (window minus baseline, minus the same on matched control days) "
        "per subject (blue: mean over the subject's episodes, 95% t-interval over them) and "
        "for the cohort (red diamond: mean of subject means, 95% t-interval over subjects); the "
        "number at the right of each row is its episode count."
    )
    svg = figures.forest_svg(rows, metrics, windows)
    return Section("forest", "Control-adjusted shifts", html.figure_html("forest", svg, caption))


def _cohort_table_section(inputs: ReportInputs, window_names: Sequence[str]) -> Section:
    metrics = tuple(m for m in SHIFT_METRICS if m in set(inputs.cohort_summary["metric"]))
    rows = cohort_rows(inputs.cohort_summary, window_names, metrics=metrics).select(
        "metric", "window", "n_subjects", "n_episodes", "n_excluded", "mean_shift",
        "median_shift", "ci_low", "ci_high", "p_value", "q_value", "family", "effect_size",
        "excluded_reasons",
    )  # fmt: skip
    model = cohort_rows(inputs.cohort_model, window_names, metrics=metrics).filter(
        (pl.col("model") == "base") & (pl.col("term") == "intercept")
    )
    model = model.select(
        "metric", "window", "n_subjects", "n_episodes", "estimate", "ci_low", "ci_high",
        "p_value", "q_value", "method",
    )  # fmt: skip
    body = (
        html.paragraph(
            "Cohort summary of the control-adjusted shift (the estimand): mean of subject means, "
            "95% t-interval, p-value and Cohen's dz over subject means, q-value within the "
            "row's family of the analysis plan."
        )
        + html.table_html("cohort_summary", rows, _SHIFT_FORMATS)
        + "<h3>Mixed model (random intercept per subject): average control-adjusted shift</h3>"
        + html.table_html("cohort_model", model, _SHIFT_FORMATS)
    )
    return Section("cohort", "Cohort table", body)


def _yield_section(inputs: ReportInputs) -> Section:
    marks = frames.episode_days(inputs.episodes)
    if inputs.data_hours.is_empty() and marks.is_empty():
        return Section("yield", "Data yield", html.paragraph("No data in the lake."))
    svg = figures.yield_svg(inputs.data_hours, marks)
    caption = (
        "Hours with data (clock minutes holding at least one beat or heart-rate sample) per "
        "subject and UTC day; dots mark days with analysed episodes."
    )
    totals = inputs.data_hours.group_by("subject_id").agg(
        days_with_data=pl.len().cast(pl.Int64), hours=pl.col("hours").sum()
    )
    counts = marks.group_by("subject_id").agg(episodes=pl.col("n_episodes").sum())
    table = totals.join(counts, on="subject_id", how="full", coalesce=True).sort("subject_id")
    table = table.with_columns(pl.col("episodes").fill_null(0), pl.col("hours").round(1))
    body = html.figure_html("yield", svg, caption) + html.table_html("yield", table)
    return Section("yield", "Data yield", body)


def _quality_section(inputs: ReportInputs, window_names: Sequence[str]) -> Section:
    ledger = frames.quality_ledger(inputs.episode_windows)
    corrections = frames.correction_ledger(inputs.episode_windows, window_names)
    body = (
        "<h3>Windows by grade and reason (episode and matched control windows)</h3>"
        + html.table_html("quality", ledger)
        + "<h3>Beats corrected by the cleaning, per window (RR windows)</h3>"
        + html.table_html("corrections", corrections, {"pct_corrected": plain})
    )
    return Section("quality", "Quality ledger", body)


def other_table_sections(inputs: ReportInputs) -> list[Section]:
    """One section per further cohort table that holds rows (none for an empty table)."""
    sections = []
    for name, (description, frame) in inputs.other_tables.items():
        if frame.is_empty():
            continue
        shown = frame.drop("params_hash", strict=False).head(MAX_TABLE_ROWS)
        note = (
            f" (first {MAX_TABLE_ROWS} of {frame.height} rows)"
            if frame.height > shown.height
            else ""
        )
        body = html.paragraph(description + note) + html.table_html(name, shown, _SHIFT_FORMATS)
        sections.append(Section(name, name.replace("_", " ").capitalize(), body))
    return sections


def _methods_section(inputs: ReportInputs) -> Section:
    windows = inputs.episode_windows
    cohort = methods.Cohort(
        n_subjects=windows["subject_id"].n_unique(),
        n_episodes=windows.filter(pl.col("role") == "episode")["episode_id"].n_unique(),
        n_control_days=windows.filter(pl.col("role") == "control")
        .select("episode_id", "control_day_offset")
        .n_unique(),
    )
    rows = methods.parameter_rows(inputs.document["parameters"])
    params = pl.DataFrame(rows, schema={"parameter": pl.String, "value": pl.String}, orient="row")
    body = (
        html.paragraph(methods.methods_text(inputs.document, cohort), "methods")
        + "<h3>Parameters</h3>"
        + html.table_html("parameters", params)
    )
    return Section("methods", "Methods and parameters", body)


def report_sections(inputs: ReportInputs) -> list[Section]:
    """The cohort sections of the page, in reading order."""
    cfg = methods.analysis_config(inputs.document)
    spans = cfg.windows.spans()
    names = cfg.windows.names()
    return [
        _timecourse_section(inputs, spans),
        _forest_section(inputs, names),
        _yield_section(inputs),
        _quality_section(inputs, names),
        _cohort_table_section(inputs, names),
        *other_table_sections(inputs),
        _methods_section(inputs),
    ]


def _day_labels(windows: pl.DataFrame) -> pl.DataFrame:
    """Per (role, control day): a row label, the onset (the ``during`` start) and the span read."""
    days = windows.group_by("role", "control_day_offset").agg(
        onset_utc=pl.col("window_start_utc").filter(pl.col("window") == "during").first(),
        first_utc=pl.col("window_start_utc").min(),
        last_utc=pl.col("window_end_utc").max(),
    )
    label = (
        pl.when(pl.col("role") == "episode")
        .then(pl.lit("episode, ") + pl.col("onset_utc").dt.strftime("%Y-%m-%d %H:%M UTC"))
        .otherwise(
            pl.lit("control day ")
            + pl.col("control_day_offset").cast(pl.String)
            + pl.lit(" d, ")
            + pl.col("onset_utc").dt.strftime("%Y-%m-%d")
        )
    )
    ordered = days.with_columns(day=label).sort(
        pl.col("role") != "episode", pl.col("control_day_offset").abs(), "control_day_offset"
    )
    return ordered.with_row_index("day_order")


def read_episode(lake: Path, inputs: ReportInputs, episode_id: str) -> EpisodeInputs:
    """One analysed episode's windows, shifts and the beats (else HR samples) around them."""
    windows = inputs.episode_windows.filter(pl.col("episode_id") == episode_id)
    if windows.is_empty():
        raise InputError(
            f"no analysed episode {episode_id[:40]!r} for parameters {inputs.document['params_hash']}"
        )
    subject = windows["subject_id"][0]
    days = _day_labels(windows)
    in_span = pl.any_horizontal(
        pl.col("t_utc").is_between(lo, hi, closed="left")
        for lo, hi in days.select("first_utc", "last_utc").iter_rows()
    )
    beats = beats_by_priority(
        store.scan_committed(lake, "beats", [subject]).filter(in_span).collect()
    )
    source, value = (beats, "rr_ms") if not beats.is_empty() else (
        store.scan_committed(lake, "heart_rate", [subject]).filter(in_span).collect(),
        "hr_bpm",
    )  # fmt: skip
    series = pl.concat(
        [
            source.filter(pl.col("t_utc").is_between(lo, hi, closed="left")).select(
                day=pl.lit(label),
                minutes=(pl.col("t_utc") - onset).dt.total_microseconds() / 60e6,
                **{value: pl.col(value)},
            )
            for label, onset, lo, hi in days.select(
                "day", "onset_utc", "first_utc", "last_utc"
            ).iter_rows()
        ]
    )
    labelled = windows.join(
        days.select("role", "control_day_offset", "day", "day_order", "onset_utc"),
        on=["role", "control_day_offset"],
    ).sort("day_order", "window_start_utc")
    shifts = inputs.episode_shifts.filter(
        (pl.col("episode_id") == episode_id) & pl.col("metric").is_in(HEADLINE_METRICS)
    )
    return EpisodeInputs(episode_id, labelled, shifts, series, value)


def episode_section(episode: EpisodeInputs, inputs: ReportInputs) -> Section:
    """The panel of one episode: its tachogram with its and its control days' windows, tables."""
    cfg = methods.analysis_config(inputs.document)
    spans = episode.windows.with_columns(
        start_min=(pl.col("window_start_utc") - pl.col("onset_utc")).dt.total_microseconds() / 60e6,
        end_min=(pl.col("window_end_utc") - pl.col("onset_utc")).dt.total_microseconds() / 60e6,
    )
    svg = figures.tachogram_svg(episode.series, spans, cfg.windows.spans(), episode.value)
    what = "RR intervals (ms)" if episode.value == "rr_ms" else "heart-rate samples (bpm)"
    caption = (
        f"Episode {episode.episode_id} and its matched control days: {what} around the onset, "
        "each day's analysis windows shaded at the same clock time."
    )
    table = spans.select(
        "day", "window", "quality", "reason", "n_beats", "coverage", "pct_corrected",
        "mean_hr_bpm", "rmssd_ms", "ln_rmssd",
    )  # fmt: skip
    order = {w: i for i, w in enumerate(cfg.windows.names())}
    shifts = episode.shifts.sort("metric", pl.col("window").replace_strict(order)).select(
        "metric", "window", "value", "baseline_value", "shift", "n_controls",
        "control_shift_mean", "adjusted_shift", "excluded_reason",
    )  # fmt: skip
    body = (
        html.figure_html("episode", svg, caption)
        + "<h3>Windows</h3>"
        + html.table_html("episode_windows", table)
        + "<h3>Shifts</h3>"
        + html.table_html("episode_shifts", shifts)
    )
    return Section("episode", f"Episode {episode.episode_id}", body)


def report_html(lake: Path, params_hash: str, episode_id: str | None = None) -> str:
    """The whole page for ``params_hash`` (with one episode's panel first, when asked for)."""
    inputs = read_inputs(lake, params_hash)
    sections = report_sections(inputs)
    if episode_id is not None:
        sections.insert(0, episode_section(read_episode(lake, inputs, episode_id), inputs))
    windows = inputs.episode_windows
    lead = (
        f"{windows['subject_id'].n_unique()} subjects, "
        f"{windows.filter(pl.col('role') == 'episode')['episode_id'].n_unique()} episodes, "
        f"parameters {params_hash}, tearsignals {inputs.document.get('tearsignals_version')}."
    )
    return html.page_html("tearsignals report", lead, sections)


def write_report(lake: Path, params_hash: str, episode_id: str | None = None) -> Path:
    """Write the report of ``params_hash`` into the lake; the path written.

    Errors other than bad input or I/O are re-raised without their message
    (:func:`tearsignals.lake.privacy.withheld_errors`): it may quote data.
    """
    with privacy.withheld_errors("report"):
        page = report_html(lake, params_hash, episode_id)
        return store.write_report(lake, params_hash, page, episode_id)
