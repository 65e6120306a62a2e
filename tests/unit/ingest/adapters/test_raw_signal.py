"""Raw ECG/PPG CSV and Polar H10 ECG CSV adapters: real files, broken variants, ingest end to end.

Real recordings are read from ``../shared/realdata`` (``realdata`` fixture); variants are
written to ``tmp_path`` from them or from scratch.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from tearsignals.beats import detect
from tearsignals.contract import schema
from tearsignals.errors import InputError
from tearsignals.ingest import adapters, files, plan, validate
from tearsignals.ingest.adapters import polar_h10, raw_signal
from tearsignals.ingest.adapters.base import REJECT_SCHEMA, Parsed
from tearsignals.lake import store

START = "# fs=250; start=2024-05-05T16:50:00+02:00\n"
START_UTC = datetime(2024, 5, 5, 14, 50, tzinfo=UTC)
POLAR_SPAN = (datetime(2024, 5, 5, 14, 49, 55, tzinfo=UTC), datetime(2024, 5, 5, 15, 0, tzinfo=UTC))


def _detected_name(path: Path) -> str | None:
    """Name of the adapter that claims ``path`` (names, not objects: doctest runs re-import modules)."""
    adapter = adapters.detect(path)
    return adapter.name if adapter is not None else None


def _write(path: Path, content: str | bytes) -> Path:
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8", newline="")
    else:
        path.write_bytes(content)
    return path


def _assert_well_formed(parsed: Parsed) -> None:
    for table, frame in parsed.frames.items():
        assert frame.columns == list(schema.adapter_columns(table))
        assert frame.schema["t_utc"] == pl.Datetime("us", "UTC")
    assert parsed.rejects.schema == REJECT_SCHEMA
    assert parsed.rejects["reason"].is_not_null().all()


@pytest.fixture(scope="module")
def e0103_text(realdata: Path) -> str:
    """heartpy's European ST-T excerpt: 30,000 ECG samples at 250 Hz, no header, no time."""
    return (realdata / "heartpy" / "e0103.csv").read_text()


@pytest.fixture(scope="module")
def polar_lines(realdata: Path) -> list[str]:
    """Header and data lines of the Polar H10 CSV (78,096 samples)."""
    return (realdata / "polar_h10_ecg_detectPVC" / "polar_h10.csv").read_text().splitlines()


def _polar_ecg_only(lines: list[str], stop: int | None = None) -> str:
    """``time_ns,ecg_mv`` lines (a raw-signal file with a time column) from the Polar CSV."""
    body = [",".join(line.split(",")[:2]) for line in lines[1:stop]]
    return "time_ns,ecg_mv\n" + "\n".join(body) + "\n"


# --- raw_signal: good files ---------------------------------------------------------------------


def test_declared_rate_and_start_place_every_beat(tmp_path: Path, e0103_text: str) -> None:
    path = _write(tmp_path / "e0103.csv", START + "ecg_mv\n" + e0103_text)
    assert _detected_name(path) == raw_signal.NAME
    parsed = raw_signal.parse(path)
    _assert_well_formed(parsed)
    beats = parsed.frames["beats"]
    found = detect.ecg_beats(np.loadtxt(tmp_path / "e0103.csv", skiprows=2), 250.0)
    # every detected interval is a beat row or a reject; the first peak has no interval
    assert parsed.rows_in == found.index.size - 1
    assert beats.height >= 0.95 * parsed.rows_in
    expected = [
        START_UTC.timestamp() + i / 250.0 for i in found.index[1:][found.ok[1:] & found.ok[:-1]]
    ]
    np.testing.assert_allclose(beats["t_utc"].dt.epoch("us").to_numpy() / 1e6, expected, atol=1e-6)
    assert (
        beats["row_number"].to_list()
        == (found.index[1:][found.ok[1:] & found.ok[:-1]] + 1).tolist()
    )
    span_s = (beats["t_utc"].max() - START_UTC).total_seconds()  # type: ignore[operator]
    assert beats["t_utc"].min() >= START_UTC and span_s < 120.0  # 30,000 samples = 120 s
    assert set(beats["origin"]) == {"ecg"} and set(beats["source"]) == {"raw_signal"}
    assert beats["rr_ms"].is_between(300, 2000).all()


