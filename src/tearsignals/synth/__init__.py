"""A deterministic synthetic cohort: wearable RR / minute-HR exports plus episode logs.

The generator is the ground truth for integration tests and ``tearsignals synth`` /
``make demo``: it plants a known episode effect that the pipeline must recover, and it
writes the same input formats a real inbox would hold (local-time ISO stamps with
offsets, epoch milliseconds, naive local episode logs, JSON logs).

Modules: ``config`` (:class:`SynthConfig`, :class:`PlantedEffect`), ``plan`` (subjects,
recording hours, episodes, random streams), ``physiology`` (the signal model of one
day), ``subjects`` (one subject's truth as UTC frames), ``files`` (the inbox files).
Every random draw has its own stream and a fixed count (``plan``, ``physiology``).

Examples
--------
>>> cfg = SynthConfig(n_subjects=1, n_days=2, episodes_per_month=30.0)
>>> subject = generate_subject(0, cfg)
>>> subject.subject_id, subject.tz, subject.beats is not None
('S01', 'Europe/Berlin', True)
"""

from tearsignals.synth.config import POST_EFFECT_MIN, PlantedEffect, SynthConfig
from tearsignals.synth.files import write_cohort
from tearsignals.synth.plan import recording_bounds_utc, spaced_episodes, subject_id, subject_tz
from tearsignals.synth.subjects import SubjectData, generate_subject

__all__ = [
    "POST_EFFECT_MIN",
    "PlantedEffect",
    "SubjectData",
    "SynthConfig",
    "generate_subject",
    "recording_bounds_utc",
    "spaced_episodes",
    "subject_id",
    "subject_tz",
    "write_cohort",
]
