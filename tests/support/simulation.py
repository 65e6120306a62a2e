"""Simulation studies of the cohort inference: coverage with few heterogeneous subjects, and
false positives in a null cohort with circadian drift.

Synthetic cohorts (``tearsignals.synth``) are generated in memory and run through the
analysis functions the pipeline calls (window spec, window metrics, shifts, time course,
``cohort_summary``, ``cohort_model``, ``cohort_timecourse``) - no files, no Prefect.
``tests/integration/test_simulation.py`` asserts on these studies and
``bench/validation_report.py`` prints them into ``docs/validation.md``.

To keep a cohort to a second or two, LF/HF is off (``min_clean_s`` beyond any window) and
the model has no moderators; cleaning, windows, controls and quality are the defaults.

Studies:

- :func:`coverage_study` - 4 subjects whose true effects differ
  (:data:`HETEROGENEOUS`: HR during +8 bpm with a between-subject SD of 2 bpm; post RMSSD
  x1.2 with an SD of 0.10 in ln units); the plan's primary outcome is the planted
  ln RMSSD in ``post_0_20``. Truths, for adjusted shifts: the population effect in the two
  planted rows, 0 for both metrics in ``pre``, ``post_20_60`` and ``post_60_90``.
- :func:`null_study` - 8 subjects, no effect, a circadian drift of
  :data:`DRIFT_BPM_PER_H` on top of each subject's evening decline, the default plan:
  every adjusted row and every control-adjusted time-course bin has truth 0, while raw
  shifts and raw changes inherit the drift.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import polars as pl
from scipy import stats as sps

from tearsignals import pipeline
from tearsignals.config import (
    AnalysisConfig,
    FrequencyConfig,
    Outcome,
    SensitivityConfig,
    StatsConfig,
)
from tearsignals.episodes import shifts, timecourse, window_metrics, windows
from tearsignals.stats import cohort_timecourse, mixed_model, sensitivity, summaries
from tearsignals.synth import PlantedEffect, SynthConfig, generate_subject

HETEROGENEOUS = PlantedEffect(hr_during_sd_bpm=2.0, ln_rmssd_ratio_sd=0.10)
DRIFT_BPM_PER_H = 1.5
FAST = FrequencyConfig(min_clean_s=1e9)
COVERAGE_PLAN = AnalysisConfig(
    frequency=FAST,
    stats=StatsConfig(moderators=(), primary=Outcome(metric="ln_rmssd", window="post_0_20")),
)
NULL_PLAN = AnalysisConfig(frequency=FAST, stats=StatsConfig(moderators=()))
ZERO_WINDOWS = ("pre", "post_20_60", "post_60_90")
_BEATS = {"subject_id": pl.String, "t_utc": pl.Datetime("us", "UTC"), "rr_ms": pl.Float64}
_HR = {"subject_id": pl.String, "t_utc": pl.Datetime("us", "UTC"), "hr_bpm": pl.Float64}
_KEYS = ["metric", "window"]


@dataclass(frozen=True)
class Cohort:
    beats: pl.DataFrame
    heart_rate: pl.DataFrame
    episodes: pl.DataFrame


def synthetic_cohort(cfg: SynthConfig) -> Cohort:
    """A cohort generated in memory, in the canonical column names the analysis reads."""
    beats, heart_rate, episodes = [], [], []
    for index in range(cfg.n_subjects):
        s = generate_subject(index, cfg)
        sid = pl.lit(s.subject_id)
        if s.beats is not None:
            beats.append(s.beats.select(subject_id=sid, t_utc="t_utc", rr_ms="rr_ms"))
        if s.heart_rate is not None:
            heart_rate.append(s.heart_rate.select(subject_id=sid, t_utc="t_utc", hr_bpm="hr_bpm"))
        episodes.append(
            s.episodes.with_row_index("k").select(
                subject_id=sid,
                episode_id=pl.format("{}-{}", sid, "k"),
                start_utc="start_utc",
                end_utc="end_utc",
                tz=pl.lit(s.tz),
                intensity="intensity",
                context="context",
            )
        )
    return Cohort(
        beats=pl.concat(beats) if beats else pl.DataFrame(schema=_BEATS),
        heart_rate=pl.concat(heart_rate) if heart_rate else pl.DataFrame(schema=_HR),
        episodes=pl.concat(episodes),
    )


def jitter_cohort() -> Cohort:
    """4 subjects x 10 days with HR +8 bpm during every episode (RMSSD unchanged)."""
    effect = PlantedEffect(hr_during_bpm=8.0, rmssd_post_0_20_ratio=1.0)
    return synthetic_cohort(
        SynthConfig(
            n_subjects=4,
            n_days=10,
            seed=3,
            effect=effect,
            episodes_per_month=20.0,
            minute_hr_every=0,
        )
    )


def null_drift_cohort(seed: int = 1001, n_subjects: int = 6) -> Cohort:
    """A cohort without any episode effect, with the circadian drift of :func:`null_rows`."""
    return synthetic_cohort(
        SynthConfig(
            n_subjects=n_subjects,
            n_days=10,
            seed=seed,
            effect=PlantedEffect.zero(),
            episodes_per_month=20.0,
            minute_hr_every=0,
            drift_bpm_per_h=DRIFT_BPM_PER_H,
        )
    )


# Sensitivity of the planted HR-during effect to the onset jitter alone: a log moved by d
# minutes covers |d| minutes outside the episode instead of inside it.
JITTER_PLAN = AnalysisConfig(
    frequency=FAST,
    stats=StatsConfig(
        moderators=(),
        primary=Outcome(metric="mean_hr_bpm", window="during"),
        sensitivity=SensitivityConfig(
            cleaning_methods=(), baselines_min=(), onset_jitter_min=(-5.0, -2.0, 2.0)
        ),
    ),
)


def simulated_power(
    effect: float, sd_subject: float, sd_residual: float, n: int, m: int, reps: int, seed: int
) -> float:
    """Share of ``reps`` simulated cohorts (``n`` subjects x ``m`` episodes, shifts
    ``effect + u_i + e_ij``) whose primary test - the t-test over subject means, as
    ``cohort_summary`` computes it (``summaries.mean_inference``) - rejects at 0.05."""
    rng = np.random.default_rng(seed)
    shifts = (
        effect + rng.normal(0, sd_subject, (reps, n, 1)) + rng.normal(0, sd_residual, (reps, n, m))
    )
    means = shifts.mean(axis=2)
    groups = pl.DataFrame(
        {
            "shift_kind": "adjusted",
            "n": np.full(reps, n),
            "mean_shift": means.mean(axis=1),
            "sd": means.std(axis=1, ddof=1),
        }
    )
    return float((summaries.mean_inference(groups)["p_value"] < 0.05).mean())


def cohort_sensitivity(cohort: Cohort, cfg: AnalysisConfig) -> pl.DataFrame:
    """The ``sensitivity`` table of the cohort: each subject's shifts under each variant
    (``pipeline.subject_variant_shifts``, as ``pipeline.sensitivity_runs`` computes them)."""
    found: dict[sensitivity.Variant, list[pl.DataFrame]] = {
        v: [] for v in sensitivity.variants(cfg)
    }
    for (subject_id,), episodes in cohort.episodes.partition_by("subject_id", as_dict=True).items():
        inputs = (
            episodes,
            cohort.beats.filter(pl.col("subject_id") == subject_id),
            cohort.heart_rate.filter(pl.col("subject_id") == subject_id),
        )
        for v, parts in found.items():
            parts.append(pipeline.subject_variant_shifts(inputs, cfg, v))
    return sensitivity.sensitivity_table(
        {v: pl.concat(parts) for v, parts in found.items()}, cfg, "sim"
    )


def cohort_windows(cohort: Cohort, cfg: AnalysisConfig) -> pl.DataFrame:
    """The ``episode_windows`` rows of the cohort (episodes and their control days)."""
    hours = windows.data_hours(cohort.beats, cohort.heart_rate)
    spec = windows.episode_windows_spec(cohort.episodes, cfg.windows, hours)
    return window_metrics.episode_window_metrics(cohort.beats, cohort.heart_rate, spec, cfg, "sim")


def cohort_shifts(cohort: Cohort, cfg: AnalysisConfig) -> pl.DataFrame:
    """The ``episode_shifts`` rows of the cohort."""
    return shifts.episode_shifts(cohort_windows(cohort, cfg), cfg.windows.names(), "sim")


def timecourse_bins(cohort: Cohort, window_rows: pl.DataFrame, cfg: AnalysisConfig) -> pl.DataFrame:
    """Per anchor, bin and metric: the reported 95% CI of the control-adjusted change
    (``cohort_timecourse``) beside the same t-interval over subject means of the raw change
    (``cohort_timecourse`` gives the raw change none: the contrast)."""
    course = timecourse.episode_timecourse(cohort.beats, cohort.heart_rate, window_rows, cfg, "sim")
    key = ["anchor", "bin_start_min", "metric"]
    cohort_rows = cohort_timecourse.cohort_timecourse(course, "sim")
    adjusted = cohort_rows.filter(pl.col("measure") == "adjusted").select(*key, "ci_low", "ci_high")
    raw = cohort_rows.filter(pl.col("measure") == "change")
    per_subject = cohort_timecourse.subject_timecourse(course).filter(pl.col("measure") == "change")
    sd = per_subject.group_by(key).agg(sd=pl.col("subject_mean").std(ddof=1))
    raw = raw.join(sd, on=key, how="left", maintain_order="left")
    lo, hi = cohort_timecourse.t_interval(raw["mean_value"], raw["sd"], raw["n_subjects"])
    raw = raw.select(*key, raw_low=lo, raw_high=hi)
    return adjusted.join(raw, on=key, how="left")


def truths(effect: PlantedEffect) -> pl.DataFrame:
    """``metric, window, truth``: the adjusted rows with a known population shift."""
    planted = effect.expected_shifts()
    zeros = {(m, w): 0.0 for m, _ in planted for w in ZERO_WINDOWS}
    rows = [(m, w, v) for (m, w), v in {**zeros, **planted}.items()]
    return pl.DataFrame(rows, schema=["metric", "window", "truth"], orient="row")


def _covers(lo: str, hi: str) -> pl.Expr:
    return ((pl.col(lo) <= pl.col("truth")) & (pl.col("truth") <= pl.col(hi))).fill_null(False)


def pooled_t_interval(frame: pl.DataFrame) -> pl.DataFrame:
    """Per metric x window: a naive t-interval over all episodes pooled (the episode as the
    unit, ignoring who they belong to) - the contrast to the subject-level interval."""
    stats = frame.group_by(_KEYS).agg(
        n=pl.col("adjusted_shift").count(),
        m=pl.col("adjusted_shift").mean(),
        s=pl.col("adjusted_shift").std(ddof=1),
    )
    lo, hi, _ = summaries.t_inference(
        stats["m"].to_numpy(),
        (stats["s"] / stats["n"].cast(pl.Float64).sqrt()).to_numpy(),
        (stats["n"] - 1).cast(pl.Float64).to_numpy(),
    )
    return stats.select(_KEYS).with_columns(pooled_low=pl.Series(lo), pooled_high=pl.Series(hi))


def coverage_rows(seed: int, n_subjects: int = 4, n_days: int = 14) -> pl.DataFrame:
    """One heterogeneous cohort: each truth row with the reported CI (``cohort_summary``),
    the model's intercept CI (``cohort_model``) and the episode-pooled CI."""
    synth = SynthConfig(
        n_subjects=n_subjects,
        n_days=n_days,
        seed=seed,
        effect=HETEROGENEOUS,
        episodes_per_month=20.0,
        minute_hr_every=0,
    )
    found = cohort_shifts(synthetic_cohort(synth), COVERAGE_PLAN)
    summary = summaries.cohort_summary(found, COVERAGE_PLAN, "sim").filter(
        pl.col("shift_kind") == "adjusted"
    )
    model = mixed_model.cohort_models(found, None, COVERAGE_PLAN, "sim").cohort_model.filter(
        (pl.col("model") == "base") & (pl.col("term") == "intercept")
    )
    return (
        truths(HETEROGENEOUS)
        .join(summary.select(*_KEYS, "family", "n_subjects", "ci_low", "ci_high"), on=_KEYS)
        .join(model.select(*_KEYS, m_low="ci_low", m_high="ci_high"), on=_KEYS, how="left")
        .join(pooled_t_interval(found), on=_KEYS, how="left")
        .with_columns(seed=pl.lit(seed))
    )


