"""RR-interval formats: Polar .hrm, plain RR text (+ sidecars), HRV Logger CSVs, Garmin logger CSV.

Every file here is crafted in ``tmp_path``; the real recordings are covered by
``tests/golden/test_rr_formats_real.py``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tearsignals.contract import schema
from tearsignals.errors import InputError
from tearsignals.ingest import adapters, plan, validate
from tearsignals.ingest.adapters import garmin_logger, hrv_logger, polar_hrm, rr_text
from tearsignals.ingest.adapters.base import REJECT_SCHEMA, Parsed

T0 = datetime(2026, 1, 5, 14, 0, tzinfo=UTC)  # 15:00 in Europe/Berlin (winter, +01:00)


def _write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8", newline="")
    else:
        path.write_bytes(content)
    return path


def _one_line_error(err: pytest.ExceptionInfo[InputError], name: str) -> str:
    message = str(err.value)
    assert message.startswith(f"{name}: ")
    assert "\n" not in message
    return message


def _checked(parsed: Parsed, table: str) -> validate.Checked:
    """The schema row rules over an adapter's frame, as ingest applies them."""
    return validate.row_rules(table, plan.canonical_rows(table, parsed.frames[table], "S01", "f1"))


# --- Polar .hrm ------------------------------------------------------------------------------


def hrm(
    rr: list[str],
    *,
    interval: str = "238",
    length: str | None = None,
    date: str = "20260105",
    start: str = "15:00:00.0",
    extra_params: str = "",
    int_times: str = "00:00:01.5\t80\t70\t75\t90\n0\t0\t0\t0\t0\t0\n",
) -> str:
    """A small R-R mode .hrm file (CRLF, like Polar's software writes)."""
    if length is None:
        total = sum(float(v) for v in rr if v.lstrip("-").replace(".", "", 1).isdigit())
        length = str(timedelta(milliseconds=total))[:10].zfill(10)
    params = (
        f"[Params]\nVersion=106\nMonitor=13\nSMode=000000000\nDate={date}\n"
        f"StartTime={start}\nLength={length}\nInterval={interval}\n{extra_params}"
    )
    body = f"{params}\n[Note]\n\n[IntTimes]\n{int_times}\n[HRData]\n" + "\n".join(rr) + "\n"
    return body.replace("\n", "\r\n")


RR = ["800", "900", "1000", "700"]


def _hrm_with_zone(tmp_path: Path, content: str | bytes, zone: str = "Europe/Berlin") -> Path:
    path = _write(tmp_path, "ride.hrm", content)
    _write(tmp_path, "ride.hrm.tz", f"{zone}\n")
    return path


def test_hrm_beats_are_start_plus_cumulative_rr_in_the_sidecar_zone(tmp_path: Path) -> None:
    path = _hrm_with_zone(tmp_path, hrm(RR))
    adapter, parsed = adapters.parse_file(path)
    beats = parsed.frames["beats"]
    assert adapter.name == "polar_hrm"
    assert beats.columns == list(schema.adapter_columns("beats"))
    assert beats["t_utc"].to_list() == [
        T0 + timedelta(milliseconds=ms) for ms in (800, 1700, 2700, 3400)
    ]
    assert beats["rr_ms"].to_list() == [800.0, 900.0, 1000.0, 700.0]
    assert set(beats["device"]) == {"Polar Monitor=13"}
    assert set(beats["origin"]) == {"rr"}
    assert parsed.rows_in == 4 and parsed.rejects.height == 0


def test_hrm_zone_from_params_extension_and_offset_zones(tmp_path: Path) -> None:
    in_params = _write(tmp_path, "a.hrm", hrm(RR, extra_params="TimeZone=America/Chicago\n"))
    first = polar_hrm.parse(in_params).frames["beats"]["t_utc"][0]
    assert first == datetime(2026, 1, 5, 21, 0, 0, 800000, tzinfo=UTC)  # 15:00 CST = 21:00 UTC
    offset = _hrm_with_zone(tmp_path, hrm(RR), zone="+05:30")
    assert polar_hrm.parse(offset).frames["beats"]["t_utc"][0] == datetime(
        2026, 1, 5, 9, 30, 0, 800000, tzinfo=UTC
    )


