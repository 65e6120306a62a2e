"""Text and epoch times become UTC instants, or null with a reason; never a guess."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pytest

from tearsignals.ingest import timeparse as tp


def _one(text: str | None, tz: str | None = None, default_tz: str | None = None) -> tuple:
    out = tp.utc_from_iso(
        pl.Series([text], dtype=pl.String), pl.Series([tz], dtype=pl.String), default_tz=default_tz
    )
    return out["utc"][0], out["reason"][0]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-05T15:00:00.812+01:00", datetime(2026, 1, 5, 14, 0, 0, 812000, tzinfo=UTC)),
        ("2026-01-05T14:00:00Z", datetime(2026, 1, 5, 14, tzinfo=UTC)),
        ("2026-01-05 14:00:00z", datetime(2026, 1, 5, 14, tzinfo=UTC)),
        ("2026-01-05 10:30-03:30", datetime(2026, 1, 5, 14, tzinfo=UTC)),
        ("2026-01-05T15:00:00+0100", datetime(2026, 1, 5, 14, tzinfo=UTC)),
        ("2026-01-05T15:00:00+01", datetime(2026, 1, 5, 14, tzinfo=UTC)),
        ("2026-01-05T14:00:00.123456789Z", datetime(2026, 1, 5, 14, 0, 0, 123456, tzinfo=UTC)),
        ("  2026-01-05T14:00:00,5Z ", datetime(2026, 1, 5, 14, 0, 0, 500000, tzinfo=UTC)),
        ("2026-01-01T00:30:00+01:00", datetime(2025, 12, 31, 23, 30, tzinfo=UTC)),
    ],
)
def test_iso_with_inline_offset_is_placed_exactly(text: str, expected: datetime) -> None:
    assert _one(text) == (expected, None)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("2026-01-05 15:00", tp.REASON_NO_TZ),
        ("2026-01-05T15:00:00.5", tp.REASON_NO_TZ),
        ("", tp.REASON_MISSING),
        (None, tp.REASON_MISSING),
        ("yesterday", tp.REASON_UNPARSEABLE),
        ("2026-01-05", tp.REASON_UNPARSEABLE),
        ("2026-01-05T25:00:00Z", tp.REASON_UNPARSEABLE),
        ("2026-01-05T23:59:60Z", tp.REASON_UNPARSEABLE),
        ("2026-02-30T10:00:00Z", tp.REASON_INVALID),
        ("2026-01-05T15:00:00+15:00", tp.REASON_BAD_OFFSET),
        ("2026-01-05T15:00:00+01:60", tp.REASON_BAD_OFFSET),
    ],
)
def test_unplaceable_values_are_null_with_a_reason(text: str | None, reason: str) -> None:
    assert _one(text) == (None, reason)


def test_local_time_uses_each_rows_own_zone() -> None:
    out = tp.utc_from_iso(
        pl.Series(["2026-01-07 19:42", "2026-01-07 19:42", "2026-07-07 19:42", "2026-01-07 19:42"]),
        pl.Series(["Europe/Berlin", "America/New_York", "Europe/Berlin", "+05:30"]),
    )
    assert out["reason"].null_count() == 4
    assert out["utc"].to_list() == [
        datetime(2026, 1, 7, 18, 42, tzinfo=UTC),
        datetime(2026, 1, 8, 0, 42, tzinfo=UTC),
        datetime(2026, 7, 7, 17, 42, tzinfo=UTC),
        datetime(2026, 1, 7, 14, 12, tzinfo=UTC),
    ]


def test_inline_offset_wins_over_the_tz_column() -> None:
    assert _one("2026-01-07T19:42:00+01:00", "America/New_York") == (
        datetime(2026, 1, 7, 18, 42, tzinfo=UTC),
        None,
    )


def test_dst_gap_and_overlap_are_rejected_not_guessed() -> None:
    assert _one("2026-03-29 02:30", "Europe/Berlin") == (None, tp.REASON_NONEXISTENT)
    assert _one("2026-10-25 02:30", "Europe/Berlin") == (None, tp.REASON_AMBIGUOUS)
    # one minute before the overlap is unambiguous
    assert _one("2026-10-25 01:59", "Europe/Berlin")[1] is None


def test_unknown_zone_and_default_zone() -> None:
    assert _one("2026-01-07 19:42", "Mars/Olympus") == (None, tp.REASON_UNKNOWN_TZ)
    assert _one("2026-01-07 19:42", None, default_tz="UTC") == (
        datetime(2026, 1, 7, 19, 42, tzinfo=UTC),
        None,
    )


def test_offset_column_reports_the_inline_offset_normalised() -> None:
    out = tp.utc_from_iso(
        pl.Series(["2026-01-05T15:00+0100", "2026-01-05T14:00Z", "2026-01-05 14:00"])
    )
    assert out["offset"].to_list() == ["+01:00", "+00:00", None]
    assert out.schema["utc"] == pl.Datetime("us", "UTC")


def test_tz_of_a_different_length_is_an_error() -> None:
    with pytest.raises(ValueError, match="differ in length"):
        tp.utc_from_iso(pl.Series(["2026-01-05T14:00Z"]), pl.Series(["UTC", "UTC"]))


def test_epoch_ms_integers_text_and_rejects() -> None:
    values = pl.Series(["1767621600812", " 1767621600812.5 ", "1767621600", "12abc", "", "nan"])
    out = tp.utc_from_epoch_ms(values)
    assert out["utc"][0] == datetime(2026, 1, 5, 14, 0, 0, 812000, tzinfo=UTC)
    assert out["utc"][1] == datetime(2026, 1, 5, 14, 0, 0, 812500, tzinfo=UTC)
    assert out["reason"].to_list() == [
        None,
        None,
        tp.REASON_EPOCH_RANGE,
        tp.REASON_EPOCH_UNPARSEABLE,
        tp.REASON_MISSING,
        tp.REASON_EPOCH_UNPARSEABLE,
    ]
    ints = tp.utc_from_epoch_ms(pl.Series([1767621600000], dtype=pl.Int64))
    assert ints["utc"][0] == datetime(2026, 1, 5, 14, tzinfo=UTC)


def test_reason_is_set_exactly_where_utc_is_null() -> None:
    texts = ["2026-01-05T14:00Z", "x", None, "2026-03-29 02:30", "2026-01-05 10:00"]
    zones = [None, None, None, "Europe/Berlin", "Asia/Tokyo"]
    out = tp.utc_from_iso(pl.Series(texts), pl.Series(zones))
    assert (out["utc"].is_null() == out["reason"].is_not_null()).all()
