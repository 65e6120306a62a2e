"""Fitbit CSVs of a Google Takeout: heart rate (``fitbit_csv``) and Fitbit's HRV (``fitbit_hrv``).

A Takeout of a Fitbit (or Google Health) account holds, besides the older JSON
day files (adapter ``fitbit``), CSV tables.

Heart rate (``fitbit_csv``)
---------------------------
``Physical Activity_GoogleData/heart_rate_YYYY-MM-DD.csv``::

    timestamp,beats per minute,data source
    2024-10-27T00:00:04Z,65.0,Pixel Watch 2

One sample every few seconds; ``timestamp`` ISO 8601, in UTC (``Z``, with or
without fractional seconds); a timestamp without offset is local and read in
the subject profile's zone. ``beats per minute`` → ``hr_bpm``, ``data source``
(optional; quoted when it holds a comma) → ``device``. Two data sources
sampling the same instant share the natural key: the second is quarantined
as a key conflict (Fitbit gives no priority between them). Files of the same
shape that hold *daily* values (``daily_resting_heart_rate*.csv``,
``resting_heart_rate_*.csv``) are not heart-rate samples: told apart by
their name (the one place the name is read), they are left undetected.

HRV (``fitbit_hrv``) → ``vendor_hrv.rmssd_ms``
--------------------------------------------
Fitbit computes RMSSD during the main sleep only; three tables, none of them an
HRV of a window of ours:

* ``Heart Rate Variability/Daily Heart Rate Variability Summary - YYYY-MM-(D).csv``:
  ``timestamp,rmssd,nremhr,entropy``, one row per night → ``period`` ``day``;
* Google Health's ``daily_heart_rate_variability_YYYY-MM-DD.csv``:
  ``timestamp,average heart rate variability milliseconds,non rem heart rate
  beats per minute,entropy,deep sleep root mean square of successive
  differences milliseconds,data source`` → ``period`` ``day`` (the average);
* ``Heart Rate Variability Details - YYYY-MM-DD.csv``:
  ``timestamp,rmssd,coverage,low_frequency,high_frequency``, one row per 5
  minutes of sleep, local times without offset → ``period`` ``reading``.

A daily row's ``timestamp`` only names its day (``2024-07-21T00:00:00``,
``2024-07-21``, ``2024-02-22T03:00:00`` and ``...T00:00:00Z`` all occur): its
``t_utc`` is that day's local midnight in the subject profile's zone, so a
daily file needs the profile. ``nremhr``, ``entropy``, the deep-sleep value and
the spectral columns are not taken.

Detection: the header names ``timestamp`` and ``beats per minute``
(``fitbit_csv``), or ``timestamp`` and ``rmssd`` or ``average heart rate
variability milliseconds`` (``fitbit_hrv``).

Examples
--------
>>> import tempfile
>>> path = Path(tempfile.mkdtemp()) / "heart_rate_2024-10-27.csv"
>>> _ = path.write_text("timestamp,beats per minute\\n2024-10-27T00:00:04Z,65.0\\n")
>>> hr = parse_heart_rate(path).frames["heart_rate"]
>>> hr["t_utc"][0].isoformat(), hr["hr_bpm"][0]
('2024-10-27T00:00:04+00:00', 65.0)
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from tearsignals.ingest.adapters import _tabular as tab
from tearsignals.ingest.adapters.base import NO_CONTEXT, Adapter, Context, Parsed
from tearsignals.ingest.timeparse import LocalZones, utc_from_iso

HR_NAME = "fitbit_csv"
HRV_NAME = "fitbit_hrv"
BPM = "beats per minute"
DATA_SOURCE = "data source"
DAILY_NAMES = ("daily_resting_heart_rate", "resting_heart_rate")
# Value column → period of the file's rows, in priority order.
HRV_COLUMNS = {
    "average heart rate variability milliseconds": "day",
    "rmssd": "day",
}
DETAIL_MARKER = "coverage"  # only the 5-minute details table has it


def sniff_heart_rate(head: bytes, path: Path) -> bool:
    """A header naming ``timestamp`` and ``beats per minute``, not in a daily-values file."""
    columns = tab.header_columns(head)
    if "timestamp" not in columns or BPM not in columns:
        return False
    return not path.name.lower().startswith(DAILY_NAMES)


def sniff_hrv(head: bytes, path: Path) -> bool:
    """A header naming ``timestamp`` and one of Fitbit's RMSSD columns."""
    columns = tab.header_columns(head)
    return "timestamp" in columns and not set(columns).isdisjoint(HRV_COLUMNS)


