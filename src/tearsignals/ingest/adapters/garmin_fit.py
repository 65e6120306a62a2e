"""Garmin FIT activity files: ``hrv`` messages to beats, ``record`` heart rate to heart_rate.

Decoded with ``fitdecode`` (CRC checked, decoder errors raised, never
half-read): a file is detected by its FIT header (header size 12 or 14 and
the ``.FIT`` signature at byte 8).

Records (what ``rows_in`` counts), numbered in file order
---------------------------------------------------------
* each RR value of an ``hrv`` message (``time[5]``, seconds). Unused slots
  are padding (0xFFFF, returned as ``None`` or 65.535 s) and are not records;
* each ``record`` message that carries ``heart_rate``. ``record`` messages
  without heart rate (GPS or power only) are not heart data and not records.

Time basis
----------
FIT timestamps are UTC (seconds since 1989-12-31T00:00:00Z); ``record``
heart rate keeps its own timestamp (1 Hz on the Fenix 5). ``hrv`` messages
carry no time, so the RR sequence is anchored: beat *k* is at
``anchor + sum(rr[0..k])``, with ``anchor`` the first ``record`` timestamp,
else the ``session`` ``start_time``, else ``file_id.time_created``.
Uncertainty: the anchor has 1 s resolution and the strap's first beat is
not tied to it; each RR missing from the file (dropouts) shifts the later
beats earlier, and a paused timer is not seen. On the Fenix 5 run the
last beat lands 5 ms after the ``session`` timestamp (75.005 s after the
anchor), on the walk 1.4 s before it; beats interleave with ``record``
messages within about 1 s of their timestamps.

Errors
------
A truncated file, a CRC mismatch or undecodable content is an
:class:`~tearsignals.errors.InputError` (one line): without the CRC the
content cannot be trusted, so nothing of it is kept. So is a file with no
heart data at all, and RR intervals with no timestamp to anchor them.
A ``record`` whose timestamp is before the previous heart-rate record's is a
reject (``non-monotonic time``).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import fitdecode
import polars as pl

from tearsignals.ingest.adapters import _tabular as tab
from tearsignals.ingest.adapters.base import NO_CONTEXT, Adapter, Context, Parsed
from tearsignals.ingest.timeparse import UTC_DTYPE

NAME = "garmin_fit"
FIT_SIGNATURE = b".FIT"
PADDING_S = 65.535
REASON_NON_MONOTONIC = "non-monotonic time (record before the previous record)"


def sniff(head: bytes, path: Path) -> bool:
    """A FIT header: size byte 12 or 14 and ``.FIT`` at byte 8."""
    return len(head) >= 12 and head[0] in (12, 14) and head[8:12] == FIT_SIGNATURE


@dataclass
class _Content:
    """What the adapter needs from the decoded messages, in file order."""

    rr: list[tuple[int, float]] = field(default_factory=list)
    hr: list[tuple[int, datetime, float]] = field(default_factory=list)
    first_record: datetime | None = None
    session_start: datetime | None = None
    created: datetime | None = None
    device: str | None = None
    count: int = 0

    def number(self) -> int:
        """The next record number (1-based, in file order)."""
        self.count += 1
        return self.count


def _decoded(path: Path) -> list[fitdecode.FitDataMessage]:
    """All data messages of the file (InputError for unreadable or corrupt files)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # decoder issues are raised below, not warned
            with fitdecode.FitReader(
                str(path),
                check_crc=fitdecode.CrcCheck.RAISE,
                error_handling=fitdecode.ErrorHandling.RAISE,
            ) as reader:
                return [f for f in reader if isinstance(f, fitdecode.FitDataMessage)]
    except OSError as exc:
        raise tab.input_error(path, f"cannot read file ({exc.strerror or exc})") from exc
    except fitdecode.FitCRCError as exc:
        raise tab.input_error(path, "corrupt FIT file (CRC mismatch)") from exc
    except fitdecode.FitEOFError as exc:
        raise tab.input_error(path, "truncated FIT file (ends inside a message)") from exc
    except fitdecode.FitHeaderError as exc:
        raise tab.input_error(path, "not a FIT file (bad header)") from exc
    except fitdecode.FitError as exc:
        raise tab.input_error(path, f"malformed FIT file ({type(exc).__name__})") from exc


def _value(message: fitdecode.FitDataMessage, name: str) -> Any:
    """A field's value, or None when the message lacks the field."""
    return message.get_value(name, fallback=None)


def _device(message: fitdecode.FitDataMessage) -> str | None:
    """``manufacturer product`` of a ``file_id`` message, as far as known."""
    parts = [_value(message, "manufacturer"), _value(message, "garmin_product")]
    parts[1] = parts[1] if parts[1] is not None else _value(message, "product")
    named = [str(p) for p in parts if p is not None]
    return " ".join(named) or None


