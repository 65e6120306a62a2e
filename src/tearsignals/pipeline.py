"""Steps that touch the lake: ingest inbox files, read silver, compute gold, replace per subject.

Each function here is plain Python over the pure modules (``windows``,
``analysis``, ``stats``) plus ``store`` and ``ingest``; the Prefect flows only
call them, in the order they call them: the flows in ``tearsignals_flows``
are the only orchestration (lock, tasks, retries), and the tests drive them.

Every analysis step first writes its parameters to
``LAKE/_analysis_params/<params_hash>.json`` (:func:`record_params`), so each
gold row's ``params_hash`` names a file that says what made it.

Gold tables are rebuilt per subject. A subject whose silver data changed is
marked pending (by ingest, before the file's commit) and cleared only after its
gold tables and the cohort summary were rebuilt, so a run that crashed in
between is finished by the next nightly run (:func:`subjects_to_analyse`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, time, timedelta
from importlib.metadata import version
from pathlib import Path
from typing import NamedTuple

import polars as pl
from pydantic import ValidationError

from tearsignals import plan
from tearsignals.beats.clock_offset import clock_corrected, clock_offsets
from tearsignals.beats.source_priority import beats_by_priority
from tearsignals.config import AnalysisConfig, PowerConfig, validation_summary
from tearsignals.episodes import shifts, timecourse, window_metrics, windows
from tearsignals.errors import InputError
from tearsignals.ingest import files
from tearsignals.lake import store
from tearsignals.stats import cohort_timecourse, mixed_model, power, sensitivity, summaries

GOLD_PER_SUBJECT = (
    "episode_windows",
    "episode_shifts",
    "subject_summary",
    "episode_timecourse",
    "clock_offsets",
)


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


def params_document(cfg: AnalysisConfig) -> dict[str, object]:
    """What ``_analysis_params/<params_hash>.json`` holds (see :func:`tearsignals.lake.store.read_params`)."""
    return {
        "params_hash": cfg.params_hash(),
        "parameters": cfg.hashed_parameters(),
        "window_names": list(cfg.windows.names()),
        "tearsignals_version": version("tearsignals"),
    }


def record_params(lake: Path, cfg: AnalysisConfig) -> Path:
    """Write the parameters behind ``cfg.params_hash()`` to the lake, before rows carrying it,
    and the same as an analysis plan beside them (``<params_hash>.toml``, :mod:`tearsignals.plan`)."""
    store.write_plan(lake, cfg.params_hash(), plan.plan_toml(cfg))
    return store.write_params(lake, cfg.params_hash(), params_document(cfg))


def episode_spec(
    all_episodes: pl.DataFrame,
    hours: pl.DataFrame,
    cfg: AnalysisConfig,
    window_names: Sequence[str] | None = None,
) -> pl.DataFrame:
    """The window spec of the selected episodes (``cfg.since``/``until``), narrowed to
    ``window_names`` when given; ``hours`` from :func:`windows.data_hours`."""
    chosen = _selected_episodes(all_episodes, cfg).get_column("episode_id")
    # Controls must avoid every logged episode, so the spec sees all of them.
    spec = windows.episode_windows_spec(all_episodes, cfg.windows, hours)
    spec = spec.filter(pl.col("episode_id").is_in(chosen.implode()))
    if window_names is not None:
        spec = spec.filter(pl.col("window").is_in(list(window_names)))
    return spec


class SubjectInputs(NamedTuple):
    """One subject's silver data as the analysis reads it."""

    episodes: pl.DataFrame
    beats: pl.DataFrame  # on the reference clock, after source priority
    heart_rate: pl.DataFrame  # on the reference clock
    clock_offsets: pl.DataFrame