def _device(fields: pl.DataFrame) -> pl.Expr:
    if DATA_SOURCE in fields.columns:
        return pl.col(DATA_SOURCE).str.strip_chars()
    return pl.lit(None, pl.String)


def heart_rate_with_reasons(fields: pl.DataFrame, zones: LocalZones | None) -> pl.DataFrame:
    """Canonical heart-rate columns plus ``reason``, ``row_number`` and ``raw``."""
    times = tab.sample_times(fields, zones)
    bpm, bpm_reason = tab.float_and_reason(pl.col(BPM), BPM)
    return fields.with_columns(times).select(
        source=pl.lit(HR_NAME),
        device=_device(fields),
        t_utc=pl.col("utc"),
        hr_bpm=bpm,
        confidence=pl.lit(None, pl.Int64),
        row_number=pl.col("row_number"),
        reason=tab.first_reason([pl.col("reason"), bpm_reason]),
        raw=pl.col("raw"),
    )


def parse_heart_rate(path: Path, context: Context = NO_CONTEXT) -> Parsed:
    """Read a Takeout ``heart_rate_*.csv`` into ``heart_rate`` rows and rejects.

    Raises
    ------
    InputError
        File-level problems, or no ``timestamp`` / ``beats per minute`` column.
    """
    fields = tab.read_csv_fields(path)
    tab.require_columns(path, fields.columns, [("timestamp",), (BPM,)])
    frame = heart_rate_with_reasons(fields, context.zones)
    good, rejects = tab.split_rejects(frame, "heart_rate")
    return Parsed(frames={"heart_rate": good}, rejects=rejects)


def day_starts(text: pl.Series, zones: LocalZones | None) -> pl.DataFrame:
    """``utc`` and ``reason``: local midnight of the day each ``timestamp`` names.

    >>> out = day_starts(pl.Series(["2024-07-21T03:00:00", "2024-07-22"]), LocalZones("Europe/Berlin"))
    >>> [t.isoformat() for t in out["utc"]]
    ['2024-07-20T22:00:00+00:00', '2024-07-21T22:00:00+00:00']
    """
    day = text.str.strip_chars().str.extract(r"^(\d{4}-\d{2}-\d{2})(?:[T ].*)?$")
    midnight = (day + "T00:00:00").fill_null(text)
    return utc_from_iso(midnight, default_tz=zones).select("utc", "reason")


def hrv_with_reasons(fields: pl.DataFrame, zones: LocalZones | None) -> pl.DataFrame:
    """Canonical ``vendor_hrv`` columns plus ``reason``, ``row_number`` and ``raw``."""
    column = tab.first_present(fields.columns, tuple(HRV_COLUMNS))
    assert column is not None, "checked by require_columns"
    period = "reading" if DETAIL_MARKER in fields.columns else HRV_COLUMNS[column]
    if period == "day":
        times = day_starts(fields["timestamp"], zones)
    else:
        times = tab.sample_times(fields, zones)
    rmssd, rmssd_reason = tab.float_and_reason(pl.col(column), column)
    return fields.with_columns(times).select(
        source=pl.lit(HRV_NAME),
        device=_device(fields),
        t_utc=pl.col("utc"),
        period=pl.lit(period),
        sdnn_ms=pl.lit(None, pl.Float64),
        rmssd_ms=rmssd,
        row_number=pl.col("row_number"),
        reason=tab.first_reason([tab.prefixed(pl.col("reason"), "timestamp"), rmssd_reason]),
        raw=pl.col("raw"),
    )


def parse_hrv(path: Path, context: Context = NO_CONTEXT) -> Parsed:
    """Read one of Fitbit's HRV tables into ``vendor_hrv`` rows (RMSSD) and rejects.

    Raises
    ------
    InputError
        File-level problems, or no ``timestamp`` / RMSSD column.
    """
    fields = tab.read_csv_fields(path)
    tab.require_columns(path, fields.columns, [("timestamp",), tuple(HRV_COLUMNS)])
    good, rejects = tab.split_rejects(hrv_with_reasons(fields, context.zones), "vendor_hrv")
    return Parsed(frames={"vendor_hrv": good}, rejects=rejects)


HEART_RATE_ADAPTER = Adapter(
    name=HR_NAME, sniff=sniff_heart_rate, parse=parse_heart_rate, reads_profile=True
)
HRV_ADAPTER = Adapter(name=HRV_NAME, sniff=sniff_hrv, parse=parse_hrv, reads_profile=True)
