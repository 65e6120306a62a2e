"""Synthetic cohorts with planted episode effects, written as inbox files (deterministic by seed)."""

from tearsignals.synth.cohort import (
    POST_EFFECT_MIN,
    PlantedEffect,
    SubjectData,
    SynthConfig,
    generate_subject,
    recording_bounds_utc,
    spaced_episodes,
    write_cohort,
)

__all__ = [
    "POST_EFFECT_MIN",
    "PlantedEffect",
    "SubjectData",
    "SynthConfig",
    "generate_subject",
    "recording_bounds_utc",
    "spaced_episodes",
    "write_cohort",
]
