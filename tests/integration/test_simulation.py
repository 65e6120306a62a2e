"""Simulation study: do the cohort CIs cover planted effects, and are false positives rare?

Synthetic cohorts (``tearsignals.synth``) with a known effect - the default
``PlantedEffect`` or none at all - are generated in memory and run through the
analysis functions directly (no files, no Prefect): window spec, window
metrics, shifts, then ``stats.cohort_summary`` (hierarchical bootstrap CI,
t-test on subject means) and ``mixed.cohort_model`` (random-intercept model).

Truths, for control-adjusted shifts (controls remove the evening HR drift):

- with the effect: ``mean_hr_bpm``/``during`` = ``hr_during_bpm`` and
  ``ln_rmssd``/``post_0_20`` = ``log(rmssd_post_0_20_ratio)``; 0 for both
  metrics in ``pre``, ``post_20_60`` and ``post_60_90`` (windows the planted
  effect does not reach; ``acute`` and HR ``post_0_20`` are left out because
  the effect or its side effects reach into them);
- without the effect: 0 for both metrics in every window.

Raw shifts are checked on the two planted pairs only (their drift over the
few minutes between baseline and window is < 0.2 bpm).

To keep the study fast, LF/HF is switched off (``min_clean_s`` beyond any
window), RR cleaning uses the local-median rule (``method="median"``; the
Lipponen rule costs ~3 s per cohort here and is tested elsewhere), and the
model covers ``mean_hr_bpm`` and ``ln_rmssd`` without moderators.

Two scenarios per cohort: ``same`` - as generated, every subject has exactly
the planted effect (the generator has no between-subject spread of the
effect); ``differ`` - the same shifts plus a random offset per subject
(:data:`SUBJECT_SD`: 1 bpm, 0.03 ln units), so subjects differ in their true
effect while the population mean stays the truth.

Findings (60 seeds per study, 4 subjects x 14 days, ~9 episodes per subject;
one subject is minute-HR only, so ln RMSSD rests on 3 subjects; coverage over
all truth pairs, false positives over 12 pairs x 60 seeds of the no-effect
study):

======================  ==========  ==========  ======================
                        bootstrap   mixed       t-test subject means
======================  ==========  ==========  ======================
coverage, same          95-97 %     99.3-99.7 %
false positives, same   2.6 %       0.3 %       3.7 %
coverage, differ        83-94 %     98 %
false positives, differ 6.5 %       2.1 %       4.9 %
power, planted (same)   100 %       99.6 %      99.6 %
======================  ==========  ==========  ======================

- The hierarchical bootstrap is *not* far above nominal here: its ~sqrt(2)
  double counting of within-subject noise is offset by the percentile
  interval's narrowness with 3-4 subjects (no t quantile, variance x
  (S-1)/S). When subjects differ, that narrowness wins and it undercovers
  (zero-truth pairs of the effect study: 82 % coverage, 18 % false positives).
- The mixed model is conservative when subjects are alike: its df = S - 1
  (2-3 here) is what keeps it valid when they differ, where it stays at or
  above nominal.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import polars as pl
import pytest

from tearsignals.config import AnalysisConfig, CleaningConfig, FrequencyConfig, StatsConfig
from tearsignals.episodes import shifts, window_metrics, windows
from tearsignals.stats import mixed_model, summaries
from tearsignals.synth import PlantedEffect, SynthConfig, generate_subject

pytestmark = pytest.mark.integration

METRICS = ("mean_hr_bpm", "ln_rmssd")
ZERO_WINDOWS = ("pre", "post_20_60", "post_60_90")
ALL_WINDOWS = ("pre", "acute", "during", "post_0_20", "post_20_60", "post_60_90")
CFG = AnalysisConfig(
    cleaning=CleaningConfig(method="median"),
    frequency=FrequencyConfig(min_clean_s=1e9),
    stats=StatsConfig(n_boot=1000, model_metrics=METRICS, moderators=()),
)
SUBJECT_SD = {"mean_hr_bpm": 1.0, "ln_rmssd": 0.03}
_BEATS = {"subject_id": pl.String, "t_utc": pl.Datetime("us", "UTC"), "rr_ms": pl.Float64}
_HR = {"subject_id": pl.String, "t_utc": pl.Datetime("us", "UTC"), "hr_bpm": pl.Float64}


@dataclass(frozen=True)
class Cohort:
    beats: pl.DataFrame
    heart_rate: pl.DataFrame
    episodes: pl.DataFrame


def synthetic_cohort(seed: int, effect: PlantedEffect, n_subjects: int, n_days: int) -> Cohort:
    """A cohort generated in memory, in the canonical column names the analysis reads."""
    cfg = SynthConfig(
        n_subjects=n_subjects, n_days=n_days, seed=seed, effect=effect, episodes_per_month=20.0
    )
    beats, heart_rate, episodes = [], [], []
    for index in range(n_subjects):
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


def cohort_shifts(cohort: Cohort) -> pl.DataFrame:
    """The ``episode_shifts`` of the cohort for :data:`METRICS`."""
    # Every synthetic day is recorded at the same clock hours: no data-hours check needed.
    spec = windows.episode_windows_spec(cohort.episodes, CFG.windows)
    rows = window_metrics.episode_window_metrics(cohort.beats, cohort.heart_rate, spec, CFG, "sim")
    return shifts.episode_shifts(rows, CFG.windows.names(), "sim").filter(
        pl.col("metric").is_in(METRICS)
    )


def with_subject_offsets(shifts: pl.DataFrame, seed: int) -> pl.DataFrame:
    """``shifts`` plus a random offset per subject and metric (SD :data:`SUBJECT_SD`,
    mean 0): subjects that differ in their true effect, same population mean."""
    subjects = shifts.select("subject_id", "metric").unique().sort("subject_id", "metric")
    rng = np.random.default_rng([seed, 7])
    offsets = subjects.with_columns(
        offset=pl.Series(rng.standard_normal(subjects.height))
        * pl.col("metric").replace_strict(SUBJECT_SD, return_dtype=pl.Float64)
    )
    return shifts.join(offsets, on=["subject_id", "metric"]).with_columns(
        pl.col("shift") + pl.col("offset"), pl.col("adjusted_shift") + pl.col("offset")
    )


def cohort_estimates(shifts: pl.DataFrame) -> pl.DataFrame:
    """Per metric x window x kind: bootstrap CI and t-test p (cohort_summary) beside the
    mixed model's intercept CI and p (cohort_model)."""
    keys = ["metric", "window", "shift_kind"]
    boot = summaries.cohort_summary(shifts, CFG, "sim").select(
        *keys, "mean_shift", "ci_low", "ci_high", "p_value", "n_subjects"
    )
    model = (
        mixed_model.cohort_model(shifts, None, CFG, "sim")
        .filter(pl.col("term") == "intercept")
        .select(
            *keys,
            pl.col("estimate").alias("m_estimate"),
            pl.col("ci_low").alias("m_ci_low"),
            pl.col("ci_high").alias("m_ci_high"),
            pl.col("p_value").alias("m_p_value"),
            "method",
        )
    )
    return boot.join(model, on=keys, how="left")


