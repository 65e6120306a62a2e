"""Oura ring: API v2 documents (``oura``) and the oura.com trends CSV (``oura_trends``).

API v2 JSON (``oura``)
----------------------
What ``https://api.ouraring.com/v2/usercollection/<kind>`` returns, saved as
a file (by hand, or by the many tools that download it)::

    {"data": [{"bpm": 52, "source": "rest", "timestamp": "2024-03-02T01:05:00+00:00"}, ...],
     "next_token": null}

* ``heartrate``: each item → ``heart_rate`` (``bpm``, ``timestamp`` with its
  offset). ``source`` (``awake``, ``rest``, ``sleep``, ``session``, ``live``,
  ``workout``) is the context of the sample, not a device: not taken.
* ``sleep``: each sleep period's ``hrv`` (``{"interval": 300.0, "items":
  [45.0, null, ...], "timestamp": "2024-03-01T23:40:00.000+01:00"}``, Oura's
  RMSSD per 5 minutes of sleep) → ``vendor_hrv.rmssd_ms``, period ``reading``,
  item *k* at ``timestamp + k × interval``. A ``null`` item is a slot without
  a measurement: counted as skipped. The period's ``average_hrv``,
  ``heart_rate`` series and scores are not taken.

An item that is not an object, lacks its time or value, or holds an
unreadable one is a reject. A document without a ``data`` list is refused.

oura.com trends CSV (``oura_trends``)
-------------------------------------
oura.com → account → *Export data* → one CSV, one row per day:
``date,Sleep Score,...,Bedtime Start,Bedtime End,Average Resting Heart Rate,
Lowest Resting Heart Rate,Average HRV,...`` (``Sleep Timing`` appears twice).
``Average HRV`` (Oura's mean RMSSD of the night ending on ``date``) →
``vendor_hrv.rmssd_ms``, period ``day``, ``t_utc`` local midnight starting
``date``, at the UTC offset of ``Bedtime End`` (``2020-03-04T05:49:42-08:00``)
or, on days without one, in the subject profile's zone. A day without
``Average HRV`` (ring not worn) holds nothing taken here: skipped. The resting
heart rates and the scores are not taken.

Detection: JSON whose head opens an object with a ``data`` list whose first
item names ``bpm`` and ``timestamp`` or holds an ``hrv`` series; a CSV header
naming ``date`` and ``Average HRV``.

Examples
--------
>>> import tempfile
>>> path = Path(tempfile.mkdtemp()) / "heartrate.json"
>>> _ = path.write_text('{"data": [{"bpm": 52, "source": "rest",'
...                     ' "timestamp": "2024-03-02T01:05:00+00:00"}], "next_token": null}')
>>> hr = parse(path).frames["heart_rate"]
>>> hr["t_utc"][0].isoformat(), hr["hr_bpm"][0]
('2024-03-02T01:05:00+00:00', 52.0)
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import polars as pl

from tearsignals.ingest.adapters import _tabular as tab
from tearsignals.ingest.adapters.base import NO_CONTEXT, Adapter, Context, Parsed
from tearsignals.ingest.timeparse import LocalZones, utc_from_iso

NAME = "oura"
TRENDS_NAME = "oura_trends"
AVERAGE_HRV = "average hrv"
BEDTIME_END = "bedtime end"
REASON_NO_HRV_SLOT = "no value in Oura's 5-minute HRV slot"
REASON_NO_HRV_DAY = "day without Average HRV"
_HEAD = re.compile(r'^\s*\{\s*"data"\s*:\s*\[\s*\{(?P<first>[^\]]{0,4000})', re.DOTALL)


def sniff(head: bytes, path: Path) -> bool:
    """An API v2 document: a ``data`` list whose first item is a heart-rate sample or has ``hrv``."""
    text = tab.head_text(head)
    match = None if text is None else _HEAD.match(text)
    if match is None:
        return False
    first = match["first"]
    return ('"bpm"' in first and '"timestamp"' in first) or '"hrv"' in first


def _items(path: Path) -> list[object]:
    document = tab.load_json(path)
    if not isinstance(document, dict) or not isinstance(document.get("data"), list):
        raise tab.input_error(path, 'JSON is not an Oura API document (no "data" list)')
    return document["data"]


def _text(value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value)


def _raw(item: object) -> str:
    return json.dumps(item, ensure_ascii=False, separators=(",", ":"))[:500]


def _heart_rate_fields(items: list[object]) -> pl.DataFrame:
    objects = [i if isinstance(i, dict) else {} for i in items]
    return pl.DataFrame(
        {
            "not_object": [not isinstance(i, dict) for i in items],
            "timestamp": pl.Series([_text(o.get("timestamp")) for o in objects], dtype=pl.String),
            "bpm": pl.Series([_text(o.get("bpm")) for o in objects], dtype=pl.String),
            "raw": pl.Series([_raw(i) for i in items], dtype=pl.String),
        },
        schema_overrides={"not_object": pl.Boolean},
    ).with_columns(row_number=pl.int_range(1, pl.len() + 1, dtype=pl.Int64))


def heart_rate_with_reasons(fields: pl.DataFrame) -> pl.DataFrame:
    """Canonical heart-rate columns plus ``reason``, ``row_number`` and ``raw``."""
    times = utc_from_iso(fields["timestamp"]).select("utc", "reason")
    bpm, bpm_reason = tab.float_and_reason(pl.col("bpm"), "bpm")
    return fields.with_columns(times).select(
        source=pl.lit(NAME),
        device=pl.lit(None, pl.String),
        t_utc=pl.col("utc"),
        hr_bpm=bpm,
        confidence=pl.lit(None, pl.Int64),
        row_number=pl.col("row_number"),
        reason=tab.first_reason(
            [
                pl.when(pl.col("not_object")).then(pl.lit("item is not an object")),
                tab.prefixed(pl.col("reason"), "timestamp"),
                bpm_reason,
            ]
        ),
        raw=pl.col("raw"),
    )


def _hrv_slots(items: list[object]) -> tuple[pl.DataFrame, int]:
    """One row per 5-minute slot of every period's ``hrv`` series; the count of empty slots.

    A period without a usable series (not an object, no items list, no or
    unreadable start, interval) gives one row whose ``problem`` says why.
    """
    starts: list[str | None] = []
    values: list[str | None] = []
    problems: list[str | None] = []
    offsets: list[float] = []
    raws: list[str] = []
    empty = 0
    for item in items:
        series = item.get("hrv") if isinstance(item, dict) else None
        parts = series if isinstance(series, dict) else {}
        slots, interval = parts.get("items"), parts.get("interval")
        problem = (
            "sleep period is not an object" if not isinstance(item, dict)
            else "no hrv series" if not isinstance(series, dict)
            else "hrv series without items" if not isinstance(slots, list)
            else "hrv series without a numeric interval"
            if not isinstance(interval, int | float) or isinstance(interval, bool) or interval <= 0
            else None
        )  # fmt: skip
        if problem is not None:
            starts.append(_text(parts.get("timestamp")))
            offsets.append(0.0)
            values.append(None)
            problems.append(problem)
            raws.append(_raw(item))
            continue
        assert isinstance(slots, list) and isinstance(interval, int | float)
        for k, value in enumerate(slots):
            if value is None:
                empty += 1
                continue
            starts.append(_text(parts.get("timestamp")))
            offsets.append(float(k * interval))
            values.append(_text(value))
            problems.append(None)
            raws.append(f"hrv.items[{k}]={_text(value)}")
    fields = pl.DataFrame(
        {
            "timestamp": pl.Series(starts, dtype=pl.String),
            "offset_s": pl.Series(offsets, dtype=pl.Float64),
            "value": pl.Series(values, dtype=pl.String),
            "problem": pl.Series(problems, dtype=pl.String),
            "raw": pl.Series(raws, dtype=pl.String),
        }
    )
    return fields.with_columns(row_number=pl.int_range(1, pl.len() + 1, dtype=pl.Int64)), empty


def hrv_with_reasons(fields: pl.DataFrame) -> pl.DataFrame:
    """Canonical ``vendor_hrv`` columns plus ``reason``, ``row_number`` and ``raw``."""
    times = utc_from_iso(fields["timestamp"]).select("utc", "reason")
    rmssd, rmssd_reason = tab.float_and_reason(pl.col("value"), "hrv item")
    return fields.with_columns(times).select(
        source=pl.lit(NAME),
        device=pl.lit(None, pl.String),
        t_utc=pl.col("utc") + pl.duration(microseconds=(pl.col("offset_s") * 1e6).cast(pl.Int64)),
        period=pl.lit("reading"),
        rmssd_ms=rmssd,
        row_number=pl.col("row_number"),
        reason=tab.first_reason(
            [pl.col("problem"), tab.prefixed(pl.col("reason"), "hrv.timestamp"), rmssd_reason]
        ),
        raw=pl.col("raw"),
    )


def parse(path: Path, context: Context = NO_CONTEXT) -> Parsed:
    """Read an Oura API v2 document: heart-rate samples, or the HRV series of sleep periods.

    Times carry their offsets: ``context`` plays no part.

    Raises
    ------
    InputError
        File-level problems, invalid JSON, or no ``data`` list.
    """
    items = _items(path)
    first = next((i for i in items if isinstance(i, dict)), {})
    if "hrv" in first:
        fields, empty = _hrv_slots(items)
        good, rejects = tab.split_rejects(hrv_with_reasons(fields), "vendor_hrv")
        skipped = Counter({REASON_NO_HRV_SLOT: empty}) if empty else Counter[str]()
        return Parsed(frames={"vendor_hrv": good}, rejects=rejects, skipped=skipped)
    frame = heart_rate_with_reasons(_heart_rate_fields(items))
    good, rejects = tab.split_rejects(frame, "heart_rate")
    return Parsed(frames={"heart_rate": good}, rejects=rejects)


def sniff_trends(head: bytes, path: Path) -> bool:
    """A CSV header naming ``date`` and ``Average HRV``."""
    columns = tab.header_columns(head)
    return "date" in columns and AVERAGE_HRV in columns


def _day_starts(fields: pl.DataFrame, zones: LocalZones | None) -> pl.DataFrame:
    """``utc``/``reason``: midnight starting ``date``, at Bedtime End's offset or in ``zones``."""
    midnight = fields["date"].str.strip_chars() + "T00:00:00"
    if BEDTIME_END in fields.columns:
        offset = fields[BEDTIME_END].str.extract(r"([+-]\d{2}:?\d{2}|Z)$")
        midnight = midnight + offset.fill_null("")
    return utc_from_iso(midnight, default_tz=zones).select("utc", "reason")


