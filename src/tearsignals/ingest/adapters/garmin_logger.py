"""Garmin wearable data logged by an Android phone app (the flirt ``garmin/data.csv``).

Format
------
No header; one record per line, ``;``-separated::

    2019-10-16T12:08:58.808+02:00;HEART_RATE_VARIABILITY;821.0

``HEART_RATE_VARIABILITY`` rows hold one beat-to-beat interval in ms → ``beats``;
``HEART_RATE`` rows hold bpm → ``heart_rate`` (``confidence`` null). Every other
measure (``STRESS``, ``STEPS``, ``CALORIES``, ``ASCENT``, ``INTENSITY_MINUTES``, ...)
is not heart data: such rows are *skipped*, counted per reason ``measure not
ingested: <TYPE>`` (``Parsed.skipped``), so the file's row count adds up and
nothing vanishes silently, while the quarantine keeps only bad data. A row
without a type is a reject (table ``none``). Values that are out of range
(``HEART_RATE`` -1, the logger's "invalid") are left to the schema rules.

Time basis
----------
Each row carries an ISO 8601 time with its UTC offset, converted to UTC. For
``HEART_RATE_VARIABILITY`` it is the phone's receive time of that one beat: in
the real export every row has its own time, and the time between rows matches
the interval (median difference 5 ms, IQR -64 to +90 ms; 90 % within the
250 ms succession tolerance of the HRV cleaning), so it is used as the beat
time. Should several intervals share one time (a batch), the last is placed at
that time and each earlier one at that time minus the intervals that follow it
in the batch (cumulative sum backwards); an earlier interval whose batch holds a
later unparseable value cannot be placed and is rejected. A line repeated
verbatim cannot be told from a batch of two equal intervals and is read as one.

The accelerometer file of the same logger (``timestamp;x;y;z``) is movement,
not heart data, and is not recognised.

Examples
--------
>>> import tempfile
>>> path = Path(tempfile.mkdtemp()) / "data.csv"
>>> _ = path.write_text(
...     "2026-01-05T15:00:00.000+01:00;HEART_RATE_VARIABILITY;800.0\\n"
...     "2026-01-05T15:00:00.000+01:00;HEART_RATE_VARIABILITY;900.0\\n"
...     "2026-01-05T15:00:01.000+01:00;STRESS;25.0\\n"
... )
>>> parsed = parse(path)
>>> [t.isoformat() for t in parsed.frames["beats"]["t_utc"]]
['2026-01-05T13:59:59.100000+00:00', '2026-01-05T14:00:00+00:00']
>>> parsed.rejects.height, dict(parsed.skipped)
(0, {'measure not ingested: STRESS': 1})
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import polars as pl

from tearsignals.ingest.adapters import _tabular as tab
from tearsignals.ingest.adapters.base import (
    NO_CONTEXT,
    SNIFF_BYTES,
    Adapter,
    Context,
    Parsed,
    as_rejects,
    skipped_counts,
)
from tearsignals.ingest.timeparse import utc_from_iso

NAME = "garmin_logger"
RR_TYPE = "HEART_RATE_VARIABILITY"
HR_TYPE = "HEART_RATE"
NOT_INGESTED_TABLE = "none"
REASON_NOT_INGESTED = "measure not ingested: "
SNIFF_LINES = 5
_LINE = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ][^;]*;[A-Z][A-Z0-9_]*;[^;]*$")


def sniff(head: bytes, path: Path) -> bool:
    """The first lines are ``<ISO time>;<UPPER_CASE_TYPE>;<value>`` records."""
    text = tab.head_text(head)
    if text is None:
        return False
    lines = [line.strip() for line in text.splitlines()]
    if len(head) >= SNIFF_BYTES and not text.endswith("\n"):
        lines = lines[:-1]
    first = [line for line in lines if line][:SNIFF_LINES]
    return bool(first) and all(_LINE.match(line) for line in first)


def read_fields(path: Path) -> pl.DataFrame:
    """``time``, ``type``, ``value`` (text), ``row_number`` and ``raw`` of every record.

    Raises
    ------
    InputError
        Unreadable, empty, binary or non-UTF-8 file.
    """
    data = tab.text_bytes(path)
    try:
        frame = pl.read_csv(
            io.BytesIO(data),
            has_header=False,
            new_columns=["time", "type", "value"],
            separator=";",
            quote_char=None,
            infer_schema=False,
            truncate_ragged_lines=True,
        )
    except pl.exceptions.PolarsError as exc:
        raise tab.input_error(path, "malformed record structure") from exc
    frame = frame.select("time", "type", "value")
    present = frame.filter(pl.any_horizontal(pl.all().str.strip_chars().fill_null("") != ""))
    raw = pl.concat_str([pl.col(c).fill_null("") for c in ("time", "type", "value")], separator=";")
    return present.with_columns(row_number=pl.int_range(1, pl.len() + 1, dtype=pl.Int64), raw=raw)


def with_reasons(fields: pl.DataFrame) -> pl.DataFrame:
    """Fields plus ``utc``, ``kind`` (type), ``number`` (value) and the first ``reason``."""
    times = utc_from_iso(fields["time"])
    kind = pl.col("type").str.strip_chars()
    number, number_reason = tab.float_and_reason(pl.col("value"), "value")
    not_ingested = pl.concat_str(pl.lit(REASON_NOT_INGESTED), kind.str.slice(0, 40))
    type_reason = (
        pl.when(kind.fill_null("") == "").then(pl.lit("missing type"))
        .when(~kind.is_in([RR_TYPE, HR_TYPE])).then(not_ingested)
    )  # fmt: skip
    reason = tab.first_reason(
        [type_reason, tab.prefixed(pl.col("time_reason"), "time"), number_reason]
    )
    return fields.with_columns(utc=times["utc"], time_reason=times["reason"]).with_columns(
        kind=kind, number=number, reason=reason
    )


def beat_times(work: pl.DataFrame) -> pl.DataFrame:
    """``row_number``, beat ``t_utc`` and ``batch_reason`` of the placeable RR rows.

    Rows sharing one time are a batch: each is placed at the shared time minus
    the intervals after it in the batch (see *Time basis*).
    """
    rows = work.filter((pl.col("kind") == RR_TYPE) & pl.col("time_reason").is_null())
    value = pl.col("number").fill_null(0.0)
    bad = pl.col("number").is_null().cast(pl.Int64)
    later_ms = (value.cum_sum(reverse=True) - value).over("utc")
    later_bad = (bad.cum_sum(reverse=True) - bad).over("utc")
    shift = pl.duration(microseconds=(later_ms * 1000).round(0).cast(pl.Int64))
    return rows.select(
        "row_number",
        t_utc=pl.col("utc") - shift,
        batch_reason=pl.when((bad == 0) & (later_bad > 0)).then(
            pl.lit("time unknown: a later interval of its batch is unparseable")
        ),
    )


def _table_rows(work: pl.DataFrame, kind: str, value_name: str) -> pl.DataFrame:
    """Canonical columns (beats or heart_rate) plus ``reason``/``row_number``/``raw``."""
    extra = {"origin": pl.lit("rr")} if kind == RR_TYPE else {"confidence": pl.lit(None, pl.Int64)}
    return work.filter(pl.col("kind") == kind).select(
        source=pl.lit(NAME),
        device=pl.lit(None, pl.String),
        t_utc="t_utc",
        **{value_name: pl.col("number")},
        **extra,
        row_number="row_number",
        reason="reason",
        raw="raw",
    )


def parse(path: Path, context: Context = NO_CONTEXT) -> Parsed:
    """Read a Garmin logger export into ``beats``, ``heart_rate``, rejects and skipped measures.

    Raises
    ------
    InputError
        Unreadable, empty, binary or non-UTF-8 file, or a broken record structure.
    """
    work = with_reasons(read_fields(path))
    placed = work.join(beat_times(work), on="row_number", how="left", maintain_order="left")
    work = placed.with_columns(
        t_utc=pl.coalesce("t_utc", "utc"),
        reason=tab.first_reason([pl.col("reason"), pl.col("batch_reason")]),
    )
    beats, beat_rejects = tab.split_rejects(_table_rows(work, RR_TYPE, "rr_ms"), "beats")
    hr, hr_rejects = tab.split_rejects(_table_rows(work, HR_TYPE, "hr_bpm"), "heart_rate")
    others = work.filter(~pl.col("kind").is_in([RR_TYPE, HR_TYPE]) | pl.col("kind").is_null())
    skipped = others.get_column("reason").str.starts_with(REASON_NOT_INGESTED).fill_null(False)
    other_rejects = as_rejects(others.filter(~skipped), NOT_INGESTED_TABLE)
    rejects = pl.concat([beat_rejects, hr_rejects, other_rejects]).sort("row_number")
    return Parsed(
        frames={"beats": beats, "heart_rate": hr},
        rejects=rejects,
        skipped=skipped_counts(others.filter(skipped).get_column("reason")),
    )


ADAPTER = Adapter(name=NAME, sniff=sniff, parse=parse)
