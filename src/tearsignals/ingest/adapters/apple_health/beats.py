"""Typed beat rows per batch: the beat-list clock.

A beat's ``time`` attribute is a wall clock without date or offset; it is
placed at the record's ``startDate`` plus the clock difference wrapped into
[-12 h, +12 h) (:func:`_beat_times`), checked against the record's span and
for increasing order within its record (:func:`beat_rows`).
"""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from tearsignals.ingest.adapters import _tabular as tab
from tearsignals.ingest.adapters.apple_health.records import DATE_FORMAT
from tearsignals.ingest.adapters.apple_health.typed import as_text, split, utc_and_reason
from tearsignals.ingest.timeparse import UTC_DTYPE

BEAT_SPAN_MARGIN = timedelta(seconds=60)
SPAN_WITHOUT_END = timedelta(minutes=5)
_DAY_US = 86_400_000_000
_HALF_DAY_US = _DAY_US // 2


def _beat_frame(lists: pl.DataFrame, records: pl.DataFrame) -> pl.DataFrame:
    """Text rows of beats joined to their record's source id, dates and problem."""
    per_record = as_text(records, ["start", "end"])
    beats = as_text(lists, ["bpm", "time"])
    joined = beats.join(per_record, on="ordinal", how="left", maintain_order="left")
    bad = pl.when("bad").then(pl.lit("malformed beat element"))
    return joined.with_columns(problem=pl.coalesce("problem", bad))


def _clock_us_by_regex(text: pl.Series) -> pl.Series:
    """:func:`clock_us` for the texts ``strptime`` does not take (``p.m.``, no seconds, ...)."""
    normal = text.str.replace_all(r"[ \t\u00a0\u202f]+", " ").str.strip_chars().str.to_lowercase()
    parts = normal.str.extract_groups(
        r"^(?P<h>[0-9]{1,2}):(?P<m>[0-9]{2})(?::(?P<s>[0-9]{2})(?:[.,](?P<f>[0-9]{1,9}))?)?"
        r"(?: ?(?P<half>[ap])\.? ?m\.?)?$"
    )
    hour, minute, second = (pl.col(n).cast(pl.Int64) for n in ("h", "m", "s"))
    half = pl.col("half")
    hour24 = (
        pl.when(half.is_null() & (hour < 24)).then(hour)
        .when(half.is_not_null() & (hour >= 1) & (hour <= 12))
        .then(hour % 12 + pl.when(half == "p").then(12).otherwise(0))
    )  # fmt: skip
    micros = pl.col("f").str.slice(0, 6).str.pad_end(6, "0").cast(pl.Int64).fill_null(0)
    value = hour24 * 3_600_000_000 + minute * 60_000_000 + second.fill_null(0) * 1_000_000
    valid = (minute < 60) & (second.fill_null(0) < 60)
    return (
        parts.struct.unnest()
        .select(pl.when(valid).then(value + micros).alias(text.name))
        .to_series()
    )


def clock_us(text: pl.Series) -> pl.Series:
    """Microseconds since midnight of locale clock texts (12 h or 24 h); null if unreadable.

    Accepts ``AM``/``PM`` in any case, with optional dots and (narrow no-break)
    spaces, and ``.`` or ``,`` before the fraction. The usual forms go through
    ``strptime``; the rest through a regex.

    >>> clocks = ["8:12:03.51 PM", "20:12:03,51", "12:00:01\u202fa.m.", "13:00 PM", "0:00"]
    >>> clock_us(pl.Series(clocks)).to_list()
    [72723510000, 72723510000, 1000000, None, 0]
    """
    dotted = text.str.replace(",", ".", literal=True)
    parsed = pl.select(
        pl.coalesce(
            pl.lit(dotted).str.to_time("%I:%M:%S%.f %p", strict=False),
            pl.lit(dotted).str.to_time("%H:%M:%S%.f", strict=False),
        ).cast(pl.Int64)
        // 1000
    ).to_series()
    unread = parsed.is_null() & text.is_not_null()
    if not unread.any():
        return parsed.alias(text.name)
    return parsed.zip_with(~unread, _clock_us_by_regex(text)).alias(text.name)