def _take_hrv(content: _Content, message: fitdecode.FitDataMessage) -> None:
    """Add the RR values of an ``hrv`` message (seconds; padding skipped)."""
    times = _value(message, "time")
    values = times if isinstance(times, tuple | list) else (times,)
    for seconds in values:
        if seconds is not None and float(seconds) < PADDING_S:
            content.rr.append((content.number(), float(seconds) * 1000.0))


def _take(content: _Content, message: fitdecode.FitDataMessage) -> None:
    """Add what one message contributes."""
    if message.name == "hrv":
        _take_hrv(content, message)
    elif message.name == "record":
        stamp, bpm = _value(message, "timestamp"), _value(message, "heart_rate")
        if content.first_record is None:
            content.first_record = stamp
        if stamp is not None and bpm is not None:
            content.hr.append((content.number(), stamp, float(bpm)))
    elif message.name == "session" and content.session_start is None:
        content.session_start = _value(message, "start_time")
    elif message.name == "file_id" and content.created is None:
        content.created = _value(message, "time_created")
        content.device = _device(message)


def fit_content(messages: list[fitdecode.FitDataMessage]) -> _Content:
    """RR values, heart-rate records, anchor candidates and device of a decoded file."""
    content = _Content()
    for message in messages:
        _take(content, message)
    return content


def _anchor(path: Path, content: _Content) -> datetime:
    """Time the RR sequence starts from (see the module notes)."""
    for anchor in (content.first_record, content.session_start, content.created):
        if isinstance(anchor, datetime):
            return anchor
    raise tab.input_error(path, "hrv messages but no timestamp to anchor them")


def fit_beats(path: Path, content: _Content) -> pl.DataFrame:
    """Beats of the RR sequence, anchored at :func:`_anchor`."""
    rr = pl.DataFrame(
        content.rr, schema={"row_number": pl.Int64, "rr_ms": pl.Float64}, orient="row"
    )
    if rr.is_empty():
        return rr.select(_beat_columns(content.device, pl.lit(None, UTC_DTYPE)))
    anchor = pl.lit(_anchor(path, content)).cast(UTC_DTYPE)
    offset = pl.duration(microseconds=(pl.col("rr_ms").cum_sum() * 1000.0).round(0).cast(pl.Int64))
    return rr.select(_beat_columns(content.device, anchor + offset))


def _beat_columns(device: str | None, t_utc: pl.Expr) -> list[pl.Expr]:
    return [
        pl.lit(NAME).alias("source"),
        pl.lit(device, pl.String).alias("device"),
        t_utc.cast(UTC_DTYPE).alias("t_utc"),
        pl.col("rr_ms"),
        pl.lit("rr").alias("origin"),
        pl.col("row_number"),
    ]


def fit_heart_rate(content: _Content) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Heart-rate rows of the ``record`` messages, and rejects for non-monotonic ones."""
    frame = pl.DataFrame(
        content.hr,
        schema={"row_number": pl.Int64, "t_utc": UTC_DTYPE, "hr_bpm": pl.Float64},
        orient="row",
    )
    earlier = pl.col("t_utc").cum_max().shift(1)
    work = frame.with_columns(
        reason=pl.when(pl.col("t_utc") < earlier).then(pl.lit(REASON_NON_MONOTONIC)),
        raw=pl.concat_str(
            pl.col("t_utc").dt.strftime("%Y-%m-%dT%H:%M:%SZ"), pl.col("hr_bpm"), separator=","
        ),
        source=pl.lit(NAME),
        device=pl.lit(content.device, pl.String),
        confidence=pl.lit(None, pl.Int64),  # FIT records carry none
    )
    return tab.split_rejects(work, "heart_rate")


def parse(path: Path, context: Context = NO_CONTEXT) -> Parsed:
    """Read a FIT file into ``beats`` (hrv RR) and ``heart_rate`` (record heart rate).

    Raises
    ------
    InputError
        Unreadable, truncated, CRC mismatch, undecodable, no heart data, or
        RR intervals without any timestamp.
    """
    content = fit_content(_decoded(path))
    if not content.rr and not content.hr:
        raise tab.input_error(path, "no heart data (no hrv messages, no record heart_rate)")
    heart_rate, rejects = fit_heart_rate(content)
    frames = {"beats": fit_beats(path, content), "heart_rate": heart_rate}
    return Parsed(frames=frames, rejects=rejects)


ADAPTER = Adapter(name=NAME, sniff=sniff, parse=parse)
