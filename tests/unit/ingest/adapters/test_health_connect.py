"""Android Health Connect export (SQLite, or its zip): crafted from the published schema.

Oddities planted, several of each: several apps; series records with one and many samples;
zone offsets in seconds (whole, half and three-quarter hours, negative, null), which do not
move UTC times; a value stored as text; failed (0), missing and unreadable values and times;
samples whose parent record is gone; an export from before the RMSSD table; the database
inside a zip; tables not read (resting HR, speed) not counted.
"""

from __future__ import annotations

import sqlite3
import zipfile
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tearsignals.errors import InputError
from tearsignals.ingest import adapters, files
from tearsignals.ingest.adapters import health_connect
from tearsignals.lake import layout, store
from tests.support.vendor_exports import HeartRateRecord, health_connect_db

T0 = 1_767_621_600_000  # 2026-01-05T14:00:00Z
MIN = 60_000


def _records() -> list[HeartRateRecord]:
    """9 samples in 4 records of two apps: 6 sound, one 0, one missing, one bad time."""
    return [
        HeartRateRecord(1, 3600, [(T0, 61), (T0 + MIN, 62), (T0 + 2 * MIN, "63")]),
        HeartRateRecord(2, 19800, [(T0 + 3 * MIN, 64)]),
        HeartRateRecord(1, -14400, [(T0 + 4 * MIN, 65), (T0 + 5 * MIN, 0)]),
        HeartRateRecord(2, None, [(T0 + 6 * MIN, 66), (T0 + 7 * MIN, None), (12, 67)]),
    ]


RMSSD = [
    (T0 + 30 * MIN, 32400, 38.2),
    (T0 + 35 * MIN, 20700, "41.0"),
    (T0 + 40 * MIN, None, None),
    (T0 + 45 * MIN, -14400, 1500.0),
]


def _db(folder: Path, rmssd: list | None = RMSSD, **options: object) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return health_connect_db(folder / "health_connect_export.db", _records(), rmssd, **options)


def test_series_and_rmssd_are_read_in_utc_whatever_the_offsets(tmp_path: Path) -> None:
    path = _db(tmp_path, orphans=((T0 + 8 * MIN, 70),))
    adapter, parsed = adapters.parse_file(path)
    assert adapter.name == "health_connect"
    hr = parsed.frames["heart_rate"]
    expected = [datetime.fromtimestamp((T0 + k * MIN) / 1000, UTC) for k in range(7)]
    assert hr["t_utc"].to_list() == expected
    assert hr["hr_bpm"].to_list() == [61.0, 62.0, 63.0, 64.0, 65.0, 0.0, 66.0]
    assert hr["device"].to_list()[:4] == [
        "com.fitbit.FitbitMobile", "com.fitbit.FitbitMobile", "com.fitbit.FitbitMobile",
        "com.sec.android.app.shealth",
    ]  # fmt: skip
    vendor = parsed.frames["vendor_hrv"]
    assert vendor["rmssd_ms"].to_list() == [38.2, 41.0, 1500.0]
    assert vendor["t_utc"][0] == datetime(2026, 1, 5, 14, 30, tzinfo=UTC)
    assert set(vendor["period"]) == {"reading"}
    reasons = sorted(zip(parsed.rejects["table"], parsed.rejects["reason"], strict=True))
    assert reasons == [
        ("heart_rate", "epoch_millis: epoch ms out of range [1990, 2100)"),
        ("heart_rate", "missing beats_per_minute"),
        ("heart_rate", "series sample without its heart-rate record"),
        ("vendor_hrv", "missing heart_rate_variability_millis"),
    ]
    assert parsed.rows_in == 10 + 4


def test_an_export_without_the_rmssd_table_gives_heart_rate_only(tmp_path: Path) -> None:
    parsed = health_connect.parse(_db(tmp_path, rmssd=None))
    assert set(parsed.frames) == {"heart_rate"} and parsed.frames["heart_rate"].height == 7


def test_the_zipped_export_is_read_through_a_private_copy(tmp_path: Path) -> None:
    inbox, lake = tmp_path / "inbox", tmp_path / "lake"
    db = _db(tmp_path / "made")
    archive = inbox / "S01" / "Health Connect.zip"
    archive.parent.mkdir(parents=True)
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(db, "health_connect_export.db")
    report = files.ingest_file(lake, inbox, "S01", archive)
    assert report is not None and report.format == "health_connect"
    counts = (report.rows_in, report.rows_ok, report.rows_quarantined, report.rows_duplicate)
    assert counts == (13, 8, 5, 0)
    by_table = sorted(store.read_table(lake, "quarantine").select("table", "reason").iter_rows())
    assert by_table == [
        ("heart_rate", "epoch_millis: epoch ms out of range [1990, 2100)"),
        ("heart_rate", "hr_bpm out of range [20, 250]"),
        ("heart_rate", "missing beats_per_minute"),
        ("vendor_hrv", "missing heart_rate_variability_millis"),
        ("vendor_hrv", "rmssd_ms out of range [0, 1000]"),
    ]
    assert store.read_table(lake, "vendor_hrv")["rmssd_ms"].to_list() == [38.2, 41.0]
    assert list(layout.scratch_dir(lake).iterdir()) == []  # the private copy is gone


def test_a_zip_with_two_databases_and_a_corrupt_database_are_refused(tmp_path: Path) -> None:
    db = _db(tmp_path / "made")
    archive = tmp_path / "two.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(db, "a/health_connect_export.db")
        zf.write(db, "b/health_connect_export.db")
    with pytest.raises(InputError, match=r"must hold one health_connect_export\.db"):
        health_connect.parse(archive)
    broken = tmp_path / "broken.db"
    data = db.read_bytes()
    broken.write_bytes(data[:100] + bytes(len(data) - 100))  # header kept, pages zeroed
    with pytest.raises(InputError, match=r"broken.db: not a readable Health Connect database"):
        health_connect.parse(broken)


def test_other_sqlite_files_are_not_health_connect(tmp_path: Path) -> None:
    other = tmp_path / "notes.db"
    with closing(sqlite3.connect(other)) as db, db:
        db.execute("CREATE TABLE notes (t INTEGER, text TEXT)")
    assert adapters.detect(other) is None
