"""A deterministic synthetic cohort: wearable RR / minute-HR exports plus episode logs.

The generator is the ground truth for integration tests and ``tearsignals synth`` /
``make demo``: it plants a known episode effect that the pipeline must recover, and it
writes the same input formats a real inbox would hold (local-time ISO stamps with
offsets, epoch milliseconds, naive local episode logs, JSON logs).

Physiology (per subject, per day; every choice is a plausible textbook magnitude, not
a fitted model):

- One continuous recording per day, 15:00–23:30 local time in the subject's IANA zone,
  converted to UTC with :mod:`zoneinfo` (so DST days still start at 15:00 local).
- RR intervals are built beat by beat as ``rr = trend interval + gain * variability``:

  * The *slow trend* ``hr_slow``: resting HR 60–75 bpm, a day-to-day offset
    (sd 2 bpm), a linear evening decline of 2–5 bpm over the recording, and an
    Ornstein–Uhlenbeck random walk (sd 1.5 bpm, time constant 5 min). Beats are
    scheduled from it (plus the planted HR effect) by integral pulse frequency
    modulation, so the trend interval is ``60000 / (hr_slow + hr_effect)``.
  * ``variability`` (everything beat-to-beat): a Mayer-wave LF oscillation
    (0.08–0.12 Hz, 8–15 ms), respiratory sinus arrhythmia (breathing 0.22–0.28 Hz
    with a slowly wandering rate, 25–50 ms), both sampled at the scheduled beat
    times, and white jitter of the beat times (sd 2–4 ms). RMSSD comes out at
    roughly 25–45 ms.
  * Recorded beat times are ``t = start + cumsum(rr)``; they stay within a few tens
    of ms of the scheduled times (the variability sums to almost nothing), so no
    iteration is needed and ``t`` is exactly the cumulative sum of ``rr``.

- Artifacts: ectopic beats (0.3–0.5 % of beats: the premature interval is 0.6× its
  regular value and the next one is lengthened by the same amount, a full
  compensatory pause) and 1–4 dropouts per day of 5–60 s in which beats are missing.
- Episodes: Poisson with ``episodes_per_month`` (a month counts as 30 days), at most
  one per day, onset on a whole local minute such that ``[onset − 30 min,
  end + 100 min]`` lies inside the recording with one minute to spare, duration
  3–20 min, intensity 1–10, a short context text.
- Planted effect, and nothing else: during ``[onset, end)`` the slow trend is raised by
  ``hr_during_bpm``; in ``[end, end + 20 min)`` the variability is multiplied by
  ``rmssd_post_0_20_ratio``, both decided by each beat's scheduled time. Faster beats
  sample the same breathing wave more densely, so RMSSD *during* drops a little
  (about −8 % for +8 bpm) — physics of the model, not a second planted effect.
- Minute-HR subjects get the same beats internally (without artifacts) and only the
  per-minute mean of the instantaneous HR, stamped at the minute's start.

Every random draw comes from ``numpy.random.default_rng([seed, subject, stream, ...])``
with a fixed number of draws, so a subject does not depend on the others and a run
with :meth:`PlantedEffect.zero` differs from a run with an effect only through the
effect.

Examples
--------
>>> cfg = SynthConfig(n_subjects=1, n_days=2, episodes_per_month=30.0)
>>> subject = generate_subject(0, cfg)
>>> subject.subject_id, subject.tz, subject.beats is not None
('S01', 'Europe/Berlin', True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
import polars as pl
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from scipy.signal import lfilter

from tearsignals.arrays import FloatArray
from tearsignals.config import post_window_name

__all__ = [
    "PlantedEffect",
    "SubjectData",
    "SynthConfig",
    "generate_subject",
    "recording_bounds_utc",
    "subject_id",
    "subject_tz",
    "write_cohort",
]


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
POST_EFFECT_MIN = 20.0  # the planted RMSSD change spans [end, end + 20 min): post_0_20

_GRID_STEP_S = 1.0
_GRID_TAIL_S = 900.0  # trend grid runs past the recording end so no beat runs out
_MAX_BEATS_PER_S = 4  # per-beat draws sized for 240 bpm: the draw count never varies
_DROPOUT_SLOTS = 4
_STREAM_PARAMS, _STREAM_EPISODES, _STREAM_DAY = 1, 2, 3

_BEATS_SCHEMA = pl.Schema({"t_utc": pl.Datetime("us", "UTC"), "rr_ms": pl.Float64()})
_HR_SCHEMA = pl.Schema({"t_utc": pl.Datetime("us", "UTC"), "hr_bpm": pl.Float64()})
_ARTIFACT_SCHEMA = pl.Schema(
    {
        "kind": pl.String(),
        "start_utc": pl.Datetime("us", "UTC"),
        "end_utc": pl.Datetime("us", "UTC"),
    }
)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PlantedEffect(_Frozen):
    """The episode effect written into the synthetic data.

    Examples
    --------
    >>> PlantedEffect.parse("hr_during_bpm=5").hr_during_bpm
    5.0
    >>> PlantedEffect.zero().expected_shifts()[("ln_rmssd", "post_0_20")]
    0.0
    """

    hr_during_bpm: float = Field(default=8.0, ge=-30.0, le=30.0, allow_inf_nan=False)
    rmssd_post_0_20_ratio: float = Field(default=1.2, gt=0.25, le=4.0, allow_inf_nan=False)

    @classmethod
    def zero(cls) -> PlantedEffect:
        """No episode effect at all (HR +0 bpm, RMSSD ratio 1)."""
        return cls(hr_during_bpm=0.0, rmssd_post_0_20_ratio=1.0)

    @classmethod
    def parse(cls, text: str) -> PlantedEffect:
        """The effect described by CLI text ``"key=value,key=value"`` or ``"none"``.

        Keys left out keep their defaults. Raises ``ValueError`` with a one-line
        message on empty text, unknown or repeated keys, or non-numeric values.
        """
        cleaned = text.strip()
        if cleaned.lower() in {"none", "zero", "0"}:
            return cls.zero()
        allowed = ", ".join(cls.model_fields)
        values: dict[str, float] = {}
        for part in cleaned.split(","):
            key, sep, raw = (s.strip() for s in part.partition("="))
            if not sep or key not in cls.model_fields or key in values:
                raise ValueError(
                    f"bad effect {text!r}: expected 'none' or key=value pairs with keys {allowed}"
                )
            try:
                values[key] = float(raw)
            except ValueError:
                raise ValueError(
                    f"bad effect {text!r}: {key} needs a number, got {raw!r}"
                ) from None
        try:
            return cls(**values)
        except ValidationError as err:
            detail = "; ".join(f"{e['loc'][0]}: {e['msg']}" for e in err.errors())
            raise ValueError(f"bad effect {text!r}: {detail}") from None

    def expected_shifts(self) -> dict[tuple[str, str], float]:
        """Shift vs the ``baseline`` window that the pipeline should recover, by (metric, window).

        The RMSSD change is expected in the end-locked window of exactly its
        span, named as the analysis names it (``post_0_20`` for the default
        bins); an analysis whose post bins differ has no window it equals.
        """
        return {
            ("mean_hr_bpm", "during"): self.hr_during_bpm,
            ("ln_rmssd", post_window_name(0.0, POST_EFFECT_MIN)): math.log(
                self.rmssd_post_0_20_ratio
            ),
        }


class SynthConfig(_Frozen):
    """Size, seed and shape of a synthetic cohort.

    ``minute_hr_every = k`` makes subjects with index ``k-1, 2k-1, ...`` minute-HR only
    (``0`` means none).
    """

    n_subjects: int = Field(default=6, ge=1, le=500)
    n_days: int = Field(default=28, ge=1, le=3660)
    seed: int = Field(default=0, ge=0)
    effect: PlantedEffect = PlantedEffect()
    start_date: date = date(2026, 1, 5)
    minute_hr_every: int = Field(default=4, ge=0)
    episodes_per_month: float = Field(default=4.0, ge=0.0, le=60.0)


@dataclass(frozen=True, eq=False)
class SubjectData:
    """The truth for one synthetic subject (exactly what :func:`write_cohort` writes).

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


