"""Apple Health adapter and safe archives: synthetic exports, broken variants, zip attacks.

Every expected value below follows from the crafted input by hand (offsets,
12/24-hour clocks, source priority), not from running the adapter.
"""

from __future__ import annotations

import shutil
import stat
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from tearsignals.contract import schema
from tearsignals.errors import InputError
from tearsignals.ingest import adapters, files
from tearsignals.ingest.adapters import apple_health, archive
from tearsignals.ingest.adapters.base import REJECT_SCHEMA, Parsed
from tearsignals.lake import store

WATCH = "Anna’s Apple Watch"
PHONE = "Anna’s iPhone"
WATCH_DEVICE = (
    "&lt;&lt;HKDevice: 0x283e2d4a0&gt;, name:Apple Watch, manufacturer:Apple Inc., "
    "model:Watch, hardware:Watch6,7, software:10.2&gt;"
)
PHONE_DEVICE = (
    "&lt;&lt;HKDevice: 0x2812f0a00&gt;, name:iPhone, manufacturer:Apple Inc., "
    "model:iPhone, hardware:iPhone14,2, software:17.2&gt;"
)
PROLOG = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE HealthData [\n'
    "<!-- HealthKit Export Version: 11 -->\n"
    "<!ELEMENT HealthData (ExportDate,Me,(Record|Correlation|Workout|ActivitySummary)*)>\n]>\n"
)


def _record(kind: str, start: str, end: str, attrs: str, body: str = "", **named: str) -> str:
    """One record in Apple's attribute order; ``body`` makes it non-empty."""
    source, device = named.get("source", WATCH), named.get("device", WATCH_DEVICE)
    device_attr = f' device="{device}"' if device else ""
    head = (
        f' <Record type="{kind}" sourceName="{source}" sourceVersion="10.2"{device_attr} '
        f'{attrs} creationDate="{end}" startDate="{start}" endDate="{end}"'
    )
    return f"{head}>\n{body} </Record>\n" if body else f"{head}/>\n"


def hr(start: str, value: str, unit: str = "count/min", **named: str) -> str:
    """A heart-rate record, attributes in Apple's order (``value`` last)."""
    text = _record(apple_health.HEART_RATE, start, start, f'unit="{unit}"', **named)
    return text.replace("/>\n", f' value="{value}"/>\n')


def sdnn(start: str, end: str, value: str, beats: list[tuple[str, str]], **named: str) -> str:
    """An SDNN record with an InstantaneousBeatsPerMinute list."""
    items = "".join(f'   <InstantaneousBeatsPerMinute bpm="{b}" time="{t}"/>\n' for b, t in beats)
    body = f"  <HeartRateVariabilityMetadataList>\n{items}  </HeartRateVariabilityMetadataList>\n"
    text = _record(apple_health.SDNN, start, end, 'unit="ms"', body, **named)
    return text.replace(f'endDate="{end}">', f'endDate="{end}" value="{value}">', 1)


def series(start: str, end: str, beats: list[tuple[str, str]], **named: str) -> str:
    """A heartbeat-series record listing beats the same way."""
    items = "".join(f'   <InstantaneousBeatsPerMinute bpm="{b}" time="{t}"/>\n' for b, t in beats)
    body = f"  <HeartbeatSeriesMetadataList>\n{items}  </HeartbeatSeriesMetadataList>\n"
    return _record(apple_health.HEARTBEAT_SERIES, start, end, "", body, **named).replace(
        "  creationDate", " creationDate"
    )


def export(*records: str, prolog: str = PROLOG) -> str:
    return (
        prolog
        + '<HealthData locale="en_US">\n <ExportDate value="2024-03-11 10:00:00 +0100"/>\n'
        + ' <Me HKCharacteristicTypeIdentifierDateOfBirth=""/>\n'
        + "".join(records)
        + "</HealthData>\n"
    )


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


BEATS_12H = [
    ("62", "8:12:03.51 PM"),
    ("64", "8:12:04.45 PM"),
    ("60", "8:12:05.45\u202fPM"),  # iOS 17 writes a narrow no-break space
]
BEATS_24H_COMMA_MIDNIGHT = [("70", "23:59:59,10"), ("71", "0:00:00,00"), ("69", "0:00:00,87")]
SERIES_BEATS = [("75", "07:00:01.20"), ("80", "07:00:02.00")]