def truths(effect: PlantedEffect) -> pl.DataFrame:
    """The (metric, window, shift_kind) pairs with a known true shift (module docstring)."""
    rows: list[tuple[str, str, str, float]] = []
    if effect == PlantedEffect.zero():
        rows += [(m, w, "adjusted", 0.0) for m in METRICS for w in ALL_WINDOWS]
    else:
        rows += [(m, w, "adjusted", 0.0) for m in METRICS for w in ZERO_WINDOWS]
        planted = effect.expected_shifts()
        rows += [(m, w, k, v) for (m, w), v in planted.items() for k in ("raw", "adjusted")]
    return pl.DataFrame(
        rows, schema=["metric", "window", "shift_kind", "truth"], orient="row"
    ).with_columns(pl.col("truth").cast(pl.Float64))


def study(
    effect: PlantedEffect, seeds: range, n_subjects: int = 4, n_days: int = 14
) -> pl.DataFrame:
    """One row per seed, scenario and truth pair: both CIs, both p-values, coverage.

    Scenario ``same``: the cohort as generated (every subject has the planted
    effect); ``differ``: the same shifts with :func:`with_subject_offsets`.
    """
    truth = truths(effect)
    parts = []
    for seed in seeds:
        shifts = cohort_shifts(synthetic_cohort(seed, effect, n_subjects, n_days))
        for scenario, frame in (("same", shifts), ("differ", with_subject_offsets(shifts, seed))):
            estimates = cohort_estimates(frame).with_columns(scenario=pl.lit(scenario))
            parts.append(truth.join(estimates, on=["metric", "window", "shift_kind"], how="left"))
    inside = (pl.col("ci_low") <= pl.col("truth")) & (pl.col("truth") <= pl.col("ci_high"))
    m_inside = (pl.col("m_ci_low") <= pl.col("truth")) & (pl.col("truth") <= pl.col("m_ci_high"))
    return pl.concat(parts).with_columns(
        boot_covers=inside.fill_null(False),
        model_covers=m_inside.fill_null(False),
        boot_excludes_0=~((pl.col("ci_low") <= 0.0) & (pl.col("ci_high") >= 0.0)).fill_null(True),
    )