def test_hrm_without_zone_is_refused_naming_the_sidecar(tmp_path: Path) -> None:
    path = _write(tmp_path, "ride.hrm", hrm(RR))
    with pytest.raises(InputError) as err:
        adapters.parse_file(path)
    message = _one_line_error(err, "ride.hrm")
    assert "local time without zone" in message and "ride.hrm.tz" in message
    assert "subject.toml" in message


@pytest.mark.parametrize(
    ("sidecar", "params", "needle"),
    [
        ("Mars/Olympus", "", "unknown time zone in ride.hrm.tz"),
        (None, "TimeZone=Nowhere/Land\n", "unknown time zone in [Params] TimeZone"),
        ("Europe/Berlin", "TimeZone=Europe/London\n", "disagree"),
    ],
)
def test_hrm_bad_or_conflicting_zones_are_refused(
    tmp_path: Path, sidecar: str | None, params: str, needle: str
) -> None:
    path = _write(tmp_path, "ride.hrm", hrm(RR, extra_params=params))
    if sidecar is not None:
        _write(tmp_path, "ride.hrm.tz", sidecar)
    with pytest.raises(InputError) as err:
        polar_hrm.parse(path)
    assert needle in _one_line_error(err, "ride.hrm")


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (hrm(["60", "61"], interval="5"), "HR mode (Interval=5), not R-R"),
        (hrm(RR).split("[HRData]")[0], "missing section [HRData]"),
        (hrm(RR).replace("Date=20260105\r\n", ""), "Date"),
        (hrm(RR).replace("StartTime=15:00:00.0", "StartTime=soon"), "StartTime"),
        (hrm(RR).replace("Interval=238\r\n", ""), "missing [Params] Interval"),
        (hrm(RR) + "[HRData]\r\n800\r\n", "section [HRData] given twice"),
        (hrm(RR, length="00:10:00.0"), "truncated"),
        (hrm(RR, length="00:00:01.0"), "Length"),
        (hrm(RR, date="20260329", start="02:30:00.0"), "nonexistent local time"),
        (hrm(RR, date="20261025", start="02:30:00.0"), "ambiguous local time"),
        ("", "empty file"),
    ],
)
def test_hrm_file_level_problems_are_one_line_input_errors(
    tmp_path: Path, content: str, needle: str
) -> None:
    path = _hrm_with_zone(tmp_path, content)
    with pytest.raises(InputError) as err:
        polar_hrm.parse(path)
    assert needle in _one_line_error(err, "ride.hrm")


