"""Real Empatica E4 sessions and Garmin FIT files: README counts, time basis, end to end.

Reference values are the counts and times in ``../shared/realdata/README.md``
(stress_predict_e4, flirt/empatica, garmin_fit_fitparse) and fitparse's own
``*-records.csv`` decode of the FIT ``record`` messages.
"""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta
from pathlib import Path

import fitdecode
import polars as pl
import pytest

from tearsignals import pipeline
from tearsignals.config import AnalysisConfig
from tearsignals.errors import InputError
from tearsignals.ingest import adapters, files
from tearsignals.ingest.adapters import empatica
from tearsignals.lake import store
from tests.support import beat_references as ref_beats
from tests.support.beat_references import FLIRT_START, S01_START

pytestmark = pytest.mark.golden

S01_TAGS = ["09:29:00", "09:33:55", "09:38:27", "09:44:52", "09:54:17", "09:59:51",
            "10:02:13", "10:07:26", "10:11:24", "10:21:46"]  # fmt: skip
PDT = timedelta(hours=-7)


def _s01(clock: str) -> datetime:
    return datetime.fromisoformat(f"2022-02-07T{clock}+00:00")


# --- Empatica E4 ---------------------------------------------------------------------


def test_s01_ibi_hr_and_tags(realdata: Path) -> None:
    folder = realdata / "stress_predict_e4" / "S01"
    name, ibi = ref_beats.parsed(folder / "IBI.csv")
    beats = ibi.frames["beats"]
    assert name == "e4_ibi" and beats.height == 1260 and ibi.rejects.is_empty()
    assert beats.schema["t_utc"] == pl.Datetime("us", "UTC")
    assert beats["t_utc"][0] == S01_START + timedelta(seconds=35.484375)  # first IBI row
    assert (ref_beats.seconds_after(beats["t_utc"], S01_START) < 3261).all()  # inside the BVP span
    hr = ref_beats.parsed(folder / "HR.csv")[1].frames["heart_rate"]
    assert hr.height == 3250 and hr["t_utc"][0] == S01_START + timedelta(seconds=10)
    assert hr["t_utc"].diff().drop_nulls().unique().to_list() == [timedelta(seconds=1)]
    episodes = ref_beats.parsed(folder / "tags_S01.csv")[1].frames["episodes"]
    assert episodes["start_utc"].to_list() == [_s01(t) for t in S01_TAGS[0::2]]
    assert episodes["end_utc"].to_list() == [_s01(t) for t in S01_TAGS[1::2]]


def test_s02_decimal_headers_and_odd_tag_count(realdata: Path) -> None:
    folder = realdata / "stress_predict_e4" / "S02_partial"
    assert ref_beats.parsed(folder / "IBI.csv")[1].frames["beats"].height == 360
    hr = ref_beats.parsed(folder / "HR.csv")[1].frames["heart_rate"]
    assert hr.height == 3555 and hr["t_utc"][0] == _s01("09:53:04")
    episodes = ref_beats.parsed(folder / "tags_S02.csv")[1].frames["episodes"]
    durations = (episodes["end_utc"] - episodes["start_utc"]).dt.total_seconds().to_list()
    assert episodes.height == 5 and durations[-1] == empatica.SINGLE_TAG_S  # 9 tags: 4 pairs + 1


def test_flirt_session_files(realdata: Path) -> None:
    folder = realdata / "flirt" / "empatica"
    ibi = ref_beats.parsed(folder / "IBI.csv")[1].frames["beats"]
    offsets = ref_beats.seconds_after(ibi["t_utc"], FLIRT_START)
    assert ibi.height == 4999 and round(offsets[0], 1) == 83.5 and round(offsets[-1]) == 8934
    hr = ref_beats.parsed(folder / "HR.csv")[1].frames["heart_rate"]
    assert hr.height == 4998 and hr["t_utc"][0] == FLIRT_START + timedelta(seconds=10)
    bvp = ref_beats.parsed(folder / "BVP.csv")[1].frames["beats"]
    assert bvp.height > 0 and (ref_beats.seconds_after(bvp["t_utc"], FLIRT_START) <= 156.3).all()
    with pytest.raises(InputError, match=r"^tags\.csv: empty file$"):
        adapters.parse_file(folder / "tags.csv")  # 0 bytes: no button presses
    for sensor in ("ACC", "EDA", "TEMP"):
        with pytest.raises(InputError, match=f"E4 {sensor} file holds .*not heart data"):
            adapters.parse_file(folder / f"{sensor}.csv")
    with pytest.raises(adapters.UnknownFormat):
        adapters.parse_file(folder / "info.txt")


