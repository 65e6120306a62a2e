"""Analysis steps that touch the lake: read silver, compute gold, replace per subject.

Each function here is plain Python over the pure modules (``windows``,
``analysis``, ``stats``) plus ``store``; the Prefect flows only call them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import polars as pl

from tearsignals import analysis, stats, store, windows
from tearsignals.config import AnalysisConfig
from tearsignals.errors import InputError

GOLD_PER_SUBJECT = ("episode_windows", "episode_shifts", "subject_summary")


def select_subjects(lake: Path, wanted: Sequence[str] | None) -> list[str]:
    """Subjects with episodes in the lake, narrowed to ``wanted`` when given."""
    have = store.subjects_in(lake, "episodes")
    if wanted is None:
        return have
    missing = sorted(set(wanted) - set(have))
    if missing:
        raise InputError(f"no episodes in the lake for subject(s): {', '.join(missing)}")
    return [s for s in have if s in set(wanted)]


def _selected_episodes(episodes: pl.DataFrame, cfg: AnalysisConfig) -> pl.DataFrame:
    out = episodes
    if cfg.since is not None:
        since = datetime.combine(cfg.since, time(), tzinfo=UTC)
        out = out.filter(pl.col("start_utc") >= since)
    if cfg.until is not None:
        until = datetime.combine(cfg.until, time(), tzinfo=UTC) + timedelta(days=1)
        out = out.filter(pl.col("start_utc") < until)
    return out


def analyze_subject(lake: Path, subject_id: str, cfg: AnalysisConfig) -> dict[str, int]:
    """Recompute one subject's gold tables and replace their partitions as a unit."""
    params = cfg.params_hash()
    all_episodes = store.scan_committed(lake, "episodes", [subject_id]).collect()
    beats = store.scan_committed(lake, "beats", [subject_id]).collect()
    heart_rate = store.scan_committed(lake, "heart_rate", [subject_id]).collect()
    chosen = _selected_episodes(all_episodes, cfg).get_column("episode_id")
    # Controls must avoid every logged episode, so the spec sees all of them.
    hours = windows.data_hours(beats, heart_rate)
    spec = windows.episode_windows_spec(all_episodes, cfg.windows, hours)
    spec = spec.filter(pl.col("episode_id").is_in(chosen.implode()))
    window_rows = analysis.episode_window_metrics(beats, heart_rate, spec, cfg, params)
    shifts = analysis.episode_shifts(window_rows, params)
    summary = stats.subject_summary(shifts, cfg.stats, params)
    outputs = {"episode_windows": window_rows, "episode_shifts": shifts, "subject_summary": summary}
    for table, frame in outputs.items():
        store.replace_partition(lake, table, frame, subject_id)
    return {table: frame.height for table, frame in outputs.items()}


def summarize_cohort(lake: Path, cfg: AnalysisConfig) -> pl.DataFrame:
    """Rebuild the cohort summary from every subject's shifts made with these parameters."""
    params = cfg.params_hash()
    shifts = store.read_table(lake, "episode_shifts").filter(pl.col("params_hash") == params)
    cohort = stats.cohort_summary(shifts, cfg.stats, params)
    store.write_unpartitioned(lake, "cohort_summary", cohort)
    return cohort


def read_cohort_summary(lake: Path) -> pl.DataFrame:
    return store.read_table(lake, "cohort_summary")
