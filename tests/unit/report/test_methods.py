"""The generated methods paragraph says what the stored parameters say."""

from __future__ import annotations

from typing import Any

from tearsignals.config import AnalysisConfig, CleaningConfig, Outcome, StatsConfig, WindowConfig
from tearsignals.report import methods

COHORT = methods.Cohort(n_subjects=4, n_episodes=17, n_control_days=40)


def _document(cfg: AnalysisConfig) -> dict[str, Any]:
    return {
        "params_hash": cfg.params_hash(),
        "parameters": cfg.hashed_parameters(),
        "tearsignals_version": "9.8.7",
    }


def test_the_paragraph_follows_the_parameters() -> None:
    cfg = AnalysisConfig(
        windows=WindowConfig(post_bins_min=((0, 30), (30, 90)), n_controls=5),
        cleaning=CleaningConfig(method="median", max_successive_change=0.25),
        stats=StatsConfig(moderators=(), primary=Outcome(metric="ln_rmssd", window="post_30_90")),
    )
    text = methods.methods_text(_document(cfg), COHORT)
    assert "17 episodes of 4 subjects and 40 matched control days" in text
    assert f"(parameters {cfg.params_hash()})" in text
    assert "post_0_30 [0, 30) min from the end, post_30_90 [30, 90) min from the end" in text
    assert "baseline [-10, -5) min from the onset" in text
    assert "more than 25 % from the median of 11 neighbouring intervals were rejected" in text
    assert "Lipponen" not in text and "moderators" not in text
    assert "up to 5 matched control days" in text
    assert "control-adjusted ln_rmssd shift in post_30_90 (a family of one)" in text
    assert "heart_rate: mean_hr_bpm in every window" in text
    assert "tearsignals 9.8.7 (analysis)" in text
    assert "cleaning method (median, lipponen) x baseline ([-10, -5), [-20, -10) min" in text
    assert "onset jitter (none, -5, -2, +2 min" in text
    assert "80 % power (two-sided alpha 0.05) to detect half the fitted SD" in text


def test_the_default_cleaning_is_named_with_its_guards() -> None:
    text = methods.methods_text(_document(AnalysisConfig()), COHORT)
    assert "Lipponen & Tarvainen (2019" in text and "threshold floor 50 ms" in text
    assert "residual gate on" in text and "moderators (intensity, context)" in text
    assert "not sinus-like (outside 0.7-1.4 x the median of 11" in text
    guard_off = AnalysisConfig(cleaning=CleaningConfig(lipponen_sinus_guard=False))
    assert "sinus-like" not in methods.methods_text(_document(guard_off), COHORT)
    assert "frequency step 1/(4 x the span of the window's NN beats)" in text


def _leaves(tree: dict[str, Any]) -> int:
    return sum(_leaves(v) if isinstance(v, dict) else 1 for v in tree.values())


def test_the_parameters_table_has_every_stored_parameter() -> None:
    parameters = AnalysisConfig().hashed_parameters()
    rows = methods.parameter_rows(parameters)
    assert len(rows) == _leaves(parameters)
    shown = dict(rows)
    assert shown["windows.post_bins_min"] == "[[0.0, 20.0], [20.0, 60.0], [60.0, 90.0]]"
    assert shown["stats.timecourse.bin_min"] == "2.0"
    assert shown["stats.primary.window"] == "post_60_90"
