"""Crafted exports of the vendor apps, built from their published formats (never real data).

Each builder writes a file shaped like the app's export as public parsers of
real exports describe it (column names and order, preambles, time formats,
separators, the oddities they report); the values are synthetic. The tests of
each adapter say which oddities they plant and how many rows each should give.
"""

from __future__ import annotations

import json
import os
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

# --- Samsung Health -------------------------------------------------------------------------------

SAMSUNG_PREFIX = "com.samsung.health.heart_rate."
# Two app generations: the column order differs, the newer one has *_sh_ver columns.
SAMSUNG_COLUMNS = {
    "6.x": (
        "source", "tag_id", "~heart_beat_count", "~start_time", "~custom", "~binning_data",
        "~update_time", "~create_time", "~max", "~min", "~time_offset", "~deviceuuid",
        "~comment", "~pkg_name", "~end_time", "~datauuid", "~heart_rate",
    ),
    "6.2x": (
        "source", "tag_id", "~create_sh_ver", "~heart_beat_count", "~start_time", "~custom",
        "~binning_data", "~modify_sh_ver", "~update_time", "~create_time", "~max", "~min",
        "~time_offset", "~deviceuuid", "~comment", "~pkg_name", "~end_time", "~datauuid",
        "~heart_rate",
    ),
}  # fmt: skip


@dataclass(frozen=True)
class SamsungRow:
    """One heart-rate row: ``start`` is UTC (as Samsung writes it), ``bpm`` the cell text."""

    start: datetime
    bpm: str
    offset: str = "UTC+0100"
    binned: bool = False
    device: str = "gp5ou4ds4l"
    millis: bool = True


def _samsung_cells(row: SamsungRow, k: int) -> dict[str, str]:
    stamp = f"{row.start:%Y-%m-%d %H:%M:%S}" + (f".{k * 37 % 1000:03d}" if row.millis else "")
    end = stamp if not row.binned else f"{row.start:%Y-%m-%d} {row.start.hour:02d}:59:59.000"
    return {
        "source": "0",
        "tag_id": "21313",
        "~start_time": stamp,
        "~end_time": end,
        "~create_time": stamp,
        "~update_time": stamp,
        "~time_offset": row.offset,
        "~heart_rate": row.bpm,
        "~min": row.bpm if row.binned else "",
        "~max": row.bpm if row.binned else "",
        "~heart_beat_count": "1",
        "~binning_data": f"{k:08x}-bin.com.samsung.health.heart_rate.binning_data.json"
        if row.binned
        else "",
        "~deviceuuid": row.device,
        "~pkg_name": "com.sec.android.app.shealth",
        "~datauuid": f"{k:08x}-379e-7643-6f8f-0312a7a8174d",
    }


def samsung_heart_rate_csv(
    rows: list[SamsungRow],
    *,
    version: str = "6.2x",
    metadata: bool = True,
    bom: bool = False,
    crlf: bool = False,
) -> str:
    """A ``com.samsung.shealth.tracker.heart_rate.<stamp>.csv``: metadata line, prefixed header.

    Every line but the metadata line ends in a trailing comma, as in real exports.
    """
    columns = SAMSUNG_COLUMNS[version]
    names = [c.replace("~", SAMSUNG_PREFIX) for c in columns]
    lines = [f"com.samsung.shealth.tracker.heart_rate,6315005,{len(columns)}"] if metadata else []
    lines.append(",".join(names) + ",")
    for k, row in enumerate(rows, start=1):
        cells = _samsung_cells(row, k)
        lines.append(",".join(cells.get(c, "") for c in columns) + ",")
    newline = "\r\n" if crlf else "\n"
    return ("\ufeff" if bom else "") + newline.join(lines) + newline


# --- Fitbit (Google Takeout CSVs) -----------------------------------------------------------------

FITBIT_HR_HEADER = "timestamp,beats per minute"
FITBIT_HRV_SUMMARY_HEADER = "timestamp,rmssd,nremhr,entropy"
FITBIT_HRV_DETAILS_HEADER = "timestamp,rmssd,coverage,low_frequency,high_frequency"
GOOGLE_DAILY_HRV_HEADER = (
    "timestamp,average heart rate variability milliseconds,non rem heart rate beats per minute,"
    "entropy,deep sleep root mean square of successive differences milliseconds,data source"
)


def csv_text(header: str, rows: list[str], *, crlf: bool = False) -> str:
    """A CSV file's text: ``header`` and ``rows``, each line ended (LF or CRLF)."""
    newline = "\r\n" if crlf else "\n"
    return newline.join([header, *rows]) + newline