def test_hrm_truncated_mid_hrdata_is_refused_not_shifted(tmp_path: Path) -> None:
    full = hrm([str(800 + i % 7) for i in range(600)])  # Length = 8 min
    cut = full[: len(full) // 3]
    path = _hrm_with_zone(tmp_path, cut)
    with pytest.raises(InputError, match="truncated"):
        polar_hrm.parse(path)


def test_hrm_bad_records_are_rejects_and_time_never_runs_backwards(tmp_path: Path) -> None:
    rr = ["800", "0", "-5", "900", "x", "700", "600"]
    path = _hrm_with_zone(tmp_path, hrm(rr, length="00:00:01.7"))
    parsed = polar_hrm.parse(path)
    beats = parsed.frames["beats"]
    assert beats["row_number"].to_list() == [1, 4]
    assert beats["t_utc"].to_list() == [
        T0 + timedelta(milliseconds=800),
        T0 + timedelta(seconds=1.7),
    ]
    assert parsed.rejects.select("row_number", "reason").rows() == [
        (2, "rr not positive"),
        (3, "rr not positive"),
        (5, "unparseable rr"),
        (6, "time unknown: follows unparseable row 5"),
        (7, "time unknown: follows unparseable row 5"),
    ]
    assert parsed.rows_in == 7


def test_hrm_encoding_bom_and_windows_1252_notes(tmp_path: Path) -> None:
    content = hrm(RR).replace("[Note]\r\n", "[Note]\r\nM\xfcller bergauf\r\n")
    path = _hrm_with_zone(tmp_path, b"\xef\xbb\xbf" + content.encode("cp1252"))
    assert polar_hrm.parse(path).frames["beats"].height == 4
    utf16 = _hrm_with_zone(tmp_path, hrm(RR).encode("utf-16"))
    assert adapters.detect(utf16) is None
    with pytest.raises(adapters.UnknownFormat, match=r"ride\.hrm"):
        adapters.parse_file(utf16)


def test_hrm_lap_markers_are_read_but_never_become_episodes(tmp_path: Path) -> None:
    laps = "00:00:01.5\t80\t70\t75\t90\n0\t0\t0\t0\t0\t0\n00:00:03.0\t82\t70\t76\t95\n"
    path = _hrm_with_zone(tmp_path, hrm(RR, int_times=laps))
    assert polar_hrm.lap_offsets_s(path) == [1.5, 3.0]
    assert set(polar_hrm.parse(path).frames) == {"beats"}


# --- plain RR text -----------------------------------------------------------------------------


def test_rr_text_with_start_header_is_detected_by_content(tmp_path: Path) -> None:
    text = "# start: 2026-01-05T15:00:00+01:00\n# device: Polar H10\n800\n900\n\n1000\n"
    adapter, parsed = adapters.parse_file(_write(tmp_path, "session.dat", text))
    beats = parsed.frames["beats"]
    assert adapter.name == "rr_text"
    assert beats.columns == list(schema.adapter_columns("beats"))
    assert beats["t_utc"].to_list() == [T0 + timedelta(milliseconds=ms) for ms in (800, 1700, 2700)]
    assert beats["row_number"].to_list() == [1, 2, 3]
    assert set(beats["device"]) == {"Polar H10"}


@pytest.mark.parametrize(
    ("header", "values", "expected_ms"),
    [
        ("", ["0.8", "0.95"], [800.0, 950.0]),  # median < 10: seconds
        ("", ["812", "795.5"], [812.0, 795.5]),  # median >= 200: milliseconds
        ("# unit: s\n", ["0.8", "0.95"], [800.0, 950.0]),
        ("# Unit: MS\n", ["150", "160"], [150.0, 160.0]),  # declared: no magnitude rule
    ],
)
def test_rr_text_unit_by_header_or_magnitude(
    tmp_path: Path, header: str, values: list[str], expected_ms: list[float]
) -> None:
    text = f"# start: 2026-01-05T14:00:00Z\n{header}" + "\n".join(values) + "\n"
    adapter, parsed = adapters.parse_file(_write(tmp_path, "rr.txt", text))
    beats = parsed.frames["beats"]
    assert adapter.name == "rr_text"
    assert beats["rr_ms"].to_list() == expected_ms


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("# start: 2026-01-05T14:00:00Z\n# unit: min\n0.8\n", "unknown unit 'min'"),
        ("# start: 2026-01-05T14:00:00Z\n50\n60\n", "add '# unit: ms'"),
        ("800\n900\n", "no start time"),
        ("# start: 2026-01-05 15:00\n800\n", "start time in header is a local time without zone"),
        ("# start: tomorrow\n800\n", "unparseable time"),
        ("# start: 2026-01-05T14:00:00Z\n# start: 2026-01-05T15:00:00Z\n800\n", "given twice"),
        ("", "empty file"),
        ("\ufeff\r\n\r\n", "empty file"),
    ],
)
def test_rr_text_file_level_problems(tmp_path: Path, text: str, needle: str) -> None:
    with pytest.raises(InputError) as err:
        adapters.parse_file(_write(tmp_path, "rr.txt", text))
    assert needle in _one_line_error(err, "rr.txt")


def test_rr_text_error_messages_never_echo_values(tmp_path: Path) -> None:
    with pytest.raises(InputError) as err:
        rr_text.parse(_write(tmp_path, "rr.txt", "# start: 2026-01-05T14:00:00Z\n123\n177\n"))
    assert "123" not in str(err.value) and "177" not in str(err.value)


def test_rr_text_start_from_sidecar_and_disagreement(tmp_path: Path) -> None:
    path = _write(tmp_path, "rr.txt", "800\n900\n")
    sidecar = _write(tmp_path, "rr.txt.start", "2026-01-05T15:00:00+01:00\n")
    assert rr_text.parse(path).frames["beats"]["t_utc"][0] == T0 + timedelta(milliseconds=800)
    same = _write(tmp_path, "same.txt", "# start: 2026-01-05T14:00:00Z\n800\n")
    _write(tmp_path, "same.txt.start", "2026-01-05T15:00:00+01:00")
    assert rr_text.parse(same).frames["beats"].height == 1
    clash = _write(tmp_path, "clash.txt", "# start: 2026-01-05T14:00:01Z\n800\n")
    _write(tmp_path, "clash.txt.start", sidecar.read_text())
    with pytest.raises(InputError, match=r"^clash\.txt: .*disagree"):
        rr_text.parse(clash)
    _write(tmp_path, "empty.txt.start", "# nothing\n")
    with pytest.raises(InputError, match=r"empty\.txt\.start is empty"):
        rr_text.parse(_write(tmp_path, "empty.txt", "800\n"))


