"""Sensitivity runs: the variant grid, the jittered log, and what the runs find in
planted and null synthetic cohorts (through the default window path)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from tearsignals.config import (
    AnalysisConfig,
    CleaningConfig,
    FrequencyConfig,
    Outcome,
    SensitivityConfig,
    StatsConfig,
)
from tearsignals.stats import sensitivity, summaries
from tests.support import simulation as sim

FAST = FrequencyConfig(min_clean_s=1e9)


def test_grid_is_the_product_with_the_plan_first_and_no_repeats() -> None:
    cfg = AnalysisConfig(
        cleaning=CleaningConfig(method="median"),
        stats=StatsConfig(
            sensitivity=SensitivityConfig(
                cleaning_methods=("lipponen", "median"),
                baselines_min=((-10.0, -5.0), (-15.0, -10.0), (-20.0, -10.0)),
                onset_jitter_min=(0.0, -3.0),
            )
        ),
    )
    grid = sensitivity.variants(cfg)
    assert grid[0] == sensitivity.Variant("median", (-10.0, -5.0), 0.0)
    assert len(grid) == len(set(grid)) == 2 * 3 * 2
    assert {v.onset_jitter_min for v in grid} == {0.0, -3.0}


@pytest.mark.parametrize(
    ("update", "needle"),
    [
        ({"baselines_min": ((-5.0, -10.0),)}, "start < end"),
        ({"onset_jitter_min": (float("nan"),)}, "finite"),
        ({"cleaning_methods": ("kubios",)}, "cleaning_methods"),
    ],
)
def test_bad_sensitivity_settings_are_refused(update: dict[str, object], needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        SensitivityConfig.model_validate(update)


def test_variant_config_changes_only_cleaning_baseline_and_unused_spectrum() -> None:
    cfg = AnalysisConfig()
    v = sensitivity.Variant("median", (-20.0, -10.0), 2.0)
    chosen = sensitivity.variant_config(cfg, v)
    assert chosen.cleaning == cfg.cleaning.model_copy(update={"method": "median"})
    assert chosen.windows.baseline_min == (-20.0, -10.0)
    assert chosen.windows.post_bins_min == cfg.windows.post_bins_min
    assert chosen.stats == cfg.stats and chosen.quality == cfg.quality
    spectral = cfg.model_copy(
        update={"stats": StatsConfig(primary=Outcome(metric="hf_ms2", window="pre"))}
    )
    assert sensitivity.variant_config(spectral, v).frequency == cfg.frequency


def test_jitter_moves_onset_and_end_alike() -> None:
    start = datetime(2024, 3, 1, 20, 0, tzinfo=UTC)
    episodes = pl.DataFrame({"start_utc": [start], "end_utc": [start + timedelta(minutes=9)]})
    moved = sensitivity.jittered(episodes, -5.0)
    assert moved["start_utc"][0] == start - timedelta(minutes=5)
    assert (moved["end_utc"] - moved["start_utc"])[0] == timedelta(minutes=9)


def test_beats_near_windows_keeps_exactly_the_beats_within_the_margin() -> None:
    rng = np.random.default_rng(4)
    t0 = datetime(2024, 3, 1, tzinfo=UTC)
    seconds = np.sort(rng.uniform(0, 6 * 3600, 4000))
    beats = pl.DataFrame(
        {
            "subject_id": ["a"] * 2000 + ["b"] * 2000,
            "t_utc": [t0 + timedelta(seconds=float(s)) for s in seconds],
            "rr_ms": 800.0,
        }
    )
    spans = [("a", 3600, 4200), ("a", 4000, 4300), ("b", 10000, 10300), ("b", 20000, 20100)]
    spec = pl.DataFrame(
        {
            "subject_id": [s for s, _, _ in spans],
            "window_start_utc": [t0 + timedelta(seconds=a) for _, a, _ in spans],
            "window_end_utc": [t0 + timedelta(seconds=b) for _, _, b in spans],
        }
    )
    kept = sensitivity.beats_near_windows(beats, spec, margin_min=2.0)
    secs = (beats["t_utc"] - t0).dt.total_microseconds().to_numpy() / 1e6
    wanted = [
        any(s == subj and a - 120 <= x < b + 120 for s, a, b in spans)
        for subj, x in zip(beats["subject_id"], secs, strict=True)
    ]
    assert kept.sort("subject_id", "t_utc").equals(beats.filter(pl.Series(wanted)))


def test_onset_jitter_dilutes_a_planted_effect_and_the_plan_row_is_the_primary_analysis() -> None:
    # HR +8 bpm during each episode; the primary outcome is the HR shift during it.
    cfg, cohort = sim.JITTER_PLAN, sim.jitter_cohort()
    table = sim.cohort_sensitivity(cohort, cfg)
    by_jitter = dict(zip(table["onset_jitter_min"], table["estimate"], strict=True))
    assert by_jitter[0.0] > by_jitter[-2.0] > by_jitter[-5.0]
    assert by_jitter[0.0] > by_jitter[2.0]
    assert by_jitter[-5.0] < 0.8 * by_jitter[0.0]
    assert 6.0 < by_jitter[0.0] < 10.0  # the plan's own row recovers the planted +8 bpm
    primary = table.filter(pl.col("is_primary")).row(0, named=True)
    full = summaries.cohort_summary(sim.cohort_shifts(cohort, cfg), cfg, "sim").filter(
        (pl.col("family") == "primary") & (pl.col("shift_kind") == "adjusted")
    )
    assert primary["onset_jitter_min"] == 0.0
    for ours, theirs in (
        ("estimate", "mean_shift"),
        ("ci_low", "ci_low"),
        ("n_episodes", "n_episodes"),
    ):
        assert primary[ours] == pytest.approx(full[theirs][0], rel=1e-9)


def test_null_cohort_with_drift_covers_zero_in_every_variant() -> None:
    cfg = AnalysisConfig(frequency=FAST, stats=StatsConfig(moderators=()))
    table = sim.cohort_sensitivity(sim.null_drift_cohort(), cfg)
    assert table.height == 16 and table["is_primary"].sum() == 1
    assert (table["n_subjects"] >= 5).all()
    covering = (table["ci_low"] <= 0.0) & (table["ci_high"] >= 0.0)
    assert covering.all(), table.filter(~covering).select(
        "variant", "estimate", "ci_low", "ci_high"
    )
