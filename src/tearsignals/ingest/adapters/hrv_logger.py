"""HRV Logger (Marco Altini) CSV exports: RR intervals, heart rate, features, events.

One session exports several files; each is recognised by its header (names
stripped and lower-cased, so ``timestamp, rr, since_start`` matches):

``*_RRIntervals.csv`` — ``timestamp, rr, since_start`` → ``beats``
    ``timestamp`` is the phone's clock (epoch ms, UTC) when the strap's
    Bluetooth packet arrived, ``rr`` the interval in ms and ``since_start``
    the running sum of the intervals (ms): in the app's files it grows by
    exactly ``rr`` from one row to the next, so it is the time of the beat
    that ends the interval, on the strap's beat clock.
``*_HR.csv`` — ``timestamp, since_start, heart_rate`` → ``heart_rate``
    ``t_utc`` is ``timestamp``; ``heart_rate`` is in bpm; ``confidence`` null.
``*_Features.csv`` — the app's own per-window HRV (``HR, AVNN, SDNN, rMSSD, ...``)
    Refused (:class:`~tearsignals.errors.InputError`, "app features, not raw
    data"): these are derived numbers, not beats. They serve as a reference
    for our own metrics (see ``tests/golden/test_rr_formats_real.py``).
``*_Event(s).csv`` — ``timestamp`` (and ``annotation``), recognised only
    with that file name: the app's event tags have no end, so they are not
    crying episodes; every tag is skipped (``event tag not ingested``, counted
    in ``Parsed.skipped``) so none vanishes silently; a header-only file gives 0 rows.

Time basis of the beats
-----------------------
Packet arrival times are not beat times: two intervals of one packet arrive
~20 ms apart and a delayed packet ~2 s late, so ``diff(timestamp)`` disagrees
with ``rr`` for about half of the beats of the real export, which would break
successive differences. Beat times are therefore ``anchor + since_start``:
the beat clock keeps the exact spacing and the anchor ties it to UTC. The
anchor is ``timestamp - since_start`` of the first row of a *segment*; a new
segment starts where ``since_start`` does not increase or where
``timestamp - since_start`` jumps by more than :data:`MAX_CLOCK_JUMP_MS`
between rows (a dropout or restart). The absolute error is the packet delay,
about 1-3 s in the real export. Without a ``since_start`` column a file is
not recognised.

Examples
--------
>>> import tempfile
>>> path = Path(tempfile.mkdtemp()) / "s_RRIntervals.csv"
>>> _ = path.write_text("timestamp, rr, since_start\\n1767621600000,800,800\\n1767621600020,810,1610\\n")
>>> parse(path).frames["beats"]["t_utc"][1].isoformat()
'2026-01-05T14:00:00.810000+00:00'
"""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl

from tearsignals.ingest.adapters import _tabular as tab
from tearsignals.ingest.adapters.base import NO_CONTEXT, Adapter, Context, Parsed, skipped_counts
from tearsignals.ingest.timeparse import UTC_DTYPE, utc_from_epoch_ms

NAME = "hrv_logger"
RR_HEADER = frozenset({"timestamp", "rr", "since_start"})
HR_HEADER = frozenset({"timestamp", "since_start", "heart_rate"})
FEATURES_HEADER = frozenset({"avnn", "sdnn", "rmssd"})
EVENT_COLUMNS = frozenset({"timestamp", "annotation"})
MAX_CLOCK_JUMP_MS = 5000.0
REASON_EVENT = "event tag not ingested (no end time, not an episode)"
_EVENT_NAME = re.compile(r"_events?\.csv$", re.IGNORECASE)


def file_kind(columns: tuple[str, ...], path: Path) -> str | None:
    """``rr``, ``hr``, ``features`` or ``events`` from the header (and, for events, the name).

    >>> file_kind(("timestamp", "rr", "since_start"), Path("x.csv"))
    'rr'
    >>> file_kind(("timestamp",), Path("x.csv")), file_kind(("timestamp",), Path("a_Event.csv"))
    (None, 'events')
    """
    present = set(columns)
    if present >= RR_HEADER:
        return "rr"
    if present >= HR_HEADER:
        return "hr"
    if present >= FEATURES_HEADER:
        return "features"
    if "timestamp" in present and present <= EVENT_COLUMNS and _EVENT_NAME.search(path.name):
        return "events"
    return None


def sniff(head: bytes, path: Path) -> bool:
    """A header of one of the HRV Logger files (see :func:`file_kind`)."""
    return file_kind(tab.header_columns(head), path) is not None


