"""Crafted exports of the vendor apps, built from their published formats (never real data).

Each builder writes a file shaped like the app's export as public parsers of
real exports describe it (column names and order, preambles, time formats,
separators, the oddities they report); the values are synthetic. The tests of
each adapter say which oddities they plant and how many rows each should give.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

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