SYNTHETIC = export(
    # iPhone copies come first in the file: only the source priority keeps the Watch rows
    hr("2024-03-09 08:12:00 +0100", "61", source=PHONE, device=PHONE_DEVICE),
    hr("2024-03-09 08:12:00 +0100", "61"),
    hr("2024-03-09 08:20:00 +0100", "63", source=PHONE, device=PHONE_DEVICE),
    hr("2024-03-09 08:05:00 +0100", "1.2", unit="count/s"),  # out of order in the file
    hr("2024-03-09 08:25:00 +0100", "70", unit="bpm"),  # unknown unit: reject
    hr("2024-03-09 09:00:00 -0500", "58", source="Polar Flow", device=""),
    sdnn(  # the Watch's measurement, also stored by the iPhone: the copy and its beats go
        "2024-03-09 20:12:00 +0100",
        "2024-03-09 20:13:00 +0100",
        "45.5",
        BEATS_12H,
        source=PHONE,
        device=PHONE_DEVICE,
    ),
    sdnn("2024-03-09 20:12:00 +0100", "2024-03-09 20:13:00 +0100", "45.5", BEATS_12H),
    sdnn("2024-03-09 23:59:58 -0500", "2024-03-10 00:00:30 -0500", "38", BEATS_24H_COMMA_MIDNIGHT),
    series("2024-03-10 07:00:00 +0100", "2024-03-10 07:00:03 +0100", SERIES_BEATS),
)


def _write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8", newline="")
    else:
        path.write_bytes(content)
    return path


def _zip(path: Path, members: dict[str, bytes | str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> Parsed:
    path = tmp_path_factory.mktemp("apple") / "export.xml"
    path.write_text(SYNTHETIC, encoding="utf-8")
    return apple_health.parse(path)


# --- detection ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["export.xml", "data.bin", "upload"])
def test_a_bare_export_is_detected_by_content_whatever_its_name(tmp_path: Path, name: str) -> None:
    detected = adapters.detect(_write(tmp_path, name, SYNTHETIC))
    assert detected is not None and detected.name == "apple_health"


def test_an_export_zip_is_detected_by_its_member_names(tmp_path: Path) -> None:
    path = _zip(tmp_path / "upload.bin", {"apple_health_export/export.xml": SYNTHETIC})
    detected = adapters.detect(path)
    assert detected is not None and detected.name == "apple_health"


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("export.xml", "timestamp,hr_bpm\n2024-03-09T08:12:00+01:00,61\n"),  # name alone: no
        ("export_cda.xml", '<?xml version="1.0"?>\n<ClinicalDocument xmlns="urn:hl7-org:v3"/>\n'),
        ("notes.txt", "my <HealthData> notes\n"),  # mentions the tag but is not XML
    ],
)
def test_other_content_is_not_taken_for_an_export(tmp_path: Path, name: str, content: str) -> None:
    path = _write(tmp_path, name, content)
    assert not apple_health.sniff(path.read_bytes(), path)


def test_a_zip_of_something_else_is_not_taken_for_an_export(tmp_path: Path) -> None:
    path = _zip(tmp_path / "photos.zip", {"holiday/readme.txt": "hi"})
    assert not apple_health.sniff(path.read_bytes()[:64], path)


# --- the synthetic export -------------------------------------------------------------------


def test_heart_rate_rows_units_offsets_and_source_priority(synthetic: Parsed) -> None:
    frame = synthetic.frames["heart_rate"]
    assert frame.columns == list(schema.adapter_columns("heart_rate"))
    assert frame.schema["t_utc"] == pl.Datetime("us", "UTC")
    rows = frame.select("row_number", "t_utc", "hr_bpm", "device").rows()
    assert rows == [
        (2, utc(2024, 3, 9, 7, 12), 61.0, f"{WATCH} (Watch6,7)"),  # Watch beats the iPhone copy
        (3, utc(2024, 3, 9, 7, 20), 63.0, f"{PHONE} (iPhone14,2)"),
        (4, utc(2024, 3, 9, 7, 5), 72.0, f"{WATCH} (Watch6,7)"),  # count/s x 60
        (6, utc(2024, 3, 9, 14, 0), 58.0, "Polar Flow"),  # -0500
    ]
    assert set(frame["source"]) == {"apple_health"}


