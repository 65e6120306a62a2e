"""Self-logged crying episodes from a CSV or a JSON file, one episode per record.

Fields (header names are matched case-insensitively):

``start``
    ISO 8601 with offset, or a local wall time read in the record's ``tz`` or,
    without one, in the subject's zone (subject profile, with its dated changes).
``end`` or ``duration_min``
    ``end`` follows the same rules as ``start``; a local ``end`` is read in the
    zone ``start`` was read in (the record's ``tz``, ``start``'s inline offset or
    the profile's zone). ``end`` wins when both are given; ``duration_min`` is
    used where ``end`` is empty.
``tz`` (optional)
    IANA zone name (``Europe/Berlin``) or offset text (``+01:00``).
``intensity`` (optional, 0–10) and ``context`` (optional free text).

Output ``tz`` (the zone control days are matched in) is the logged ``tz``, else
``start``'s inline offset as ``+HH:MM``, else the profile's zone at ``start``.
Records with an unplaceable time, a local time without any zone, an end
not after the start, or an unparseable number become rejects with a reason.

JSON: a list of objects, or an object with an ``episodes`` list. A JSON
reject's ``raw`` is the record as compact JSON.

The episode id is a hash of subject, start and end, so ingest derives it once
the subject is known (:func:`tearsignals.ingest.plan.episode_id`).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import polars as pl

from tearsignals.ingest.adapters import _tabular as tab
from tearsignals.ingest.adapters.base import NO_CONTEXT, Adapter, Context, Parsed
from tearsignals.ingest.timeparse import LocalZones, utc_from_iso

TABLE = "episodes"
CSV_NAME = "episodes_csv"
JSON_NAME = "episodes_json"
REQUIRED = (("start",), ("end", "duration_min"))
MAX_JSON_BYTES = tab.MAX_JSON_BYTES
_JSON_HEAD = re.compile(r'^\s*(?:\[\s*\{|\{.*?"episodes"\s*:\s*\[)', re.DOTALL)


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


def _with_times(text: pl.DataFrame, zones: LocalZones | None) -> pl.DataFrame:
    """Add ``start_*`` and ``end_*`` (utc, reason, offset, zone) columns parsed from the text."""
    start = utc_from_iso(text["start"], text["tz"], default_tz=zones)
    with_start = pl.concat([text, start.select(pl.all().name.prefix("start_"))], how="horizontal")
    end_zone = with_start.select(pl.coalesce("tz", "start_offset", "start_zone")).to_series()
    end = utc_from_iso(text["end"], end_zone, default_tz=zones).select(pl.all().name.prefix("end_"))
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


def episodes_with_reasons(
    fields: pl.DataFrame, source: str, zones: LocalZones | None = None
) -> pl.DataFrame:
    """Canonical episode columns plus ``reason``, ``row_number`` and ``raw`` for every record."""
    work = _end_utc_and_reason(_with_times(_episode_text(fields), zones))
    intensity, intensity_reason = tab.float_and_reason(pl.col("intensity"), "intensity")
    reason = tab.first_reason([
        pl.when("not_object").then(pl.lit("record is not an object")),
        tab.prefixed(pl.col("start_reason"), "start"),
        pl.col("end_reason"),
        pl.when(pl.col("end_utc") <= pl.col("start_utc")).then(pl.lit("end not after start")),
        pl.when(_given("intensity")).then(intensity_reason),
    ])  # fmt: skip
    return work.select(
        start_utc="start_utc",
        end_utc="end_utc",
        tz=pl.coalesce(
            pl.when(_given("tz")).then(pl.col("tz").str.strip_chars()), "start_offset", "start_zone"
        ),
        intensity=pl.when(_given("intensity")).then(intensity),
        context="context",
        source=pl.lit(source),
        row_number="row_number",
        reason=reason,
        raw="raw",
    )


def _parsed_episodes(
    path: Path, fields: pl.DataFrame, source: str, context: Context, *, check: bool
) -> Parsed:
    """Episode rows and rejects from the fields; ``check`` the required columns first."""
    if check:
        tab.require_columns(path, fields.columns, REQUIRED)
    frame = episodes_with_reasons(fields, source, context.zones)
    good, rejects = tab.split_rejects(frame, TABLE)
    return Parsed(frames={TABLE: good}, rejects=rejects)


def parse_csv(path: Path, context: Context = NO_CONTEXT) -> Parsed:
    """Read an episode log CSV.

    Raises
    ------
    InputError
        File-level problems, or no ``start`` / neither ``end`` nor ``duration_min``.
    """
    return _parsed_episodes(path, tab.read_csv_fields(path), CSV_NAME, context, check=True)


def _json_records(path: Path) -> list[object]:
    """The episode records of a JSON log (InputError for anything else)."""
    document = tab.load_json(path)
    if isinstance(document, dict):
        document = document.get("episodes")
    if not isinstance(document, list):
        raise tab.input_error(path, 'JSON is neither a list of episodes nor {"episodes": [...]}')
    return document


def parse_json(path: Path, context: Context = NO_CONTEXT) -> Parsed:
    """Read an episode log JSON (list of objects or ``{"episodes": [...]}``).

    Raises
    ------
    InputError
        File-level problems, invalid JSON, wrong structure, or no record has ``start``.
    """
    records = _json_records(path)
    fields = tab.json_record_fields(path, records)
    has_objects = any(isinstance(r, dict) for r in records)
    return _parsed_episodes(path, fields, JSON_NAME, context, check=has_objects)


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
        document = tab.loads_json(text)
    except (json.JSONDecodeError, RecursionError):
        return bool(_JSON_HEAD.match(text)) and re.search(r'"start"\s*:', text) is not None
    if isinstance(document, dict):
        document = document.get("episodes")
    return isinstance(document, list) and (
        not document or any(isinstance(r, dict) and "start" in r for r in document)
    )


CSV_ADAPTER = Adapter(name=CSV_NAME, sniff=sniff_csv, parse=parse_csv, reads_profile=True)
JSON_ADAPTER = Adapter(name=JSON_NAME, sniff=sniff_json, parse=parse_json, reads_profile=True)