# --- Android Health Connect -----------------------------------------------------------------------

# The tables as public readers of real exports describe them (instant, interval and series
# records; uuid a 16-byte blob; zone offsets in seconds; generated local-time columns).
HEALTH_CONNECT_SCHEMA = """
CREATE TABLE application_info_table (row_id INTEGER PRIMARY KEY AUTOINCREMENT,
    package_name TEXT NOT NULL UNIQUE, app_name TEXT, app_icon BLOB, color INTEGER);
CREATE TABLE device_info_table (row_id INTEGER PRIMARY KEY AUTOINCREMENT,
    manufacturer TEXT, model TEXT, device_type INTEGER);
CREATE TABLE heart_rate_record_table (row_id INTEGER PRIMARY KEY AUTOINCREMENT, uuid BLOB UNIQUE,
    last_modified_time INTEGER, client_record_id TEXT, client_record_version TEXT,
    device_info_id INTEGER, app_info_id INTEGER, recording_method INTEGER, dedupe_hash BLOB,
    start_time INTEGER NOT NULL, start_zone_offset INTEGER, end_time INTEGER NOT NULL,
    end_zone_offset INTEGER, local_date INTEGER,
    local_date_time_start_time INTEGER AS (start_time + 1000 * start_zone_offset),
    local_date_time_end_time INTEGER AS (end_time + 1000 * end_zone_offset),
    device_data_provider_id INTEGER);
CREATE TABLE heart_rate_record_series_table (parent_key INTEGER NOT NULL,
    beats_per_minute INTEGER, epoch_millis INTEGER,
    FOREIGN KEY (parent_key) REFERENCES heart_rate_record_table(row_id) ON DELETE CASCADE);
CREATE TABLE resting_heart_rate_record_table (row_id INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid BLOB UNIQUE, app_info_id INTEGER, time INTEGER NOT NULL, zone_offset INTEGER,
    local_date INTEGER, beats_per_minute INTEGER,
    local_date_time INTEGER AS (time + 1000 * zone_offset));
CREATE TABLE SpeedRecordTable (row_id INTEGER PRIMARY KEY AUTOINCREMENT, uuid BLOB UNIQUE,
    app_info_id INTEGER, start_time INTEGER, start_zone_offset INTEGER, end_time INTEGER,
    end_zone_offset INTEGER, local_date INTEGER);
CREATE TABLE speed_record_table (parent_key INTEGER NOT NULL, speed REAL, epoch_millis INTEGER);
CREATE TABLE android_metadata (locale TEXT);
"""
HEALTH_CONNECT_RMSSD_TABLE = """
CREATE TABLE heart_rate_variability_rmssd_record_table (row_id INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid BLOB UNIQUE, last_modified_time INTEGER, client_record_id TEXT,
    client_record_version TEXT, device_info_id INTEGER, app_info_id INTEGER,
    recording_method INTEGER, dedupe_hash BLOB, time INTEGER NOT NULL, zone_offset INTEGER,
    local_date INTEGER, heart_rate_variability_millis REAL,
    local_date_time INTEGER AS (time + 1000 * zone_offset), device_data_provider_id INTEGER);
"""


@dataclass(frozen=True)
class HeartRateRecord:
    """A Health Connect heart-rate record: its app, zone offset (s) and samples (ms, bpm)."""

    app: int
    zone_offset_s: int | None
    samples: list[tuple[object, object]]