def test_unknown_heart_rate_unit_is_a_reject_naming_the_unit(
    synthetic: Parsed,
) -> None:
    rejects = synthetic.rejects.filter(pl.col("table") == "heart_rate")
    assert rejects.select("row_number", "reason").rows() == [(5, "unknown unit bpm")]
    assert rejects["raw"][0] == "bpm,2024-03-09 08:25:00 +0100,70"


def test_beats_from_12h_24h_decimal_comma_and_midnight_rollover(
    synthetic: Parsed,
) -> None:
    beats = synthetic.frames["beats"]
    assert beats.columns == list(schema.adapter_columns("beats"))
    expected = [
        (utc(2024, 3, 9, 19, 12, 3, 510000), 60000 / 62),
        (utc(2024, 3, 9, 19, 12, 4, 450000), 60000 / 64),
        (utc(2024, 3, 9, 19, 12, 5, 450000), 60000 / 60),
        (utc(2024, 3, 10, 4, 59, 59, 100000), 60000 / 70),  # 23:59:59,10 at -0500
        (utc(2024, 3, 10, 5, 0, 0), 60000 / 71),  # after midnight: the next day
        (utc(2024, 3, 10, 5, 0, 0, 870000), 60000 / 69),
        (utc(2024, 3, 10, 6, 0, 1, 200000), 60000 / 75),  # heartbeat series, 24 h
        (utc(2024, 3, 10, 6, 0, 2), 60000 / 80),
    ]
    assert beats["t_utc"].to_list() == [t for t, _ in expected]
    assert beats["rr_ms"].to_list() == pytest.approx([rr for _, rr in expected])
    assert set(beats["origin"]) == {"ibpm"}
    assert beats["device"].to_list() == [f"{WATCH} (Watch6,7)"] * 8
    # numbered in time order (what validate's monotonic rule reads), copies dropped
    assert beats["row_number"].to_list() == [2, 4, 6, 7, 8, 9, 10, 11]


def test_vendor_sdnn_rows_keep_apples_value_and_beat_count(
    synthetic: Parsed,
) -> None:
    vendor = synthetic.frames["vendor_hrv"]
    assert vendor.columns == list(schema.adapter_columns("vendor_hrv"))
    assert vendor.select("row_number", "t_utc", "sdnn_ms", "n_beats", "device").rows() == [
        (2, utc(2024, 3, 9, 19, 12), 45.5, 3, f"{WATCH} (Watch6,7)"),
        (3, utc(2024, 3, 10, 4, 59, 58), 38.0, 3, f"{WATCH} (Watch6,7)"),
    ]


def test_every_record_is_kept_rejected_or_a_counted_duplicate(
    synthetic: Parsed,
) -> None:
    # 6 heart-rate records, 3 SDNN records, 3 + 3 + 3 + 2 listed beats
    assert synthetic.rows_in == 6 + 3 + 11
    # the iPhone heart-rate copy, the iPhone SDNN copy and its three beats
    assert synthetic.duplicates == 1 + 1 + 3
    assert synthetic.rejects.schema == REJECT_SCHEMA
    assert synthetic.rejects.height == 1


def test_zip_folder_and_bare_file_give_the_same_rows(tmp_path: Path, synthetic: Parsed) -> None:
    cda = '<?xml version="1.0"?>\n<ClinicalDocument/>\n'
    zipped = _zip(
        tmp_path / "export.zip",
        {
            "apple_health_export/export_cda.xml": cda,
            "apple_health_export/export.xml": SYNTHETIC,
            "apple_health_export/workout-routes/route_1.gpx": "<gpx/>",
        },
    )
    in_folder = _write(tmp_path, "apple_health_export/export.xml", SYNTHETIC)
    for path in (zipped, in_folder):
        parsed = apple_health.parse(path)
        for table, frame in synthetic.frames.items():
            assert parsed.frames[table].equals(frame), (path.name, table)
        assert parsed.duplicates == synthetic.duplicates


