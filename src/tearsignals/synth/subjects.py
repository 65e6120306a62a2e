"""One subject's truth: the plan and the signal model, day by day, as frames in UTC.

Minute-HR subjects get the same beats internally (without artifacts) and only the
per-minute mean of the instantaneous HR, stamped at the minute's start.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import numpy as np
import polars as pl

from tearsignals.arrays import FloatArray
from tearsignals.synth.config import SynthConfig
from tearsignals.synth.physiology import (
    DayBeats,
    EffectWindow,
    day_beats,
    minute_means_bpm,
    subject_params,
)
from tearsignals.synth.plan import (
    STREAM_DAY,
    STREAM_EFFECT,
    episode_plan,
    is_minute_hr_subject,
    recording_bounds_utc,
    subject_id,
    subject_tz,
)

_BEATS_SCHEMA = pl.Schema({"t_utc": pl.Datetime("us", "UTC"), "rr_ms": pl.Float64()})
_HR_SCHEMA = pl.Schema({"t_utc": pl.Datetime("us", "UTC"), "hr_bpm": pl.Float64()})
_ARTIFACT_SCHEMA = pl.Schema(
    {
        "kind": pl.String(),
        "start_utc": pl.Datetime("us", "UTC"),
        "end_utc": pl.Datetime("us", "UTC"),
    }
)


@dataclass(frozen=True, eq=False)
class SubjectData:
    """The truth for one synthetic subject (exactly what :func:`~tearsignals.synth.files.write_cohort` writes).

    Attributes
    ----------
    subject_id, tz
        ``S01``, ``S02``, ... and the IANA zone the subject lives in.
    resting_hr_bpm
        The subject's resting HR parameter (before drifts and variability).
    beats
        ``t_utc`` (ms precision), ``rr_ms`` (0.1 ms); ``None`` for minute-HR subjects.
    heart_rate
        ``t_utc`` (minute start), ``hr_bpm`` (0.1 bpm); ``None`` for RR subjects.
    episodes
        ``start_utc, end_utc, intensity (Int64), context``; excludes the deliberately
        bad naive-time row written for subject 0.
    recordings
        ``start_utc, end_utc`` of each day's recording.
    artifacts
        ``kind, start_utc, end_utc``: ``ectopic`` (premature beat → compensatory beat)
        and ``dropout`` (span without beats). Empty for minute-HR subjects.
    """

    subject_id: str
    tz: str
    resting_hr_bpm: float
    beats: pl.DataFrame | None
    heart_rate: pl.DataFrame | None
    episodes: pl.DataFrame
    recordings: pl.DataFrame
    artifacts: pl.DataFrame


def _utc_series(start: datetime, offsets_s: FloatArray, name: str) -> pl.Series:
    """UTC timestamps ``start + offsets_s`` rounded to the millisecond."""
    start_us = int(start.timestamp()) * 1_000_000
    us = start_us + np.round(offsets_s * 1000.0).astype(np.int64) * 1000
    return pl.from_epoch(pl.Series(name, us), time_unit="us").dt.replace_time_zone("UTC")


def subject_effect(subject_index: int, cfg: SynthConfig) -> tuple[float, float]:
    """The subject's own effect: HR increase during episodes (bpm) and post RMSSD ratio.

    The population means of ``cfg.effect`` plus its between-subject SDs times two
    standard normals from the subject's :data:`STREAM_EFFECT` (always drawn, so
    an SD of 0 changes nothing else).
    """
    z = np.random.default_rng([cfg.seed, subject_index, STREAM_EFFECT]).standard_normal(2)
    effect = cfg.effect
    hr = effect.hr_during_bpm + effect.hr_during_sd_bpm * float(z[0])
    ratio = math.exp(math.log(effect.rmssd_post_0_20_ratio) + effect.ln_rmssd_ratio_sd * z[1])
    return hr, ratio


def _effect_by_day(
    episodes: pl.DataFrame, cfg: SynthConfig, tz: str, effect: tuple[float, float]
) -> dict[int, EffectWindow]:
    """Each episode day's effect window in seconds since that day's recording start."""
    out: dict[int, EffectWindow] = {}
    for row in episodes.iter_rows(named=True):
        day = cfg.start_date + timedelta(days=row["day_index"])
        start, _ = recording_bounds_utc(day, tz)
        out[row["day_index"]] = EffectWindow(
            onset_s=(row["start_utc"] - start).total_seconds(),
            end_s=(row["end_utc"] - start).total_seconds(),
            hr_bpm=effect[0],
            ratio=effect[1],
        )
    return out


def _day_frames(
    start: datetime, beats: DayBeats, duration_s: float, minute_only: bool
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """One day's signal frame (beats or minute HR) and artifact frame in UTC."""
    if minute_only:
        hr = minute_means_bpm(beats.t_s, beats.rr_ms, duration_s)
        minutes = np.arange(hr.size, dtype=np.float64) * 60.0
        frame = pl.DataFrame([_utc_series(start, minutes, "t_utc"), pl.Series("hr_bpm", hr)])
        return frame, pl.DataFrame(schema=_ARTIFACT_SCHEMA)
    frame = pl.DataFrame(
        [_utc_series(start, beats.t_s, "t_utc"), pl.Series("rr_ms", np.round(beats.rr_ms, 1))]
    )
    spans = np.vstack([beats.ectopic_spans_s, beats.dropout_spans_s])
    kinds = ["ectopic"] * len(beats.ectopic_spans_s) + ["dropout"] * len(beats.dropout_spans_s)
    artifacts = pl.DataFrame(
        [
            pl.Series("kind", kinds, dtype=pl.String),
            _utc_series(start, spans[:, 0], "start_utc"),
            _utc_series(start, spans[:, 1], "end_utc"),
        ]
    )
    return frame, artifacts


def generate_subject(subject_index: int, cfg: SynthConfig) -> SubjectData:
    """The synthetic truth for subject ``subject_index`` (pure; deterministic by seed)."""
    tz = subject_tz(subject_index)
    params = replace(subject_params(subject_index, cfg.seed), drift_bpm_per_h=cfg.drift_bpm_per_h)
    plan = episode_plan(subject_index, cfg)
    effects = _effect_by_day(plan, cfg, tz, subject_effect(subject_index, cfg))
    minute_only = is_minute_hr_subject(subject_index, cfg)
    frames, artifacts, bounds = [], [], []
    for day_index in range(cfg.n_days):
        start, end = recording_bounds_utc(cfg.start_date + timedelta(days=day_index), tz)
        duration_s = (end - start).total_seconds()
        rng = np.random.default_rng([cfg.seed, subject_index, STREAM_DAY, day_index])
        beats = day_beats(rng, params, effects.get(day_index), duration_s, not minute_only)
        frame, artifact = _day_frames(start, beats, duration_s, minute_only)
        frames.append(frame)
        artifacts.append(artifact)
        bounds.append((start, end))
    signal = pl.concat(frames)
    return SubjectData(
        subject_id=subject_id(subject_index),
        tz=tz,
        resting_hr_bpm=params.resting_hr_bpm,
        beats=None if minute_only else signal.cast(_BEATS_SCHEMA),
        heart_rate=signal.cast(_HR_SCHEMA) if minute_only else None,
        episodes=plan.drop("day_index"),
        recordings=pl.DataFrame(
            bounds,
            schema={"start_utc": _HR_SCHEMA["t_utc"], "end_utc": _HR_SCHEMA["t_utc"]},
            orient="row",
        ),
        artifacts=pl.concat(artifacts).cast(_ARTIFACT_SCHEMA),
    )
