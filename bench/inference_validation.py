"""The inference sections of ``docs/validation.md``: the simulation studies of
``tests.support.simulation`` (coverage with few heterogeneous subjects, false positives in a
null cohort with circadian drift, the sensitivity runs on a planted and a null cohort, the
power table against a simulation), printed by ``bench/validation_report.py``.

The figures are the ones ``tests/integration/test_simulation.py`` asserts on (its ``slow``
tests use the same cohort counts and seeds). About 6 s per null cohort and 3 s per
heterogeneous cohort on one core.
"""

from __future__ import annotations

from collections.abc import Callable

from tearsignals.config import AnalysisConfig, StatsConfig
from tearsignals.stats import power
from tests.support import simulation as sim

COVERAGE_COHORTS = 100
NULL_COHORTS = 60
NULL_FIRST_SEED = 1000


def _pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def coverage_section(n_cohorts: int = COVERAGE_COHORTS) -> list[str]:
    out = sim.coverage_figures(sim.coverage_study(range(n_cohorts)))
    effect = sim.HETEROGENEOUS
    rows = [
        ("primary outcome (ln RMSSD, post_0_20): cohort_summary 95% CI", out["primary_coverage"]),
        ("every truth row (2 planted, 6 zero): cohort_summary 95% CI", out["all_rows_coverage"]),
        ("every truth row: cohort_model intercept 95% CI", out["model_coverage"]),
        ("primary outcome: episode-pooled t-interval (contrast)", out["primary_pooled_coverage"]),
        ("every truth row: episode-pooled t-interval (contrast)", out["pooled_coverage"]),
    ]
    return [
        "## 8. Coverage with four heterogeneous subjects",
        "",
        f"{n_cohorts} synthetic cohorts (seeds 0-{n_cohorts - 1}) of 4 subjects x 14 days, "
        "about 9 episodes per subject, through the default window, cleaning, control and "
        "quality path (LF/HF off for speed). The subjects' true effects differ: HR during "
        f"+{effect.hr_during_bpm:g} bpm with a between-subject SD of "
        f"{effect.hr_during_sd_bpm:g} bpm, RMSSD x{effect.rmssd_post_0_20_ratio:g} in "
        f"post_0_20 with an SD of {effect.ln_rmssd_ratio_sd:g} in ln units. The plan's "
        "primary outcome is the planted ln RMSSD shift in post_0_20; the truth is the "
        "population effect (0 in pre, post_20_60 and post_60_90). The reported CI is "
        "`cohort_summary`'s t-interval over subject means (df = subjects - 1). The "
        "episode-pooled interval treats every episode as independent, the unit error the "
        "subject-level interval avoids. Test: `tests/integration/test_simulation.py` "
        "(`slow`: primary coverage >= 93 %).",
        "",
        "| interval | coverage |",
        "|---|---|",
        *(f"| {name} | {_pct(value)} |" for name, value in rows),
        "",
        "Reproduce: `PYTHONPATH=. .venv/bin/python -m pytest -q -m slow -s "
        "tests/integration/test_simulation.py`.",
        "",
    ]


def null_section(n_cohorts: int = NULL_COHORTS) -> list[str]:
    seeds = range(NULL_FIRST_SEED, NULL_FIRST_SEED + n_cohorts)
    out = sim.null_figures(sim.null_study(seeds))
    rows = [
        ("primary family (one row per cohort): cohort_summary q < 0.05", out["primary_q_rate"]),
        ("every declared row: cohort_summary q < 0.05", out["declared_q_rate"]),
        ("every declared row: cohort_model intercept q < 0.05", out["model_declared_q_rate"]),
        ("the same rows read from raw shifts: t-test p < 0.05 (contrast)", out["raw_p_rate"]),
        (
            "time-course bins: control-adjusted change, 95% CI excludes 0",
            out["bin_ci_excludes_0_rate"],
        ),
        (
            "time-course bins, the worst cohort: CI excludes 0",
            out["bin_ci_excludes_0_worst_cohort"],
        ),
        (
            "time-course bins: raw change, the same t-interval excludes 0 (contrast)",
            out["raw_bin_ci_excludes_0_rate"],
        ),
    ]
    return [
        "## 9. False positives in a null cohort with circadian drift",
        "",
        f"{n_cohorts} synthetic cohorts (seeds {seeds.start}-{seeds.stop - 1}) of 8 subjects "
        "x 14 days without any episode effect, with a circadian drift of "
        f"+{sim.DRIFT_BPM_PER_H:g} bpm per hour shared by every subject and day (on top of each "
        "subject's evening decline), default plan (primary: adjusted ln RMSSD in post_60_90; "
        f"families heart_rate and hrv; {int(out['declared_rows'] / n_cohorts)} declared rows "
        "with a q-value per cohort; time course: 2 anchors x 75 two-minute bins x HR and "
        f"ln RMSSD, {int(out['bins'])} bins with a CI in all). Every adjusted row and "
        "control-adjusted bin has truth 0. Raw shifts and raw changes carry no p-value or CI "
        "in the tables; the contrast rows test them the same way to show what the drift "
        "would do. Mean HR post_60_90: raw shift "
        f"{out['raw_hr_post_60_90_bpm']:+.2f} bpm, control-adjusted "
        f"{out['adjusted_hr_post_60_90_bpm']:+.2f} bpm (truth 0).",
        "",
        "| rows | share |",
        "|---|---|",
        *(f"| {name} | {_pct(value)} |" for name, value in rows),
        "",
    ]