def test_rr_text_bad_records_keep_the_clock_honest(tmp_path: Path) -> None:
    text = "# start: 2026-01-05T14:00:00Z\n800\n0\n900\n8OO\n700\n"
    parsed = rr_text.parse(_write(tmp_path, "rr.txt", text))
    assert parsed.frames["beats"]["t_utc"].to_list() == [
        T0 + timedelta(milliseconds=800),
        T0 + timedelta(milliseconds=1700),
    ]
    assert parsed.rejects.schema == REJECT_SCHEMA
    assert parsed.rejects.select("row_number", "reason", "raw").rows() == [
        (2, "rr not positive", "0"),
        (4, "unparseable rr", "8OO"),
        (5, "time unknown: follows unparseable row 4", "700"),
    ]
    assert parsed.rows_in == 5


def test_rr_text_truncated_last_value_is_quarantined_by_the_row_rules(tmp_path: Path) -> None:
    text = "# start: 2026-01-05T14:00:00Z\n800\n900\n9"  # cut inside the last number
    parsed = rr_text.parse(_write(tmp_path, "rr.txt", text))
    checked = _checked(parsed, "beats")
    assert checked.ok.height == 2
    assert checked.quarantined["reason"].to_list() == ["rr_ms out of range [200, 5000]"]


def test_rr_text_header_only_gives_zero_rows(tmp_path: Path) -> None:
    adapter, parsed = adapters.parse_file(
        _write(tmp_path, "rr.txt", "# start: 2026-01-05T14:00Z\n")
    )
    assert adapter.name == "rr_text"
    assert parsed.rows_in == 0 and parsed.frames["beats"].columns == list(
        schema.adapter_columns("beats")
    )


def test_rr_text_bom_crlf_and_encoding(tmp_path: Path) -> None:
    plain = rr_text.parse(_write(tmp_path, "a.txt", "# start: 2026-01-05T14:00:00Z\n800\n900\n"))
    messy = "\ufeff# start: 2026-01-05T14:00:00Z\r\n800\r\n  900 \r\n\r\n"
    assert (
        rr_text.parse(_write(tmp_path, "b.txt", messy))
        .frames["beats"]
        .equals(plain.frames["beats"])
    )
    latin1 = _write(
        tmp_path, "c.txt", "# start: 2026-01-05T14:00:00Z\n# M\xe4rz\n800\n".encode("latin-1")
    )
    with pytest.raises(InputError, match=r"^c\.txt: not UTF-8"):
        rr_text.parse(latin1)


@pytest.mark.parametrize(
    "content",
    [
        "1560279825.000000\n1.000000\n93.0\n94.0\n",  # Empatica E4 HR.csv shape (epoch header)
        "-0.455\n0.46\n-0.45\n",  # a signed waveform
        "73\n270\n602\n40000\n",  # sample indices
        "800\n900\nabc\n",  # text among numbers
        "# just a comment\n",
    ],
)
def test_numbers_that_are_not_rr_are_not_rr_text(tmp_path: Path, content: str) -> None:
    path = _write(tmp_path, "x.txt", content)
    assert not rr_text.sniff(path.read_bytes(), path)


def test_sidecars_are_recognised_by_name_and_content_and_hold_no_rows(tmp_path: Path) -> None:
    tz = _write(tmp_path, "ride.hrm.tz", "Europe/Berlin\n")
    start = _write(tmp_path, "rr.txt.start", "2026-01-05T15:00:00+01:00\n")
    for path in (tz, start):
        adapter, parsed = adapters.parse_file(path)
        assert adapter.name == "sidecar"
        assert parsed.frames == {} and parsed.rows_in == 0
    assert adapters.detect(_write(tmp_path, "x.tz", "Mars/Olympus\n")) is None
    assert adapters.detect(_write(tmp_path, "y.start", "2026-01-05 15:00\n")) is None
    assert adapters.detect(_write(tmp_path, "zone.txt", "Europe/Berlin\n")) is None


# --- HRV Logger --------------------------------------------------------------------------------

RR_HEADER = "timestamp, rr, since_start \n\n"


def _ms(t: datetime) -> int:
    return int(t.timestamp() * 1000)


