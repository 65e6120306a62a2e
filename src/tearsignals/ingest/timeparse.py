"""Text and epoch values to UTC instants, vectorised, never guessing.

Every parser returns a frame with one row per input value and the columns

``utc``
    ``Datetime("us", "UTC")``, null where the value could not be placed in time;
``reason``
    ``String``, null where ``utc`` is set, otherwise a short stable reason
    (the ``REASON_*`` constants), so the caller can quarantine the row.

Accepted forms
--------------
* ISO 8601 with an inline offset: ``2026-01-05T15:00:00.812+01:00``, ``...Z``,
  ``+0100`` or ``+01``; a space may replace the ``T``; seconds and fractional
  seconds are optional (fractions beyond microseconds are truncated).
* A local wall time (no offset) plus a per-row IANA zone (``Europe/Berlin``)
  or a per-row offset text (``+01:00``) in a separate tz column. An inline
  offset wins over the tz column; the tz column wins over a default zone
  (:class:`LocalZones`, e.g. from the subject profile), which may change
  on given dates (travel).
* Epoch milliseconds, integer or numeric text, between 1990 and 2100.

DST decisions (documented choice: reject, never guess)
------------------------------------------------------
* A local time inside a spring-forward gap does not exist: null, reason
  :data:`REASON_NONEXISTENT`.
* A local time inside a fall-back overlap happened twice: null, reason
  :data:`REASON_AMBIGUOUS`. Picking one of the two instants would shift an
  episode by an hour without anyone noticing; the row is quarantined instead.

Examples
--------
>>> out = utc_from_iso(pl.Series(["2026-01-05T15:00:00.812+01:00", "2026-01-05 15:00"]))
>>> out["utc"][0]
datetime.datetime(2026, 1, 5, 14, 0, 0, 812000, tzinfo=zoneinfo.ZoneInfo(key='UTC'))
>>> out["reason"][1]
'local time without offset or tz'
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Literal

import polars as pl

UTC_DTYPE = pl.Datetime("us", "UTC")

REASON_MISSING = "missing time"
REASON_UNPARSEABLE = "unparseable time"
REASON_INVALID = "invalid date or time"
REASON_BAD_OFFSET = "invalid UTC offset"
REASON_NO_TZ = "local time without offset or tz"
REASON_UNKNOWN_TZ = "unknown time zone"
REASON_NONEXISTENT = "nonexistent local time (DST gap)"
REASON_AMBIGUOUS = "ambiguous local time (DST overlap)"
REASON_EPOCH_UNPARSEABLE = "unparseable epoch ms"
REASON_EPOCH_RANGE = "epoch ms out of range [1990, 2100)"

EPOCH_MS_MIN = 631_152_000_000  # 1990-01-01T00:00:00Z
EPOCH_MS_MAX = 4_102_444_800_000  # 2100-01-01T00:00:00Z
MAX_OFFSET_MIN = 14 * 60  # real UTC offsets lie within ±14:00

_ISO = (
    r"^(?P<date>\d{4}-\d{2}-\d{2})[Tt ](?P<hm>(?:[01]\d|2[0-3]):[0-5]\d)"
    r"(?::(?P<sec>[0-5]\d)(?:[.,](?P<frac>\d+))?)?"
    r"\s*(?P<off>[Zz]|[+-]\d{2}(?::?\d{2})?)?$"
)
_OFFSET = r"^(?P<sign>[+-])(?P<hh>\d{2}):?(?P<mm>\d{2})?$"


def _clean_text(values: pl.Series) -> pl.Series:
    """Values as stripped text; empty strings become null."""
    stripped = values.cast(pl.String).str.strip_chars().rename("text")
    return stripped.to_frame().select(pl.when(pl.col("text") != "").then(pl.col("text")))["text"]


def _is_offset(text: pl.Expr) -> pl.Expr:
    """Whether the text is an offset (``Z``, ``+01``, ``+0100``, ``+01:00``)."""
    return text.str.contains(r"^(?:[Zz]|[+-]\d{2}(?::?\d{2})?)$")


def _normalised_offset(text: pl.Expr) -> pl.Expr:
    """``Z``/``+01``/``+0100``/``+01:00`` → ``+HH:MM`` text (null if not an offset)."""
    parts = text.str.replace(r"^[Zz]$", "+00:00").str.extract_groups(_OFFSET)
    mm = parts.struct.field("mm").fill_null("00")
    return pl.concat_str(parts.struct.field("sign"), parts.struct.field("hh"), pl.lit(":"), mm)


def _offset_minutes(offset: pl.Expr) -> pl.Expr:
    """Signed minutes east of UTC of a normalised ``+HH:MM`` offset."""
    hh = offset.str.slice(1, 2).cast(pl.Int64)
    mm = offset.str.slice(4, 2).cast(pl.Int64)
    sign = pl.when(offset.str.starts_with("-")).then(-1).otherwise(1)
    return pl.when(mm < 60).then(sign * (hh * 60 + mm))


def _naive_datetime() -> pl.Expr:
    """Wall-clock datetime (no zone) from the ISO regex group columns; null if invalid."""
    seconds = pl.concat_str(
        pl.col("date"), pl.lit("T"), pl.col("hm"), pl.lit(":"), pl.col("sec").fill_null("00")
    ).str.to_datetime("%Y-%m-%dT%H:%M:%S", strict=False, time_unit="us")
    micros = pl.col("frac").str.slice(0, 6).str.pad_end(6, "0").cast(pl.Int64)
    return seconds + pl.duration(microseconds=micros.fill_null(0))


@lru_cache(maxsize=4096)  # zone names come from input files: keep the cache bounded
def is_known_time_zone(name: str) -> bool:
    """Whether polars (chrono-tz) knows the IANA zone ``name``.

    >>> is_known_time_zone("Europe/Berlin"), is_known_time_zone("Mars/Olympus")
    (True, False)
    """
    try:
        pl.Series([0], dtype=pl.Datetime("us")).dt.replace_time_zone(name)
    except pl.exceptions.PolarsError:
        return False
    return True


@dataclass(frozen=True)
class LocalZones:
    """The IANA zone of someone's local wall times, over time: ``first``, then dated changes.

    ``changes`` holds ``(since, zone)`` pairs in increasing order: from the
    local wall time ``since`` on (read on the new zone's clock), local times
    are in ``zone``. A local time is matched against the changes by its wall
    clock; an instant by the UTC instant of each change's ``since`` in its zone.

    Examples
    --------
    >>> trip = LocalZones("Europe/Berlin", ((datetime(2026, 3, 1), "America/New_York"),))
    >>> naive = pl.Series([datetime(2026, 2, 28, 23), datetime(2026, 3, 1, 8)])
    >>> pl.select(trip.of_local(pl.lit(naive))).to_series().to_list()
    ['Europe/Berlin', 'America/New_York']
    """

    first: str
    changes: tuple[tuple[datetime, str], ...] = ()

    @property
    def names(self) -> list[str]:
        """Every zone named, sorted."""
        return sorted({self.first, *(zone for _, zone in self.changes)})

    def of_local(self, naive: pl.Expr) -> pl.Expr:
        """The zone in force at each local wall time (``Datetime`` without zone)."""
        zone = pl.lit(self.first, pl.String)
        for since, name in self.changes:
            zone = (
                pl.when(naive >= pl.lit(since, pl.Datetime("us")))
                .then(pl.lit(name))
                .otherwise(zone)
            )
        return zone

    def of_instant(self, utc: pl.Expr) -> pl.Expr:
        """The zone in force at each UTC instant."""
        zone = pl.lit(self.first, pl.String)
        for since, name in self.changes:
            boundary = (
                pl.lit(since, pl.Datetime("us"))
                .dt.replace_time_zone(name, ambiguous="earliest", non_existent="null")
                .dt.convert_time_zone("UTC")
            )
            zone = pl.when(utc >= boundary).then(pl.lit(name)).otherwise(zone)
        return zone


def _local_to_utc(
    naive: pl.Expr, zone: pl.Expr, zones: list[str], ambiguous: Literal["earliest", "latest"]
) -> pl.Expr:
    """UTC instant of ``naive`` read in each row's IANA ``zone`` (null in DST gaps)."""
    branches = [
        pl.when(zone == name).then(
            naive.dt.replace_time_zone(
                name, ambiguous=ambiguous, non_existent="null"
            ).dt.convert_time_zone("UTC")
        )
        for name in zones
    ]
    return pl.coalesce(branches) if branches else pl.lit(None, dtype=UTC_DTYPE)


def _with_parts(text: pl.Series, tz: pl.Series | None, default: LocalZones | None) -> pl.DataFrame:
    """Frame of the regex parts, the wall time, the offset in force and the IANA zone."""
    tz_text = _clean_text(tz) if tz is not None else pl.Series([None] * len(text), dtype=pl.String)
    frame = pl.DataFrame({"text": _clean_text(text), "tz": tz_text})
    parts = frame.with_columns(parts=pl.col("text").str.extract_groups(_ISO)).unnest("parts")
    with_offsets = parts.with_columns(
        offset=_normalised_offset(pl.col("off")),
        tz_is_offset=_is_offset(pl.col("tz")).fill_null(False),
    )
    from_tz = pl.when(pl.col("tz_is_offset")).then(_normalised_offset(pl.col("tz")))
    naive = _naive_datetime()
    zone = pl.col("tz") if default is None else pl.coalesce("tz", default.of_local(naive))
    return with_offsets.select(
        "text",
        "offset",
        matched=pl.col("date").is_not_null(),
        naive=naive,
        offset_used=pl.coalesce(pl.col("offset"), from_tz),
        zone=pl.when(pl.col("offset").is_null() & ~pl.col("tz_is_offset")).then(zone),
    )


def _utc_and_reason(work: pl.DataFrame) -> pl.DataFrame:
    """Add ``utc`` and ``reason`` to the frame built by :func:`_with_parts`."""
    zones = [z for z in work["zone"].drop_nulls().unique().sort() if is_known_time_zone(z)]
    naive, zone = pl.col("naive"), pl.col("zone")
    minutes = _offset_minutes(pl.col("offset_used"))
    earliest = _local_to_utc(naive, zone, zones, "earliest")
    latest = _local_to_utc(naive, zone, zones, "latest")
    by_offset = (naive - pl.duration(minutes=minutes)).dt.replace_time_zone("UTC")
    reason = (
        pl.when(pl.col("text").is_null()).then(pl.lit(REASON_MISSING))
        .when(~pl.col("matched")).then(pl.lit(REASON_UNPARSEABLE))
        .when(naive.is_null()).then(pl.lit(REASON_INVALID))
        .when(pl.col("offset_used").is_not_null() & (minutes.abs() > MAX_OFFSET_MIN))
        .then(pl.lit(REASON_BAD_OFFSET))
        .when(pl.col("offset_used").is_not_null() & minutes.is_null()).then(pl.lit(REASON_BAD_OFFSET))
        .when(pl.col("offset_used").is_not_null()).then(pl.lit(None, dtype=pl.String))
        .when(zone.is_null()).then(pl.lit(REASON_NO_TZ))
        .when(~zone.is_in(zones)).then(pl.lit(REASON_UNKNOWN_TZ))
        .when(earliest.is_null()).then(pl.lit(REASON_NONEXISTENT))
        .when(earliest != latest).then(pl.lit(REASON_AMBIGUOUS))
    )  # fmt: skip
    utc = pl.when(pl.col("offset_used").is_not_null()).then(by_offset).otherwise(earliest)
    return work.with_columns(reason=reason).with_columns(
        utc=pl.when(pl.col("reason").is_null()).then(utc).cast(UTC_DTYPE)
    )


def utc_from_iso(
    text: pl.Series, tz: pl.Series | None = None, *, default_tz: str | LocalZones | None = None
) -> pl.DataFrame:
    """UTC instants of ISO 8601 texts, each read with its inline offset or its row's zone.

    Parameters
    ----------
    text
        ISO 8601 date-times (any dtype; cast to text).
    tz
        Optional per-row IANA zone names or offset texts, used only where the
        text carries no inline offset.
    default_tz
        Zone for rows whose ``tz`` is null, e.g. ``"UTC"`` for a column whose
        header declares UTC (``t_utc``), or :class:`LocalZones` (a subject's
        zone with dated changes, chosen by each row's wall time). ``None``:
        such rows are rejected.

    Returns
    -------
    pl.DataFrame
        Columns ``utc`` (Datetime us UTC), ``reason`` (String), ``offset``
        (the inline offset normalised to ``+HH:MM``, ``Z`` as ``+00:00``, else
        null) and ``zone`` (the IANA zone a local time was read in, else null).

    Examples
    --------
    >>> out = utc_from_iso(
    ...     pl.Series(["2026-01-07 19:42", "2026-03-29 02:30"]),
    ...     pl.Series(["Europe/Berlin", "Europe/Berlin"]),
    ... )
    >>> out["utc"][0].isoformat(), out["reason"][1]
    ('2026-01-07T18:42:00+00:00', 'nonexistent local time (DST gap)')
    """
    if tz is not None and len(tz) != len(text):
        raise ValueError(f"text and tz differ in length: {len(text)} != {len(tz)}")
    default = LocalZones(default_tz) if isinstance(default_tz, str) else default_tz
    work = _utc_and_reason(_with_parts(text, tz, default))
    return work.select(
        "utc", "reason", "offset", zone=pl.when(pl.col("utc").is_not_null()).then("zone")
    )


def utc_from_epoch_ms(values: pl.Series) -> pl.DataFrame:
    """UTC instants of epoch milliseconds (integers, floats or numeric text).

    Values outside [1990, 2100) are rejected rather than reinterpreted (a
    seconds-based epoch read as milliseconds would land in January 1970).

    Returns
    -------
    pl.DataFrame
        Columns ``utc`` (Datetime us UTC) and ``reason`` (String).

    Examples
    --------
    >>> out = utc_from_epoch_ms(pl.Series(["1767621600812", "1767621600", "x"]))
    >>> out["utc"][0].isoformat(), out["reason"].to_list()[1:]
    ('2026-01-05T14:00:00.812000+00:00', ['epoch ms out of range [1990, 2100)', 'unparseable epoch ms'])
    """
    text = _clean_text(values)
    number = text.cast(pl.Float64, strict=False)
    frame = pl.DataFrame({"text": text, "ms": number})
    ms = pl.col("ms")
    reason = (
        pl.when(pl.col("text").is_null()).then(pl.lit(REASON_MISSING))
        .when(ms.is_null() | ~ms.is_finite()).then(pl.lit(REASON_EPOCH_UNPARSEABLE))
        .when((ms < EPOCH_MS_MIN) | (ms >= EPOCH_MS_MAX)).then(pl.lit(REASON_EPOCH_RANGE))
    )  # fmt: skip
    micros = (ms * 1000).round(0).cast(pl.Int64, strict=False)
    utc = pl.from_epoch(micros, time_unit="us").dt.replace_time_zone("UTC")
    return frame.with_columns(reason=reason).select(
        utc=pl.when(pl.col("reason").is_null()).then(utc).cast(UTC_DTYPE),
        reason=pl.col("reason"),
    )
