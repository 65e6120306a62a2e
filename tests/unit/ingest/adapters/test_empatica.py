"""Empatica E4 adapters on crafted session files: detection, time basis, broken variants."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from tearsignals.contract import schema
from tearsignals.errors import InputError
from tearsignals.ingest import adapters, files
from tearsignals.ingest.adapters import empatica
from tearsignals.lake import store

START = 1_644_226_061  # 2022-02-07T09:27:41Z
START_UTC = datetime(2022, 2, 7, 9, 27, 41, tzinfo=UTC)
IBI = f"{START}.000000, IBI\n35.484375,0.890625\n36.343750,0.859375\n37.296875,0.953125\n"
HR = f"{START}.000000\n1.000000\n83.00\n83.00\n72.67\n"


def _write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def _trough_times(seconds: float) -> np.ndarray:
    """Beat times on the 64 Hz grid with some variability (heartpy refuses a perfectly
    regular signal: its fit needs a non-zero RR standard deviation)."""
    rr = 1.0 + 0.06 * np.sin(np.arange(int(seconds) + 2) * 0.9)
    return np.round(np.cumsum(rr) * 64) / 64


def _bvp(seconds: float = 60.0, header: str = f"{START}\r\n64\r\n") -> str:
    """A 64 Hz BVP-like signal whose troughs (where E4 marks beats) are :func:`_trough_times`."""
    t = np.arange(int(seconds * 64)) / 64
    beats = np.concatenate([[0.0], _trough_times(seconds)])
    k = np.searchsorted(beats, t, side="right") - 1
    phase = (t - beats[k]) / (beats[k + 1] - beats[k])
    wave = np.sin(np.pi * phase) ** 0.5 * 40.0 - 20.0
    return header + "".join(f"{v:.2f}\r\n" for v in wave)


@pytest.mark.parametrize(
    ("name", "content", "table"),
    [
        ("IBI.csv", IBI, "beats"),
        ("HR.csv", HR, "heart_rate"),
        ("BVP.csv", _bvp(20.0), "beats"),
        ("tags.csv", f"{START}\n{START + 60}\n", "episodes"),
    ],
)
def test_frames_follow_the_table_contract(
    tmp_path: Path, name: str, content: str, table: str
) -> None:
    parsed = adapters.parse_file(_write(tmp_path, name, content))[1]
    assert list(parsed.frames) == [table]
    assert parsed.frames[table].columns == list(schema.adapter_columns(table))
    assert parsed.frames[table].height > 0


def test_ibi_beats_are_start_plus_offset_in_utc(tmp_path: Path) -> None:
    parsed = adapters.parse_file(_write(tmp_path, "IBI.csv", IBI))[1]
    beats = parsed.frames["beats"]
    assert beats["t_utc"].to_list() == [
        START_UTC + timedelta(microseconds=us) for us in (35_484_375, 36_343_750, 37_296_875)
    ]
    assert beats["rr_ms"].to_list() == [890.625, 859.375, 953.125]
    assert set(beats["origin"]) == {"rr"} and beats.schema["t_utc"] == pl.Datetime("us", "UTC")


def test_hr_samples_are_start_plus_index_over_rate(tmp_path: Path) -> None:
    decimal_header = f"{START + 10}.000000\n1.000000\n83.00\n83.00\n72.67\n"  # S02 style
    adapter, parsed = adapters.parse_file(_write(tmp_path, "HR.csv", decimal_header))
    hr = parsed.frames["heart_rate"]
    assert adapter.name == "e4_hr"
    assert hr["t_utc"].to_list() == [START_UTC + timedelta(seconds=s) for s in (10, 11, 12)]
    assert hr["hr_bpm"].to_list() == [83.0, 83.0, 72.67]


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("IBI.csv", IBI, "e4_ibi"),
        ("HR.csv", HR, "e4_hr"),
        ("BVP.csv", _bvp(6.0), "e4_bvp"),
        ("renamed.csv", HR, "e4_hr"),  # content decides, the name is not needed
        ("BVP.csv", HR, "e4_hr"),  # content beats a misleading name
        ("tags_S01.csv", f"{START + 79}\r\n{START + 374}\r\n", "e4_tags"),
        ("ACC.csv", f"{START}, {START}, {START}\n32, 32, 32\n-61,25,6\n", "e4_not_heart"),
        ("EDA.csv", f"{START}.000000\n4.000000\n0.112750\n", "e4_not_heart"),
        ("x.csv", f"{START}\n250\n1.0\n", None),  # a rate E4 does not use, no sensor name
        ("IBI.csv", f"{START}, IBI_ms\n35.4,890\n", None),  # unknown unit marker
    ],
)
def test_detection_by_content(tmp_path: Path, name: str, content: str, expected: str) -> None:
    adapter = adapters.detect(_write(tmp_path, name, content))
    assert (adapter.name if adapter else None) == expected


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("ACC.csv", "ACC.csv: E4 ACC file holds movement, not heart data (not ingested yet)"),
        ("TEMP.csv", "TEMP.csv: E4 TEMP file holds skin temperature, not heart data"),
        ("EDA.csv", "EDA.csv: E4 EDA file holds skin conductance, not heart data"),
        ("skin.csv", "skin.csv: E4 EDA/TEMP file holds skin conductance or temperature"),
    ],
)
def test_movement_and_skin_files_are_refused_in_one_line(
    tmp_path: Path, name: str, message: str
) -> None:
    content = (
        f"{START}, {START}, {START}\n32, 32, 32\n-61,25,6\n"
        if name == "ACC.csv"
        else f"{START}.000000\n4.000000\n28.39\n"
    )
    with pytest.raises(InputError) as err:
        adapters.parse_file(_write(tmp_path, name, content))
    assert str(err.value).startswith(message)


def test_bvp_beats_are_the_troughs_and_every_peak_is_a_record(tmp_path: Path) -> None:
    parsed = adapters.parse_file(_write(tmp_path, "BVP.csv", _bvp(60.0)))[1]
    beats = parsed.frames["beats"]
    offsets = (beats["t_utc"] - START_UTC).dt.total_microseconds().to_numpy() / 1e6
    assert beats.height >= 50 and set(beats["origin"]) == {"ppg"}
    truth = _trough_times(60.0)
    nearest = truth[np.abs(offsets[:, None] - truth[None, :]).argmin(axis=1)]
    assert np.abs(offsets - nearest).max() <= 1 / 64 + 1e-9
    assert np.abs(beats["rr_ms"].to_numpy() - 1000.0).max() <= 60 + 1000 / 64
    assert set(parsed.rejects["reason"]) <= {
        empatica.REASON_NO_INTERVAL,
        empatica.REASON_PEAK_REJECTED,
    }
    rows = beats["row_number"].to_numpy()
    assert np.allclose((rows - 1) / 64, offsets)  # row = sample line of the peak


def test_bvp_unparseable_sample_is_a_reject_and_others_still_give_beats(tmp_path: Path) -> None:
    lines = _bvp(60.0).split("\r\n")
    lines[2 + 30 * 64] = "n/a"
    parsed = adapters.parse_file(_write(tmp_path, "BVP.csv", "\r\n".join(lines)))[1]
    bad = parsed.rejects.filter(pl.col("reason").str.contains("BVP sample"))
    assert bad["row_number"].to_list() == [30 * 64 + 1] and bad["raw"].to_list() == ["n/a"]
    beats = parsed.frames["beats"]
    end_s = (beats["t_utc"] - START_UTC).dt.total_microseconds().to_numpy() / 1e6
    start_s = end_s - beats["rr_ms"].to_numpy() / 1000.0
    assert beats.height >= 55  # the bad sample is a gap of one sample, not a lost window
    assert ((end_s > 27) & (end_s < 30)).any() and ((end_s > 30) & (end_s < 33)).any()
    assert not ((start_s < 30.0) & (end_s > 30.0)).any()  # no interval spans the gap


def test_header_only_files_hold_no_records(tmp_path: Path) -> None:
    for name, content in (("BVP.csv", f"{START}\n64\n"), ("IBI.csv", f"{START}, IBI\n")):
        parsed = adapters.parse_file(_write(tmp_path, name, content))[1]
        assert parsed.rows_in == 0


def test_tags_pair_up_and_a_lone_tag_lasts_ten_minutes(tmp_path: Path) -> None:
    tags = [START + 79, START + 374, START + 646, START + 1031, START + 9000]
    content = "\r\n".join(str(t) for t in tags)  # no newline at the end, as in tags_S01.csv
    parsed = adapters.parse_file(_write(tmp_path, "tags_S01.csv", content))[1]
    episodes = parsed.frames["episodes"]
    seconds = [(t - START_UTC).total_seconds() for t in episodes["start_utc"]]
    ends = [(t - START_UTC).total_seconds() for t in episodes["end_utc"]]
    assert (seconds, ends) == ([79, 646, 9000], [374, 1031, 9600])
    assert episodes["row_number"].to_list() == [1, 3, 5]
    assert set(episodes["context"]) == {"E4 button tag"} and set(episodes["tz"]) == {"UTC"}
    assert episodes["intensity"].is_null().all()


def test_a_start_without_end_within_an_hour_stands_alone(tmp_path: Path) -> None:
    tags = [START, START + 4000, START + 4300]
    parsed = empatica.parse_tags(_write(tmp_path, "tags.csv", "\n".join(map(str, tags))))
    durations = parsed.frames["episodes"].select(pl.col("end_utc") - pl.col("start_utc"))
    assert durations.to_series().dt.total_seconds().to_list() == [600, 300]


def test_bad_repeated_and_backward_tags(tmp_path: Path) -> None:
    content = f"{START}\n{START + 60}\n{START + 60}\nlater\n{START + 30}\n{START + 100}\n"
    parsed = empatica.parse_tags(_write(tmp_path, "tags.csv", content))
    assert parsed.duplicates == 1
    assert parsed.rejects["reason"].to_list() == [
        "not a unix time in [2010, 2100)",
        "non-monotonic time (tag before previous tag)",
    ]
    assert parsed.rejects["row_number"].to_list() == [4, 5]
    assert parsed.frames["episodes"].height == 2  # (0, 60) and the lone tag at 100
    assert parsed.rows_in == 5


def test_empty_and_truncated_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"^tags\.csv: empty file$"):
        adapters.parse_file(_write(tmp_path, "tags.csv", b""))
    with pytest.raises(InputError, match=r"^HR\.csv: truncated E4 HR header"):
        adapters.parse_file(_write(tmp_path, "HR.csv", f"{START}.000000\n"))
    cut = adapters.parse_file(_write(tmp_path, "IBI.csv", IBI + "38.1875"))[1]
    assert cut.rejects["reason"].to_list() == ["missing ibi_s"]
    assert cut.frames["beats"].height == 3


def test_missing_rate_line_is_refused_without_echoing_values(tmp_path: Path) -> None:
    with pytest.raises(InputError) as err:
        adapters.parse_file(_write(tmp_path, "HR.csv", f"{START}\n83.00\n83.00\n72.67\n"))
    assert "rate line missing or altered" in str(err.value) and "83" not in str(err.value)


def test_encodings(tmp_path: Path) -> None:
    bom = adapters.parse_file(_write(tmp_path, "a/IBI.csv", b"\xef\xbb\xbf" + IBI.encode()))[1]
    assert bom.frames["beats"].height == 3
    with pytest.raises(adapters.UnknownFormat, match="not UTF-8"):
        adapters.parse_file(_write(tmp_path, "b/IBI.csv", IBI.encode("utf-16")))
    latin = IBI.encode() + b"39.0,0.8\xe9\n"
    with pytest.raises(InputError, match=r"^IBI\.csv: not UTF-8 text \(byte 0xe9"):
        adapters.parse_file(_write(tmp_path, "c/IBI.csv", latin))


def test_ibi_row_problems_become_rejects(tmp_path: Path) -> None:
    content = IBI + "38.2\n39.0,890\n-1.0,0.8\nx,0.8\n"
    parsed = adapters.parse_file(_write(tmp_path, "IBI.csv", content))[1]
    assert parsed.rejects["reason"].to_list() == [
        "missing ibi_s",
        "ibi_s above 5 s: not seconds (unknown unit)",
        "negative offset_s",
        "unparseable offset_s",
    ]
    assert parsed.rejects["row_number"].to_list() == [4, 5, 6, 7]


def test_ibi_duplicates_and_backward_times_are_accounted_on_ingest(tmp_path: Path) -> None:
    content = IBI + "37.296875,0.953125\n36.9,0.8\n40.0,0.9\n"
    path = _write(tmp_path / "inbox" / "S01", "IBI.csv", content)
    lake = tmp_path / "lake"
    report = files.ingest_file(lake, tmp_path / "inbox", "S01", path)
    assert report is not None and report.format == "e4_ibi"
    assert (report.rows_in, report.rows_ok, report.rows_quarantined, report.rows_duplicate) == (
        6,
        4,
        1,
        1,
    )
    assert store.read_table(lake, "quarantine")["reason"].to_list() == ["non-monotonic time"]