def test_time_column_gives_sample_times(tmp_path: Path, polar_lines: list[str]) -> None:
    path = _write(tmp_path / "h10.csv", _polar_ecg_only(polar_lines))
    parsed = raw_signal.parse(path)
    _assert_well_formed(parsed)
    beats = parsed.frames["beats"]
    assert parsed.duplicates == 0
    assert set(parsed.rejects["reason"]) <= {"ecg beat failed the peak quality check (RR outlier)"}
    # README: 2024-05-05 14:50:00–15:00:00 UTC; one beat about every 0.75 s
    assert POLAR_SPAN[0] < beats["t_utc"].min() < beats["t_utc"].max() < POLAR_SPAN[1]
    assert 700 <= parsed.rows_in <= 900
    by_row = {int(line.split(",")[0]) for line in polar_lines[1:]}
    assert set((beats["t_utc"].dt.epoch("us") * 1000).to_list()) <= {
        t // 1000 * 1000 for t in by_row
    }
    times = beats["t_utc"].dt.epoch("us").to_numpy()
    assert np.all(np.diff(times) > 0)


def test_iso_time_column_with_offset_and_ppg(tmp_path: Path, realdata: Path) -> None:
    values = (realdata / "heartpy" / "data.csv").read_text().split()
    stamps = [f"2024-05-05T16:50:{i // 100:02d}.{i % 100:02d}0+02:00" for i in range(len(values))]
    lines = [f"{t},{v}" for t, v in zip(stamps, values, strict=True)]
    path = _write(tmp_path / "ppg.csv", "timestamp,ppg\n" + "\n".join(lines) + "\n")
    parsed = raw_signal.parse(path)
    beats = parsed.frames["beats"]
    assert set(beats["origin"]) == {"ppg"}
    # heartpy's documented first peaks of data.csv: samples 63, 165, 264 (100 Hz)
    assert beats["t_utc"][0] == datetime(2024, 5, 5, 14, 50, 1, 650000, tzinfo=UTC)
    assert beats["rr_ms"][0] == pytest.approx(1020.0)
    assert parsed.rows_in == 23  # 24 peaks → 23 intervals


def test_bom_crlf_and_semicolons_do_not_change_the_beats(tmp_path: Path, e0103_text: str) -> None:
    plain = raw_signal.parse(_write(tmp_path / "a.csv", START + "ecg_mv\n" + e0103_text))
    dos = (START + "ecg_mv;note\n" + e0103_text.replace("\n", ";x\n")).replace("\n", "\r\n")
    other = raw_signal.parse(_write(tmp_path / "b.csv", b"\xef\xbb\xbf" + dos.encode()))
    assert other.frames["beats"].equals(plain.frames["beats"])