@pytest.fixture(scope="module")
def s01_bvp(realdata: Path) -> adapters.Parsed:
    return ref_beats.parsed(realdata / "stress_predict_e4" / "S01" / "BVP.csv")[1]


def test_s01_bvp_beats_agree_with_device_ibi(realdata: Path, s01_bvp: adapters.Parsed) -> None:
    """BVP beats at the pulse foot vs E4's own IBI beats (docs/validation.md has the numbers)."""
    ibi = ref_beats.parsed(realdata / "stress_predict_e4" / "S01" / "IBI.csv")[1].frames["beats"]
    bvp = s01_bvp.frames["beats"]
    agreement = ref_beats.ibi_agreement(bvp, ibi, S01_START)
    assert agreement.n_reference == 1260
    assert agreement.sensitivity >= 0.90  # measured 0.910
    assert agreement.mean_abs_error_ms <= 1.0  # measured 0.10 ms: both mark the foot sample
    same_beat = ibi.join(bvp, on="t_utc", suffix="_ppg")  # identical foot sample
    rr_diff = (same_beat["rr_ms"] - same_beat["rr_ms_ppg"]).abs()
    assert same_beat.height >= 1100  # measured 1,139
    assert (rr_diff <= 1000 / 64).mean() >= 0.98  # measured 0.995
    assert s01_bvp.rows_in == bvp.height + s01_bvp.rejects.height
    assert set(s01_bvp.rejects["reason"]) == {
        empatica.REASON_PEAK_REJECTED,
        empatica.REASON_NO_INTERVAL,
    }


def test_flirt_bvp_ibi_overlap_is_the_first_156_s(realdata: Path) -> None:
    folder = realdata / "flirt" / "empatica"
    ibi = ref_beats.parsed(folder / "IBI.csv")[1].frames["beats"]
    bvp = ref_beats.parsed(folder / "BVP.csv")[1].frames["beats"]
    agreement = ref_beats.ibi_agreement(bvp, ibi, FLIRT_START, ref_beats.FLIRT_BVP_S)
    assert agreement.n_reference == 6  # E4 itself found 6 beats in the BVP span
    assert agreement.n_matched <= agreement.n_reference


# --- Garmin FIT ----------------------------------------------------------------------


def _records_csv(path: Path) -> pl.DataFrame:
    """fitparse's reference decode: times printed in PDT, turned to UTC here."""
    frame = pl.read_csv(path, columns=["timestamp", "heart_rate"])
    local = frame["timestamp"].str.strptime(pl.Datetime("us"), "%a %b %d %H:%M:%S PDT %Y")
    return pl.DataFrame(
        {
            "t_utc": (local - PDT).dt.replace_time_zone("UTC"),
            "hr_bpm": frame["heart_rate"].cast(pl.Float64),
        }
    )


def _session_end(path: Path) -> datetime:
    with fitdecode.FitReader(str(path)) as reader:
        ends = [
            f.get_value("timestamp")
            for f in reader
            if isinstance(f, fitdecode.FitDataMessage) and f.name == "session"
        ]
    return ends[0]