def coverage_study(seeds: range) -> pl.DataFrame:
    """:func:`coverage_rows` for every seed, with ``covers`` / ``m_covers`` / ``pooled_covers``."""
    rows = pl.concat([coverage_rows(seed) for seed in seeds])
    return rows.with_columns(
        covers=_covers("ci_low", "ci_high"),
        m_covers=_covers("m_low", "m_high"),
        pooled_covers=_covers("pooled_low", "pooled_high"),
    )


def coverage_figures(results: pl.DataFrame) -> dict[str, float]:
    """Coverage of the primary CI, of every truth row, of the model and the pooled CI."""
    primary = results.filter(pl.col("family") == "primary")
    return {
        "cohorts": float(results["seed"].n_unique()),
        "primary_coverage": float(primary["covers"].mean() or 0.0),
        "all_rows_coverage": float(results["covers"].mean() or 0.0),
        "model_coverage": float(results["m_covers"].mean() or 0.0),
        "pooled_coverage": float(results["pooled_covers"].mean() or 0.0),
        "primary_pooled_coverage": float(primary["pooled_covers"].mean() or 0.0),
    }


def raw_subject_t_tests(found: pl.DataFrame) -> pl.DataFrame:
    """Per metric x window: the t-test of subject means of the *raw* shift - what reading
    raw shifts as results would claim (``cohort_summary`` gives raw rows no p-value)."""
    means = (
        found.filter(pl.col("shift").is_not_null())
        .group_by(*_KEYS, "subject_id")
        .agg(pl.col("shift").mean())
    )
    rows = []
    for (metric, window), part in means.partition_by(_KEYS, as_dict=True).items():
        x = part["shift"].to_numpy()
        ok = x.size >= 2 and np.std(x) > 0
        p = float(sps.ttest_1samp(x, 0.0).pvalue) if ok else math.nan
        rows.append((metric, window, float(x.mean()), p))
    return pl.DataFrame(rows, schema=[*_KEYS, "raw_mean", "raw_p"], orient="row")


