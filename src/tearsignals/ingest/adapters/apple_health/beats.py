"""Typed beat rows per batch: the beat-list clock.

A beat's ``time`` attribute is a wall clock without date or offset, written by
the exporting phone: in its locale (12 h or 24 h, ``.`` or ``,`` before the
fraction, :func:`clock_us`) and in its zone *at export time*, which can differ
from the record's own ``startDate`` offset by whole hours or by :30/:45
(daylight saving since the measurement, travel, an export made elsewhere; e.g.
a record at ``19:14:47 -0400`` listing beats at ``6:14:48.94 PM``).

So each list is anchored to its record's span (:func:`_anchored`): of the
shifts ``s`` in steps of :data:`CLOCK_STEP` (every real zone offset is a
multiple of 15 min), the one that places the most beats of the list inside
``[startDate - margin, endDate + margin]`` is chosen (ties: the smallest
``|s|``, so an export in the record's own zone keeps ``s = 0``). A beat is
placed at ``startDate + u`` with ``u`` = its clock minus ``startDate``'s clock
minus ``s``, wrapped into [-12 h, +12 h): a list that crosses midnight
continues on the next day. Beats the chosen shift leaves outside the span are
tried once more at ``s ± 1 h`` (a daylight-saving switch of the export zone
inside the list); what neither explains is a reject, ``beat time outside
record span``. Per record the chosen shift (minutes, beat clock minus record
clock) and the residual (seconds the placed beats lie outside
``[startDate, endDate]``, taken up by the margin) go to the ledger columns
``vendor_hrv.beat_clock_offset_min`` / ``beat_clock_residual_s``
(:func:`beat_rows`). A beat at or before an earlier beat of its record is a
``non-monotonic beat time``.
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
CLOCK_STEP = timedelta(minutes=15)
DST_STEP = timedelta(hours=1)
MAX_SPAN = timedelta(hours=6)  # longer "spans" are broken end dates: candidates stay bounded
_DAY_US = 86_400_000_000
_HALF_DAY_US = _DAY_US // 2
_STEP_US = int(CLOCK_STEP.total_seconds() * 1e6)
_DST_US = int(DST_STEP.total_seconds() * 1e6)
_MARGIN_US = int(BEAT_SPAN_MARGIN.total_seconds() * 1e6)
LEDGER_SCHEMA = pl.Schema(
    {
        "ordinal": pl.Int64(),
        "beat_clock_offset_min": pl.Int64(),
        "beat_clock_residual_s": pl.Float64(),
    }
)


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


def _wrapped(us: pl.Expr) -> pl.Expr:
    """Microseconds wrapped into [-12 h, +12 h)."""
    return (us + _HALF_DAY_US) % _DAY_US - _HALF_DAY_US


def _record_windows(work: pl.DataFrame) -> pl.DataFrame:
    """Per record: span (µs, bounded), the candidate shifts around its list's clock offset."""
    listed = work.filter(pl.col("d_us").is_not_null() & pl.col("start_utc").is_not_null())
    first = pl.col("d_us").first()
    reference = (first + _wrapped(pl.col("d_us") - first).median()).round(0).cast(pl.Int64)
    per_record = listed.group_by("ordinal").agg(d_ref=reference, span_us=pl.col("span_us").first())
    low = (pl.col("d_ref") - pl.col("span_us") - _MARGIN_US) // _STEP_US
    high = (pl.col("d_ref") + _MARGIN_US) // _STEP_US + 1
    return per_record.select(
        "ordinal", "span_us", shift_us=pl.int_ranges(low, high, dtype=pl.Int64) * _STEP_US
    ).explode("shift_us")


def _chosen_shifts(work: pl.DataFrame) -> pl.DataFrame:
    """Per record the shift (µs, in [-12 h, +12 h)) placing most beats inside the span."""
    candidates = _record_windows(work).with_columns(shift_us=_wrapped(pl.col("shift_us")))
    scored = (
        candidates.unique(["ordinal", "shift_us"])
        .join(work.select("ordinal", "d_us"), on="ordinal")
        .with_columns(u_us=_wrapped(pl.col("d_us") - pl.col("shift_us")))
        .group_by("ordinal", "shift_us")
        .agg(inside=_inside(pl.col("u_us"), pl.col("span_us").first()).sum().cast(pl.Int64))
    )
    return (
        scored.sort("ordinal", -pl.col("inside"), pl.col("shift_us").abs(), "shift_us")
        .unique("ordinal", keep="first")
        .select("ordinal", "shift_us")
    )


def _inside(u_us: pl.Expr, span_us: pl.Expr) -> pl.Expr:
    """Whether a beat at ``startDate + u`` lies in the record span, margins included."""
    return (u_us >= -_MARGIN_US) & (u_us <= span_us + _MARGIN_US)