@pytest.mark.parametrize(
    ("stem", "n_rr", "sum_rr_s", "mean_rr_ms", "n_records", "first", "last"),
    [
        ("garmin-fenix-5-run", 113, 75.0, 664, 21, "14:34:09", "14:35:06"),
        ("garmin-fenix-5-walk", 62, 49.6, 800, 17, "14:32:51", "14:33:37"),
    ],
)
def test_fit_counts_times_and_reference_records(
    realdata: Path,
    stem: str,
    n_rr: int,
    sum_rr_s: float,
    mean_rr_ms: int,
    n_records: int,
    first: str,
    last: str,
) -> None:
    path = realdata / "garmin_fit_fitparse" / f"{stem}.fit"
    name, parsed = ref_beats.parsed(path)
    beats, hr = parsed.frames["beats"], parsed.frames["heart_rate"]
    assert name == "garmin_fit" and beats.height == n_rr and hr.height == n_records
    assert round(beats["rr_ms"].sum() / 1000, 1) == sum_rr_s
    assert round(beats["rr_ms"].mean()) == mean_rr_ms
    day = "2017-06-11T{}+00:00"
    assert hr["t_utc"].min() == datetime.fromisoformat(day.format(first))
    assert hr["t_utc"].max() == datetime.fromisoformat(day.format(last))
    reference = _records_csv(realdata / "garmin_fit_fitparse" / f"{stem}-records.csv")
    assert hr.select("t_utc", "hr_bpm").equals(reference)
    # Anchor rule: the RR sequence starts at the first record and ends near the session end.
    assert beats["t_utc"][0] - hr["t_utc"][0] == timedelta(milliseconds=beats["rr_ms"][0])
    assert abs((beats["t_utc"][-1] - _session_end(path)).total_seconds()) < 2.0


def test_fit_damaged_copies_raise_one_line(realdata: Path, tmp_path: Path) -> None:
    data = (realdata / "garmin_fit_fitparse" / "garmin-fenix-5-run.fit").read_bytes()
    variants = {
        "cut.fit": (data[:3000], "truncated FIT file"),
        "crc.fit": (data[:-1] + bytes([data[-1] ^ 0x5A]), "CRC mismatch"),
    }
    for file_name, (content, needle) in variants.items():
        path = tmp_path / file_name
        path.write_bytes(content)
        with pytest.raises(InputError, match=needle) as err:
            adapters.parse_file(path)
        assert str(err.value).startswith(f"{file_name}: ") and "\n" not in str(err.value)


def test_fit_file_lands_in_the_lake(realdata: Path, tmp_path: Path) -> None:
    folder = tmp_path / "inbox" / "S01"
    folder.mkdir(parents=True)
    path = Path(shutil.copy(realdata / "garmin_fit_fitparse" / "garmin-fenix-5-run.fit", folder))
    report = files.ingest_file(tmp_path / "lake", tmp_path / "inbox", "S01", path)
    assert report is not None and report.status == "ingested" and report.rows_ok == 134
    assert store.read_table(tmp_path / "lake", "beats").height == 113
    assert store.read_table(tmp_path / "lake", "heart_rate").height == 21


# --- End to end: the E4 session with its button tags as episodes ---------------------


def test_e4_session_runs_through_ingest_and_analysis(realdata: Path, tmp_path: Path) -> None:
    inbox, lake = tmp_path / "inbox", tmp_path / "lake"
    shutil.copytree(realdata / "stress_predict_e4" / "S01", inbox / "S01")
    reports = [files.ingest_file(lake, inbox, s, p) for s, p in files.inbox_files(inbox)]
    status = {Path(r.path).name: (r.format, r.status) for r in reports if r is not None}
    assert status["IBI.csv"] == ("e4_ibi", "ingested") and status["BVP.csv"][1] == "ingested"
    assert status["tags_S01.csv"] == ("e4_tags", "ingested")
    assert status["ACC.csv"][1] == "rejected" and status["info.txt"][1] == "unknown_format"
    counts = pipeline.analyze_subject(lake, "S01", AnalysisConfig())
    windows = store.read_table(lake, "episode_windows").filter(pl.col("role") == "episode")
    assert counts["episode_windows"] == windows.height == 5 * 7
    acute = windows.filter(pl.col("window") == "acute").sort("window_start_utc")
    assert acute["window_start_utc"].to_list() == [_s01(t) for t in S01_TAGS[0::2]]
    assert (acute["basis"] == "rr").all() and (acute["quality"] != "none").all()
    assert acute["mean_hr_bpm"].is_not_null().all()