def health_connect_db(
    path: Path,
    records: list[HeartRateRecord],
    rmssd: list[tuple[int, int | None, object]] | None,
    orphans: tuple[tuple[object, object], ...] = (),
) -> Path:
    """A ``health_connect_export.db``; ``rmssd`` rows are (epoch ms, zone offset s, value).

    ``rmssd=None`` leaves the RMSSD table out (an export from before Health Connect had it).
    Apps 1 and 2 are Fitbit and Samsung Health. ``orphans``: series samples whose parent
    record is missing.
    """
    with closing(sqlite3.connect(path)) as db, db:
        db.executescript(
            HEALTH_CONNECT_SCHEMA + ("" if rmssd is None else HEALTH_CONNECT_RMSSD_TABLE)
        )
        db.executemany(
            "INSERT INTO application_info_table (row_id, package_name, app_name) VALUES (?, ?, ?)",
            [
                (1, "com.fitbit.FitbitMobile", "Fitbit"),
                (2, "com.sec.android.app.shealth", "Samsung Health"),
            ],
        )
        db.execute("INSERT INTO android_metadata VALUES ('en_US')")
        for k, record in enumerate(records, start=1):
            times = [t for t, _ in record.samples if isinstance(t, int)] or [0]
            db.execute(
                "INSERT INTO heart_rate_record_table (row_id, uuid, app_info_id, start_time,"
                " start_zone_offset, end_time, end_zone_offset) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    k,
                    os.urandom(16),
                    record.app,
                    min(times),
                    record.zone_offset_s,
                    max(times),
                    record.zone_offset_s,
                ),
            )
            db.executemany(
                "INSERT INTO heart_rate_record_series_table (parent_key, epoch_millis, beats_per_minute)"
                " VALUES (?, ?, ?)",
                [(k, t, bpm) for t, bpm in record.samples],
            )
        db.executemany(
            "INSERT INTO heart_rate_record_series_table (parent_key, epoch_millis, beats_per_minute)"
            " VALUES (?, ?, ?)",
            [(999, t, bpm) for t, bpm in orphans],
        )
        db.execute(
            "INSERT INTO resting_heart_rate_record_table (uuid, app_info_id, time, zone_offset,"
            " beats_per_minute) VALUES (?, 1, 1767571200000, 3600, 52)",
            (os.urandom(16),),
        )
        for t, offset, value in rmssd or []:
            db.execute(
                "INSERT INTO heart_rate_variability_rmssd_record_table (uuid, app_info_id, time,"
                " zone_offset, heart_rate_variability_millis) VALUES (?, 1, ?, ?, ?)",
                (os.urandom(16), t, offset, value),
            )
    return path


# --- Oura -----------------------------------------------------------------------------------------

# oura.com's trends CSV header (``Sleep Timing`` twice, as exported).
OURA_TRENDS_HEADER = (
    "date,Sleep Score,Total Sleep Score,REM Sleep Score,Deep Sleep Score,Sleep Efficiency Score,"
    "Restfulness Score,Sleep Latency Score,Sleep Timing Score,Total Bedtime,Total Sleep Time,"
    "Awake Time,REM Sleep Time,Light Sleep Time,Deep Sleep Time,Restless Sleep,Sleep Efficiency,"
    "Sleep Latency,Sleep Timing,Sleep Timing,Bedtime Start,Bedtime End,"
    "Average Resting Heart Rate,Lowest Resting Heart Rate,Average HRV,Temperature Deviation (°C),"
    "Respiratory Rate,Activity Score,Steps,Readiness Score"
)


def oura_trends_row(day: str, bedtime: tuple[str, str] | None, hrv: str) -> str:
    """One day of the trends CSV; ``bedtime`` as (start, end) ISO texts with offsets, or none."""
    start, end = bedtime or ("", "")
    sleep = "74,74,34,99,96,53,72,100,27300,24690,2610,2400,14490,7800,41,90,270,13170,"
    return f"{day},{sleep},{start},{end},56.63,46,{hrv},-0.29,13.75,87,5703,67"


def oura_document(items: list[object], next_token: str | None = None) -> str:
    """An API v2 ``usercollection`` response: ``{"data": [...], "next_token": ...}``."""
    return json.dumps({"data": items, "next_token": next_token}, indent=1)


# --- Whoop ----------------------------------------------------------------------------------------

WHOOP_CYCLES_HEADER = (
    "Cycle start time,Cycle end time,Cycle timezone,Recovery score %,Resting heart rate (bpm),"
    "Heart rate variability (ms),Skin temp (celsius),Blood oxygen %,Day Strain,Energy burned (cal),"
    "Max HR (bpm),Average HR (bpm),Sleep onset,Wake onset,Sleep performance %,"
    "Respiratory rate (rpm),Asleep duration (min),In bed duration (min),Light sleep duration (min),"
    "Deep (SWS) duration (min),REM duration (min),Awake duration (min),Sleep need (min),"
    "Sleep debt (min),Sleep efficiency %,Sleep consistency %"
)


def whoop_cycle_row(
    start: str, end: str, zone: str, rhr: str, hrv: str, onset: str, wake: str
) -> str:
    """One ``physiological_cycles.csv`` row (the columns not read hold plausible values)."""
    return (
        f"{start},{end},{zone},68,{rhr},{hrv},33.4,96,13.2,2400,172,78,{onset},{wake},"
        "88,14.2,432,470,230,92,110,38,491,45,91.9,80"
    )