def _placed(work: pl.DataFrame) -> pl.DataFrame:
    """Beat rows plus ``shift_us`` (the record's) and ``u_us`` (offset from ``startDate``, or null).

    A beat the record's shift leaves outside the span is placed with the shift
    ± :data:`DST_STEP` if that puts it inside; otherwise ``u_us`` is null.
    """
    with_shift = work.join(_chosen_shifts(work), on="ordinal", how="left", maintain_order="left")
    u = [_wrapped(pl.col("d_us") - pl.col("shift_us") - k * _DST_US) for k in (0, -1, 1)]
    span = pl.col("span_us")
    options = [pl.when(_inside(option, span)).then(option) for option in u]
    return with_shift.with_columns(u_us=pl.coalesce(options))


def _beat_times(frame: pl.DataFrame) -> pl.DataFrame:
    """Beat text rows plus ``start_utc``, ``start_reason``, ``clock``, ``shift_us`` and ``t_utc``.

    ``t_utc`` is null for a beat no shift of its list places in the record span.
    """
    start = utc_and_reason(frame["start"], "record startDate")
    end = frame["end"].str.strptime(pl.Datetime("us"), DATE_FORMAT, strict=False).cast(UTC_DTYPE)
    clock = clock_us(frame["time"])
    span_us = (end - start["utc"]).dt.total_microseconds()
    work = frame.with_columns(
        start_utc=start["utc"],
        start_reason=start["reason"],
        clock=clock,
        span_us=pl.when((span_us >= 0) & (span_us <= MAX_SPAN.total_seconds() * 1e6))
        .then(span_us)
        .otherwise(int(SPAN_WITHOUT_END.total_seconds() * 1e6)),
        d_us=(clock - _start_clock_us(frame["start"])) % _DAY_US,
    )
    placed = _placed(work)
    return placed.with_columns(t_utc=pl.col("start_utc") + pl.duration(microseconds="u_us"))


def _beat_reasons(frame: pl.DataFrame) -> pl.DataFrame:
    """Add ``t_utc``, ``bpm_value`` and ``reason`` (all but the monotonic check) to beat text rows."""
    bpm = pl.col("bpm").str.strip_chars().str.replace(",", ".", literal=True)
    work = _beat_times(frame).with_columns(bpm_value=bpm.cast(pl.Float64, strict=False))
    value = pl.col("bpm_value")
    reason = tab.first_reason([
        pl.col("problem"),
        pl.col("start_reason"),
        pl.when(pl.col("time").str.strip_chars().fill_null("") == "").then(pl.lit("missing beat time")),
        pl.when(pl.col("clock").is_null()).then(pl.lit("unparseable beat time")),
        pl.when(bpm.fill_null("") == "").then(pl.lit("missing bpm")),
        pl.when(value.is_null() | ~value.is_finite()).then(pl.lit("unparseable bpm")),
        pl.when(value <= 0).then(pl.lit("bpm not positive")),
        pl.when(pl.col("t_utc").is_null()).then(pl.lit("beat time outside record span")),
    ])  # fmt: skip
    return work.with_columns(reason=reason)


def _ledger(rows: pl.DataFrame) -> pl.DataFrame:
    """Per record with placed beats: the chosen shift (min) and the residual (s) outside the span."""
    placed = rows.filter(pl.col("reason").is_null())
    before = (pl.col("u_us").min().clip(upper_bound=0)).abs()
    after = (pl.col("u_us").max() - pl.col("span_us").first()).clip(lower_bound=0)
    return (
        placed.group_by("ordinal")
        .agg(
            beat_clock_offset_min=pl.col("shift_us").first() // 60_000_000,
            beat_clock_residual_s=(before + after) / 1e6,
        )
        .sort("ordinal")
        .cast(LEDGER_SCHEMA)
    )


def beat_rows(
    lists: pl.DataFrame, records: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Accepted beats, rejects and the clock ledger (raw frames of ``beat_list_raw``/``beat_record_raw``).

    The ledger has one row per record with placed beats (:data:`LEDGER_SCHEMA`).
    A beat at or before an earlier beat of its record is a ``non-monotonic beat time``.
    """
    work = _beat_reasons(_beat_frame(lists, records))
    eligible = pl.col("reason").is_null()
    earlier = pl.when(eligible).then("t_utc").cum_max().forward_fill().shift(1).over("ordinal")
    late = eligible & (pl.col("t_utc") <= earlier)
    work = work.with_columns(
        reason=pl.coalesce("reason", pl.when(late).then(pl.lit("non-monotonic beat time")))
    )
    fields = pl.concat_str(
        [pl.col(c).fill_null("") for c in ("start", "bpm", "time")], separator=","
    )
    rows = work.select(
        "ordinal",
        "pos",
        "source_id",
        "t_utc",
        rr_ms=60_000.0 / pl.col("bpm_value"),
        reason="reason",
        raw=pl.when(pl.col("reason").is_not_null()).then(pl.coalesce("problem_raw", fields)),
    )
    good, rejects = split(rows, "beats")
    return good, rejects, _ledger(work)