@dataclass(frozen=True)
class SubjectParams:
    """Per-subject physiology (see the module docstring for the ranges)."""

    resting_hr_bpm: float
    day_sd_bpm: float
    evening_decline_bpm: float
    ou_sd_bpm: float
    ou_tau_s: float
    rsa_amp_ms: float
    resp_hz: float
    lf_amp_ms: float
    jitter_sd_ms: float
    ectopic_rate: float


@dataclass(frozen=True)
class DaySignal:
    """One day's continuous components on a 1 s grid plus the per-beat time jitter."""

    grid_s: FloatArray
    hr_slow_bpm: FloatArray
    resp_phase_rad: FloatArray
    lf_hz: float
    lf_phase_rad: float
    jitter_ms: FloatArray


@dataclass(frozen=True)
class EffectWindow:
    """The planted effect of one day's episode in seconds since the recording start."""

    onset_s: float
    end_s: float
    hr_bpm: float
    ratio: float


@dataclass(frozen=True)
class DayBeats:
    """One day's beats in seconds since the recording start, with artifact truth."""

    t_s: FloatArray
    rr_ms: FloatArray
    ectopic_spans_s: FloatArray  # (n, 2): premature beat time, compensatory beat time
    dropout_spans_s: FloatArray  # (n, 2): gap start, gap end


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