def test_fast_and_robust_paths_agree(tmp_path: Path) -> None:
    path = _write(tmp_path, "export.xml", SYNTHETIC)
    fast, fast_stats = apple_health.parse_with_stats(path)
    robust, robust_stats = apple_health.parse_with_stats(path, force_robust=True)
    assert (fast_stats.segments_fast, fast_stats.segments_robust) == (1, 0)
    assert (robust_stats.segments_fast, robust_stats.segments_robust) == (0, 1)
    for table in fast.frames:
        assert fast.frames[table].equals(robust.frames[table]), table
    assert fast.rejects.equals(robust.rejects)
    assert fast_stats.relevant_parsed == robust_stats.relevant_parsed == 10


def test_other_attribute_layouts_fall_back_to_the_robust_path(tmp_path: Path) -> None:
    apple = _write(tmp_path, "apple.xml", SYNTHETIC)
    reordered = SYNTHETIC.replace(  # type last, single quotes, attributes over lines
        f'<Record type="{apple_health.HEART_RATE}" sourceName="{WATCH}"',
        f"<Record\n   sourceName='{WATCH}'\n   type='{apple_health.HEART_RATE}'",
    )
    assert reordered != SYNTHETIC
    other = _write(tmp_path, "other.xml", reordered)
    parsed, stats = apple_health.parse_with_stats(other)
    assert stats.segments_robust == 1
    expected = apple_health.parse(apple)
    for table in expected.frames:
        assert parsed.frames[table].equals(expected.frames[table]), table


RECOVERY = (
    ' <Record type="HKQuantityTypeIdentifierHeartRateRecoveryOneMinute" sourceName="x" '
    'unit="count/min" startDate="2024-03-09 10:00:00 +0100" '
    'endDate="2024-03-09 10:01:00 +0100" value="25"/>\n'
)
WORKOUT = (
    ' <Workout workoutActivityType="HKWorkoutActivityTypeRunning" sourceName="x" '
    'startDate="2024-03-09 10:00:00 +0100" endDate="2024-03-09 10:30:00 +0100">\n'
    '  <WorkoutStatistics type="HKQuantityTypeIdentifierHeartRate" '
    'startDate="2024-03-09 10:00:00 +0100" endDate="2024-03-09 10:30:00 +0100" '
    'average="141" unit="count/min"/>\n </Workout>\n'
)
NOTE = (
    ' <Record type="HKQuantityTypeIdentifierStepCount" sourceName="x" unit="count" '
    'startDate="2024-03-09 10:00:00 +0100" endDate="2024-03-09 10:01:00 +0100" value="5">\n'
    '  <MetadataEntry key="note" value="HKQuantityTypeIdentifierHeartRate"/>\n </Record>\n'
)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (  # SDNN with its type attribute second
            f'<Record type="{apple_health.SDNN}" sourceName="{WATCH}"',
            f'<Record sourceName="{WATCH}" type="{apple_health.SDNN}"',
        ),
        ("</HealthData>", RECOVERY + "</HealthData>"),  # another HeartRate... type
        ("</HealthData>", WORKOUT + "</HealthData>"),  # the type name outside a record
        ("</HealthData>", NOTE + "</HealthData>"),  # the quoted name in metadata
    ],
)
def test_what_the_byte_counts_cannot_vouch_for_takes_the_robust_path(
    tmp_path: Path, synthetic: Parsed, old: str, new: str
) -> None:
    assert old in SYNTHETIC
    path = _write(tmp_path, "export.xml", SYNTHETIC.replace(old, new, 1))
    parsed, stats = apple_health.parse_with_stats(path)
    assert (stats.segments_fast, stats.segments_robust) == (0, 1)
    for table, frame in synthetic.frames.items():
        assert parsed.frames[table].equals(frame), table
    assert parsed.rejects.equals(synthetic.rejects)


def test_a_segment_without_known_types_is_skipped_by_the_fast_path(tmp_path: Path) -> None:
    steps = NOTE.replace(' value="HKQuantityTypeIdentifierHeartRate"', ' value="walk"')
    parsed, stats = apple_health.parse_with_stats(_write(tmp_path, "export.xml", export(steps)))
    assert (stats.segments_fast, stats.segments_robust, stats.relevant_parsed) == (1, 0, 0)
    assert all(frame.height == 0 for frame in parsed.frames.values())
    assert parsed.rows_in == 0


