"""Beats from several sources reduce to one stream, independent of order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from tearsignals.beats.source_priority import beats_by_priority

T0 = datetime(2026, 1, 5, 15, tzinfo=UTC)


def _beats(source: str, origin: str, start_s: float, n: int, file_id: str = "f") -> pl.DataFrame:
    times = [T0 + timedelta(seconds=start_s + 0.8 * i) for i in range(n)]
    return pl.DataFrame(
        {
            "subject_id": ["S1"] * n,
            "source": [source] * n,
            "file_id": [file_id] * n,
            "t_utc": times,
            "rr_ms": [800.0] * n,
            "origin": [origin] * n,
        },
        schema_overrides={"t_utc": pl.Datetime("us", "UTC")},
    )


def test_device_rr_wins_where_present_and_ppg_fills_the_rest() -> None:
    ibi = _beats("e4_ibi", "rr", 0, 70)  # covers minute 0 only (56 s)
    bvp = _beats("e4_bvp", "ppg", 0, 150)  # covers minutes 0 and 1
    out = beats_by_priority(pl.concat([bvp, ibi]))
    minute = out["t_utc"].dt.truncate("1m")
    assert set(out.filter(minute == T0)["origin"]) == {"rr"}
    assert set(out.filter(minute > T0)["origin"]) == {"ppg"}


def test_other_subjects_are_not_affected() -> None:
    other = _beats("e4_bvp", "ppg", 0, 10).with_columns(subject_id=pl.lit("S2"))
    out = beats_by_priority(pl.concat([_beats("e4_ibi", "rr", 0, 10), other]))
    assert out.group_by("subject_id").len().sort("subject_id")["len"].to_list() == [10, 10]


@settings(max_examples=40, deadline=None)
@given(st.permutations(range(4)))
def test_result_does_not_depend_on_row_order(order: list[int]) -> None:
    parts = [
        _beats("e4_bvp", "ppg", 0, 100),
        _beats("e4_ibi", "rr", 30, 20),
        _beats("csv_beats", "rr", 200, 30, "b"),
        _beats("csv_beats", "rr", 200, 30, "a").with_columns(rr_ms=pl.lit(790.0)),
    ]
    expected = beats_by_priority(pl.concat(parts))
    shuffled = beats_by_priority(pl.concat([parts[i] for i in order]))
    assert shuffled.equals(expected)
    # Same origin, two files: the smaller file_id wins, deterministically.
    late = shuffled.filter(pl.col("t_utc") >= T0 + timedelta(seconds=200))
    assert set(late["file_id"]) <= {"a", "f"}
