"""Polar Flow account export: ``training-session-<date>-<id>-<uuid>.json``.

account.polar.com → *Download your data* gives a zip of JSON files; each
training session is one file::

    {"exportVersion": "1.6", "name": "...", "startTime": "2017-09-12T16:05:50.000", ...,
     "exercises": [{"startTime": "2017-09-12T16:05:50.000", "timezoneOffset": 120,
                    "duration": "PT4135.875S", "sport": "HIKING", ...,
                    "samples": {"heartRate": [{"dateTime": "2017-09-12T16:05:51.000", "value": 80}, ...],
                                "rr": [{"duration": "PT0.521S", "offline": false}, ...]}}]}

Taken, per exercise:

* ``samples.heartRate`` → ``heart_rate`` (``value`` at ``dateTime``). A sample
  without ``value``, or with the literal ``NaN`` Polar writes where the sensor
  lost contact, is a gap, counted as skipped.
* ``samples.rr`` → ``beats`` (origin ``rr``): the durations (ISO 8601
  ``PT0.521S``) laid end to end from the exercise's ``startTime``, beat *i* at
  the end of its interval. An entry with ``"offline": true`` is a stretch
  without the RR sensor: its duration advances the clock, no beat is taken
  (skipped). An unreadable duration is a reject, and every later entry of the
  exercise too (``time unknown``): its place in time is lost.

Time basis: local, at ``timezoneOffset``
----------------------------------------
``startTime`` and ``dateTime`` carry no offset; ``timezoneOffset`` (minutes)
is the exercise's offset from UTC, and they are read as local wall times at
that offset (``t_utc = local − offset``), the convention of Polar's own
AccessLink API (``start-time`` local, with its UTC offset). An exercise without
a numeric ``timezoneOffset`` is read in the subject profile's zone.

Detection: a JSON object whose head names ``exercises`` (a list) and
``startTime``.

Examples
--------
>>> import tempfile
>>> path = Path(tempfile.mkdtemp()) / "training-session-2017-09-12-1-a.json"
>>> _ = path.write_text(
...     '{"startTime": "2017-09-12T16:05:50.000", "exercises": [{"startTime": "2017-09-12T16:05:50.000",'
...     ' "timezoneOffset": 120, "samples": {"rr": [{"duration": "PT0.521S", "offline": false}]}}]}'
... )
>>> beats = parse(path).frames["beats"]
>>> beats["t_utc"][0].isoformat(), beats["rr_ms"][0]
('2017-09-12T14:05:50.521000+00:00', 521.0)
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from pathlib import Path

import polars as pl

from tearsignals.ingest.adapters import _tabular as tab
from tearsignals.ingest.adapters.base import NO_CONTEXT, Adapter, Context, Parsed
from tearsignals.ingest.timeparse import UTC_DTYPE, LocalZones, utc_from_iso

NAME = "polar_flow"
REASON_HR_GAP = "heart-rate sample without value (sensor gap)"
REASON_RR_OFFLINE = "RR sensor offline"
REASON_RR_UNPARSEABLE = "unparseable rr duration"
_DURATION = re.compile(r"^PT(\d+(?:\.\d+)?)S$")
_HEAD = re.compile(r'^\s*\{.*"exercises"\s*:\s*\[', re.DOTALL)


def sniff(head: bytes, path: Path) -> bool:
    """A JSON object naming ``exercises`` (a list) and ``startTime``."""
    text = tab.head_text(head)
    return text is not None and '"startTime"' in text and bool(_HEAD.match(text))


def duration_ms(text: object) -> float | None:
    """Milliseconds of an ISO 8601 duration in seconds (``PT0.521S``); ``None`` if not one.

    >>> duration_ms("PT0.521S"), duration_ms("PT1S"), duration_ms("0.5")
    (521.0, 1000.0, None)
    """
    match = _DURATION.match(text) if isinstance(text, str) else None
    return None if match is None else round(float(match[1]) * 1000, 3)


def _offset_text(exercise: dict[str, object]) -> str:
    """``+HH:MM`` of the exercise's ``timezoneOffset`` minutes, or ``""`` without one."""
    minutes = exercise.get("timezoneOffset")
    if (
        not isinstance(minutes, int | float)
        or isinstance(minutes, bool)
        or not math.isfinite(minutes)
    ):
        return ""
    sign, total = ("+" if minutes >= 0 else "-"), abs(int(minutes))
    return f"{sign}{total // 60:02d}:{total % 60:02d}"


def _raw(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))[:500]


def _heart_rate_rows(exercises: list[object], skipped: Counter[str]) -> pl.DataFrame:
    """One row per heart-rate sample (``time``, ``value``, ``problem``, ``raw``); gaps skipped.

    An exercise that is not an object gives one row whose ``problem`` says so.
    """
    times: list[str | None] = []
    values: list[str | None] = []
    problems: list[str | None] = []
    raws: list[str] = []
    for exercise in exercises:
        if not isinstance(exercise, dict):
            times.append(None)
            values.append(None)
            problems.append("exercise is not an object")
            raws.append(_raw(exercise))
            continue
        samples = exercise.get("samples")
        items = samples.get("heartRate") if isinstance(samples, dict) else None
        offset = _offset_text(exercise)
        for item in items if isinstance(items, list) else []:
            value = item.get("value") if isinstance(item, dict) else None
            if isinstance(item, dict) and (
                value is None or (isinstance(value, float) and math.isnan(value))
            ):
                skipped[REASON_HR_GAP] += 1
                continue
            stamp = item.get("dateTime") if isinstance(item, dict) else None
            times.append(f"{stamp}{offset}" if isinstance(stamp, str) else None)
            values.append(None if value is None else str(value))
            problems.append(None if isinstance(item, dict) else "sample is not an object")
            raws.append(_raw(item))
    columns = {"time": times, "value": values, "problem": problems, "raw": raws}
    frame = pl.DataFrame(columns, schema=dict.fromkeys(columns, pl.String))
    return frame.with_columns(row_number=pl.int_range(1, pl.len() + 1, dtype=pl.Int64))


