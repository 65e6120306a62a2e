"""Golden tests: the Apple Health adapter on the real exports in ``../shared/realdata``.

Counts come from the realdata README (sections 3 and 5); every value is also
checked against an independent oracle: the same XML read with
``xml.etree.ElementTree`` (trusted files; their DTD is internal and defines no
entities) and converted with ``datetime.strptime(..., "%z")``.
"""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from tearsignals.ingest import adapters, files
from tearsignals.ingest.adapters import apple_health
from tearsignals.lake import store

pytestmark = pytest.mark.golden

HKIMPORT = ("apple_health_hkimport", "export.zip")
ALXDRCIRILO = ("apple_health_alxdrcirilo", "export.xml")


def _oracle(xml: bytes) -> list[tuple[datetime, float, str]]:
    """(UTC start, bpm, sourceName) of every heart-rate record, by ElementTree."""
    root = ET.fromstring(xml)
    return [
        (
            datetime.strptime(r.get("startDate", ""), "%Y-%m-%d %H:%M:%S %z").astimezone(UTC),
            float(r.get("value", "nan")) * (60.0 if r.get("unit") == "count/s" else 1.0),
            r.get("sourceName", ""),
        )
        for r in root.iter("Record")
        if r.get("type") == apple_health.HEART_RATE
    ]


def _hkimport_xml(realdata: Path) -> bytes:
    with zipfile.ZipFile(realdata.joinpath(*HKIMPORT)) as zf:
        return zf.read("apple_health_export/export.xml")


def test_hkimport_zip_heart_rate_matches_readme_and_oracle(realdata: Path) -> None:
    path = realdata.joinpath(*HKIMPORT)
    assert adapters.detect(path) is apple_health.ADAPTER
    parsed = apple_health.parse(path)
    hr = parsed.frames["heart_rate"]
    assert hr.height == 2177  # README: 2,177 HeartRate records, all "Connect", count/min
    assert set(hr["device"]) == {"Connect"}
    assert parsed.frames["beats"].height == parsed.frames["vendor_hrv"].height == 0  # no HRV
    assert parsed.rejects.height == parsed.duplicates == 0
    first, last = hr["t_utc"].min(), hr["t_utc"].max()
    assert isinstance(first, datetime) and isinstance(last, datetime)
    assert (first.year, first.month, last.year, last.month) == (2017, 10, 2017, 10)
    expected = sorted((t, bpm) for t, bpm, _ in _oracle(_hkimport_xml(realdata)))
    assert sorted(hr.select("t_utc", "hr_bpm").rows()) == expected


def test_hkimport_converts_each_records_offset_to_utc(realdata: Path) -> None:
    hr = apple_health.parse(realdata.joinpath(*HKIMPORT)).frames["heart_rate"]
    # row 1 is the first HeartRate record of the file: startDate="2017-10-09 17:46:00 +0200"
    first = hr.filter(pl.col("row_number") == 1).select("t_utc", "hr_bpm").row(0)
    assert first == (datetime(2017, 10, 9, 15, 46, tzinfo=UTC), 49.0)


def test_alxdrcirilo_attributes_over_lines(realdata: Path) -> None:
    path = realdata.joinpath(*ALXDRCIRILO)
    assert adapters.detect(path) is apple_health.ADAPTER
    parsed, stats = apple_health.parse_with_stats(path)
    hr = parsed.frames["heart_rate"]
    assert hr.height == 2  # README: 2 Apple Watch (Watch6,7) HeartRate records
    assert hr["device"].to_list() == ["Alexandre's Apple Watch (Watch6,7)"] * 2
    expected = [(t, bpm) for t, bpm, _ in _oracle(path.read_bytes())]
    assert hr.select("t_utc", "hr_bpm").rows() == expected
    assert expected[0][0] == datetime(2023, 12, 31, 23, 1, 36, tzinfo=UTC)  # +0200 → UTC
    assert stats.relevant_parsed == stats.relevant_literals == 2


@pytest.mark.parametrize("where", [HKIMPORT, ALXDRCIRILO])
def test_fast_and_robust_paths_agree_on_real_files(realdata: Path, where: tuple[str, str]) -> None:
    path = realdata.joinpath(*where)
    fast, fast_stats = apple_health.parse_with_stats(path)
    robust, robust_stats = apple_health.parse_with_stats(path, force_robust=True)
    assert fast_stats.segments_robust == 0 and robust_stats.segments_fast == 0
    for table in fast.frames:
        assert fast.frames[table].equals(robust.frames[table]), table


def test_real_export_lands_in_the_lake_end_to_end(realdata: Path, tmp_path: Path) -> None:
    inbox, lake = tmp_path / "INBOX", tmp_path / "lake"
    (inbox / "S01").mkdir(parents=True)
    path = Path(shutil.copy(realdata.joinpath(*HKIMPORT), inbox / "S01" / "export.zip"))
    report = files.ingest_file(lake, inbox, "S01", path)
    assert report is not None and report.status == "ingested"
    assert report.format == "apple_health"
    assert (report.rows_in, report.rows_ok, report.rows_quarantined) == (2177, 2177, 0)
    stored = store.read_table(lake, "heart_rate")
    assert stored.height == 2177
    assert set(stored["source"]) == {"apple_health"}
    assert files.ingest_file(lake, inbox, "S01", path) is None  # already committed