def test_hrv_logger_beats_follow_since_start_not_packet_arrival(tmp_path: Path) -> None:
    arrive = _ms(T0)
    rows = [  # two intervals arrive in one packet 20 ms apart, the next packet 2 s late
        (arrive, 800, 10_800),
        (arrive + 20, 900, 11_700),
        (arrive + 2_100, 1000, 12_700),
        (arrive + 2_900, 700, 13_400),
    ]
    text = RR_HEADER + "".join(f"{a},{b},{c}\n" for a, b, c in rows)
    adapter, parsed = adapters.parse_file(_write(tmp_path, "s_RRIntervals.csv", text))
    beats = parsed.frames["beats"]
    assert adapter.name == "hrv_logger"
    assert beats.columns == list(schema.adapter_columns("beats"))
    assert beats["t_utc"].to_list() == [
        T0 + timedelta(milliseconds=ms) for ms in (0, 900, 1900, 2600)
    ]
    assert beats["row_number"].to_list() == [1, 2, 3, 4]  # the blank line is not a record


def test_hrv_logger_restarts_and_dropouts_start_a_new_segment(tmp_path: Path) -> None:
    arrive = _ms(T0)
    rows = [
        (arrive, 800, 5_000),
        (arrive + 900, 900, 5_900),
        (arrive + 60_000, 800, 6_700),  # 59 s dropout: re-anchored, not shifted back
        (arrive + 61_000, 1000, 1_000),  # since_start restarted
    ]
    text = RR_HEADER + "".join(f"{a},{b},{c}\n" for a, b, c in rows)
    beats = hrv_logger.parse(_write(tmp_path, "s_RRIntervals.csv", text)).frames["beats"]
    assert beats["t_utc"].to_list() == [
        T0,
        T0 + timedelta(milliseconds=900),
        T0 + timedelta(seconds=60),
        T0 + timedelta(seconds=61),
    ]


def test_hrv_logger_bad_records_are_rejects(tmp_path: Path) -> None:
    arrive = _ms(T0)
    text = RR_HEADER + (
        f"{arrive},800,800\n"
        f"{arrive // 1000},900,1700\n"  # epoch seconds, not ms
        f"{arrive + 1700},,1700\n"
        f"{arrive + 2500},800,soon\n"
        f"{arrive + 3300},800,3300\n"
    )
    parsed = hrv_logger.parse(_write(tmp_path, "s_RRIntervals.csv", text))
    assert parsed.frames["beats"]["row_number"].to_list() == [1, 5]
    assert parsed.rejects.select("row_number", "reason").rows() == [
        (2, "timestamp: epoch ms out of range [1990, 2100)"),
        (3, "missing rr"),
        (4, "unparseable since_start"),
    ]


def test_hrv_logger_duplicate_rows_and_backward_clock_meet_the_row_rules(tmp_path: Path) -> None:
    arrive = _ms(T0)
    text = RR_HEADER + (
        f"{arrive},800,800\n"
        f"{arrive},800,800\n"  # exact copy of the row above
        f"{arrive + 900},900,1700\n"
        f"{arrive - 20_000},800,2500\n"  # the phone clock jumped back 20 s
    )
    checked = _checked(hrv_logger.parse(_write(tmp_path, "s_RRIntervals.csv", text)), "beats")
    assert checked.ok.height == 2
    assert checked.duplicates == 1
    assert checked.quarantined["reason"].to_list() == ["non-monotonic time"]


def test_hrv_logger_heart_rate_file(tmp_path: Path) -> None:
    arrive = _ms(T0)
    text = f"timestamp, since_start, heart_rate\n\n{arrive},0,52\n{arrive + 1000},1000,x\n"
    parsed = hrv_logger.parse(_write(tmp_path, "s_HR.csv", text))
    hr = parsed.frames["heart_rate"]
    assert hr.columns == list(schema.adapter_columns("heart_rate"))
    assert hr.select("t_utc", "hr_bpm", "confidence").rows() == [(T0, 52.0, None)]
    assert parsed.rejects["reason"].to_list() == ["unparseable heart_rate"]


def test_hrv_logger_features_are_refused_as_app_results(tmp_path: Path) -> None:
    text = "index, timestamp, HR, AVNN, SDNN, rMSSD, pNN50\n\n0,1767621600000,51.5,1164.8,145,71.2,44\n"
    path = _write(tmp_path, "s_Features.csv", text)
    with pytest.raises(InputError) as err:
        adapters.parse_file(path)
    assert "app features" in _one_line_error(err, "s_Features.csv")
    assert "1164" not in str(err.value)