# --- raw_signal: broken files -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"", "empty file"),
        (b"# fs=250; start=2024-05-05T14:50:00Z\n", "no header line"),
        ("ecg_mv\n0.1\n0.2\n", "no start time"),
        ("# fs=250\necg_mv\n0.1\n", "no start time"),
        ("# start=2024-05-05T14:50:00Z\necg_mv\n0.1\n", "no fs setting"),
        ("# fs=fast; start=2024-05-05T14:50:00Z\necg_mv\n0.1\n", "fs setting"),
        (
            "# fs=250; start=2024-05-05 14:50\necg_mv\n0.1\n",
            "local time without zone: .* tz=<zone>",
        ),
        ("# fs=250; start=2024-03-31 02:30; tz=Europe/Berlin\necg_mv\n0.1\n", "nonexistent"),
        ("# fs=250; start=2024-05-05T14:50:00Z\necg_counts\n12\n", "unknown signal unit"),
        ("# fs=250; start=2024-05-05T14:50:00Z\necg\n12\n", "unknown signal unit"),
        ("# fs=250; start=2024-05-05T14:50:00Z\necg_mv,ppg\n1,2\n", "several signal columns"),
        ("# fs=250; start=2024-05-05T14:50:00Z\ntime_ns,note\n1,2\n", "no signal column"),
        ("# fs=30; start=2024-05-05T14:50:00Z\necg_mv\n0.1\n", "below the 50 Hz"),
        ("# fs=250; start=2024-05-05T14:50:00Z\necg_mv,ecg_mv\n1,2\n", "duplicate column"),
        (
            "# fs=250; start=2024-05-05T14:50:00Z\necg_mv\n0.1\n\xe4\n".encode("latin-1"),
            "not UTF-8",
        ),
        ("ecg_mv\n0.1\n".encode("utf-16"), "binary"),
    ],
)
def test_file_level_problems_are_one_line_input_errors(
    tmp_path: Path, content: str | bytes, needle: str
) -> None:
    path = _write(tmp_path / "signal.csv", content)
    with pytest.raises(InputError, match=needle) as err:
        raw_signal.parse(path)
    message = str(err.value)
    assert message.startswith("signal.csv: ") and "\n" not in message


def test_heartpy_files_without_start_time_are_refused(tmp_path: Path, realdata: Path) -> None:
    bare = realdata / "heartpy" / "e0103.csv"
    with pytest.raises(InputError, match=r"e0103\.csv"):
        adapters.parse_file(bare)  # claimed by no adapter or refused for lack of a start
    with pytest.raises(InputError, match="no signal column"):
        raw_signal.parse(bare)
    headed = _write(tmp_path / "e0103.csv", "ecg_mv\n" + bare.read_text())
    with pytest.raises(InputError, match=r"e0103\.csv: no start time"):
        adapters.parse_file(headed)


def test_header_only_gives_no_rows(tmp_path: Path) -> None:
    parsed = raw_signal.parse(_write(tmp_path / "s.csv", START + "ecg_mv\n"))
    assert parsed.rows_in == 0 and parsed.frames["beats"].columns == list(
        schema.adapter_columns("beats")
    )


def test_bad_samples_are_rejects_and_break_the_signal(tmp_path: Path, e0103_text: str) -> None:
    lines = e0103_text.splitlines()
    lines[100], lines[15000], lines[15001] = "abc", "", "nan"
    parsed = raw_signal.parse(
        _write(tmp_path / "s.csv", START + "ecg_mv\n" + "\n".join(lines) + "\n")
    )
    _assert_well_formed(parsed)
    reasons = dict(zip(parsed.rejects["row_number"], parsed.rejects["reason"], strict=True))
    # a blank line is not a record (not a sample): "nan" is data line 15001
    assert reasons[101] == "unparseable ecg_mv" and reasons[15001] == "unparseable ecg_mv"
    beats = parsed.frames["beats"]
    end_s = beats["t_utc"].dt.epoch("us").to_numpy() / 1e6 - START_UTC.timestamp()
    begin_s = end_s - beats["rr_ms"].to_numpy() / 1000
    # no interval spans a rejected sample: each stretch is detected on its own
    for bad_s in (100 / 250, 15000 / 250):
        assert not np.any((begin_s < bad_s) & (end_s > bad_s))
    assert beats.height > 100


def test_truncated_file_keeps_the_complete_lines(tmp_path: Path, polar_lines: list[str]) -> None:
    full = _polar_ecg_only(polar_lines, stop=4001)
    cut = full[: full.rindex("\n", 0, len(full) - 1) + 11]  # the last line ends after 10 digits
    parsed = raw_signal.parse(_write(tmp_path / "cut.csv", cut))
    whole = raw_signal.parse(_write(tmp_path / "whole.csv", full))
    last = parsed.rejects.filter(pl.col("row_number") == pl.col("row_number").max())
    assert last["reason"].to_list() == ["time_ns: epoch ns out of range [1990, 2100)"]
    assert last["row_number"].to_list() == [4000]
    assert parsed.frames["beats"].height >= whole.frames["beats"].height - 1


