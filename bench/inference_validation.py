"""The inference sections of ``docs/validation.md``: the simulation studies of
``tests.support.simulation`` (coverage with few heterogeneous subjects, false positives in a
null cohort with circadian drift), printed by ``bench/validation_report.py``.

The figures are the ones ``tests/integration/test_simulation.py`` asserts on (its ``slow``
tests use the same cohort counts and seeds). About 6 s per null cohort and 3 s per
heterogeneous cohort on one core.
"""

from __future__ import annotations

from collections.abc import Callable

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


SECTIONS: tuple[Callable[[], list[str]], ...] = (coverage_section, null_section)
