"""Synthetic cohorts with planted episode effects, written as inbox files (deterministic by seed)."""

from tearsignals.synth.cohort import (
    PlantedEffect,
    SubjectData,
    SynthConfig,
    generate_subject,
    recording_bounds_utc,
    spaced_episodes,
    write_cohort,
)

__all__ = [
    "PlantedEffect",
    "SubjectData",
    "SynthConfig",
    "generate_subject",
    "recording_bounds_utc",
    "spaced_episodes",
    "write_cohort",
]
