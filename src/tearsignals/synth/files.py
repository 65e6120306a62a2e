"""Writing the cohort as inbox files: RR or minute-HR CSVs and episode logs (CSV or JSON).

The files use the formats a real inbox holds: local-time ISO stamps with offsets,
epoch milliseconds, naive local episode logs with a ``tz`` column, JSON logs, and
one deliberately bad naive-time row for the quarantine demo.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import polars as pl

from tearsignals.synth.config import SynthConfig
from tearsignals.synth.plan import CONTEXTS
from tearsignals.synth.subjects import SubjectData, generate_subject


def _local_iso(column: str, tz: str) -> pl.Expr:
    """ISO 8601 local time with offset and milliseconds, e.g. ``2026-01-05T15:00:00.812+01:00``."""
    return pl.col(column).dt.convert_time_zone(tz).dt.strftime("%Y-%m-%dT%H:%M:%S%.3f%:z")


def write_signal(subject_dir: Path, subject: SubjectData, epoch_ms: bool) -> Path:
    """Write the subject's RR file (local ISO or epoch-ms stamps) or minute-HR file."""
    if subject.beats is not None:
        path = subject_dir / f"rr_{subject.subject_id}.csv"
        stamp = (
            pl.col("t_utc").dt.epoch("ms").alias("timestamp_ms")
            if epoch_ms
            else _local_iso("t_utc", subject.tz).alias("timestamp")
        )
        frame = subject.beats.select(stamp, "rr_ms")
    elif subject.heart_rate is not None:
        path = subject_dir / f"hr_{subject.subject_id}.csv"
        frame = subject.heart_rate.select(
            _local_iso("t_utc", subject.tz).alias("timestamp"), "hr_bpm"
        )
    else:
        raise ValueError(f"{subject.subject_id}: neither beats nor heart_rate")
    frame.write_csv(path, float_precision=1, quote_style="necessary")
    return path


def _local_wall(column: str, tz: str) -> pl.Expr:
    """Local wall time without offset, minute precision, e.g. ``2026-01-07 19:42``."""
    return pl.col(column).dt.convert_time_zone(tz).dt.strftime("%Y-%m-%d %H:%M")


def naive_episode_row(subject: SubjectData, cfg: SynthConfig) -> pl.DataFrame:
    """One episode-log row with a naive local start and no tz, for the quarantine demo.

    It goes on the first day without an episode (or the first day), 20:15–20:25.
    """
    episode_days = set(subject.episodes["start_utc"].dt.convert_time_zone(subject.tz).dt.date())
    days = [cfg.start_date + timedelta(days=d) for d in range(cfg.n_days)]
    day = next((d for d in days if d not in episode_days), days[0])
    return pl.DataFrame(
        {
            "start": [f"{day.isoformat()} 20:15"],
            "end": [f"{day.isoformat()} 20:25"],
            "tz": [None],
            "intensity": [5],
            "context": [CONTEXTS[1]],
        },
        schema_overrides={"tz": pl.String},
    )


def episodes_csv_frame(subject: SubjectData) -> pl.DataFrame:
    """Episode log rows ``start,end,tz,intensity,context`` with naive local wall times."""
    return subject.episodes.select(
        _local_wall("start_utc", subject.tz).alias("start"),
        _local_wall("end_utc", subject.tz).alias("end"),
        pl.lit(subject.tz).alias("tz"),
        "intensity",
        "context",
    )


def episodes_json_frame(subject: SubjectData) -> pl.DataFrame:
    """Episode log rows ``start`` (ISO with offset), ``duration_min``, ``intensity``, ``context``."""
    minutes = (pl.col("end_utc") - pl.col("start_utc")).dt.total_minutes()
    return subject.episodes.select(
        pl.col("start_utc")
        .dt.convert_time_zone(subject.tz)
        .dt.strftime("%Y-%m-%dT%H:%M:%S%:z")
        .alias("start"),
        minutes.cast(pl.Int64).alias("duration_min"),
        "intensity",
        "context",
    )


def write_episodes(subject_dir: Path, subject: SubjectData, index: int, cfg: SynthConfig) -> Path:
    """Write the episode log: CSV for even subject indices, JSON for odd ones."""
    if index % 2 == 1:
        path = subject_dir / "episodes.json"
        episodes_json_frame(subject).write_json(path)
        return path
    frame = episodes_csv_frame(subject)
    if index == 0:
        frame = pl.concat([frame, naive_episode_row(subject, cfg)], how="vertical_relaxed")
    path = subject_dir / "episodes.csv"
    frame.write_csv(path, quote_style="necessary")
    return path


def write_cohort(outdir: Path, cfg: SynthConfig) -> list[SubjectData]:
    """Write every subject's input files under ``outdir/<subject_id>/`` and return the truth.

    Files: ``rr_<id>.csv`` (``timestamp,rr_ms`` local ISO with offset; subject index 1
    ``timestamp_ms,rr_ms`` epoch ms) or ``hr_<id>.csv`` (``timestamp,hr_bpm``), and
    ``episodes.csv`` (even indices) or ``episodes.json`` (odd indices). Existing files
    of the same names are overwritten; nothing else in ``outdir`` is touched.
    """
    subjects = []
    for index in range(cfg.n_subjects):
        subject = generate_subject(index, cfg)
        subject_dir = outdir / subject.subject_id
        subject_dir.mkdir(parents=True, exist_ok=True)
        write_signal(subject_dir, subject, epoch_ms=index == 1)
        write_episodes(subject_dir, subject, index, cfg)
        subjects.append(subject)
    return subjects