def subject_inputs(lake: Path, subject_id: str, cfg: AnalysisConfig) -> SubjectInputs:
    """One subject's episodes, and beats and heart rate with every source's clock offset
    applied (:mod:`tearsignals.beats.clock_offset`), beats then reduced by source priority."""
    beats = store.scan_committed(lake, "beats", [subject_id]).collect()
    heart_rate = store.scan_committed(lake, "heart_rate", [subject_id]).collect()
    offsets = clock_offsets(beats, heart_rate, cfg.clock, cfg.params_hash())
    return SubjectInputs(
        store.scan_committed(lake, "episodes", [subject_id]).collect(),
        beats_by_priority(clock_corrected(beats, offsets)),
        clock_corrected(heart_rate, offsets),
        offsets,
    )


def analyze_subject(lake: Path, subject_id: str, cfg: AnalysisConfig) -> dict[str, int]:
    """Recompute one subject's gold tables and replace their partitions as a unit."""
    params = cfg.params_hash()
    record_params(lake, cfg)
    all_episodes, beats, heart_rate, offsets = subject_inputs(lake, subject_id, cfg)
    spec = episode_spec(all_episodes, windows.data_hours(beats, heart_rate), cfg)
    window_rows = window_metrics.episode_window_metrics(beats, heart_rate, spec, cfg, params)
    shift_rows = shifts.episode_shifts(
        window_rows, cfg.windows.names(), params, max_controls=cfg.windows.n_controls
    )
    summary = summaries.subject_summary(shift_rows, cfg, params)
    course = timecourse.episode_timecourse(beats, heart_rate, window_rows, cfg, params)
    outputs = {  # in GOLD_PER_SUBJECT order: clock_offsets is written last
        "episode_windows": window_rows,
        "episode_shifts": shift_rows,
        "subject_summary": summary,
        "episode_timecourse": course,
        "clock_offsets": offsets,
    }
    for table, frame in outputs.items():
        store.replace_partition(lake, table, frame, subject_id)
    return {table: frame.height for table, frame in outputs.items()}


def summarize_cohort(lake: Path, cfg: AnalysisConfig) -> pl.DataFrame:
    """Rebuild the cohort summary from every subject's shifts made with these parameters."""
    params = cfg.params_hash()
    record_params(lake, cfg)
    shift_rows = store.read_table(lake, "episode_shifts").filter(pl.col("params_hash") == params)
    cohort = summaries.cohort_summary(shift_rows, cfg, params)
    store.write_unpartitioned(lake, "cohort_summary", cohort)
    # Mixed model (episodes joined for the moderators) and the time-course average.
    episodes = store.scan_committed(lake, "episodes").collect()
    models = mixed_model.cohort_models(shift_rows, episodes, cfg, params)
    store.write_unpartitioned(lake, "cohort_model", models.cohort_model)
    store.write_unpartitioned(lake, "subject_effects", models.subject_effects)
    store.write_unpartitioned(lake, "power", power.power_table(models.cohort_model, cfg, params))
    course = store.read_table(lake, "episode_timecourse").filter(pl.col("params_hash") == params)
    averaged = cohort_timecourse.cohort_timecourse(course, params)
    store.write_unpartitioned(lake, "cohort_timecourse", averaged)
    return cohort


SENSITIVITY_MARGIN_MIN = 10.0  # beats kept around each window: far beyond any cleaning window


def subject_variant_shifts(
    inputs: tuple[pl.DataFrame, ...], cfg: AnalysisConfig, variant: sensitivity.Variant
) -> pl.DataFrame:
    """One subject's ``episode_shifts`` rows of the primary windows under ``variant``
    (``inputs``: episodes, beats and heart rate as :func:`subject_inputs` gives them)."""
    all_episodes, beats, heart_rate = inputs
    chosen = sensitivity.variant_config(cfg, variant)
    names = sensitivity.primary_windows(chosen)
    episodes = sensitivity.jittered(all_episodes, variant.onset_jitter_min)
    spec = episode_spec(episodes, windows.data_hours(beats, heart_rate), chosen, names)
    near = sensitivity.beats_near_windows(beats, spec, SENSITIVITY_MARGIN_MIN)
    rows = window_metrics.episode_window_metrics(near, heart_rate, spec, chosen, "")
    return shifts.episode_shifts(rows, names, "", max_controls=chosen.windows.n_controls)