def test_duplicate_and_non_monotonic_lines(tmp_path: Path, polar_lines: list[str]) -> None:
    lines = _polar_ecg_only(polar_lines, stop=2001).splitlines()
    lines.insert(501, lines[500])  # exact repeat of data line 500
    lines[1001] = lines[900].split(",")[0] + ",0.5"  # data line 1001 goes back in time
    lines[1501] = lines[1500].split(",")[0] + ",0.7"  # same time as data line 1499, other value
    parsed = raw_signal.parse(_write(tmp_path / "d.csv", "\n".join(lines) + "\n"))
    assert parsed.duplicates == 1
    reasons = dict(zip(parsed.rejects["row_number"], parsed.rejects["reason"], strict=True))
    assert reasons[1001] == "non-monotonic time" and reasons[1501] == "non-monotonic time"
    assert parsed.rows_in == parsed.frames["beats"].height + parsed.rejects.height + 1


# --- polar_h10 ---------------------------------------------------------------------------------


def test_polar_h10_real_file(realdata: Path) -> None:
    path = realdata / "polar_h10_ecg_detectPVC" / "polar_h10.csv"
    assert _detected_name(path) == polar_h10.NAME
    parsed = polar_h10.parse(path)
    _assert_well_formed(parsed)
    beats, hr = parsed.frames["beats"], parsed.frames["heart_rate"]
    device = beats.filter(pl.col("origin") == "rr")
    assert device.height == 798 and hr.height == 600  # README counts
    assert device["rr_ms"].quantile(0.25) == 446.0  # README: bimodal 446 / 985 ms (PVCs)
    assert device["rr_ms"].quantile(0.75) == pytest.approx(985.0, abs=2)
    assert hr["t_utc"][0] == datetime(
        2024, 5, 5, 14, 50, 0, 436237, tzinfo=UTC
    )  # 1714920600436237312 ns
    assert POLAR_SPAN[0] < hr["t_utc"].min() and hr["t_utc"].max() < POLAR_SPAN[1]
    # device beats form a chain: successive times are exactly rr_ms apart
    steps_ms = np.diff(device["t_utc"].dt.epoch("us").to_numpy()) / 1000
    np.testing.assert_allclose(steps_ms, device["rr_ms"].to_numpy()[1:], atol=0.002)
    # every ECG beat lies under a device interval: counted as duplicates, none emitted
    assert beats.height == device.height and parsed.rejects.height == 0
    assert 780 <= parsed.duplicates <= 820
    assert set(hr["device"]) == {"Polar H10"} and hr["hr_bpm"].is_between(60, 100).all()


def test_polar_h10_device_beats_precede_their_notification(realdata: Path) -> None:
    path = realdata / "polar_h10_ecg_detectPVC" / "polar_h10.csv"
    device = polar_h10.parse(path).frames["beats"]
    notified = pl.read_csv(path).with_row_index("row_number", offset=1)
    joined = device.join(notified.select("row_number", "time_ns"), on="row_number")
    delay_s = (joined["time_ns"] / 1e9 - joined["t_utc"].dt.epoch("us") / 1e6).to_numpy()
    assert delay_s.min() > -0.05 and delay_s.max() < polar_h10.MAX_DELAY_S


