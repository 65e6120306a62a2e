"""Self-logged crying episodes from a CSV or a JSON file, one episode per record.

Fields (header names are matched case-insensitively):

``start``
    ISO 8601 with offset, or a local wall time read in the record's ``tz``.
``end`` or ``duration_min``
    ``end`` follows the same rules as ``start``; a local ``end`` is read in the
    record's ``tz`` or, failing that, in ``start``'s inline offset. ``end`` wins
    when both are given; ``duration_min`` is used where ``end`` is empty.
``tz`` (optional)
    IANA zone name (``Europe/Berlin``) or offset text (``+01:00``).
``intensity`` (optional, 0–10) and ``context`` (optional free text).

Output ``tz`` is the logged ``tz`` or, when absent, ``start``'s inline offset as
``+HH:MM``. Records with an unplaceable time, a local time without zone, an end
not after the start, or an unparseable number become rejects with a reason.

JSON: a list of objects, or an object with an ``episodes`` list. A JSON
reject's ``raw`` is the record as compact JSON.

Episode id
----------
:func:`episode_id` hashes ``(start_utc, end_utc)`` here, because an adapter
does not know the subject. The schema declares the id as a hash of subject,
start and end: ingest must recompute it with
``episode_id(pl.col("start_utc"), pl.col("end_utc"), pl.col("subject_id"))``
once ``subject_id`` is known, so equal times of two subjects never collide.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import polars as pl

from tearsignals.ingest.adapters import _tabular as tab
from tearsignals.ingest.adapters.base import Adapter, Parsed
from tearsignals.ingest.timeparse import utc_from_iso

TABLE = "episodes"
CSV_NAME = "episodes_csv"
JSON_NAME = "episodes_json"
REQUIRED = (("start",), ("end", "duration_min"))
OUTPUT_COLUMNS = (
    "episode_id",
    "start_utc",
    "end_utc",
    "tz",
    "intensity",
    "context",
    "source",
    "row_number",
)
ID_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S%.6fZ"
MAX_JSON_BYTES = tab.MAX_JSON_BYTES
_JSON_HEAD = re.compile(r'^\s*(?:\[\s*\{|\{.*?"episodes"\s*:\s*\[)', re.DOTALL)


def _sha256_16(keys: pl.Series) -> pl.Series:
    """First 16 hex digits of sha256 of each key (null stays null)."""
    # sha256 is not a polars expression; episode logs hold hundreds of rows, so a
    # Python loop over them is cheap (never used on beat-sized tables).
    return pl.Series(
        [None if k is None else hashlib.sha256(k.encode()).hexdigest()[:16] for k in keys],
        dtype=pl.String,
    )


def episode_id(start_utc: pl.Expr, end_utc: pl.Expr, subject_id: pl.Expr | None = None) -> pl.Expr:
    """Stable episode id: first 16 hex digits of sha256 of ``[subject|]start|end``.

    Times are rendered as ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` in UTC, so the id
    does not depend on the zone the episode was logged in.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> t0 = datetime(2026, 1, 5, 14, tzinfo=timezone.utc)
    >>> t1 = datetime(2026, 1, 5, 14, 20, tzinfo=timezone.utc)
    >>> frame = pl.DataFrame({"start_utc": [t0], "end_utc": [t1], "subject_id": ["s01"]})
    >>> frame.select(episode_id(pl.col("start_utc"), pl.col("end_utc"))).item()
    '3b538344008c1b16'
    >>> frame.select(episode_id(pl.col("start_utc"), pl.col("end_utc"), pl.col("subject_id"))).item()
    'd900271300d9062d'
    """
    parts = [
        e.dt.convert_time_zone("UTC").dt.strftime(ID_TIME_FORMAT) for e in (start_utc, end_utc)
    ]
    if subject_id is not None:
        parts.insert(0, subject_id.cast(pl.String))
    key = pl.concat_str(parts, separator="|")
    return key.map_batches(_sha256_16, return_dtype=pl.String).alias("episode_id")


TEXT_FIELDS = ("start", "end", "duration_min", "tz", "intensity", "context")


def _episode_text(fields: pl.DataFrame) -> pl.DataFrame:
    """The episode fields, absent ones as null text, plus ``not_object``, ``row_number``, ``raw``."""
    return fields.select(
        *[
            pl.col(n) if n in fields.columns else pl.lit(None, pl.String).alias(n)
            for n in TEXT_FIELDS
        ],
        not_object=pl.col("_not_object") if "_not_object" in fields.columns else pl.lit(False),
        row_number="row_number",
        raw="raw",
    )


def _given(name: str) -> pl.Expr:
    """Whether the text field holds anything besides whitespace."""
    return pl.col(name).str.strip_chars().fill_null("") != ""


def _with_times(text: pl.DataFrame) -> pl.DataFrame:
    """Add ``start_*`` and ``end_*`` (utc, reason, offset) columns parsed from the text."""
    start = utc_from_iso(text["start"], text["tz"]).select(pl.all().name.prefix("start_"))
    with_start = pl.concat([text, start], how="horizontal")
    end_zone = with_start.select(pl.coalesce("tz", "start_offset")).to_series()
    end = utc_from_iso(text["end"], end_zone).select(pl.all().name.prefix("end_"))
    return pl.concat([with_start, end], how="horizontal")


def _end_utc_and_reason(work: pl.DataFrame) -> pl.DataFrame:
    """Resolve ``end_utc``/``end_reason``: from ``end`` where given, else start + duration."""
    minutes, minutes_reason = tab.float_and_reason(pl.col("duration_min"), "duration_min")
    by_duration = pl.col("start_utc") + pl.duration(
        microseconds=(minutes * 60e6).round(0).cast(pl.Int64)
    )
    return work.with_columns(
        end_utc=pl.when(_given("end")).then("end_utc").otherwise(by_duration),
        end_reason=pl.when(_given("end")).then(tab.prefixed(pl.col("end_reason"), "end"))
        .when(_given("duration_min")).then(minutes_reason)
        .otherwise(pl.lit("missing end and duration_min")),
    )  # fmt: skip


def episodes_with_reasons(fields: pl.DataFrame, source: str) -> pl.DataFrame:
    """Canonical episode columns plus ``reason``, ``row_number`` and ``raw`` for every record."""
    work = _end_utc_and_reason(_with_times(_episode_text(fields)))
    intensity, intensity_reason = tab.float_and_reason(pl.col("intensity"), "intensity")
    reason = tab.first_reason([
        pl.when("not_object").then(pl.lit("record is not an object")),
        tab.prefixed(pl.col("start_reason"), "start"),
        pl.col("end_reason"),
        pl.when(pl.col("end_utc") <= pl.col("start_utc")).then(pl.lit("end not after start")),
        pl.when(_given("intensity")).then(intensity_reason),
    ])  # fmt: skip
    return work.select(
        episode_id=episode_id(pl.col("start_utc"), pl.col("end_utc")),
        start_utc="start_utc",
        end_utc="end_utc",
        tz=pl.coalesce(pl.when(_given("tz")).then(pl.col("tz").str.strip_chars()), "start_offset"),
        intensity=pl.when(_given("intensity")).then(intensity),
        context="context",
        source=pl.lit(source),
        row_number="row_number",
        reason=reason,
        raw="raw",
    )


def _parsed_episodes(path: Path, fields: pl.DataFrame, source: str, *, check: bool) -> Parsed:
    """Episode rows and rejects from the fields; ``check`` the required columns first."""
    if check:
        tab.require_columns(path, fields.columns, REQUIRED)
    frame = episodes_with_reasons(fields, source)
    good, rejects = tab.split_rejects(frame, TABLE, OUTPUT_COLUMNS)
    return Parsed(frames={TABLE: good}, rejects=rejects)


def parse_csv(path: Path) -> Parsed:
    """Read an episode log CSV.

    Raises
    ------
    InputError
        File-level problems, or no ``start`` / neither ``end`` nor ``duration_min``.
    """
    return _parsed_episodes(path, tab.read_csv_fields(path), CSV_NAME, check=True)


def _json_records(path: Path) -> list[object]:
    """The episode records of a JSON log (InputError for anything else)."""
    document = tab.load_json(path)
    if isinstance(document, dict):
        document = document.get("episodes")
    if not isinstance(document, list):
        raise tab.input_error(path, 'JSON is neither a list of episodes nor {"episodes": [...]}')
    return document


def parse_json(path: Path) -> Parsed:
    """Read an episode log JSON (list of objects or ``{"episodes": [...]}``).

    Raises
    ------
    InputError
        File-level problems, invalid JSON, wrong structure, or no record has ``start``.
    """
    records = _json_records(path)
    fields = tab.json_record_fields(path, records)
    has_objects = any(isinstance(r, dict) for r in records)
    return _parsed_episodes(path, fields, JSON_NAME, check=has_objects)


def sniff_csv(head: bytes, path: Path) -> bool:
    """A text table whose header names ``start``."""
    return "start" in tab.header_columns(head)


def sniff_json(head: bytes, path: Path) -> bool:
    """JSON text shaped like a list of objects or an ``episodes`` list, mentioning ``start``.

    The head may cut the document; if it parses completely the structure is
    checked exactly, otherwise by the shape of its opening.
    """
    text = tab.head_text(head)
    if text is None:
        return False
    try:
        document = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        return bool(_JSON_HEAD.match(text)) and re.search(r'"start"\s*:', text) is not None
    if isinstance(document, dict):
        document = document.get("episodes")
    return isinstance(document, list) and (
        not document or any(isinstance(r, dict) and "start" in r for r in document)
    )


CSV_ADAPTER = Adapter(name=CSV_NAME, sniff=sniff_csv, parse=parse_csv)
JSON_ADAPTER = Adapter(name=JSON_NAME, sniff=sniff_json, parse=parse_json)
