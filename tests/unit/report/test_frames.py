"""What the report draws, computed from small hand-made frames."""

from __future__ import annotations

from datetime import UTC, date, datetime

import polars as pl
import pytest
import scipy.stats as sps

from tearsignals.config import WindowConfig
from tearsignals.report import frames


def _shifts(rows: list[tuple[str, str, str, float | None]]) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        schema={"subject_id": pl.String, "window": pl.String, "metric": pl.String,
                "control_shift_mean": pl.Float64},
        orient="row",
    )  # fmt: skip


def test_control_band_is_a_t_interval_over_subject_means() -> None:
    shifts = _shifts(
        [
            ("S1", "post_0_20", "ln_rmssd", 1.0),
            ("S1", "post_0_20", "ln_rmssd", 3.0),
            ("S1", "post_0_20", "ln_rmssd", None),  # no control day: left out, not a zero
            ("S2", "post_0_20", "ln_rmssd", 4.0),
            ("S1", "during", "ln_rmssd", 9.0),  # spans onset to end: no band
            ("S1", "baseline", "ln_rmssd", 0.0),  # the reference: no band
        ]
    )
    band = frames.control_bands(shifts, WindowConfig().spans())
    assert band.select("anchor", "window", "start_min", "end_min", "n_subjects").rows() == [
        ("end", "post_0_20", 0.0, 20.0, 2)
    ]
    half = sps.t.ppf(0.975, 1) * 2**0.5 / 2**0.5  # subject means 2 and 4: sd sqrt(2), n 2
    row = band.row(0, named=True)
    assert row["mean_value"] == pytest.approx(3.0)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((3.0 - half, 3.0 + half))


def test_forest_rows_hold_usable_adjusted_rows_with_the_cohort_last() -> None:
    base = {"metric": "ln_rmssd", "window": "post_0_20", "mean_shift": 0.2, "ci_low": 0.1,
            "ci_high": 0.3}  # fmt: skip
    subjects = pl.DataFrame(
        [
            {**base, "subject_id": "S2", "shift_kind": "adjusted", "n_episodes": 3},
            {**base, "subject_id": "S1", "shift_kind": "adjusted", "n_episodes": 2},
            {**base, "subject_id": "S1", "shift_kind": "raw", "n_episodes": 2},
            {**base, "subject_id": "S3", "shift_kind": "adjusted", "n_episodes": 0},
            {
                **base,
                "subject_id": "S1",
                "shift_kind": "adjusted",
                "n_episodes": 2,
                "window": "pre",
            },
        ]
    )
    cohort = pl.DataFrame([{**base, "shift_kind": "adjusted", "n_episodes": 5}])
    rows = frames.forest_rows(subjects, cohort, ["ln_rmssd"], ["post_0_20"])
    assert rows.select("label", "is_cohort", "n_episodes").rows() == [
        ("S1", False, 2),
        ("S2", False, 3),
        ("cohort", True, 5),
    ]


def test_data_hours_count_distinct_minutes_per_utc_day() -> None:
    t = [
        datetime(2026, 1, 5, 23, 59, 10, tzinfo=UTC),
        datetime(2026, 1, 5, 23, 59, 50, tzinfo=UTC),  # same minute
        datetime(2026, 1, 6, 0, 0, 5, tzinfo=UTC),
        datetime(2026, 1, 6, 0, 1, 5, tzinfo=UTC),
    ]
    hours = frames.daily_data_hours(pl.LazyFrame({"subject_id": ["S1"] * 4, "t_utc": t}))
    assert hours.rows() == [("S1", date(2026, 1, 5), 1 / 60), ("S1", date(2026, 1, 6), 2 / 60)]


def _windows() -> pl.DataFrame:
    rows = [
        ("episode", "baseline", "good", None, "rr", 100, 1, 0, 0, 1),
        ("control", "baseline", "good", None, "rr", 120, 0, 1, 0, 0),
        ("episode", "acute", "poor", "25% of span missing > 15%", "rr", 50, 2, 0, 1, 0),
        ("episode", "acute", "none", "no data in window", "none", 0, None, None, None, None),
        ("control", "acute", "good", None, "rr", 60, 0, 0, 0, 0),
    ]
    return pl.DataFrame(
        rows,
        schema={"role": pl.String, "window": pl.String, "quality": pl.String,
                "reason": pl.String, "basis": pl.String, "n_beats": pl.Int64,
                "n_ectopic": pl.Int64, "n_missed": pl.Int64, "n_extra": pl.Int64,
                "n_long_short": pl.Int64},
        orient="row",
    )  # fmt: skip


def test_quality_ledger_counts_windows_by_grade_reason_and_role() -> None:
    ledger = frames.quality_ledger(_windows())
    assert ledger.rows() == [
        ("good", "(none)", 1, 2),
        ("poor", "25% of span missing > 15%", 1, 0),
        ("none", "no data in window", 1, 0),
    ]


def test_correction_ledger_sums_classes_per_window_in_analysis_order() -> None:
    ledger = frames.correction_ledger(_windows(), WindowConfig().names())
    assert ledger["window"].to_list() == ["baseline", "acute"]
    base = ledger.row(0, named=True)
    assert (base["n_windows"], base["n_beats"], base["n_ectopic"], base["n_missed"]) == (
        2,
        220,
        1,
        1,
    )
    assert base["pct_corrected"] == pytest.approx(100 * 3 / 220)
    acute = ledger.row(1, named=True)
    assert acute["n_beats"] == 110 and acute["pct_corrected"] == pytest.approx(100 * 3 / 110)


def test_correction_ledger_under_the_median_rule_has_no_classes() -> None:
    classes = ("n_ectopic", "n_missed", "n_extra", "n_long_short")
    median = _windows().with_columns(pl.lit(None, pl.Int64).alias(c) for c in classes)
    ledger = frames.correction_ledger(median, WindowConfig().names())
    assert ledger["n_ectopic"].null_count() == ledger.height
    assert ledger["pct_corrected"].to_list() == [0.0, 0.0]
