"""The subject profile: the typed model, and naive local times read in it through ingest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from tearsignals.config import WindowConfig
from tearsignals.episodes import windows
from tearsignals.errors import InputError
from tearsignals.ingest import files, inspect
from tearsignals.ingest.profile import PROFILE_NAME, profile_from_text, read_profile
from tearsignals.ingest.timeparse import LocalZones
from tearsignals.lake import store

TRIP = """timezone = "Europe/Berlin"

[[timezone_changes]]
from = 2026-03-01
timezone = "America/New_York"

[[timezone_changes]]
from = 2026-03-15T12:00:00
timezone = "Europe/Berlin"
"""


def hrm(date: str = "20260105", start: str = "15:00:00.0") -> str:
    """A small R-R mode Polar .hrm (its start is a local wall time without zone)."""
    return (
        f"[Params]\r\nVersion=106\r\nMonitor=13\r\nDate={date}\r\nStartTime={start}\r\n"
        "Length=00:00:03.4\r\nInterval=238\r\n\r\n[HRData]\r\n800\r\n900\r\n1000\r\n700\r\n"
    )


def _inbox(tmp_path: Path, contents: dict[str, str]) -> Path:
    inbox = tmp_path / "inbox"
    for name, text in contents.items():
        path = inbox / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return inbox


def _ingest(inbox: Path, lake: Path) -> dict[str, files.FileReport]:
    reports = [files.ingest_file(lake, inbox, s, p) for s, p in files.inbox_files(inbox)]
    return {r.path: r for r in reports if r is not None}


def _log(lake: Path) -> dict[str, tuple[str, str, int]]:
    log = store.read_table(lake, "_ingest_log").sort("path")
    return {r["path"]: (r["format"], r["status"], r["rows_ok"]) for r in log.iter_rows(named=True)}


# --- the model -----------------------------------------------------------------------------------


def test_the_minimal_profile_is_one_line() -> None:
    zones = profile_from_text('timezone = "Europe/Berlin"\n').local_zones()
    assert zones == LocalZones("Europe/Berlin")


def test_dated_changes_pick_the_zone_of_each_local_time_and_instant() -> None:
    zones = profile_from_text(TRIP).local_zones()
    assert zones.changes == (
        (datetime(2026, 3, 1), "America/New_York"),
        (datetime(2026, 3, 15, 12), "Europe/Berlin"),
    )
    local = [datetime(2026, 2, 28, 23, 59), datetime(2026, 3, 1), datetime(2026, 3, 15, 12)]
    assert pl.select(zones.of_local(pl.lit(pl.Series(local)))).to_series().to_list() == [
        "Europe/Berlin",
        "America/New_York",
        "Europe/Berlin",
    ]
    # 2026-03-01 00:00 in New York is 05:00 UTC: an instant just before is still in Berlin
    instants = pl.Series(
        [datetime(2026, 3, 1, 4, 59, tzinfo=UTC), datetime(2026, 3, 1, 5, tzinfo=UTC)]
    )
    assert pl.select(zones.of_instant(pl.lit(instants))).to_series().to_list() == [
        "Europe/Berlin",
        "America/New_York",
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('timezone = "Mars/Olympus"', "subject.toml: timezone: unknown IANA time zone"),
        ('timezone = "+01:00"', "subject.toml: timezone: unknown IANA time zone"),
        ("", "subject.toml: timezone: Field required"),
        ('timezone = "UTC"\nzone = "x"', "subject.toml: zone: Extra inputs are not permitted"),
        ("timezone = Europe/Berlin", "subject.toml: not valid TOML"),
        (
            TRIP.replace("2026-03-15T12:00:00", "2026-02-01"),
            "timezone_changes must be in increasing order",
        ),
        (
            TRIP.replace("2026-03-15T12:00:00", "2026-03-15T12:00:00+01:00"),
            "timezone_changes.1.from: give a local date or date-time, without offset",
        ),
        (
            TRIP.replace('"America/New_York"', '"America/Gotham"'),
            "timezone_changes.0.timezone: unknown IANA time zone",
        ),
    ],
)
def test_an_invalid_profile_is_a_one_line_error(text: str, message: str) -> None:
    with pytest.raises(InputError) as err:
        profile_from_text(text)
    assert message in str(err.value) and "\n" not in str(err.value)
    assert "Olympus" not in str(err.value) and "Gotham" not in str(err.value)


def test_a_missing_profile_is_none_and_a_broken_one_says_why(tmp_path: Path) -> None:
    assert read_profile(tmp_path) is None
    (tmp_path / PROFILE_NAME).write_bytes(b"timezone = \xff")
    broken = read_profile(tmp_path)
    assert broken is not None and broken.profile is None
    assert broken.problem == "subject.toml: not UTF-8 text"


# --- naive local times read in the profile's zone, through ingest ---------------------------------


def test_an_hrm_without_sidecar_ingests_from_the_profile(tmp_path: Path) -> None:
    inbox = _inbox(
        tmp_path, {"S01/ride.hrm": hrm(), f"S01/{PROFILE_NAME}": 'timezone = "Europe/Berlin"\n'}
    )
    lake = tmp_path / "lake"
    assert _ingest(inbox, lake)["S01/ride.hrm"].rows_ok == 4
    beats = store.read_table(lake, "beats").sort("t_utc")
    # 15:00 in Berlin in January is 14:00 UTC; the first beat ends the first 800 ms interval
    assert beats["t_utc"][0] == datetime(2026, 1, 5, 14, 0, 0, 800000, tzinfo=UTC)
    assert _log(lake)[f"S01/{PROFILE_NAME}"] == ("subject_profile", "profile", 0)


def test_a_sidecar_overrides_the_profile(tmp_path: Path) -> None:
    inbox = _inbox(
        tmp_path,
        {
            "S01/ride.hrm": hrm(),
            "S01/ride.hrm.tz": "Europe/London\n",
            f"S01/{PROFILE_NAME}": 'timezone = "Europe/Berlin"\n',
        },
    )
    lake = tmp_path / "lake"
    _ingest(inbox, lake)
    first = store.read_table(lake, "beats")["t_utc"].min()
    assert first == datetime(2026, 1, 5, 15, 0, 0, 800000, tzinfo=UTC)


def test_a_file_refused_for_a_missing_zone_is_read_when_the_profile_appears(tmp_path: Path) -> None:
    inbox, lake = _inbox(tmp_path, {"S01/ride.hrm": hrm()}), tmp_path / "lake"
    refused = _ingest(inbox, lake)["S01/ride.hrm"]
    assert refused.status == "rejected" and "subject.toml" in (refused.detail or "")
    assert _ingest(inbox, lake) == {}  # nothing changed: not read again
    (inbox / "S01" / PROFILE_NAME).write_text('timezone = "Europe/Berlin"\n')
    again = _ingest(inbox, lake)
    assert (again["S01/ride.hrm"].status, again["S01/ride.hrm"].rows_ok) == ("ingested", 4)
    assert _log(lake) == {
        "S01/ride.hrm": ("polar_hrm", "ingested", 4),
        f"S01/{PROFILE_NAME}": ("subject_profile", "profile", 0),
    }
    assert _ingest(inbox, lake) == {}


def test_a_sidecar_added_later_also_retries_the_file(tmp_path: Path) -> None:
    inbox, lake = _inbox(tmp_path, {"S01/ride.hrm": hrm()}), tmp_path / "lake"
    _ingest(inbox, lake)
    (inbox / "S01" / "ride.hrm.tz").write_text("Europe/Berlin\n")
    assert _ingest(inbox, lake)["S01/ride.hrm"].rows_ok == 4


def test_a_trip_added_to_the_profile_rereads_naive_episodes_in_the_new_zone(tmp_path: Path) -> None:
    log = "start,end,intensity\n2026-02-20 20:00,2026-02-20 20:15,5\n2026-03-05 20:00,2026-03-05 20:15,6\n"
    inbox = _inbox(
        tmp_path, {"S01/episodes.csv": log, f"S01/{PROFILE_NAME}": 'timezone = "Europe/Berlin"\n'}
    )
    lake = tmp_path / "lake"
    _ingest(inbox, lake)
    before = store.read_table(lake, "episodes").sort("start_utc")
    assert before["tz"].to_list() == ["Europe/Berlin", "Europe/Berlin"]
    (inbox / "S01" / PROFILE_NAME).write_text(TRIP)
    reread = _ingest(inbox, lake)
    assert set(reread) == {"S01/episodes.csv", f"S01/{PROFILE_NAME}"}
    after = store.read_table(lake, "episodes").sort("start_utc")
    assert after["tz"].to_list() == ["Europe/Berlin", "America/New_York"]
    assert after["start_utc"].to_list() == [
        datetime(2026, 2, 20, 19, 0, tzinfo=UTC),
        datetime(2026, 3, 6, 1, 0, tzinfo=UTC),  # 20:00 in New York (-05:00)
    ]
    assert store.read_table(lake, "_ingest_log").height == 2  # the old profile's row is gone


def test_data_with_their_own_offsets_are_not_reread_when_the_profile_changes(
    tmp_path: Path,
) -> None:
    rr = "timestamp,rr_ms\n2026-01-05T15:00:01+01:00,1000\n"
    epoch = "timestamp, rr, since_start\n1767621600000,800,800\n"
    inbox = _inbox(
        tmp_path,
        {
            "S01/rr.csv": rr,
            "S01/s_RRIntervals.csv": epoch,
            f"S01/{PROFILE_NAME}": 'timezone = "Europe/Berlin"\n',
        },
    )
    lake = tmp_path / "lake"
    _ingest(inbox, lake)
    (inbox / "S01" / PROFILE_NAME).write_text('timezone = "Europe/Paris"\n')
    # csv_beats may hold local times, so it is read again (same rows); HRV Logger times are epochs
    assert set(_ingest(inbox, lake)) == {"S01/rr.csv", f"S01/{PROFILE_NAME}"}
    assert store.read_table(lake, "beats").height == 2


def test_an_invalid_profile_refuses_only_the_files_that_need_it(tmp_path: Path) -> None:
    inbox = _inbox(
        tmp_path,
        {
            "S01/ride.hrm": hrm(),
            "S01/s_RRIntervals.csv": "timestamp, rr, since_start\n1767621600000,800,800\n",
            f"S01/{PROFILE_NAME}": 'timezone = "Europe/Berlni"\n',
        },
    )
    lake = tmp_path / "lake"
    reports = _ingest(inbox, lake)
    assert reports[f"S01/{PROFILE_NAME}"].detail == (
        "subject.toml: timezone: unknown IANA time zone"
    )
    assert reports["S01/ride.hrm"].detail == (
        "ride.hrm: the subject profile is needed and invalid: "
        "subject.toml: timezone: unknown IANA time zone"
    )
    assert reports["S01/s_RRIntervals.csv"].rows_ok == 1
    (inbox / "S01" / PROFILE_NAME).write_text('timezone = "Europe/Berlin"\n')
    assert set(_ingest(inbox, lake)) == {"S01/ride.hrm", f"S01/{PROFILE_NAME}"}
    assert _log(lake)["S01/ride.hrm"] == ("polar_hrm", "ingested", 4)


def test_rr_text_and_csv_local_times_use_the_profile(tmp_path: Path) -> None:
    inbox = _inbox(
        tmp_path,
        {
            "S01/rest.txt": "# start: 2026-07-01 08:00\n800\n900\n",
            "S01/rr.csv": "timestamp,rr_ms\n2026-07-01 08:00:01,1000\n",
            f"S01/{PROFILE_NAME}": 'timezone = "Europe/Berlin"\n',
        },
    )
    lake = tmp_path / "lake"
    _ingest(inbox, lake)
    beats = store.read_table(lake, "beats").sort("source", "t_utc")
    six = datetime(2026, 7, 1, 6, tzinfo=UTC)  # 08:00 in Berlin in summer (+02:00)
    assert beats.select("source", "t_utc").rows() == [
        ("csv_beats", six + timedelta(seconds=1)),
        ("rr_text", six + timedelta(milliseconds=800)),
        ("rr_text", six + timedelta(milliseconds=1700)),
    ]


def test_inspect_reads_the_nearest_profile(tmp_path: Path) -> None:
    inbox = _inbox(
        tmp_path, {"S01/rides/ride.hrm": hrm(), f"S01/{PROFILE_NAME}": 'timezone = "UTC"\n'}
    )
    summary = inspect.inspect_file(inbox / "S01" / "rides" / "ride.hrm")
    assert summary.rows_ok == 4
    assert summary.tables["beats"].first_utc == datetime(2026, 1, 5, 15, 0, 0, 800000, tzinfo=UTC)
    profile = inspect.inspect_file(inbox / "S01" / PROFILE_NAME)
    assert (profile.format, profile.rows_in) == ("subject_profile", 0)


# --- E4 tags: the episode's zone, and control days at the same local clock time ------------------


def _tags_episode(tmp_path: Path, profile: str | None) -> pl.DataFrame:
    contents = {"S01/tags_S01.csv": "1774940400\n1774940700\n"}  # 2026-03-31 07:00 UTC, 5 min
    if profile is not None:
        contents[f"S01/{PROFILE_NAME}"] = profile
    inbox, lake = _inbox(tmp_path, contents), tmp_path / "lake"
    _ingest(inbox, lake)
    return store.read_table(lake, "episodes")


def test_e4_tag_episodes_take_the_profiles_zone(tmp_path: Path) -> None:
    assert _tags_episode(tmp_path / "a", None)["tz"].to_list() == ["UTC"]
    episode = _tags_episode(tmp_path / "b", 'timezone = "Europe/Berlin"\n')
    assert episode["tz"].to_list() == ["Europe/Berlin"]
    # Controls match the local clock: the episode starts 09:00 CEST on 31 March 2026; on
    # 28 March (before the switch to summer time on the 29th) 09:00 is CET, an hour later in UTC.
    spec = windows.episode_windows_spec(episode, WindowConfig(n_controls=5))
    baseline = spec.filter(pl.col("window") == "baseline")
    onset = dict(baseline.select("control_day_offset", "window_start_utc").iter_rows())
    assert {d: onset[0] - t for d, t in onset.items() if d in (-3, -1, 1)} == {
        -3: timedelta(days=3, hours=-1),
        -1: timedelta(days=1),
        1: timedelta(days=-1),
    }