def test_tiny_blocks_cut_the_file_anywhere_without_changing_the_rows(tmp_path: Path) -> None:
    many_beats = [(str(60 + i % 5), f"20:30:{i // 10:02d}.{i % 10}0") for i in range(300)]
    long_record = sdnn("2024-03-11 20:30:00 +0100", "2024-03-11 20:31:00 +0100", "50", many_beats)
    path = _write(
        tmp_path, "export.xml", SYNTHETIC.replace("</HealthData>", long_record + "</HealthData>")
    )
    whole = apple_health.parse(path)
    assert whole.frames["beats"].height == 8 + 300
    for block in (64, 257, 4096):  # the long record spans many blocks
        parsed, stats = apple_health.parse_with_stats(path, block_bytes=block)
        assert stats.segments_fast + stats.segments_robust > 1
        for table in whole.frames:
            assert parsed.frames[table].equals(whole.frames[table]), (block, table)


# --- broken files: InputError naming the file ------------------------------------------------


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty file"),
        (b"\xef\xbb\xbf \n", "empty file"),
        (SYNTHETIC.encode("utf-16"), "not UTF-8"),
        (SYNTHETIC.replace('encoding="UTF-8"', 'encoding="ISO-8859-1"').encode(), "encoding"),
        (
            (PROLOG + '<?xml-stylesheet href="x"?><Other/>\n').encode(),
            "no <HealthData> element",
        ),
        (PROLOG[:60].encode(), "no <HealthData> element"),  # cut inside the DTD
    ],
)
def test_file_level_problems_are_one_line_input_errors(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = _write(tmp_path, "broken-export.xml", content)
    with pytest.raises(InputError, match=message) as err:
        apple_health.parse(path)
    assert str(err.value).startswith("broken-export.xml: ")
    assert "\n" not in str(err.value)


def test_a_utf16_export_is_recognised_and_refused_clearly(tmp_path: Path) -> None:
    path = _write(tmp_path, "export.xml", SYNTHETIC.encode("utf-16"))
    with pytest.raises(InputError, match=r"^export\.xml: not UTF-8"):
        adapters.parse_file(path)


def test_a_utf8_bom_is_harmless(tmp_path: Path, synthetic: Parsed) -> None:
    parsed = apple_health.parse(_write(tmp_path, "bom.xml", "\ufeff" + SYNTHETIC))
    assert parsed.frames["heart_rate"].equals(synthetic.frames["heart_rate"])


# --- broken records: rejects with a reason -------------------------------------------------------


def _parse(tmp_path: Path, *records: str, prolog: str = PROLOG) -> Parsed:
    return apple_health.parse(_write(tmp_path, "export.xml", export(*records, prolog=prolog)))


def _reasons(parsed: Parsed, table: str) -> list[str]:
    return parsed.rejects.filter(pl.col("table") == table)["reason"].to_list()


def test_a_truncated_file_keeps_what_parsed_and_rejects_the_cut_record(tmp_path: Path) -> None:
    text = export(
        hr("2024-03-09 08:12:00 +0100", "61"),
        hr("2024-03-09 08:13:00 +0100", "62"),
        sdnn("2024-03-09 20:12:00 +0100", "2024-03-09 20:13:00 +0100", "45.5", BEATS_12H),
    )
    cut_in_beats = text[: text.index("8:12:04.45 PM")]
    parsed = apple_health.parse(_write(tmp_path, "a.xml", cut_in_beats))
    assert parsed.frames["heart_rate"]["hr_bpm"].to_list() == [61.0, 62.0]
    assert _reasons(parsed, "vendor_hrv") == ["truncated record"]
    assert parsed.frames["beats"].height == 0
    cut_in_tag = text[: text.index('value="62"') + 8]
    parsed = apple_health.parse(_write(tmp_path, "b.xml", cut_in_tag))
    assert parsed.frames["heart_rate"]["hr_bpm"].to_list() == [61.0]
    assert _reasons(parsed, "heart_rate") == ["truncated record"]
    assert parsed.rows_in == 2


def test_missing_attributes_are_rejects_with_reasons(tmp_path: Path) -> None:
    good = hr("2024-03-09 08:12:00 +0100", "61")
    parsed = _parse(
        tmp_path,
        good,
        good.replace(' startDate="2024-03-09 08:12:00 +0100"', "").replace("08:12", "08:13"),
        good.replace(' value="61"', "").replace("08:12", "08:14"),
        good.replace(' unit="count/min"', "").replace("08:12", "08:15"),
        good.replace('value="61"', 'value="sixty"').replace("08:12", "08:16"),
        good.replace("2024-03-09 08:12:00", "2024-13-09 08:17:00"),
    )
    assert parsed.frames["heart_rate"]["hr_bpm"].to_list() == [61.0]
    assert _reasons(parsed, "heart_rate") == [
        "startDate: missing time",
        "missing value",
        "missing unit",
        "unparseable value",
        "startDate: invalid date or time",
    ]


def test_a_record_listed_twice_is_one_row_and_one_duplicate(tmp_path: Path) -> None:
    record = hr("2024-03-09 08:12:00 +0100", "61")
    parsed = _parse(tmp_path, record, record)
    assert parsed.frames["heart_rate"].height == 1
    assert parsed.duplicates == 1
    assert parsed.rows_in == 2


def test_unordered_heart_rate_records_are_all_kept(tmp_path: Path) -> None:
    parsed = _parse(
        tmp_path,
        hr("2024-03-09 09:00:00 +0100", "70"),
        hr("2024-03-09 08:00:00 +0100", "60"),
    )
    assert parsed.frames["heart_rate"]["hr_bpm"].to_list() == [70.0, 60.0]
    assert parsed.rejects.height == 0


def test_bad_beats_are_rejected_one_by_one(tmp_path: Path) -> None:
    beats = [
        ("60", "8:12:01.00 PM"),
        ("61", "8:12:00.50 PM"),  # before the previous beat
        ("0", "8:12:02.00 PM"),
        ("62", "25:12:03.00"),
        ("63", "9:30:00.00 PM"),  # an hour after the record
        ("64", ""),
        ("", "8:12:04.00 PM"),
        ("65", "8:12:05.00 PM"),
    ]
    record = sdnn("2024-03-09 20:12:00 +0100", "2024-03-09 20:13:00 +0100", "40", beats)
    broken_element = '<InstantaneousBeatsPerMinute bpm="66 time="8:12:06.00 PM"/>'
    record = record.replace(
        " </HeartRateVariabilityMetadataList>",
        f"   {broken_element}\n  </HeartRateVariabilityMetadataList>",
    )
    parsed = _parse(tmp_path, record)
    assert parsed.frames["beats"].select("t_utc").to_series().to_list() == [
        utc(2024, 3, 9, 19, 12, 1),
        utc(2024, 3, 9, 19, 12, 5),
    ]
    assert sorted(_reasons(parsed, "beats")) == sorted(
        [
            "non-monotonic beat time",
            "bpm not positive",
            "unparseable beat time",
            "beat time outside record span",
            "missing beat time",
            "missing bpm",
            "malformed beat element",
        ]
    )
    assert parsed.frames["vendor_hrv"]["n_beats"].to_list() == [9]
    assert parsed.rows_in == 1 + 9


def test_unknown_sdnn_unit_rejects_the_value_but_keeps_the_beats(tmp_path: Path) -> None:
    record = sdnn("2024-03-09 20:12:00 +0100", "2024-03-09 20:13:00 +0100", "0.04", BEATS_12H)
    parsed = _parse(tmp_path, record.replace('unit="ms"', 'unit="s"'))
    assert _reasons(parsed, "vendor_hrv") == ["unknown unit s"]
    assert parsed.frames["beats"].height == 3


def test_stray_control_characters_and_a_broken_dtd_are_tolerated(tmp_path: Path) -> None:
    broken_dtd = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE HealthData [\n<!ELEMENT HealthData (\n'
    )
    parsed = _parse(
        tmp_path,
        hr("2024-03-09 08:12:00 +0100", "61", source="Anna\x0b’s\x01 Watch", device=""),
        prolog=broken_dtd,
    )
    assert parsed.frames["heart_rate"].select("device", "hr_bpm").rows() == [("Anna’s Watch", 61.0)]


def test_invalid_utf8_in_a_name_is_replaced_not_fatal(tmp_path: Path) -> None:
    text = export(hr("2024-03-09 08:12:00 +0100", "61", source="Anna-NAME", device=""))
    data = text.encode().replace(b"Anna-NAME", b"Anna\xe9")
    parsed = apple_health.parse(_write(tmp_path, "export.xml", data))
    assert parsed.frames["heart_rate"]["device"].to_list() == ["Anna\ufffd"]


# --- XML safety ---------------------------------------------------------------------------------


BILLION_LAUGHS = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE HealthData [\n <!ENTITY lol "lol">\n'
    + "".join(
        f' <!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">\n'
        for i in range(1, 10)
    )
    + "]>\n"
)


def test_billion_laughs_is_text_not_an_expansion(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "export.xml",
        export(
            hr("2024-03-09 08:12:00 +0100", "61", source="&lol9;", device=""), prolog=BILLION_LAUGHS
        ),
    )
    parsed = apple_health.parse(path)  # an expansion would be 10**9 characters long
    assert parsed.frames["heart_rate"]["device"].to_list() == ["&lol9;"]


def test_external_entities_are_never_fetched(tmp_path: Path) -> None:
    secret = _write(tmp_path, "secret.txt", "TOP-SECRET")
    prolog = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE HealthData [\n'
        f' <!ENTITY xxe SYSTEM "file://{secret}">\n]>\n'
    )
    parsed = _parse(
        tmp_path, hr("2024-03-09 08:12:00 +0100", "61", source="&xxe;", device=""), prolog=prolog
    )
    assert parsed.frames["heart_rate"]["device"].to_list() == ["&xxe;"]
    assert "TOP-SECRET" not in str(parsed.frames) + str(parsed.rejects)


def test_predefined_entities_and_character_references_are_resolved_in_names(tmp_path: Path) -> None:
    parsed = _parse(
        tmp_path,
        hr("2024-03-09 08:12:00 +0100", "61", source="Anna&apos;s &amp; Bo&#x2019;s", device=""),
    )
    assert parsed.frames["heart_rate"]["device"].to_list() == ["Anna's & Bo’s"]


# --- archives -------------------------------------------------------------------------------------


def test_open_member_streams_without_extracting(tmp_path: Path) -> None:
    path = _zip(tmp_path / "a.zip", {"apple_health_export/export.xml": SYNTHETIC})
    before = sorted(tmp_path.rglob("*"))
    with archive.open_member(path, "apple_health_export/export.xml") as stream:
        chunks = [stream.read(1000) for _ in range(3)]
    assert b"".join(chunks) == SYNTHETIC.encode()[:3000]
    assert sorted(tmp_path.rglob("*")) == before


@pytest.mark.parametrize(
    ("member", "message"),
    [
        ("../evil.sh", "unsafe member name"),
        ("apple_health_export/../../evil.sh", "unsafe member name"),
        ("/etc/cron.d/evil", "unsafe member name"),
        ("C:\\evil.bat", "unsafe member name"),
        ("apple_health_export/inner.zip", "nested zip archive"),
    ],
)
def test_hostile_member_names_refuse_the_archive(tmp_path: Path, member: str, message: str) -> None:
    path = _zip(
        tmp_path / "export.zip",
        {"apple_health_export/export.xml": SYNTHETIC, member: b"PK\x03\x04 or anything"},
    )
    with pytest.raises(InputError, match=message) as err:
        adapters.parse_file(path)
    assert str(err.value).startswith("export.zip: ") and "\n" not in str(err.value)


def test_a_zip_holding_only_an_inner_export_zip_says_to_unzip_it(tmp_path: Path) -> None:
    inner = _zip(tmp_path / "inner.zip", {"apple_health_export/export.xml": SYNTHETIC})
    outer = _zip(tmp_path / "outer.zip", {"export.zip": inner.read_bytes()})
    with pytest.raises(InputError, match=r"nested zip archive 'export\.zip' inside; unzip"):
        adapters.parse_file(outer)


def test_a_zip_bomb_is_refused_before_inflating(tmp_path: Path) -> None:
    bomb = " " * (8 * 2**20)  # ~1000:1 with deflate
    path = _zip(tmp_path / "export.zip", {"apple_health_export/export.xml": SYNTHETIC + bomb})
    with pytest.raises(InputError, match=r"compression ratio \d+ above 200"):
        apple_health.parse(path)


def test_member_size_limit(tmp_path: Path) -> None:
    path = _zip(tmp_path / "a.zip", {"data.xml": SYNTHETIC})
    with pytest.raises(InputError, match="larger than 100 bytes"):
        archive.member_head(path, "data.xml", 10, archive.ZipLimits(max_member_bytes=100))


def test_symlink_members_refuse_the_archive(tmp_path: Path) -> None:
    path = tmp_path / "export.zip"
    link = zipfile.ZipInfo("apple_health_export/link")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("apple_health_export/export.xml", SYNTHETIC)
        zf.writestr(link, "/etc/passwd")
    with pytest.raises(InputError, match="symbolic link"):
        apple_health.parse(path)


def test_encrypted_members_are_refused(tmp_path: Path) -> None:
    path = _zip(tmp_path / "export.zip", {"apple_health_export/export.xml": SYNTHETIC})
    data = bytearray(path.read_bytes())
    data[6] |= 0x1  # local header: general purpose flag bit 0 = encrypted
    central = data.index(b"PK\x01\x02")
    data[central + 8] |= 0x1  # central directory entry, same flag
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match="encrypted"):
        apple_health.parse(path)


def test_truncated_and_corrupt_zips_are_input_errors(tmp_path: Path) -> None:
    whole = _zip(
        tmp_path / "export.zip", {"apple_health_export/export.xml": SYNTHETIC * 20}
    ).read_bytes()
    cut = _write(tmp_path, "cut.zip", whole[: len(whole) // 2])
    with pytest.raises(InputError, match="not a readable zip archive"):
        apple_health.parse(cut)
    start = whole.index(b"apple_health_export/export.xml") + 60
    corrupt = bytearray(whole)
    corrupt[start : start + 200] = bytes(200)
    bad = _write(tmp_path, "corrupt.zip", bytes(corrupt))
    with pytest.raises(InputError, match=r"corrupt|cannot be read"):
        apple_health.parse(bad)


def test_corruption_deep_in_the_stream_is_an_input_error(tmp_path: Path) -> None:
    body = SYNTHETIC.replace("</HealthData>\n", "") + "".join(
        hr(f"2024-03-12 {h:02d}:{m:02d}:00 +0100", str(60 + m % 30))
        for h in range(24)
        for m in range(60)
    )
    whole = _zip(
        tmp_path / "export.zip", {"apple_health_export/export.xml": body + "</HealthData>\n"}
    )
    data = bytearray(whole.read_bytes())
    end = data.index(b"PK\x01\x02")  # compressed data ends where the central directory starts
    data[end - 300 : end - 100] = bytes(200)
    path = _write(tmp_path, "late-corrupt.zip", bytes(data))
    assert archive.member_head(path, "apple_health_export/export.xml", 4096).startswith(b"<?xml")
    with pytest.raises(InputError, match=r"^late-corrupt\.zip: zip member .* is corrupt"):
        apple_health.parse_with_stats(path, block_bytes=4096)


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ({"apple_health_export/export_cda.xml": "<ClinicalDocument/>"}, "no Apple Health export"),
        (
            {"a/export.xml": SYNTHETIC, "apple_health_export/export.xml": SYNTHETIC},
            "several Apple Health exports",
        ),
    ],
)
def test_zips_without_exactly_one_export(
    tmp_path: Path, members: dict[str, str], message: str
) -> None:
    with pytest.raises(InputError, match=message):
        apple_health.parse(_zip(tmp_path / "export.zip", members))


# --- end to end -------------------------------------------------------------------------------------


def test_ingest_lands_all_three_tables_and_accounts_for_every_row(tmp_path: Path) -> None:
    inbox, lake = tmp_path / "INBOX", tmp_path / "lake"
    path = _zip(inbox / "S01" / "export.zip", {"apple_health_export/export.xml": SYNTHETIC})
    report = files.ingest_file(lake, inbox, "S01", path)
    assert report is not None and report.format == "apple_health"
    assert (report.rows_in, report.rows_ok, report.rows_quarantined, report.rows_duplicate) == (
        20,
        14,
        1,
        5,
    )
    heights = {t: store.read_table(lake, t).height for t in ("heart_rate", "beats", "vendor_hrv")}
    assert heights == {"heart_rate": 4, "beats": 8, "vendor_hrv": 2}
    assert store.read_table(lake, "quarantine")["reason"].to_list() == ["unknown unit bpm"]
    copy = shutil.copy(path, inbox / "S01" / "export-again.xml.zip")
    again = files.ingest_file(lake, inbox, "S01", Path(copy))
    assert again is None  # same bytes: already committed