def test_hrv_logger_event_tags_are_never_silently_dropped(tmp_path: Path) -> None:
    header_only = _write(tmp_path, "s_Event.csv", "timestamp \n")
    adapter, parsed = adapters.parse_file(header_only)
    assert adapter.name == "hrv_logger"
    assert parsed.frames == {} and parsed.rows_in == 0
    tagged = _write(tmp_path, "t_Events.csv", "timestamp, annotation\n1767621600000,stand up\n")
    tags = hrv_logger.parse(tagged)
    assert tags.rejects.height == 0 and tags.skipped == {hrv_logger.REASON_EVENT: 1}
    assert tags.rows_in == 1
    # a bare "timestamp" header is too general to claim without the Event file name
    assert adapters.detect(_write(tmp_path, "other.csv", "timestamp \n")) is None


@pytest.mark.parametrize(
    "content",
    [
        "timestamp, rr\n1767621600000,800\n",  # no since_start: beat times unknown
        "timestamp, rr, since_start\n".encode("utf-16"),
    ],
)
def test_hrv_logger_incomplete_headers_or_other_encodings_are_unknown(
    tmp_path: Path, content: str | bytes
) -> None:
    path = _write(tmp_path, "s_RRIntervals.csv", content)
    with pytest.raises(adapters.UnknownFormat, match=r"s_RRIntervals\.csv"):
        adapters.parse_file(path)


def test_hrv_logger_empty_and_non_utf8_files(tmp_path: Path) -> None:
    latin1 = _write(tmp_path, "s_HR.csv", b"timestamp, since_start, heart_rate\n\xe4,0,52\n")
    with pytest.raises(InputError, match=r"^s_HR\.csv: not UTF-8"):
        hrv_logger.parse(latin1)
    with pytest.raises(InputError, match="empty file"):
        hrv_logger.parse(_write(tmp_path, "e_HR.csv", ""))


# --- Garmin logger -----------------------------------------------------------------------------


def _garmin(*rows: str) -> str:
    return "".join(f"{row}\n" for row in rows)


def test_garmin_logger_splits_heart_data_and_rejects_other_measures(tmp_path: Path) -> None:
    content = _garmin(
        "2026-01-05T15:00:00.000+01:00;STEPS;299.0",
        "2026-01-05T15:00:00.800+01:00;HEART_RATE_VARIABILITY;800.0",
        "2026-01-05T15:00:01.000+01:00;HEART_RATE;72.0",
        "2026-01-05T15:00:01.700+01:00;HEART_RATE_VARIABILITY;900.0",
        "2026-01-05T15:00:02.000+01:00;STRESS;-2.0",
    )
    adapter, parsed = adapters.parse_file(_write(tmp_path, "garmin.txt", content))
    assert adapter.name == "garmin_logger"
    beats, hr = parsed.frames["beats"], parsed.frames["heart_rate"]
    assert beats.columns == list(schema.adapter_columns("beats")) and hr.columns == list(
        schema.adapter_columns("heart_rate")
    )
    assert beats.select("t_utc", "rr_ms", "row_number").rows() == [
        (T0 + timedelta(milliseconds=800), 800.0, 2),
        (T0 + timedelta(milliseconds=1700), 900.0, 4),
    ]
    assert hr.select("t_utc", "hr_bpm", "confidence").rows() == [
        (T0 + timedelta(seconds=1), 72.0, None)
    ]
    assert parsed.rejects.height == 0
    assert parsed.skipped == {"measure not ingested: STEPS": 1, "measure not ingested: STRESS": 1}
    assert parsed.rows_in == 5


def test_garmin_logger_batches_are_placed_backwards_from_the_shared_time(tmp_path: Path) -> None:
    batch = "2026-01-05T15:00:03.000+01:00;HEART_RATE_VARIABILITY"
    content = _garmin(f"{batch};800.0", f"{batch};900.0", f"{batch};1000.0")
    beats = garmin_logger.parse(_write(tmp_path, "g.csv", content)).frames["beats"]
    assert beats["t_utc"].to_list() == [
        T0 + timedelta(milliseconds=1100),
        T0 + timedelta(milliseconds=2000),
        T0 + timedelta(seconds=3),
    ]


