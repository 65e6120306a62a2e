"""``tearsignals status``: what a lake holds, on one screen.

:func:`read_status` reads the lake through :mod:`tearsignals.lake.store`;
:func:`status_text` formats it. Shown: whether subject ids are pseudonymised,
each subject's sources with their span and coverage, input files by status,
episodes (and how many an analysis covered), the parameter sets present
(newest first, with their report) and the last ingest.

Coverage of a source is the share of clock minutes between its first and
last sample that hold at least one sample.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import polars as pl

from tearsignals.lake import privacy, store

TIMED_TABLES = ("beats", "heart_rate", "vendor_hrv")
_MINUTE_US = 60_000_000


@dataclass(frozen=True)
class LakeStatus:
    """The frames :func:`status_text` shows."""

    pseudonymised: bool
    sources: pl.DataFrame
    files: pl.DataFrame
    episodes: pl.DataFrame
    params: pl.DataFrame
    pending: list[str]
    last_ingest_utc: datetime | None


def source_spans(rows: pl.LazyFrame) -> pl.DataFrame:
    """Per subject and source: rows, first and last ``t_utc`` and minute coverage of that span.

    >>> from datetime import datetime, UTC
    >>> t = [datetime(2026, 1, 5, 10, m, tzinfo=UTC) for m in (0, 1, 3)]
    >>> rows = pl.LazyFrame({"subject_id": ["S1"] * 3, "source": ["rr"] * 3, "t_utc": t})
    >>> source_spans(rows)["coverage"].to_list()
    [0.75]
    """
    minutes = pl.col("t_utc").dt.truncate("1m")
    span = (minutes.max() - minutes.min()).dt.total_microseconds() // _MINUTE_US + 1
    return (
        rows.group_by("subject_id", "source")
        .agg(
            n_rows=pl.len().cast(pl.Int64),
            first_utc=pl.col("t_utc").min(),
            last_utc=pl.col("t_utc").max(),
            coverage=minutes.n_unique() / span,
        )
        .sort("subject_id", "source")
        .collect()
    )


def files_by_status(log: pl.DataFrame) -> pl.DataFrame:
    """Input files per ingest status with their row accounting."""
    return (
        log.group_by("status")
        .agg(
            pl.len().cast(pl.Int64).alias("n_files"),
            pl.col(
                "rows_in", "rows_ok", "rows_quarantined", "rows_duplicate", "rows_skipped"
            ).sum(),
        )
        .sort("status")
    )


def episode_counts(episodes: pl.DataFrame, windows: pl.DataFrame) -> pl.DataFrame:
    """Per subject: episodes logged, the first and last onset, and episodes any analysis covered."""
    analysed = (
        windows.filter(pl.col("role") == "episode")
        .group_by("subject_id")
        .agg(n_analysed=pl.col("episode_id").n_unique().cast(pl.Int64))
    )
    return (
        episodes.group_by("subject_id")
        .agg(
            n_episodes=pl.len().cast(pl.Int64),
            first_utc=pl.col("start_utc").min(),
            last_utc=pl.col("start_utc").max(),
        )
        .join(analysed, on="subject_id", how="left")
        .with_columns(pl.col("n_analysed").fill_null(0))
        .sort("subject_id")
    )


def parameter_sets(lake: Path, windows: pl.DataFrame, cohort_hash: str | None) -> pl.DataFrame:
    """Parameter sets present, newest first: when written, version, windows, coverage, report."""
    covered = (
        windows.filter(pl.col("role") == "episode")
        .group_by("params_hash")
        .agg(
            n_subjects=pl.col("subject_id").n_unique().cast(pl.Int64),
            n_episodes=pl.col("episode_id").n_unique().cast(pl.Int64),
        )
    )
    rows = []
    for params_hash, written in store.params_written(lake).items():
        document = store.read_params(lake, params_hash)
        rows.append(
            {
                "params_hash": params_hash,
                "written_utc": written,
                "tearsignals_version": str(document.get("tearsignals_version", "?")),
                "windows": ", ".join(document.get("window_names", [])),
                "cohort": params_hash == cohort_hash,
                "report": str(store.report_target(lake, params_hash))
                if store.has_report(lake, params_hash)
                else None,
            }
        )
    frame = pl.DataFrame(
        rows,
        schema={
            "params_hash": pl.String,
            "written_utc": pl.Datetime("us", "UTC"),
            "tearsignals_version": pl.String,
            "windows": pl.String,
            "cohort": pl.Boolean,
            "report": pl.String,
        },
    )
    return frame.join(covered, on="params_hash", how="left", maintain_order="left").with_columns(
        pl.col("n_subjects", "n_episodes").fill_null(0)
    )


def read_status(lake: Path) -> LakeStatus:
    """Everything :func:`status_text` shows, read from ``lake``."""
    log = store.read_table(lake, "_ingest_log")
    windows = (
        store.scan_table(lake, "episode_windows")
        .select("subject_id", "episode_id", "role", "params_hash")
        .collect()
    )
    cohort = store.read_table(lake, "cohort_summary")["params_hash"].unique().to_list()
    sources = pl.concat(
        [
            source_spans(
                store.scan_committed(lake, t).select("subject_id", "source", "t_utc")
            ).with_columns(table=pl.lit(t))
            for t in TIMED_TABLES
        ]
    ).sort("subject_id", "table", "source")
    return LakeStatus(
        pseudonymised=privacy.lake_is_pseudonymised(lake),
        sources=sources,
        files=files_by_status(log),
        episodes=episode_counts(store.scan_committed(lake, "episodes").collect(), windows),
        params=parameter_sets(lake, windows, cohort[0] if len(cohort) == 1 else None),
        pending=store.pending_analysis(lake),
        last_ingest_utc=log["ingested_at"].max() if log.height else None,  # type: ignore[arg-type]
    )


def _when(t: datetime | None) -> str:
    return "—" if t is None else t.strftime("%Y-%m-%d %H:%M")


def _sources_lines(sources: pl.DataFrame) -> list[str]:
    head = f"  {'subject':<10} {'table':<10} {'source':<16} {'rows':>11}  {'first (UTC)':<16}  {'last (UTC)':<16}  coverage"
    lines = [head]
    for r in sources.iter_rows(named=True):
        lines.append(
            f"  {r['subject_id']:<10} {r['table']:<10} {r['source']:<16} {r['n_rows']:>11,}  "
            f"{_when(r['first_utc']):<16}  {_when(r['last_utc']):<16}  {100 * r['coverage']:5.1f} %"
        )
    return lines


def _files_line(files: pl.DataFrame) -> str:
    parts = [
        f"{r['status']} {r['n_files']} (rows in {r['rows_in']:,} = ok {r['rows_ok']:,} "
        f"+ quarantined {r['rows_quarantined']:,} + duplicate {r['rows_duplicate']:,} "
        f"+ skipped {r['rows_skipped']:,})"
        for r in files.iter_rows(named=True)
    ]
    return f"files: {int(files['n_files'].sum())}: " + ("; ".join(parts) or "none")


def _episodes_line(episodes: pl.DataFrame) -> str:
    per_subject = ", ".join(
        f"{r['subject_id']} {r['n_episodes']}" for r in episodes.iter_rows(named=True)
    )
    total = int(episodes["n_episodes"].sum())
    analysed = int(episodes["n_analysed"].sum())
    return f"episodes: {total} logged, {analysed} analysed" + (
        f" ({per_subject})" if per_subject else ""
    )


def _params_lines(params: pl.DataFrame) -> list[str]:
    lines = [f"parameter sets: {params.height} (newest first)"]
    for r in params.iter_rows(named=True):
        tag = "  [cohort tables]" if r["cohort"] else ""
        lines.append(
            f"  {r['params_hash']}  written {_when(r['written_utc'])} UTC  tearsignals "
            f"{r['tearsignals_version']}  {r['n_subjects']} subjects, {r['n_episodes']} episodes{tag}"
        )
        lines.append(f"    windows: {r['windows']}")
        lines.append(f"    report:  {r['report'] or '(none written)'}")
    return lines


def status_text(lake: Path, status: LakeStatus) -> str:
    """The status screen of ``lake``."""
    n_subjects = status.sources["subject_id"].n_unique()
    lines = [
        f"lake: {lake}",
        f"subject ids: {'pseudonymised' if status.pseudonymised else 'as in the inbox'}",
        f"subjects: {n_subjects}   pending analysis: {', '.join(status.pending) or 'none'}",
        *_sources_lines(status.sources),
        _files_line(status.files),
        _episodes_line(status.episodes),
        *_params_lines(status.params),
        f"last ingest: {_when(status.last_ingest_utc)} UTC",
    ]
    return "\n".join(lines)