def _start_clock_us(start: pl.Series) -> pl.Series:
    """Microseconds since midnight of ``startDate`` texts' wall clock."""
    return clock_us(start.str.extract(r"[ T]([0-9]{2}:[0-9]{2}:[0-9]{2})\b", 1))


def _beat_times(frame: pl.DataFrame) -> pl.DataFrame:
    """Beat text rows plus ``start_utc``, ``start_reason``, ``end_utc``, ``clock`` and ``t_utc``."""
    start = utc_and_reason(frame["start"], "record startDate")
    end = frame["end"].str.strptime(pl.Datetime("us"), DATE_FORMAT, strict=False)
    clock = clock_us(frame["time"])
    delta_us = (clock - _start_clock_us(frame["start"]) + 3 * _HALF_DAY_US) % _DAY_US
    work = frame.with_columns(
        start_utc=start["utc"],
        start_reason=start["reason"],
        end_utc=end.cast(UTC_DTYPE),
        clock=clock,
        delta_us=delta_us - _HALF_DAY_US,
    )
    return work.with_columns(t_utc=pl.col("start_utc") + pl.duration(microseconds="delta_us"))


def _beat_reasons(frame: pl.DataFrame) -> pl.DataFrame:
    """Add ``t_utc``, ``bpm_value`` and ``reason`` (all but the monotonic check) to beat text rows."""
    bpm = pl.col("bpm").str.strip_chars().str.replace(",", ".", literal=True)
    work = _beat_times(frame).with_columns(bpm_value=bpm.cast(pl.Float64, strict=False))
    span = pl.coalesce(pl.col("end_utc") - pl.col("start_utc"), pl.lit(SPAN_WITHOUT_END))
    earliest = pl.col("start_utc") - BEAT_SPAN_MARGIN
    latest = pl.col("start_utc") + span + BEAT_SPAN_MARGIN
    value = pl.col("bpm_value")
    reason = tab.first_reason([
        pl.col("problem"),
        pl.col("start_reason"),
        pl.when(pl.col("time").str.strip_chars().fill_null("") == "").then(pl.lit("missing beat time")),
        pl.when(pl.col("clock").is_null()).then(pl.lit("unparseable beat time")),
        pl.when(bpm.fill_null("") == "").then(pl.lit("missing bpm")),
        pl.when(value.is_null() | ~value.is_finite()).then(pl.lit("unparseable bpm")),
        pl.when(value <= 0).then(pl.lit("bpm not positive")),
        pl.when((pl.col("t_utc") < earliest) | (pl.col("t_utc") > latest))
        .then(pl.lit("beat time outside record span")),
    ])  # fmt: skip
    return work.with_columns(reason=reason)


def beat_rows(lists: pl.DataFrame, records: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Accepted beats and rejects (raw frames of ``beat_list_raw`` and ``beat_record_raw``).

    A beat at or before an earlier beat of its record is a ``non-monotonic beat time``.
    """
    work = _beat_reasons(_beat_frame(lists, records))
    eligible = pl.col("reason").is_null()
    earlier = pl.when(eligible).then("t_utc").cum_max().forward_fill().shift(1).over("ordinal")
    late = eligible & (pl.col("t_utc") <= earlier)
    reason = pl.coalesce("reason", pl.when(late).then(pl.lit("non-monotonic beat time")))
    fields = pl.concat_str(
        [pl.col(c).fill_null("") for c in ("start", "bpm", "time")], separator=","
    )
    rows = work.with_columns(reason=reason).select(
        "ordinal",
        "pos",
        "source_id",
        "t_utc",
        rr_ms=60_000.0 / pl.col("bpm_value"),
        reason="reason",
        raw=pl.when(pl.col("reason").is_not_null()).then(pl.coalesce("problem_raw", fields)),
    )
    return split(rows, "beats")