def rates(results: pl.DataFrame) -> dict[str, float]:
    """Coverage of both CIs and rejection rates (p < 0.05; bootstrap CI excluding 0)."""
    return {
        "boot_coverage": float(results["boot_covers"].mean() or 0.0),
        "model_coverage": float(results["model_covers"].mean() or 0.0),
        "ttest_reject": float((results["p_value"] < 0.05).mean() or 0.0),
        "boot_reject": float(results["boot_excludes_0"].mean() or 0.0),
        "model_reject": float((results["m_p_value"] < 0.05).mean() or 0.0),
    }


def modelled(results: pl.DataFrame) -> pl.DataFrame:
    """The rows with enough subjects for the model, after checking the others say ``none``.

    With 4 subjects (one of them minute-HR only, so no ln RMSSD) a cohort can
    be left with 2 subjects with usable adjusted ln RMSSD shifts; the model
    then declines (``model_min_subjects``), and both CIs are left out.
    """
    enough = pl.col("n_subjects") >= CFG.stats.model_min_subjects
    assert (results.filter(~enough)["method"] == "none").all()
    kept = results.filter(enough)
    assert (kept["method"] == "mixedlm").all()
    assert kept.height >= 0.9 * results.height
    return kept


def figures(results: pl.DataFrame) -> dict[str, dict[str, float]]:
    """:func:`rates` per scenario, and for the planted pairs alone (power)."""
    out = {
        scenario: rates(results.filter(pl.col("scenario") == scenario))
        for scenario in ("same", "differ")
    }
    planted = results.filter((pl.col("truth") != 0.0) & (pl.col("scenario") == "same"))
    if planted.height:
        out["planted"] = rates(planted)
    return out


def check_study(n_seeds: int) -> dict[str, dict[str, dict[str, float]]]:
    """Run both studies (effect, none) and assert coverage, false positives and power.

    Asserted: every fit with enough subjects is a mixed model; with subjects alike, both CIs cover at
    >= 90% and every test rejects a true 0 at <= 10%; with subjects that
    differ, the model CI still covers at >= 90% and rejects at <= 10%; the
    planted effects are found in >= 90% of cohorts. The bootstrap with
    subjects that differ is reported, not asserted: with 4 subjects its
    percentile CI is too narrow (see the closing note of the study).
    """
    effect = modelled(study(PlantedEffect(), range(n_seeds)))
    null = modelled(study(PlantedEffect.zero(), range(1000, 1000 + n_seeds)))
    out = {"effect": figures(effect), "null": figures(null)}
    for name in ("effect", "null"):
        same, differ = out[name]["same"], out[name]["differ"]
        assert same["boot_coverage"] >= 0.9 and same["model_coverage"] >= 0.9, (name, same)
        assert differ["model_coverage"] >= 0.9, (name, differ)
    null_same, null_differ = out["null"]["same"], out["null"]["differ"]
    for test in ("ttest_reject", "boot_reject", "model_reject"):
        assert null_same[test] <= 0.10, (test, null_same)
    assert null_differ["model_reject"] <= 0.10, null_differ
    planted = out["effect"]["planted"]
    assert min(planted["boot_reject"], planted["ttest_reject"], planted["model_reject"]) >= 0.9
    return out


def test_small_study_covers_truth_and_keeps_false_positives_rare() -> None:
    start = time.perf_counter()
    out = check_study(n_seeds=20)
    print(f"\nsimulation, 20 seeds per study: {time.perf_counter() - start:.1f} s\n{out}")


@pytest.mark.slow
def test_large_study_covers_truth_and_keeps_false_positives_rare() -> None:
    out = check_study(n_seeds=60)
    print(f"\nsimulation, 60 seeds per study:\n{out}")


def test_truth_table_matches_the_planted_effect() -> None:
    effect = PlantedEffect()
    table = truths(effect)
    planted = table.filter(pl.col("truth") != 0.0)
    assert planted.height == 4
    hr = planted.filter(pl.col("metric") == "mean_hr_bpm")["truth"].unique().to_list()
    assert hr == [effect.hr_during_bpm]
    assert truths(PlantedEffect.zero())["truth"].abs().max() == 0.0
    assert np.isclose(
        planted.filter(pl.col("metric") == "ln_rmssd")["truth"][0],
        math.log(effect.rmssd_post_0_20_ratio),
    )
