"""Samsung Health ``com.samsung.shealth.tracker.heart_rate.*.csv``: crafted from the published format.

Oddities planted, several of each: the metadata line (with BOM, CRLF, absent),
prefixed columns in two app generations' orders, trailing commas, offsets of
whole and part hours (UTC times not moved by them), times with and without
milliseconds, binned rows, failed (0) and unreadable values.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tearsignals.errors import InputError
from tearsignals.ingest import adapters, files
from tearsignals.ingest.adapters import samsung_health
from tearsignals.lake import store
from tests.support.vendor_exports import SamsungRow, samsung_heart_rate_csv

T0 = datetime(2024, 1, 28, 13, 0, 29)
NAME = "com.samsung.shealth.tracker.heart_rate.20240130101112.csv"


def _write(folder: Path, text: str, name: str = NAME) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8", newline="")
    return path


def _rows() -> list[SamsungRow]:
    """Ten rows: 7 sound, one failed measurement (0), one empty and one unreadable value."""
    offsets = ["UTC+0100", "UTC-0400", "UTC+0530", "UTC+0545", "", "UTC+0900", "UTC-0930"]
    sound = [
        SamsungRow(T0 + timedelta(minutes=10 * k), f"{60 + k}.0", offset=offsets[k])
        for k in range(7)
    ]
    sound[3] = SamsungRow(sound[3].start, "71.0", binned=True, millis=False)
    sound[5] = SamsungRow(sound[5].start, "66", millis=False)
    bad = [
        SamsungRow(T0 + timedelta(hours=2), "0.0"),
        SamsungRow(T0 + timedelta(hours=3), ""),
        SamsungRow(T0 + timedelta(hours=4), "n/a"),
    ]
    return [*sound, *bad]


@pytest.mark.parametrize(
    ("version", "options"),
    [
        ("6.2x", {}),
        ("6.x", {}),
        ("6.2x", {"bom": True}),
        ("6.x", {"crlf": True}),
        ("6.2x", {"bom": True, "crlf": True}),
        ("6.2x", {"metadata": False}),
    ],
)
def test_every_layout_is_detected_and_read_alike(
    tmp_path: Path, version: str, options: dict[str, bool]
) -> None:
    path = _write(tmp_path, samsung_heart_rate_csv(_rows(), version=version, **options))
    adapter, parsed = adapters.parse_file(path)
    assert adapter.name == "samsung_health"
    hr = parsed.frames["heart_rate"]
    # start_time is UTC: no offset moves it (the millisecond part is kept where written)
    assert [t.replace(microsecond=0) for t in hr["t_utc"]] == [
        (T0 + timedelta(minutes=10 * k)).replace(tzinfo=UTC) for k in range(7)
    ] + [(T0 + timedelta(hours=2)).replace(tzinfo=UTC)]
    assert hr["t_utc"][0].microsecond == 37_000 and hr["t_utc"][3].microsecond == 0
    assert hr["hr_bpm"].to_list() == [60.0, 61.0, 62.0, 71.0, 64.0, 66.0, 66.0, 0.0]
    assert set(hr["device"]) == {"gp5ou4ds4l"}
    assert sorted(parsed.rejects["reason"]) == ["missing heart_rate", "unparseable heart_rate"]
    assert parsed.rejects["row_number"].to_list() == [9, 10]


def test_ingest_counts_each_row_once(tmp_path: Path) -> None:
    inbox, lake = tmp_path / "inbox", tmp_path / "lake"
    path = _write(inbox / "S01", samsung_heart_rate_csv(_rows(), bom=True))
    report = files.ingest_file(lake, inbox, "S01", path)
    assert report is not None and report.format == "samsung_health"
    counts = (report.rows_in, report.rows_ok, report.rows_quarantined, report.rows_duplicate)
    assert counts == (10, 7, 3, 0)
    reasons = store.read_table(lake, "quarantine")["reason"].to_list()
    assert sorted(reasons) == [
        "hr_bpm out of range [20, 250]", "missing heart_rate", "unparseable heart_rate"
    ]  # fmt: skip
    assert store.read_table(lake, "heart_rate").height == 7


def test_a_column_with_and_without_prefix_is_refused(tmp_path: Path) -> None:
    text = samsung_heart_rate_csv(_rows()[:2]).replace(",tag_id,", ",start_time,", 1)
    with pytest.raises(InputError, match="duplicate column 'start_time'"):
        samsung_health.parse(_write(tmp_path, text))


def test_a_file_holding_only_the_metadata_line_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, "com.samsung.shealth.tracker.heart_rate,6315005,19\n")
    with pytest.raises(InputError, match="no header line"):
        samsung_health.parse(path)


def test_other_samsung_types_are_not_heart_rate(tmp_path: Path) -> None:
    steps = (
        "com.samsung.shealth.step_daily_trend,6315005,9\n"
        "binning_data,day_time,count,speed,distance,calorie,source_type,deviceuuid,datauuid,\n"
        ",1706400000000,5411,1.3,3900.2,210.5,-2,gp5ou4ds4l,x,\n"
    )
    path = _write(tmp_path, steps, "com.samsung.shealth.step_daily_trend.20240130101112.csv")
    assert adapters.detect(path) is None
