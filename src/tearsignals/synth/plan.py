"""The cohort plan: who the subjects are, when they record, and when they cry.

- One continuous recording per day, 15:00–23:30 local time in the subject's IANA zone,
  converted to UTC with :mod:`zoneinfo` (so DST days still start at 15:00 local).
- Episodes: Poisson with ``episodes_per_month`` (a month counts as 30 days), at most
  one per day, onset on a whole local minute such that ``[onset − 30 min,
  end + 100 min]`` lies inside the recording with one minute to spare, duration
  3–20 min, intensity 1–10, a short context text.
- Random streams: every draw comes from ``numpy.random.default_rng([seed, subject,
  stream, ...])`` with one of :data:`STREAM_PARAMS`, :data:`STREAM_EPISODES`,
  :data:`STREAM_DAY` (plus the day index), :data:`STREAM_EFFECT` (the subject's own
  effect), so a subject does not depend on the others.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl

from tearsignals.synth.config import SynthConfig

TIMEZONES = (
    "Europe/Berlin",
    "America/New_York",
    "Asia/Tokyo",
    "UTC",
    "Asia/Kolkata",
    "Australia/Sydney",
)
CONTEXTS = (
    "argument",
    "sad film",
    "music",
    "stress at work",
    "phone call with mother",
    "reading a novel",
    "news, war coverage",
    "missing someone",
    "wedding video",
    "tired, overwhelmed",
)
RECORDING_START = time(15, 0)
RECORDING_END = time(23, 30)
DAYS_PER_MONTH = 30.0
PRE_MARGIN_MIN = 30 + 1  # onset - 30 min must be inside the recording (+1 min spare)
POST_MARGIN_MIN = 100 + 1  # end + 100 min must be inside the recording (+1 min spare)
MIN_EPISODE_GAP_H = 4.0
STREAM_PARAMS, STREAM_EPISODES, STREAM_DAY, STREAM_EFFECT = 1, 2, 3, 4


def subject_id(subject_index: int) -> str:
    """The id of subject ``subject_index`` (0-based): ``S01``, ``S02``, ..."""
    return f"S{subject_index + 1:02d}"


def subject_tz(subject_index: int) -> str:
    """The IANA zone of subject ``subject_index`` (cycles through :data:`TIMEZONES`)."""
    return TIMEZONES[subject_index % len(TIMEZONES)]


def is_minute_hr_subject(subject_index: int, cfg: SynthConfig) -> bool:
    """Whether the subject exports only minute-level HR (no RR)."""
    every = cfg.minute_hr_every
    return every > 0 and subject_index % every == every - 1


def recording_bounds_utc(day: date, tz: str) -> tuple[datetime, datetime]:
    """UTC start and end of the recording on local ``day`` (15:00–23:30 in ``tz``)."""
    zone = ZoneInfo(tz)
    start = datetime.combine(day, RECORDING_START, tzinfo=zone).astimezone(UTC)
    end = datetime.combine(day, RECORDING_END, tzinfo=zone).astimezone(UTC)
    return start, end


def _local_minutes(t: time) -> int:
    return t.hour * 60 + t.minute


def episode_plan(subject_index: int, cfg: SynthConfig) -> pl.DataFrame:
    """The subject's episodes: ``day_index, start_utc, end_utc, intensity, context``.

    At most one per day, onset on a whole local minute inside the allowed span, and
    (by construction, re-checked by :func:`spaced_episodes`) never within
    :data:`MIN_EPISODE_GAP_H` of another episode.
    """
    rng = np.random.default_rng([cfg.seed, subject_index, STREAM_EPISODES])
    rate = cfg.episodes_per_month / DAYS_PER_MONTH * cfg.n_days
    n = min(int(rng.poisson(rate)), cfg.n_days)
    days = np.sort(rng.choice(cfg.n_days, size=n, replace=False))
    duration_min = rng.integers(3, 21, size=n)
    first = _local_minutes(RECORDING_START) + PRE_MARGIN_MIN
    last = _local_minutes(RECORDING_END) - POST_MARGIN_MIN - duration_min
    onset_min = first + np.floor(rng.random(n) * (last - first + 1)).astype(np.int64)
    intensity = rng.integers(1, 11, size=n)
    context = rng.integers(0, len(CONTEXTS), size=n)
    zone = ZoneInfo(subject_tz(subject_index))
    starts = [
        datetime.combine(cfg.start_date + timedelta(days=int(d)), time(0), tzinfo=zone)
        + timedelta(minutes=int(m))
        for d, m in zip(days, onset_min, strict=True)
    ]
    plan = pl.DataFrame(
        {
            "day_index": days.astype(np.int64),
            "start_utc": [s.astimezone(UTC) for s in starts],
            "duration_min": duration_min.astype(np.int64),
            "intensity": intensity.astype(np.int64),
            "context": [CONTEXTS[int(c)] for c in context],
        },
        schema={
            "day_index": pl.Int64,
            "start_utc": pl.Datetime("us", "UTC"),
            "duration_min": pl.Int64,
            "intensity": pl.Int64,
            "context": pl.String,
        },
    )
    plan = plan.with_columns(
        end_utc=pl.col("start_utc") + pl.duration(minutes=pl.col("duration_min"))
    )
    return spaced_episodes(plan).select("day_index", "start_utc", "end_utc", "intensity", "context")


def spaced_episodes(plan: pl.DataFrame) -> pl.DataFrame:
    """``plan`` without episodes starting within :data:`MIN_EPISODE_GAP_H` of the previous end.

    With one episode per day inside 15:31–21:49 the rule always holds; the filter keeps
    it true if the recording hours are ever widened.
    """
    gap = timedelta(hours=MIN_EPISODE_GAP_H)
    keep: list[bool] = []
    last_end: datetime | None = None
    for start, end in zip(plan["start_utc"], plan["end_utc"], strict=True):
        ok = last_end is None or start - last_end >= gap
        keep.append(ok)
        last_end = end if ok else last_end
    return plan.filter(pl.Series(keep, dtype=pl.Boolean))
