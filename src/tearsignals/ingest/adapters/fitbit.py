"""Fitbit heart rate from a Fitbit data export / Google Takeout: ``heart_rate-YYYY-MM-DD.json``.

Format
------
A JSON list of samples, one every few seconds::

    [{"dateTime": "01/05/26 15:00:05", "value": {"bpm": 62, "confidence": 2}}, ...]

``dateTime`` is ``MM/DD/YY HH:MM:SS``; ``bpm`` → ``hr_bpm``; ``confidence``
(Fitbit's 0-3 quality grade) → ``confidence``, null when absent. Records that
are not objects, lack ``dateTime``/``bpm`` or hold unparseable values are
rejects with a reason; a confidence outside 0-3 is quarantined by the schema
rules. A document that is not a list is refused.

Time basis: UTC
---------------
``dateTime`` carries no zone. In these per-day files it is **UTC** and the
date in the *file name* is the user's local day: a day file runs from local
midnight expressed in UTC to the next local midnight. Two independent real
exports show it: a user in UTC+11 whose ``heart_rate-2023-01-26.json`` runs
``01/25/23 13:00:07`` → ``01/26/23 12:59:57``, and a user in US Pacific
daylight time whose ``heart_rate-2026-06-01.json`` runs ``06/01 07:00:01`` →
``06/02 06:59:59`` (both found in public code that parses such exports). Both
spans are the local day shifted by exactly the user's UTC offset, which only
holds if ``dateTime`` is UTC. (Fitbit's *sleep* files, by contrast, use local
time; this adapter reads only the heart-rate files.) The decision is fixed here
and tested; the file name's date is not used.

Detection: JSON text that opens a list and whose first record mentions
``dateTime`` and ``bpm``.

Examples
--------
>>> import tempfile
>>> path = Path(tempfile.mkdtemp()) / "heart_rate-2026-01-05.json"
>>> _ = path.write_text('[{"dateTime": "01/05/26 15:00:05", "value": {"bpm": 62, "confidence": 2}}]')
>>> hr = parse(path).frames["heart_rate"]
>>> hr["t_utc"][0].isoformat(), hr["hr_bpm"][0], hr["confidence"][0]
('2026-01-05T15:00:05+00:00', 62.0, 2)
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import polars as pl

from tearsignals.ingest.adapters import _tabular as tab
from tearsignals.ingest.adapters.base import NO_CONTEXT, Adapter, Context, Parsed
from tearsignals.ingest.timeparse import UTC_DTYPE

NAME = "fitbit"
TABLE = "heart_rate"
DATE_TIME_FORMAT = "%m/%d/%y %H:%M:%S"
MAX_JSON_BYTES = tab.MAX_JSON_BYTES
_HEAD = re.compile(
    r'^\s*\[\s*\{[^{}]*"dateTime"\s*:[^{}]*"value"\s*:\s*\{[^{}]*"bpm"\s*:', re.DOTALL
)
_HEAD_REORDERED = re.compile(
    r'^\s*\[\s*\{\s*"value"\s*:\s*\{[^{}]*"bpm"\s*:[^}]*\}\s*,\s*"dateTime"'
)


def sniff(head: bytes, path: Path) -> bool:
    """A JSON list whose first record has ``dateTime`` and ``value.bpm``."""
    text = tab.head_text(head)
    return text is not None and bool(_HEAD.match(text) or _HEAD_REORDERED.match(text))


def json_records(path: Path) -> list[object]:
    """The list of records of a heart-rate JSON file.

    Raises
    ------
    InputError
        Too large, unreadable, empty, not UTF-8, invalid JSON, or not a list.
    """
    document = tab.load_json(path)
    if not isinstance(document, list):
        raise tab.input_error(path, "JSON is not a list of heart-rate records")
    return document


def _field_text(value: object) -> str | None:
    """A JSON scalar as text (strings as is, numbers and booleans as JSON); null stays null."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return repr(value)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def record_fields(records: list[object]) -> pl.DataFrame:
    """``not_object``, ``date_time``, ``bpm``, ``confidence`` (text) and ``row_number``.

    A plain loop of dict look-ups: a day file holds up to ~70,000 samples, and
    serialising every record (for ``raw``) would cost more than all the rest;
    ``raw`` is made for the rejected records only (:func:`with_raw`).
    """
    objects = [r if isinstance(r, dict) else {} for r in records]
    values = [o.get("value") for o in objects]
    inner = [v if isinstance(v, dict) else {} for v in values]
    return pl.DataFrame(
        {
            "not_object": pl.Series([not isinstance(r, dict) for r in records], dtype=pl.Boolean),
            "date_time": pl.Series(
                [_field_text(o.get("dateTime")) for o in objects], dtype=pl.String
            ),
            "bpm": pl.Series([_field_text(v.get("bpm")) for v in inner], dtype=pl.String),
            "confidence": pl.Series(
                [_field_text(v.get("confidence")) for v in inner], dtype=pl.String
            ),
            "row_number": pl.Series(range(1, len(records) + 1), dtype=pl.Int64),
        }
    )


def _given(text: pl.Expr) -> pl.Expr:
    return text.str.strip_chars().fill_null("") != ""


def heart_rate_with_reasons(fields: pl.DataFrame) -> pl.DataFrame:
    """Canonical heart-rate columns plus ``reason`` and ``row_number`` (see :func:`record_fields`)."""
    date_time = pl.col("date_time").str.strip_chars()
    bpm, bpm_reason = tab.float_and_reason(pl.col("bpm"), "bpm")
    confidence_text = pl.col("confidence").str.strip_chars()
    confidence = confidence_text.cast(pl.Int64, strict=False)
    t_utc = date_time.str.strptime(pl.Datetime("us"), DATE_TIME_FORMAT, strict=False)
    reason = tab.first_reason([
        pl.when(pl.col("not_object")).then(pl.lit("record is not an object")),
        pl.when(~_given(date_time)).then(pl.lit("missing dateTime")),
        pl.when(t_utc.is_null()).then(pl.lit("unparseable dateTime")),
        bpm_reason,
        pl.when(_given(confidence_text) & confidence.is_null())
        .then(pl.lit("unparseable confidence")),
    ])  # fmt: skip
    return fields.select(
        source=pl.lit(NAME),
        device=pl.lit(None, pl.String),
        t_utc=t_utc.dt.replace_time_zone("UTC").cast(UTC_DTYPE),
        hr_bpm=bpm,
        confidence=confidence,
        row_number="row_number",
        reason=reason,
    )


def with_raw(frame: pl.DataFrame, records: list[object]) -> pl.DataFrame:
    """``frame`` plus ``raw``: the record as compact JSON where ``reason`` is set, else null."""
    rejected = frame.filter(pl.col("reason").is_not_null())["row_number"].to_list()
    raw: list[str | None] = [None] * frame.height
    for row in rejected:
        raw[row - 1] = json.dumps(records[row - 1], ensure_ascii=False, separators=(",", ":"))
    return frame.with_columns(raw=pl.Series(raw, dtype=pl.String))


def parse(path: Path, context: Context = NO_CONTEXT) -> Parsed:
    """Read a Fitbit ``heart_rate-*.json`` file into ``heart_rate`` rows and rejects.

    Raises
    ------
    InputError
        File-level problems, invalid JSON, or a document that is not a list.
    """
    records = json_records(path)
    frame = with_raw(heart_rate_with_reasons(record_fields(records)), records)
    good, rejects = tab.split_rejects(frame, TABLE)
    return Parsed(frames={TABLE: good}, rejects=rejects)


ADAPTER = Adapter(name=NAME, sniff=sniff, parse=parse)