def sensitivity_runs(lake: Path, cfg: AnalysisConfig) -> pl.DataFrame:
    """The primary analysis under every variant of ``cfg.stats.sensitivity``, written as
    the ``sensitivity`` table (:mod:`tearsignals.stats.sensitivity`)."""
    params = cfg.params_hash()
    record_params(lake, cfg)
    grid = sensitivity.variants(cfg)
    found: dict[sensitivity.Variant, list[pl.DataFrame]] = {v: [] for v in grid}
    for subject_id in select_subjects(lake, cfg.subjects):
        read = subject_inputs(lake, subject_id, cfg)
        inputs = (read.episodes, read.beats, read.heart_rate)
        for v in grid:
            found[v].append(subject_variant_shifts(inputs, cfg, v))
    table = sensitivity.sensitivity_table(
        {v: pl.concat(parts) for v, parts in found.items() if parts}, cfg, params
    )
    store.write_unpartitioned(lake, "sensitivity", table)
    return table


def read_cohort_summary(lake: Path) -> pl.DataFrame:
    return store.read_table(lake, "cohort_summary")


def read_sensitivity(lake: Path, params_hash: str) -> pl.DataFrame:
    """The ``sensitivity`` rows of one parameter set."""
    return store.read_table(lake, "sensitivity").filter(pl.col("params_hash") == params_hash)


def power_of_lake(lake: Path, params_hash: str, options: Mapping[str, object]) -> pl.DataFrame:
    """The ``power`` table of a stored analysis, its plan's ``stats.power`` updated by
    ``options``; :class:`InputError` (one line) for a bad option or no stored model."""
    cfg = AnalysisConfig.model_validate(store.read_params(lake, params_hash)["parameters"])
    try:
        chosen = PowerConfig.model_validate({**cfg.stats.power.model_dump(), **options})
    except ValidationError as err:
        raise InputError(f"invalid option {validation_summary(err)}") from None
    models = store.read_table(lake, "cohort_model").filter(pl.col("params_hash") == params_hash)
    if models.is_empty():
        raise InputError(f"lake {lake} holds no cohort model for parameters {params_hash}")
    return power.power_table(models, cfg, params_hash, chosen)


def ingest_subject_files(
    lake: Path, inbox: Path, subject_id: str, paths: Sequence[Path], key: bytes | None = None
) -> list[files.FileReport]:
    """Ingest one subject's files in order; reports of the files not committed before."""
    reports = [files.ingest_file(lake, inbox, subject_id, p, key=key) for p in paths]
    return [r for r in reports if r is not None]


def inbox_by_subject(inbox: Path) -> dict[str, list[Path]]:
    """The inbox's files grouped by subject, subjects and files in sorted order."""
    by_subject: dict[str, list[Path]] = {}
    for subject_id, path in files.inbox_files(inbox):
        by_subject.setdefault(subject_id, []).append(path)
    return by_subject


def subjects_gained(reports: Sequence[files.FileReport]) -> list[str]:
    """Subjects that gained accepted rows in ``reports``."""
    return sorted({r.subject_id for r in reports if r.rows_ok > 0})


def subjects_to_analyse(lake: Path, gained: Sequence[str]) -> list[str]:
    """Subjects with episodes whose gold tables are stale: they gained rows, or are still pending."""
    stale = set(gained) | set(store.pending_analysis(lake))
    return sorted(stale & set(store.subjects_in(lake, "episodes")))


def analysis_done(lake: Path, subjects: Sequence[str]) -> None:
    """Clear the pending marks of ``subjects``: their gold tables and the cohort are rebuilt."""
    store.clear_pending_analysis(lake, subjects)