def test_garmin_logger_record_problems_are_rejects(tmp_path: Path) -> None:
    batch = "2026-01-05T15:00:09.000+01:00;HEART_RATE_VARIABILITY"
    content = _garmin(
        "2026-01-05 15:00:00.800;HEART_RATE_VARIABILITY;800.0",  # no offset
        "2026-01-05T15:00:01.000+01:00;HEART_RATE;",
        "2026-01-05T15:00:02.000+01:00;HEART_RATE_VARIABILITY;fast",
        f"{batch};800.0",
        f"{batch};bad",
        f"{batch};900.0",
        "2026-01-05T15:00:10.000+01:00;;5",
    )
    parsed = garmin_logger.parse(_write(tmp_path, "g.csv", content))
    assert parsed.frames["beats"]["row_number"].to_list() == [6]
    assert parsed.rejects.select("table", "row_number", "reason").rows() == [
        ("beats", 1, "time: local time without offset or tz"),
        ("heart_rate", 2, "missing value"),
        ("beats", 3, "unparseable value"),
        ("beats", 4, "time unknown: a later interval of its batch is unparseable"),
        ("beats", 5, "unparseable value"),
        ("none", 7, "missing type"),
    ]
    assert parsed.rows_in == 7


def test_garmin_logger_invalid_values_duplicates_and_backward_time(tmp_path: Path) -> None:
    content = _garmin(
        "2026-01-05T15:00:00.800+01:00;HEART_RATE_VARIABILITY;800.0",
        "2026-01-05T15:00:00.800+01:00;HEART_RATE_VARIABILITY;800.0",  # copy, or a batch?
        "2026-01-05T15:00:01.700+01:00;HEART_RATE_VARIABILITY;900.0",
        "2026-01-05T15:00:01.200+01:00;HEART_RATE_VARIABILITY;950.0",  # earlier than the last
        "2026-01-05T15:00:01.000+01:00;HEART_RATE;-1.0",  # the logger's "invalid"
        "2026-01-05T15:00:02.000+01:00;HEART_RATE;70.0",
        "2026-01-05T15:00:02.000+01:00;HEART_RATE;70.0",  # exact copy
    )
    parsed = garmin_logger.parse(_write(tmp_path, "g.csv", content))
    beats = _checked(parsed, "beats")
    # a repeated RR line cannot be told from a batch of two equal intervals: both are kept
    assert beats.ok["t_utc"].to_list() == [
        T0 + timedelta(milliseconds=0),
        T0 + timedelta(milliseconds=800),
        T0 + timedelta(milliseconds=1700),
    ]
    assert beats.quarantined["reason"].to_list() == ["non-monotonic time"]
    hr = _checked(parsed, "heart_rate")
    assert (hr.ok.height, hr.duplicates) == (1, 1)
    assert hr.quarantined["reason"].to_list() == ["hr_bpm out of range [20, 250]"]


@pytest.mark.parametrize(
    "content",
    [
        "2026-01-05T15:00:01.702+02:00;-36;620;-824\n",  # the logger's acc.csv: movement
        "timestamp;type;value\n2026-01-05T15:00:01+01:00;HEART_RATE;60\n",
        "2026-01-05T15:00:01+01:00,HEART_RATE,60\n",
    ],
)
def test_garmin_logger_is_not_claimed_for_other_shapes(tmp_path: Path, content: str) -> None:
    path = _write(tmp_path, "data.csv", content)
    assert not garmin_logger.sniff(path.read_bytes(), path)


def test_garmin_logger_file_level_problems(tmp_path: Path) -> None:
    latin1 = "2026-01-05T15:00:01+01:00;HEART_RATE;60\n2026-01-05T15:00:02+01:00;N\xc4;1\n"
    with pytest.raises(InputError, match=r"^g\.csv: not UTF-8"):
        garmin_logger.parse(_write(tmp_path, "g.csv", latin1.encode("latin-1")))
    with pytest.raises(InputError, match=r"^e\.csv: empty file"):
        garmin_logger.parse(_write(tmp_path, "e.csv", "\n\n"))
    bom = "\ufeff2026-01-05T15:00:01.000+01:00;HEART_RATE;60\r\n"
    adapter, parsed = adapters.parse_file(_write(tmp_path, "b.csv", bom))
    assert adapter.name == "garmin_logger"
    assert parsed.frames["heart_rate"]["t_utc"].to_list() == [T0 + timedelta(seconds=1)]
