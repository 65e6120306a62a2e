"""Row rules: schema-declared checks, per-table checks, duplicates, quarantine shape."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from tearsignals.contract import schema
from tearsignals.ingest import validate

T0 = datetime(2026, 1, 5, 14, tzinfo=UTC)


def _beats(seconds: list[float | None], rr_ms: list[float | None], **columns: list) -> pl.DataFrame:
    n = len(seconds)
    frame = pl.DataFrame(
        {
            "subject_id": ["s01"] * n,
            "source": ["csv_beats"] * n,
            "device": [None] * n,
            "file_id": ["f1"] * n,
            "t_utc": [None if s is None else T0 + timedelta(seconds=s) for s in seconds],
            "rr_ms": rr_ms,
            "origin": ["rr"] * n,
            "row_number": list(range(1, n + 1)),
        },
        schema_overrides={
            "t_utc": pl.Datetime("us", "UTC"),
            "device": pl.String,
            "rr_ms": pl.Float64,
        },
    )
    return frame.with_columns(**{k: pl.Series(v) for k, v in columns.items()})


def _reasons(checked: validate.Checked) -> dict[int, str]:
    return dict(checked.quarantined.select("row_number", "reason").iter_rows())


def test_clean_frame_passes_unchanged() -> None:
    frame = _beats([0, 1, 2], [800.0, 810.0, 820.0])
    checked = validate.row_rules("beats", frame)
    assert checked.ok.equals(frame)
    assert checked.quarantined.height == 0
    assert checked.duplicates == 0


def test_schema_rules_give_short_stable_reasons() -> None:
    frame = _beats(
        [0, 1, None, 3, 4, 5],
        [800.0, 100.0, 800.0, None, float("nan"), 5000.0],
        origin=["rr", "rr", "rr", "rr", "rr", "gps"],
    )
    checked = validate.row_rules("beats", frame)
    assert _reasons(checked) == {
        2: "rr_ms out of range [200, 5000]",
        3: "t_utc is null",
        4: "rr_ms is null",
        5: "rr_ms out of range [200, 5000]",
        6: "origin not in [rr, ppg, ecg, ibpm]",
    }
    assert checked.ok["row_number"].to_list() == [1]


def test_quarantine_frame_has_the_quarantine_schema_and_raw_text() -> None:
    checked = validate.row_rules("beats", _beats([0, 1], [800.0, 100.0]))
    assert checked.quarantined.schema == schema.polars_schema("quarantine")
    row = checked.quarantined.row(0, named=True)
    assert row["subject_id"] == "s01"
    assert row["file_id"] == "f1"
    assert row["table"] == "beats"
    assert row["raw"] == "csv_beats,,2026-01-05T14:00:01Z,100.0,rr"


def test_exact_duplicates_are_counted_and_dropped() -> None:
    frame = _beats([0, 1, 1, 2, 1], [800.0, 810.0, 810.0, 820.0, 810.0])
    checked = validate.row_rules("beats", frame)
    assert checked.duplicates == 2
    assert checked.ok["row_number"].to_list() == [1, 2, 4]
    assert checked.quarantined.height == 0


def test_beats_going_back_in_time_are_non_monotonic() -> None:
    # row 3 repeats row 2's time with another rr, row 5 goes back before row 4
    frame = _beats([0, 1, 1, 5, 3, 6], [800.0, 810.0, 900.0, 820.0, 830.0, 840.0])
    checked = validate.row_rules("beats", frame)
    assert _reasons(checked) == {3: "non-monotonic time", 5: "non-monotonic time"}
    assert checked.ok["row_number"].to_list() == [1, 2, 4, 6]


def test_monotonic_rule_follows_row_number_not_frame_order_and_is_per_file() -> None:
    frame = _beats([0, 1, 2, 0.5], [800.0] * 4).with_columns(
        row_number=pl.Series([1, 2, 3, 1]), file_id=pl.Series(["f1", "f1", "f1", "f2"])
    )
    checked = validate.row_rules("beats", frame.reverse())
    assert checked.quarantined.height == 0
    assert checked.ok.equals(frame.reverse())


def test_a_quarantined_far_future_beat_does_not_poison_the_running_max() -> None:
    frame = _beats([0, 10_000, 1, 2], [800.0, 50.0, 800.0, 800.0])
    checked = validate.row_rules("beats", frame)
    assert _reasons(checked) == {2: "rr_ms out of range [200, 5000]"}


def test_heart_rate_key_conflict_is_quarantined_first_row_kept() -> None:
    frame = pl.DataFrame(
        {
            "subject_id": "s01",
            "source": "csv_hr",
            "device": None,
            "file_id": "f1",
            "t_utc": [T0, T0, T0, T0 + timedelta(seconds=1)],
            "hr_bpm": [60.0, 61.0, 60.0, 300.0],
            "confidence": None,
            "row_number": [1, 2, 3, 4],
        },
        schema_overrides={"device": pl.String, "confidence": pl.Int64},
    )
    checked = validate.row_rules("heart_rate", frame)
    assert _reasons(checked) == {
        2: "duplicate key with different values",
        4: "hr_bpm out of range [20, 250]",
    }
    assert checked.duplicates == 1
    assert checked.ok["row_number"].to_list() == [1]


def _episodes(spans_min: list[tuple[float, float]], intensity: list[float | None]) -> pl.DataFrame:
    n = len(spans_min)
    return pl.DataFrame(
        {
            "subject_id": "s01",
            "episode_id": [f"e{i}" for i in range(n)],
            "start_utc": [T0 + timedelta(minutes=a) for a, _ in spans_min],
            "end_utc": [T0 + timedelta(minutes=b) for _, b in spans_min],
            "tz": "Europe/Berlin",
            "intensity": intensity,
            "context": None,
            "source": "episodes_csv",
            "file_id": "f1",
            "row_number": list(range(1, n + 1)),
        },
        schema_overrides={"context": pl.String, "intensity": pl.Float64},
    )


def test_episode_rules() -> None:
    frame = _episodes(
        [(0, 10), (0, 0), (10, 5), (0, 24 * 60), (0, 24 * 60 + 1), (0, 10)],
        [None, 3.0, 3.0, 10.0, 0.0, 11.0],
    )
    checked = validate.row_rules("episodes", frame)
    assert _reasons(checked) == {
        2: "end_utc not after start_utc",
        3: "end_utc not after start_utc",
        5: "duration over 24 h",
        6: "intensity out of range [0, 10]",
    }


def test_vendor_hrv_needs_a_value_and_a_known_period() -> None:
    n = 5
    frame = schema.conform(
        pl.DataFrame(
            {
                "subject_id": "s01",
                "source": "fitbit_hrv",
                "file_id": "f1",
                "t_utc": [T0 + timedelta(days=d) for d in range(n)],
                "period": ["day", "reading", "day", "night", "day"],
                "sdnn_ms": [None, 40.0, None, None, None],
                "rmssd_ms": [31.5, None, None, 30.0, 1200.0],
                "device": None,
                "n_beats": None,
                "beat_clock_offset_min": None,
                "beat_clock_residual_s": None,
            }
        ),
        "vendor_hrv",
    ).with_columns(row_number=pl.int_range(1, n + 1, dtype=pl.Int64))
    checked = validate.row_rules("vendor_hrv", frame)
    assert _reasons(checked) == {
        3: "neither sdnn_ms nor rmssd_ms",
        4: "period not in [reading, day]",
        5: "rmssd_ms out of range [0, 1000]",
    }


def test_missing_columns_are_a_key_error() -> None:
    with pytest.raises(KeyError, match="row_number"):
        validate.row_rules("beats", _beats([0], [800.0]).drop("row_number"))


def test_input_frame_is_not_modified() -> None:
    frame = _beats([0, 0, -1], [800.0, 800.0, 900.0])
    before = frame.clone()
    validate.row_rules("beats", frame)
    assert frame.equals(before)


def test_as_quarantine_and_empty_quarantine() -> None:
    frame = _beats([0, 1], [800.0, 810.0])
    whole = validate.as_quarantine("beats", frame, "batch failed expectations: x")
    assert whole.schema == schema.polars_schema("quarantine")
    assert whole["reason"].to_list() == ["batch failed expectations: x"] * 2
    assert whole["row_number"].to_list() == [1, 2]
    assert validate.empty_quarantine().schema == schema.polars_schema("quarantine")
    assert validate.empty_quarantine().height == 0