def heart_rate_with_reasons(rows: pl.DataFrame, zones: LocalZones | None) -> pl.DataFrame:
    """Canonical heart-rate columns plus ``reason``, ``row_number`` and ``raw``."""
    times = utc_from_iso(rows["time"], default_tz=zones).select("utc", "reason")
    bpm, bpm_reason = tab.float_and_reason(pl.col("value"), "value")
    return rows.with_columns(times).select(
        source=pl.lit(NAME),
        device=pl.lit(None, pl.String),
        t_utc=pl.col("utc"),
        hr_bpm=bpm,
        confidence=pl.lit(None, pl.Int64),
        row_number=pl.col("row_number"),
        reason=tab.first_reason(
            [pl.col("problem"), tab.prefixed(pl.col("reason"), "dateTime"), bpm_reason]
        ),
        raw=pl.col("raw"),
    )


def _exercise_beats(
    exercise: dict[str, object], zones: LocalZones | None, first_row: int, skipped: Counter[str]
) -> list[dict[str, object]]:
    """The RR entries of one exercise as beat rows (``t_utc`` or ``reason``), numbered from ``first_row``."""
    samples = exercise.get("samples")
    entries = samples.get("rr") if isinstance(samples, dict) else None
    if not isinstance(entries, list) or not entries:
        return []
    start_text = exercise.get("startTime")
    start = utc_from_iso(
        pl.Series(
            [f"{start_text}{_offset_text(exercise)}" if isinstance(start_text, str) else None],
            dtype=pl.String,
        ),
        default_tz=zones,
    )
    start_utc, start_reason = start["utc"][0], start["reason"][0]
    rows: list[dict[str, object]] = []
    elapsed_ms, lost_at = 0.0, None
    for k, entry in enumerate(entries):
        row = first_row + len(rows)
        ms = duration_ms(entry.get("duration")) if isinstance(entry, dict) else None
        offline = isinstance(entry, dict) and entry.get("offline") is True
        reason = None
        if start_utc is None:
            reason = f"exercise startTime: {start_reason}"
        elif lost_at is not None:
            reason = f"time unknown: follows unparseable rr entry {lost_at}"
        elif ms is None or ms <= 0:
            reason, lost_at = REASON_RR_UNPARSEABLE, k + 1
        if reason is None and offline:
            elapsed_ms += ms or 0.0
            skipped[REASON_RR_OFFLINE] += 1
            continue
        if reason is None:
            elapsed_ms += ms or 0.0
        rows.append(
            {
                "elapsed_ms": elapsed_ms,
                "rr_ms": ms,
                "reason": reason,
                "row_number": row,
                "raw": _raw(entry),
                "start": start_utc,
            }
        )
    return rows


def beats_with_reasons(
    exercises: list[dict[str, object]], zones: LocalZones | None, skipped: Counter[str]
) -> pl.DataFrame:
    """Canonical beat columns plus ``reason``, ``row_number`` and ``raw``, exercise by exercise."""
    rows: list[dict[str, object]] = []
    for exercise in exercises:
        rows += _exercise_beats(exercise, zones, len(rows) + 1, skipped)
    schema: dict[str, pl.DataType] = {
        "elapsed_ms": pl.Float64(),
        "rr_ms": pl.Float64(),
        "reason": pl.String(),
        "row_number": pl.Int64(),
        "raw": pl.String(),
        "start": UTC_DTYPE,
    }
    frame = pl.DataFrame(rows, schema=schema)
    elapsed = pl.duration(microseconds=(pl.col("elapsed_ms") * 1000).round(0).cast(pl.Int64))
    return frame.select(
        source=pl.lit(NAME),
        device=pl.lit(None, pl.String),
        t_utc=pl.when(pl.col("reason").is_null()).then(pl.col("start") + elapsed).cast(UTC_DTYPE),
        rr_ms="rr_ms",
        origin=pl.lit("rr"),
        row_number="row_number",
        reason="reason",
        raw="raw",
    )


def parse(path: Path, context: Context = NO_CONTEXT) -> Parsed:
    """Read a Polar Flow training session into ``heart_rate`` and ``beats`` rows.

    Raises
    ------
    InputError
        File-level problems, invalid JSON, or no ``exercises`` list.
    """
    document = tab.load_json(path)
    exercises = document.get("exercises") if isinstance(document, dict) else None
    if not isinstance(exercises, list):
        raise tab.input_error(path, 'JSON is not a Polar training session (no "exercises" list)')
    kept = [e for e in exercises if isinstance(e, dict)]  # the others are heart-rate rejects
    skipped: Counter[str] = Counter()
    hr = heart_rate_with_reasons(_heart_rate_rows(exercises, skipped), context.zones)
    hr_good, hr_bad = tab.split_rejects(hr, "heart_rate")
    beats_good, beats_bad = tab.split_rejects(
        beats_with_reasons(kept, context.zones, skipped), "beats"
    )
    frames = {"heart_rate": hr_good, "beats": beats_good}
    return Parsed(frames=frames, rejects=pl.concat([hr_bad, beats_bad]), skipped=skipped)


ADAPTER = Adapter(name=NAME, sniff=sniff, parse=parse, reads_profile=True)
