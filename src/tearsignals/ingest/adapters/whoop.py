"""Whoop: ``physiological_cycles.csv`` of the app's data export → vendor tables, one value per day.

Whoop → app or web → *Export data* gives four CSVs (``physiological_cycles.csv``,
``sleeps.csv``, ``workouts.csv``, ``journal_entries.csv``), one row per
physiological cycle (sleep onset to the next), sleep, workout or answer; no
heart-rate samples. Each cycle row::

    Cycle start time,Cycle end time,Cycle timezone,Recovery score %,Resting heart rate (bpm),
    Heart rate variability (ms),...,Sleep onset,Wake onset,...
    2024-01-01 22:10:00,2024-01-02 22:30:00,UTC+01:00,66,52,74.1,...,2024-01-01 23:15:00,2024-01-02 06:30:00,...

Taken, as **daily** values (never an HRV of a window of ours):

* ``Heart rate variability (ms)`` (Whoop's RMSSD from the night's sleep) →
  ``vendor_hrv.rmssd_ms``, period ``day``;
* ``Resting heart rate (bpm)`` → ``vendor_resting_hr.resting_hr_bpm``.

The day is the date of ``Wake onset`` (the cycle's recovery is the morning's),
else of ``Cycle start time`` (the cycle in progress has no end); ``t_utc`` is
that day's midnight at the cycle's offset (``Cycle timezone``: ``UTC+01:00``,
``UTC-07:00``, ``-05:00``, ``UTC``, ``UTCZ``), so no profile is needed. Older
exports name the columns without units (``Resting heart rate``, ``Heart rate
variability``). A cycle with neither value (strap off, cycle in progress) holds
nothing taken here: skipped. Recovery and strain scores, sleep durations,
skin temperature and the other files are not taken (``sleeps.csv`` and the
others are left undetected).

Examples
--------
>>> import tempfile
>>> path = Path(tempfile.mkdtemp()) / "physiological_cycles.csv"
>>> _ = path.write_text(
...     "Cycle start time,Cycle end time,Cycle timezone,Resting heart rate (bpm),"
...     "Heart rate variability (ms),Wake onset\\n"
...     "2024-01-01 22:10:00,2024-01-02 22:30:00,UTC+01:00,52,74.1,2024-01-02 06:30:00\\n"
... )
>>> parsed = parse(path)
>>> hrv = parsed.frames["vendor_hrv"]
>>> hrv["t_utc"][0].isoformat(), hrv["rmssd_ms"][0], parsed.frames["vendor_resting_hr"]["resting_hr_bpm"][0]
('2024-01-01T23:00:00+00:00', 74.1, 52.0)
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import polars as pl

from tearsignals.ingest.adapters import _tabular as tab
from tearsignals.ingest.adapters.base import NO_CONTEXT, Adapter, Context, Parsed
from tearsignals.ingest.timeparse import utc_from_iso

NAME = "whoop"
CYCLE_START = "cycle start time"
TIMEZONE = "cycle timezone"
WAKE = "wake onset"
HRV_COLUMNS = ("heart rate variability (ms)", "heart rate variability")
RHR_COLUMNS = ("resting heart rate (bpm)", "resting heart rate")
REASON_NO_VALUE = "cycle without HRV or resting heart rate"


def sniff(head: bytes, path: Path) -> bool:
    """A header naming ``Cycle start time`` and Whoop's HRV column."""
    columns = tab.header_columns(head)
    return CYCLE_START in columns and not set(columns).isdisjoint(HRV_COLUMNS)


def _offset(zone: pl.Expr) -> pl.Expr:
    """``Cycle timezone`` as an ISO offset: ``UTC+01:00`` → ``+01:00``, ``UTC``/``UTCZ`` → ``Z``."""
    bare = zone.str.strip_chars().str.replace(r"^UTC", "")
    return pl.when(bare.is_in(["", "Z"])).then(pl.lit("Z")).otherwise(bare)


def day_starts(fields: pl.DataFrame) -> pl.DataFrame:
    """``utc``/``reason``: midnight of the cycle's day (wake date, else start date) at its offset."""
    day = pl.col(CYCLE_START).str.strip_chars().str.slice(0, 10)
    if WAKE in fields.columns:
        wake = pl.col(WAKE).str.strip_chars().str.slice(0, 10)
        day = pl.when(wake.fill_null("") != "").then(wake).otherwise(day)
    zone = _offset(pl.col(TIMEZONE)) if TIMEZONE in fields.columns else pl.lit(None, pl.String)
    midnight = fields.select(pl.concat_str([day, pl.lit("T00:00:00"), zone]).alias("m"))["m"]
    return utc_from_iso(midnight).select("utc", "reason")


def _values(
    fields: pl.DataFrame, column: str, table: str, value_name: str
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Rows of ``table`` from the cycles whose ``column`` is filled, and their rejects."""
    filled = fields.filter(pl.col(column).str.strip_chars().fill_null("") != "")
    value, value_reason = tab.float_and_reason(pl.col(column), column)
    extra = {"period": pl.lit("day")} if table == "vendor_hrv" else {}
    frame = filled.with_columns(day_starts(filled)).select(
        source=pl.lit(NAME),
        device=pl.lit(None, pl.String),
        t_utc=pl.col("utc"),
        **extra,
        **{value_name: value},
        row_number=pl.col("row_number"),
        reason=tab.first_reason([tab.prefixed(pl.col("reason"), "cycle day"), value_reason]),
        raw=pl.col("raw"),
    )
    return tab.split_rejects(frame, table)


def parse(path: Path, context: Context = NO_CONTEXT) -> Parsed:
    """Read ``physiological_cycles.csv`` into ``vendor_hrv`` and ``vendor_resting_hr`` rows.

    Times carry their cycle's offset: ``context`` plays no part.

    Raises
    ------
    InputError
        File-level problems, or no ``Cycle start time`` / HRV column.
    """
    fields = tab.read_csv_fields(path)
    tab.require_columns(path, fields.columns, [(CYCLE_START,), HRV_COLUMNS])
    hrv_column = tab.first_present(fields.columns, HRV_COLUMNS)
    rhr_column = tab.first_present(fields.columns, RHR_COLUMNS)
    assert hrv_column is not None, "checked by require_columns"
    frames, rejects = {}, []
    frames["vendor_hrv"], bad = _values(fields, hrv_column, "vendor_hrv", "rmssd_ms")
    rejects.append(bad)
    empty = pl.col(hrv_column).str.strip_chars().fill_null("") == ""
    if rhr_column is not None:
        rhr = _values(fields, rhr_column, "vendor_resting_hr", "resting_hr_bpm")
        frames["vendor_resting_hr"], bad = rhr
        rejects.append(bad)
        empty = empty & (pl.col(rhr_column).str.strip_chars().fill_null("") == "")
    neither = fields.filter(empty).height
    skipped = Counter({REASON_NO_VALUE: neither}) if neither else Counter[str]()
    return Parsed(frames=frames, rejects=pl.concat(rejects), skipped=skipped)


ADAPTER = Adapter(name=NAME, sniff=sniff, parse=parse)