def _valid_row_times(rows: pl.DataFrame) -> pl.DataFrame:
    """``row_number`` and beat ``t_utc`` of rows with valid ``ts_ms`` and ``since``."""
    offset = pl.col("ts_ms") - pl.col("since")
    new_segment = (
        (pl.int_range(pl.len()) == 0)
        | (pl.col("since").diff() <= 0)
        | (offset.diff().abs() > MAX_CLOCK_JUMP_MS)
    )
    anchored = rows.with_columns(segment=new_segment.cum_sum()).with_columns(
        anchor=offset.first().over("segment")
    )
    micros = ((pl.col("anchor") + pl.col("since")) * 1000).round(0).cast(pl.Int64)
    return anchored.select(
        "row_number", t_utc=pl.from_epoch(micros, time_unit="us").dt.replace_time_zone("UTC")
    )


def beat_times(fields: pl.DataFrame, reason: pl.Series) -> pl.Series:
    """Beat time of every record (null where ``reason`` is set), see *Time basis*."""
    numbers = fields.select(
        "row_number",
        ts_ms=pl.col("timestamp").str.strip_chars().cast(pl.Float64, strict=False),
        since=pl.col("since_start").str.strip_chars().cast(pl.Float64, strict=False),
    )
    valid = numbers.filter(reason.is_null())
    times = fields.select("row_number").join(
        _valid_row_times(valid), on="row_number", how="left", maintain_order="left"
    )
    return times["t_utc"].cast(UTC_DTYPE)


def _row_reasons(fields: pl.DataFrame, value_column: str) -> tuple[pl.DataFrame, pl.Expr]:
    """Epoch times of ``timestamp`` and the first reason among time, value and ``since_start``."""
    times = utc_from_epoch_ms(fields["timestamp"])
    value, value_reason = tab.float_and_reason(pl.col(value_column), value_column)
    _, since_reason = tab.float_and_reason(pl.col("since_start"), "since_start")
    reason = tab.first_reason(
        [tab.prefixed(pl.col("time_reason"), "timestamp"), value_reason, since_reason]
    )
    work = fields.with_columns(
        utc=times["utc"], time_reason=times["reason"], value=value
    ).with_columns(reason=reason)
    return work, pl.col("value")


def beats_with_reasons(fields: pl.DataFrame) -> pl.DataFrame:
    """Canonical beat columns plus ``reason``, ``row_number`` and ``raw``."""
    work, rr_ms = _row_reasons(fields, "rr")
    return work.with_columns(t_utc=beat_times(fields, work["reason"])).select(
        source=pl.lit(NAME),
        device=pl.lit(None, pl.String),
        t_utc="t_utc",
        rr_ms=rr_ms,
        origin=pl.lit("rr"),
        row_number="row_number",
        reason="reason",
        raw="raw",
    )


def heart_rate_with_reasons(fields: pl.DataFrame) -> pl.DataFrame:
    """Canonical heart-rate columns plus ``reason``, ``row_number`` and ``raw``."""
    work, hr_bpm = _row_reasons(fields, "heart_rate")
    return work.select(
        source=pl.lit(NAME),
        device=pl.lit(None, pl.String),
        t_utc="utc",
        hr_bpm=hr_bpm,
        confidence=pl.lit(None, pl.Int64),
        row_number="row_number",
        reason="reason",
        raw="raw",
    )


def parse(path: Path, context: Context = NO_CONTEXT) -> Parsed:
    """Read one HRV Logger export file (kind decided by its header).

    Raises
    ------
    InputError
        File-level problems (see :mod:`tearsignals.ingest.adapters._tabular`), an
        unrecognised header, or a ``Features`` file (app results, not raw data).
    """
    fields = tab.read_csv_fields(path)
    kind = file_kind(tuple(c for c in fields.columns if c not in ("row_number", "raw")), path)
    if kind == "rr":
        good, rejects = tab.split_rejects(beats_with_reasons(fields), "beats")
        return Parsed(frames={"beats": good}, rejects=rejects)
    if kind == "hr":
        frame = heart_rate_with_reasons(fields)
        good, rejects = tab.split_rejects(frame, "heart_rate")
        return Parsed(frames={"heart_rate": good}, rejects=rejects)
    if kind == "events":
        # Event tags have no end: they are not episodes, and not bad data either.
        return Parsed(frames={}, skipped=skipped_counts(pl.Series([REASON_EVENT] * fields.height)))
    if kind == "features":
        raise tab.input_error(
            path,
            "HRV Logger app features, not raw data (HRV the app computed per window): "
            "not ingested; ingest the session's RRIntervals file instead",
        )
    raise tab.input_error(path, "not an HRV Logger RRIntervals, HR, Features or Event file")


ADAPTER = Adapter(name=NAME, sniff=sniff, parse=parse)