def subject_params(subject_index: int, seed: int) -> SubjectParams:
    """Draw one subject's physiology parameters from its own random stream."""
    rng = np.random.default_rng([seed, subject_index, _STREAM_PARAMS])
    u = rng.random(8)
    return SubjectParams(
        resting_hr_bpm=60.0 + 15.0 * u[0],
        day_sd_bpm=2.0,
        evening_decline_bpm=2.0 + 3.0 * u[1],
        ou_sd_bpm=1.5,
        ou_tau_s=300.0,
        rsa_amp_ms=25.0 + 25.0 * u[2],
        resp_hz=0.22 + 0.06 * u[3],
        lf_amp_ms=8.0 + 7.0 * u[4],
        jitter_sd_ms=2.0 + 2.0 * u[5],
        ectopic_rate=0.003 + 0.002 * u[6],
    )


def _local_minutes(t: time) -> int:
    return t.hour * 60 + t.minute


def episode_plan(subject_index: int, cfg: SynthConfig) -> pl.DataFrame:
    """The subject's episodes: ``day_index, start_utc, end_utc, intensity, context``.

    At most one per day, onset on a whole local minute inside the allowed span, and
    (by construction, re-checked by :func:`spaced_episodes`) never within
    :data:`MIN_EPISODE_GAP_H` of another episode.
    """
    rng = np.random.default_rng([cfg.seed, subject_index, _STREAM_EPISODES])
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


def _ou_process(rng: np.random.Generator, n: int, sd: float, tau_s: float) -> FloatArray:
    """A stationary Ornstein–Uhlenbeck series on the 1 s grid (AR(1) via ``lfilter``)."""
    a = math.exp(-_GRID_STEP_S / tau_s)
    shocks = rng.standard_normal(n)
    x0 = sd * rng.standard_normal()
    out = lfilter([sd * math.sqrt(1.0 - a * a)], [1.0, -a], shocks, zi=[a * x0])[0]
    return np.asarray(out, dtype=np.float64)


def day_signal(rng: np.random.Generator, params: SubjectParams, duration_s: float) -> DaySignal:
    """Draw one day's slow HR trend, breathing phase, LF phase and beat-time jitter."""
    grid = np.arange(0.0, duration_s + _GRID_TAIL_S, _GRID_STEP_S)
    day_offset = params.day_sd_bpm * rng.standard_normal()
    decline = params.evening_decline_bpm * (0.5 - grid / duration_s)
    wander = _ou_process(rng, grid.size, params.ou_sd_bpm, params.ou_tau_s)
    hr_slow = params.resting_hr_bpm + day_offset + decline + wander
    resp_hz = params.resp_hz + _ou_process(rng, grid.size, 0.015, 120.0)
    resp_phase = 2.0 * np.pi * (rng.random() + np.cumsum(resp_hz) * _GRID_STEP_S)
    lf_hz = 0.08 + 0.04 * rng.random()
    lf_phase = 2.0 * np.pi * rng.random()
    max_beats = int(duration_s + _GRID_TAIL_S) * _MAX_BEATS_PER_S
    jitter = params.jitter_sd_ms * rng.standard_normal(max_beats + 1)
    return DaySignal(grid, hr_slow, resp_phase, lf_hz, lf_phase, jitter)