def test_polar_h10_ecg_beats_fill_a_device_rr_dropout(
    polar_lines: list[str], tmp_path: Path
) -> None:
    lines = polar_lines[: 1 + int(120 * 130.16)]
    t0 = int(lines[1].split(",")[0])
    out = [lines[0]]
    for line in lines[1:]:
        fields = line.split(",")
        if 40e9 <= int(fields[0]) - t0 < 80e9:
            fields[3] = ""  # the strap's RR lost for 40 s
        out.append(",".join(fields))
    parsed = polar_h10.parse(_write(tmp_path / "h10.csv", "\n".join(out) + "\n"))
    beats = parsed.frames["beats"]
    ecg = beats.filter(pl.col("origin") == "ecg")
    ecg_s = ecg["t_utc"].dt.epoch("us").to_numpy() / 1e6 - t0 / 1e9
    assert ecg.height >= 35 and np.all((ecg_s > 36) & (ecg_s < 82))
    # rows in file order have increasing times, so no beat is quarantined as non-monotonic
    checked = validate.row_rules("beats", plan.canonical_rows("beats", beats, "S01", "f"))
    assert "non-monotonic time" not in set(checked.quarantined["reason"])


def test_polar_h10_bad_values_are_rejects(polar_lines: list[str], tmp_path: Path) -> None:
    lines = polar_lines[:3001]
    with_hr = [i for i, line in enumerate(lines) if line.split(",")[2]]
    with_rr = [i for i, line in enumerate(lines) if line.split(",")[3] and i not in with_hr]
    lines[with_hr[3]] = ",".join(
        [*lines[with_hr[3]].split(",")[:2], "fast", lines[with_hr[3]].split(",")[3]]
    )
    lines[with_rr[2]] = ",".join([*lines[with_rr[2]].split(",")[:3], "-"])
    lines[10] = "not-a-time,0.1,,"
    lines.insert(20, lines[19])
    parsed = polar_h10.parse(_write(tmp_path / "h10.csv", "\n".join(lines) + "\n"))
    got = set(zip(parsed.rejects["table"], parsed.rejects["reason"], strict=True))
    assert ("heart_rate", "unparseable hr_bpm") in got
    assert ("beats", "unparseable rr_ms") in got
    assert ("beats", "time_ns: unparseable epoch ns") in got
    assert parsed.duplicates >= 1


def test_polar_h10_missing_column_is_input_error(tmp_path: Path) -> None:
    path = _write(tmp_path / "h10.csv", "time_ns,ecg_mv,hr_bpm\n1714920600006020096,0.1,\n")
    with pytest.raises(InputError, match=r"h10\.csv: missing required column: rr_ms"):
        polar_h10.parse(path)
    assert _detected_name(path) == raw_signal.NAME  # without rr_ms it is a plain ECG table


# --- end to end ---------------------------------------------------------------------------------


def test_polar_h10_lands_in_the_lake(tmp_path: Path, realdata: Path) -> None:
    inbox = tmp_path / "INBOX"
    (inbox / "S01").mkdir(parents=True)
    path = inbox / "S01" / "polar_h10.csv"
    path.write_bytes((realdata / "polar_h10_ecg_detectPVC" / "polar_h10.csv").read_bytes())
    lake = tmp_path / "lake"
    report = files.ingest_file(lake, inbox, "S01", path)
    assert report is not None and report.status == "ingested" and report.format == "polar_h10"
    assert report.rows_in == (
        report.rows_ok + report.rows_quarantined + report.rows_duplicate + report.rows_skipped
    )
    assert report.rows_ok == 798 + 600
    assert store.read_table(lake, "beats").height == 798
    assert store.read_table(lake, "heart_rate").height == 600
    assert files.ingest_file(lake, inbox, "S01", path) is None


def test_raw_signal_lands_in_the_lake(tmp_path: Path, e0103_text: str) -> None:
    inbox = tmp_path / "INBOX"
    (inbox / "S01").mkdir(parents=True)
    path = _write(inbox / "S01" / "ecg.csv", START + "ecg_mv\n" + e0103_text)
    report = files.ingest_file(tmp_path / "lake", inbox, "S01", path)
    assert report is not None and report.format == "raw_signal" and report.rows_ok > 100
    assert report.rows_in == (
        report.rows_ok + report.rows_quarantined + report.rows_duplicate + report.rows_skipped
    )