def null_rows(seed: int, n_subjects: int = 8, n_days: int = 14) -> NullCohort:
    """One null cohort with circadian drift: every declared row of ``cohort_summary`` and
    ``cohort_model`` (base intercept) with its q-value, beside the raw-shift t-test; and
    every time-course bin's CI (:func:`timecourse_bins`)."""
    synth = SynthConfig(
        n_subjects=n_subjects,
        n_days=n_days,
        seed=seed,
        effect=PlantedEffect.zero(),
        episodes_per_month=20.0,
        minute_hr_every=0,
        drift_bpm_per_h=DRIFT_BPM_PER_H,
    )
    cohort = synthetic_cohort(synth)
    window_rows = cohort_windows(cohort, NULL_PLAN)
    found = shifts.episode_shifts(window_rows, NULL_PLAN.windows.names(), "sim")
    summary = summaries.cohort_summary(found, NULL_PLAN, "sim").filter(
        (pl.col("shift_kind") == "adjusted") & (pl.col("family") != "exploratory")
    )
    model = mixed_model.cohort_models(found, None, NULL_PLAN, "sim").cohort_model.filter(
        (pl.col("model") == "base") & (pl.col("term") == "intercept")
    )
    rows = (
        summary.select(*_KEYS, "family", "mean_shift", "p_value", "q_value")
        .join(model.select(*_KEYS, m_q="q_value"), on=_KEYS, how="left")
        .join(raw_subject_t_tests(found), on=_KEYS, how="left")
        .with_columns(seed=pl.lit(seed))
    )
    bins = timecourse_bins(cohort, window_rows, NULL_PLAN).with_columns(seed=pl.lit(seed))
    return NullCohort(rows, bins)