def hr_effect_bpm(t_s: FloatArray, effect: EffectWindow | None) -> FloatArray:
    """The planted HR increase at times ``t_s``: ``hr_bpm`` in ``[onset, end)``, else 0."""
    if effect is None:
        return np.zeros_like(t_s)
    return np.where((t_s >= effect.onset_s) & (t_s < effect.end_s), effect.hr_bpm, 0.0)


def variability_gain(t_s: FloatArray, effect: EffectWindow | None) -> FloatArray:
    """The planted variability multiplier at ``t_s``: ``ratio`` in ``[end, end + 20 min)``."""
    if effect is None:
        return np.ones_like(t_s)
    post = (t_s >= effect.end_s) & (t_s < effect.end_s + POST_EFFECT_MIN * 60.0)
    return np.where(post, effect.ratio, 1.0)


def trend_beat_times_s(signal: DaySignal, effect: EffectWindow | None) -> FloatArray:
    """Beat times (s) of the slow trend plus the HR effect, by integral pulse frequency.

    The pulse count rises at ``hr / 60`` per second, piecewise constant per grid step;
    beat ``i`` falls where it reaches ``i``. Effect bounds are whole seconds, so grid
    steps never straddle them and the raised rate covers exactly ``[onset, end)``.
    """
    hr = signal.hr_slow_bpm + hr_effect_bpm(signal.grid_s, effect)
    pulses = np.concatenate([[0.0], np.cumsum(hr / 60.0 * _GRID_STEP_S)])
    edges = np.append(signal.grid_s, signal.grid_s[-1] + _GRID_STEP_S)
    return np.interp(np.arange(1.0, np.floor(pulses[-1]) + 1.0), pulses, edges)


def variability_ms(s_t: FloatArray, signal: DaySignal, params: SubjectParams) -> FloatArray:
    """Beat-to-beat RR variability (ms) of beats scheduled at ``s_t``: RSA + LF + jitter.

    Jitter is white noise on each beat's time, so it adds ``w[i+1] - w[i]`` to an RR
    interval and never accumulates into a drift of the beat times.
    """
    rsa = params.rsa_amp_ms * np.sin(np.interp(s_t, signal.grid_s, signal.resp_phase_rad))
    lf = params.lf_amp_ms * np.sin(2.0 * np.pi * signal.lf_hz * s_t + signal.lf_phase_rad)
    jitter = np.diff(signal.jitter_ms[: s_t.size + 1])
    return rsa + lf + jitter


def model_beats(
    signal: DaySignal,
    params: SubjectParams,
    effect: EffectWindow | None,
    duration_s: float,
) -> tuple[FloatArray, FloatArray]:
    """Artifact-free beat times (s since start) and RR (ms) inside the recording.

    ``rr = trend interval + gain * variability`` with the effect decided by each beat's
    scheduled (trend) time; the recorded time ``t = cumsum(rr)`` stays within a few
    tens of ms of it, so at most one beat per effect boundary can fall on the other side.
    """
    scheduled = trend_beat_times_s(signal, effect)
    trend_rr = np.diff(scheduled, prepend=0.0) * 1000.0
    rr = trend_rr + variability_gain(scheduled, effect) * variability_ms(scheduled, signal, params)
    t = np.cumsum(rr) / 1000.0
    if t.size == 0 or t[-1] < duration_s:
        raise RuntimeError("synthetic beats ended before the recording did; widen _GRID_TAIL_S")
    inside = t < duration_s
    return t[inside], rr[inside]


def with_ectopics(
    rng: np.random.Generator, rr_ms: FloatArray, rate: float, max_beats: int
) -> tuple[FloatArray, npt.NDArray[np.int64]]:
    """RR with ectopic beats inserted, and the indices of the premature beats.

    A premature interval is 0.6× its regular value; the next interval gets the
    remainder (full compensatory pause), so every later beat keeps its time.
    """
    draws = rng.random(max_beats)  # a fixed count keeps later draws effect-independent
    candidate = draws[: rr_ms.size] < rate
    candidate[0] = candidate[-1] = False
    premature = np.flatnonzero(candidate & ~np.roll(candidate, 1))
    shortened = 0.4 * rr_ms[premature]
    out = rr_ms.copy()
    out[premature] -= shortened
    out[premature + 1] += shortened
    return out, premature