def _ci(lo: float | None, hi: float | None) -> str:
    return "-" if lo is None or hi is None else f"[{lo:+.3f}, {hi:+.3f}]"


def sensitivity_section() -> list[str]:
    planted = sim.cohort_sensitivity(sim.jitter_cohort(), sim.JITTER_PLAN)
    plan = AnalysisConfig(frequency=sim.FAST, stats=StatsConfig(moderators=()))
    null = sim.cohort_sensitivity(sim.null_drift_cohort(), plan).sort(
        "cleaning_method", "baseline_start_min", "onset_jitter_min"
    )
    covering = int(((null["ci_low"] <= 0) & (null["ci_high"] >= 0)).sum())
    return [
        "## 10. Sensitivity runs",
        "",
        "`tearsignals analyze --sensitivity` re-estimates the primary outcome for every "
        "cleaning method x baseline x onset jitter of the plan (`tearsignals.stats.sensitivity`). "
        "Planted: 4 subjects x 10 days with HR +8 bpm during every episode, primary outcome the "
        "adjusted HR shift `during`; a jitter moves every logged episode, so the window covers "
        "|d| minutes outside the episode and the estimate shrinks with |d| "
        "(`test_onset_jitter_dilutes_a_planted_effect_and_the_plan_row_is_the_primary_analysis`; "
        "the row without jitter equals `cohort_summary`'s primary row).",
        "",
        "| onset jitter (min) | estimate (bpm) | 95% CI | episodes |",
        "|---|---|---|---|",
        *(
            f"| {r['onset_jitter_min']:+g} | {r['estimate']:+.2f} | "
            f"{_ci(r['ci_low'], r['ci_high'])} | {r['n_episodes']} |"
            for r in planted.sort("onset_jitter_min").iter_rows(named=True)
        ),
        "",
        "Null: 6 subjects x 10 days without an effect, circadian drift "
        f"+{sim.DRIFT_BPM_PER_H:g} bpm/h, default plan and grid (primary adjusted ln RMSSD in "
        f"post_60_90): {covering} of {null.height} variants' 95% CIs cover 0 "
        "(`test_null_cohort_with_drift_covers_zero_in_every_variant`).",
        "",
        "| variant | estimate | 95% CI | subjects | episodes |",
        "|---|---|---|---|---|",
        *(
            f"| {r['variant']} | {r['estimate']:+.3f} | {_ci(r['ci_low'], r['ci_high'])} | "
            f"{r['n_subjects']} | {r['n_episodes']} |"
            for r in null.iter_rows(named=True)
        ),
        "",
    ]


POWER_DESIGNS = ((0.15, 0.35, 0.12, 1), (0.15, 0.35, 0.12, 4), (0.15, 0.35, 0.12, 12))
POWER_REPS = 4000


def power_section() -> list[str]:
    rows = []
    for tau, sigma, effect, m in POWER_DESIGNS:
        n = power.subjects_needed(effect, tau, sigma, m, 0.8, 0.05, 1000)
        assert n is not None
        analytic = power.design_power(effect, tau, sigma, n, m, 0.05)
        simulated = sim.simulated_power(effect, tau, sigma, n, m, POWER_REPS, seed=m)
        below = power.design_power(effect, tau, sigma, n - 1, m, 0.05)
        rows.append(
            f"| {tau:g} | {sigma:g} | {effect:g} | {m} | {n} | {_pct(analytic)} | "
            f"{_pct(simulated)} | {_pct(below)} |"
        )
    return [
        "## 11. Power: analytic against simulated",
        "",
        "The `power` table and `tearsignals power` size the primary analysis (t-test over "
        "subject means, episodes nested in subjects) from the base model's fitted SDs: exact "
        "power from the non-central t with df n - 1 and non-centrality "
        "effect / sqrt((tau^2 + sigma^2 / m) / n) (`tearsignals.stats.power`). Simulated: "
        f"{POWER_REPS} cohorts of the design, tested as `cohort_summary` tests them "
        "(`tests/unit/stats/test_power.py`, within 2.5 points).",
        "",
        "| tau | sigma | effect | episodes/subject | subjects needed | analytic power | "
        "simulated power | analytic, one subject fewer |",
        "|---|---|---|---|---|---|---|---|",
        *rows,
        "",
    ]


SECTIONS: tuple[Callable[[], list[str]], ...] = (
    coverage_section,
    null_section,
    sensitivity_section,
    power_section,
)