@dataclass(frozen=True)
class NullCohort:
    """What :func:`null_rows` found: the declared rows and the time-course bins."""

    rows: pl.DataFrame
    bins: pl.DataFrame


def null_study(seeds: range) -> NullCohort:
    """:func:`null_rows` for every seed, stacked."""
    found = [null_rows(seed) for seed in seeds]
    return NullCohort(pl.concat([f.rows for f in found]), pl.concat([f.bins for f in found]))


def _rate(flags: pl.Series) -> float:
    return float(flags.fill_null(False).mean() or 0.0)


def _excludes_zero(lo: str, hi: str) -> pl.Expr:
    return ((pl.col(lo) > 0.0) | (pl.col(hi) < 0.0)).fill_null(False)


def null_figures(study: NullCohort) -> dict[str, float]:
    """Rates of q < 0.05 among primary and declared rows (summary and model), how often
    the raw shift would have looked significant (p < 0.05) in the same rows, and the share
    of time-course bins whose CI excludes 0 (adjusted: reported; raw change: contrast)."""
    results, bins = study.rows, study.bins
    tested = results.filter(pl.col("q_value").is_not_null())
    with_ci = bins.filter(pl.col("ci_low").is_not_null())
    per_cohort = with_ci.group_by("seed").agg(_excludes_zero("ci_low", "ci_high").mean())
    primary = tested.filter(pl.col("family") == "primary")
    hr_late = tested.filter(
        (pl.col("metric") == "mean_hr_bpm") & (pl.col("window") == "post_60_90")
    )
    return {
        "cohorts": float(results["seed"].n_unique()),
        "primary_rows": float(primary.height),
        "declared_rows": float(tested.height),
        "primary_q_rate": _rate(primary["q_value"] < 0.05),
        "declared_q_rate": _rate(tested["q_value"] < 0.05),
        "model_declared_q_rate": _rate(tested["m_q"] < 0.05),
        "raw_p_rate": _rate(tested["raw_p"] < 0.05),
        "raw_hr_post_60_90_bpm": float(hr_late["raw_mean"].mean() or 0.0),
        "adjusted_hr_post_60_90_bpm": float(hr_late["mean_shift"].mean() or 0.0),
        "bins": float(with_ci.height),
        "bin_ci_excludes_0_rate": _rate(
            with_ci.select(_excludes_zero("ci_low", "ci_high"))["ci_low"]
        ),
        "bin_ci_excludes_0_worst_cohort": float(per_cohort["ci_low"].max() or 0.0),
        "raw_bin_ci_excludes_0_rate": _rate(
            with_ci.select(_excludes_zero("raw_low", "raw_high"))["raw_low"]
        ),
    }