def dropout_spans_s(rng: np.random.Generator, duration_s: float) -> FloatArray:
    """1–4 gaps of 5–60 s per day, away from the first and last minutes of the recording."""
    count = int(rng.integers(1, _DROPOUT_SLOTS + 1))
    starts = 60.0 + rng.random(_DROPOUT_SLOTS) * (duration_s - 180.0)
    lengths = 5.0 + 55.0 * rng.random(_DROPOUT_SLOTS)
    return np.column_stack([starts, starts + lengths])[:count]


def day_beats(
    rng: np.random.Generator,
    params: SubjectParams,
    effect: EffectWindow | None,
    duration_s: float,
    artifacts: bool = True,
) -> DayBeats:
    """One day's recorded beats: model beats, then (if ``artifacts``) ectopics and dropouts."""
    signal = day_signal(rng, params, duration_s)
    t_s, clean_rr = model_beats(signal, params, effect, duration_s)
    if not artifacts:
        none = np.empty((0, 2), dtype=np.float64)
        return DayBeats(t_s, clean_rr, none, none)
    rr_ms, premature = with_ectopics(rng, clean_rr, params.ectopic_rate, signal.jitter_ms.size)
    t_s = np.cumsum(rr_ms) / 1000.0
    gaps = dropout_spans_s(rng, duration_s)
    in_gap = np.zeros(t_s.size, dtype=bool)
    for lo, hi in gaps:
        in_gap |= (t_s >= lo) & (t_s < hi)
    kept_premature = premature[~in_gap[premature]]
    ectopic_spans = np.column_stack([t_s[kept_premature], t_s[kept_premature + 1]])
    return DayBeats(t_s[~in_gap], rr_ms[~in_gap], ectopic_spans, gaps)


def minute_means_bpm(t_s: FloatArray, rr_ms: FloatArray, duration_s: float) -> FloatArray:
    """Mean instantaneous HR (``60000 / rr``) per whole minute of the recording, 0.1 bpm."""
    n_minutes = int(duration_s // 60)
    minute = np.floor(t_s / 60.0).astype(np.int64)
    inside = minute < n_minutes
    sums = np.bincount(minute[inside], weights=60000.0 / rr_ms[inside], minlength=n_minutes)
    counts = np.bincount(minute[inside], minlength=n_minutes)
    return np.round(sums / np.maximum(counts, 1), 1)


def _utc_series(start: datetime, offsets_s: FloatArray, name: str) -> pl.Series:
    """UTC timestamps ``start + offsets_s`` rounded to the millisecond."""
    start_us = int(start.timestamp()) * 1_000_000
    us = start_us + np.round(offsets_s * 1000.0).astype(np.int64) * 1000
    return pl.from_epoch(pl.Series(name, us), time_unit="us").dt.replace_time_zone("UTC")


def _effect_by_day(episodes: pl.DataFrame, cfg: SynthConfig, tz: str) -> dict[int, EffectWindow]:
    """Each episode day's effect window in seconds since that day's recording start."""
    out: dict[int, EffectWindow] = {}
    for row in episodes.iter_rows(named=True):
        day = cfg.start_date + timedelta(days=row["day_index"])
        start, _ = recording_bounds_utc(day, tz)
        out[row["day_index"]] = EffectWindow(
            onset_s=(row["start_utc"] - start).total_seconds(),
            end_s=(row["end_utc"] - start).total_seconds(),
            hr_bpm=cfg.effect.hr_during_bpm,
            ratio=cfg.effect.rmssd_post_0_20_ratio,
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
    params = subject_params(subject_index, cfg.seed)
    plan = episode_plan(subject_index, cfg)
    effects = _effect_by_day(plan, cfg, tz)
    minute_only = is_minute_hr_subject(subject_index, cfg)
    frames, artifacts, bounds = [], [], []
    for day_index in range(cfg.n_days):
        start, end = recording_bounds_utc(cfg.start_date + timedelta(days=day_index), tz)
        duration_s = (end - start).total_seconds()
        rng = np.random.default_rng([cfg.seed, subject_index, _STREAM_DAY, day_index])
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
