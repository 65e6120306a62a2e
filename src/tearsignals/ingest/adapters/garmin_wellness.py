"""Garmin Connect data export: the nightly health status, ``*_healthStatusData.json``.

Garmin account → *Data Management* → *Export Your Data* sends a zip whose
``DI_CONNECT/DI-Connect-Wellness/`` folder holds, besides sleep and other
summaries, ``<dates>_healthStatusData.json``: one record per day with the
watch's overnight values::

    [{"calendarDate": "2024-03-02", "createTimestampUTC": "2024-03-02T06:12:40.0",
      "metrics": [{"type": "HRV", "value": 45.0, "status": "IN_RANGE",
                   "baselineLowerLimit": 38, "baselineUpperLimit": 52, ...},
                  {"type": "HR", "value": 52.0, ...}, {"type": "SPO2", ...},
                  {"type": "SKIN_TEMP_C", ...}, {"type": "RESPIRATION", ...}]}, ...]

Taken, as **daily** values of the day ``calendarDate`` (never an HRV of a
window of ours): ``HRV`` (Garmin's overnight HRV, an RMSSD) →
``vendor_hrv.rmssd_ms``, period ``day``; ``HR`` (the resting heart rate of the
health status) → ``vendor_resting_hr``. Each day's ``t_utc`` is local midnight
of ``calendarDate`` in the subject profile's zone (the record carries no
offset), so the file needs the profile. The other metrics (``SPO2``,
``SKIN_TEMP_C``, ``RESPIRATION``, ...) are counted as skipped (``measure not
ingested: <type>``), and so is a metric without value (a night the watch was
not worn). A metric that is not an object or holds an unreadable value, or a
day without a readable ``calendarDate``, is a reject.

Detection: a JSON list whose first record names ``calendarDate`` and a
``metrics`` list of objects with ``type``.

Examples
--------
>>> import tempfile
>>> from tearsignals.ingest.timeparse import LocalZones
>>> path = Path(tempfile.mkdtemp()) / "x_healthStatusData.json"
>>> _ = path.write_text('[{"calendarDate": "2024-03-02", "metrics": '
...                     '[{"type": "HRV", "value": 45.0}, {"type": "HR", "value": 52.0}]}]')
>>> parsed = parse(path, Context(zones=LocalZones("Europe/Berlin")))
>>> parsed.frames["vendor_hrv"]["t_utc"][0].isoformat(), parsed.frames["vendor_hrv"]["rmssd_ms"][0]
('2024-03-01T23:00:00+00:00', 45.0)
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

NAME = "garmin_health_status"
TAKEN = {"HRV": ("vendor_hrv", "rmssd_ms"), "HR": ("vendor_resting_hr", "resting_hr_bpm")}
REASON_NO_VALUE = "metric without value"
_HEAD = re.compile(
    r'^\s*\[\s*\{[^\[\]]*"calendarDate"\s*:[^\[\]]*"metrics"\s*:\s*\[\s*\{[^{}]*"type"', re.DOTALL
)
_HEAD_METRICS_FIRST = re.compile(
    r'^\s*\[\s*\{[^\[\]]*"metrics"\s*:\s*\[\s*\{[^{}]*"type".*?"calendarDate"', re.DOTALL
)


def sniff(head: bytes, path: Path) -> bool:
    """A JSON list whose first record has ``calendarDate`` and a ``metrics`` list with ``type``."""
    text = tab.head_text(head)
    return text is not None and bool(_HEAD.match(text) or _HEAD_METRICS_FIRST.match(text[:20000]))


def _raw(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))[:500]


def metric_rows(days: list[object]) -> tuple[pl.DataFrame, Counter[str]]:
    """One row per metric taken (``table``, ``day``, ``value`` text, ``problem``), and the skipped.

    A day that is not an object or has no ``metrics`` list gives one row whose
    ``problem`` says so.
    """
    rows: list[dict[str, str | None]] = []
    skipped: Counter[str] = Counter()
    for day in days:
        record = day if isinstance(day, dict) else {}
        metrics = record.get("metrics")
        date = record.get("calendarDate")
        date_text = date if isinstance(date, str) else None
        if not isinstance(day, dict) or not isinstance(metrics, list):
            problem = "day is not an object" if not isinstance(day, dict) else "no metrics list"
            rows.append(
                {
                    "table": "vendor_hrv",
                    "day": date_text,
                    "value": None,
                    "problem": problem,
                    "raw": _raw(day),
                }
            )
            continue
        for metric in metrics:
            kind = metric.get("type") if isinstance(metric, dict) else None
            if isinstance(metric, dict) and kind not in TAKEN:
                skipped[f"measure not ingested: {kind}"] += 1
                continue
            if isinstance(metric, dict) and metric.get("value") is None:
                skipped[REASON_NO_VALUE] += 1
                continue
            table = TAKEN[kind][0] if isinstance(kind, str) else "vendor_hrv"
            value = metric.get("value") if isinstance(metric, dict) else None
            rows.append(
                {
                    "table": table,
                    "day": date_text,
                    "value": None if value is None else json.dumps(value),
                    "problem": None if isinstance(metric, dict) else "metric is not an object",
                    "raw": f"{date_text}:{_raw(metric)}",
                }
            )
    schema = dict.fromkeys(("table", "day", "value", "problem", "raw"), pl.String)
    frame = pl.DataFrame(rows, schema=schema)
    return frame.with_columns(row_number=pl.int_range(1, pl.len() + 1, dtype=pl.Int64)), skipped


def _day_starts(days: pl.Series, zones: LocalZones | None) -> pl.DataFrame:
    valid = days.str.strip_chars().str.contains(r"^\d{4}-\d{2}-\d{2}$").fill_null(False)
    midnight = pl.select(pl.when(valid).then(days.str.strip_chars() + "T00:00:00")).to_series()
    out = utc_from_iso(midnight, default_tz=zones).select("utc", "reason")
    return out.with_columns(
        reason=pl.when(~valid).then(pl.lit("missing or unreadable")).otherwise("reason")
    )


def parse(path: Path, context: Context = NO_CONTEXT) -> Parsed:
    """Read ``*_healthStatusData.json`` into daily ``vendor_hrv`` and ``vendor_resting_hr`` rows.

    Raises
    ------
    InputError
        File-level problems, invalid JSON, or a document that is not a list.
    """
    document = tab.load_json(path)
    if not isinstance(document, list):
        raise tab.input_error(path, "JSON is not a list of health-status days")
    rows, skipped = metric_rows(document)
    rows = rows.with_columns(_day_starts(rows["day"], context.zones))
    frames, rejects = {}, []
    for table, value_name in TAKEN.values():
        part = rows.filter(pl.col("table") == table)
        value, value_reason = tab.float_and_reason(pl.col("value"), "value")
        extra = {"period": pl.lit("day")} if table == "vendor_hrv" else {}
        frame = part.select(
            source=pl.lit(NAME),
            device=pl.lit(None, pl.String),
            t_utc=pl.col("utc"),
            **extra,
            **{value_name: value},
            row_number=pl.col("row_number"),
            reason=tab.first_reason(
                [pl.col("problem"), tab.prefixed(pl.col("reason"), "calendarDate"), value_reason]
            ),
            raw=pl.col("raw"),
        )
        frames[table], bad = tab.split_rejects(frame, table)
        rejects.append(bad)
    return Parsed(frames=frames, rejects=pl.concat(rejects), skipped=skipped)


ADAPTER = Adapter(name=NAME, sniff=sniff, parse=parse, reads_profile=True)
