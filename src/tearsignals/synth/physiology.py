"""The signal model: one subject's physiology and one day's beats, in seconds since the start.

Every choice is a plausible textbook magnitude, not a fitted model. RR intervals are
built beat by beat as ``rr = trend interval + gain * variability``:

* The *slow trend* ``hr_slow``: resting HR 60–75 bpm, a day-to-day offset (sd 2 bpm),
  a linear evening decline of 2–5 bpm over the recording, the cohort's circadian drift
  (``SynthConfig.drift_bpm_per_h``, 0 by default), and an Ornstein–Uhlenbeck
  random walk (sd 1.5 bpm, time constant 5 min). Beats are scheduled from it (plus the
  planted HR effect) by integral pulse frequency modulation, so the trend interval is
  ``60000 / (hr_slow + hr_effect)``.
* ``variability`` (everything beat-to-beat): a Mayer-wave LF oscillation (0.08–0.12 Hz,
  8–15 ms), respiratory sinus arrhythmia (breathing 0.22–0.28 Hz with a slowly
  wandering rate, 25–50 ms), both sampled at the scheduled beat times, and white
  jitter of the beat times (sd 2–4 ms). RMSSD comes out at roughly 25–45 ms.
* Recorded beat times are ``t = start + cumsum(rr)``; they stay within a few tens of ms
  of the scheduled times (the variability sums to almost nothing), so no iteration is
  needed and ``t`` is exactly the cumulative sum of ``rr``.

Artifacts: ectopic beats (0.3–0.5 % of beats: the premature interval is 0.6× its
regular value and the next one is lengthened by the same amount, a full compensatory
pause) and 1–4 dropouts per day of 5–60 s in which beats are missing.

Planted effect, and nothing else: during ``[onset, end)`` the slow trend is raised by
``hr_during_bpm``; in ``[end, end + 20 min)`` the variability is multiplied by
``rmssd_post_0_20_ratio``, both decided by each beat's scheduled time. Faster beats
sample the same breathing wave more densely, so RMSSD *during* drops a little (about
−8 % for +8 bpm) — physics of the model, not a second planted effect. Every draw has
a fixed count, so a run with :meth:`PlantedEffect.zero` differs from a run with an
effect only through the effect.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.signal import lfilter

from tearsignals.arrays import FloatArray
from tearsignals.synth.config import POST_EFFECT_MIN
from tearsignals.synth.plan import STREAM_PARAMS

_GRID_STEP_S = 1.0
_GRID_TAIL_S = 900.0  # trend grid runs past the recording end so no beat runs out
_MAX_BEATS_PER_S = 4  # per-beat draws sized for 240 bpm: the draw count never varies
_DROPOUT_SLOTS = 4


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
    drift_bpm_per_h: float = 0.0


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


def subject_params(subject_index: int, seed: int) -> SubjectParams:
    """Draw one subject's physiology parameters from its own random stream."""
    rng = np.random.default_rng([seed, subject_index, STREAM_PARAMS])
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
    decline += params.drift_bpm_per_h * (grid - duration_s / 2.0) / 3600.0
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