def parse_trends(path: Path, context: Context = NO_CONTEXT) -> Parsed:
    """Read an oura.com trends CSV: each day's Average HRV → ``vendor_hrv`` (period ``day``).

    Raises
    ------
    InputError
        File-level problems, or no ``date`` / ``Average HRV`` column.
    """
    fields = tab.read_csv_fields(path)
    tab.require_columns(path, fields.columns, [("date",), (AVERAGE_HRV,)])
    hrv = pl.col(AVERAGE_HRV).str.strip_chars().fill_null("")
    no_value = fields.filter(hrv == "").height
    fields = fields.filter(hrv != "")
    rmssd, rmssd_reason = tab.float_and_reason(pl.col(AVERAGE_HRV), "Average HRV")
    frame = fields.with_columns(_day_starts(fields, context.zones)).select(
        source=pl.lit(TRENDS_NAME),
        device=pl.lit(None, pl.String),
        t_utc=pl.col("utc"),
        period=pl.lit("day"),
        rmssd_ms=rmssd,
        row_number=pl.col("row_number"),
        reason=tab.first_reason([tab.prefixed(pl.col("reason"), "date"), rmssd_reason]),
        raw=pl.col("raw"),
    )
    good, rejects = tab.split_rejects(frame, "vendor_hrv")
    skipped = Counter({REASON_NO_HRV_DAY: no_value}) if no_value else Counter[str]()
    return Parsed(frames={"vendor_hrv": good}, rejects=rejects, skipped=skipped)


ADAPTER = Adapter(name=NAME, sniff=sniff, parse=parse)
TRENDS_ADAPTER = Adapter(
    name=TRENDS_NAME, sniff=sniff_trends, parse=parse_trends, reads_profile=True
)
