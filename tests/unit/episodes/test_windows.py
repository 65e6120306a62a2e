"""Window spec: bounds, merging/flagging of nearby episodes, matched control days."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from tearsignals.config import WindowConfig
from tearsignals.contract import schema
from tearsignals.episodes.windows import (
    OVERLAP_REASON,
    SPEC_COLUMNS,
    analysis_units,
    data_hours,
    episode_windows_spec,
)

DEFAULT_WINDOWS = ("baseline", "pre", "acute", "during", "post_0_20", "post_20_60", "post_60_90")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def episodes_frame(*rows: tuple[str, str, datetime, datetime, str | None]) -> pl.DataFrame:
    """Canonical episodes rows from (subject, id, start, end, tz)."""
    frame = pl.DataFrame(
        [(*r, None, None, "test", "f0") for r in rows],
        schema=[
            "subject_id",
            "episode_id",
            "start_utc",
            "end_utc",
            "tz",
            "intensity",
            "context",
            "source",
            "file_id",
        ],
        orient="row",
    )
    return schema.conform(frame, "episodes")


def bounds(spec: pl.DataFrame, episode_id: str, role: str = "episode") -> dict[str, tuple]:
    rows = spec.filter((pl.col("episode_id") == episode_id) & (pl.col("role") == role))
    return {
        w: (s, e) for w, s, e in rows.select("window", "window_start_utc", "window_end_utc").rows()
    }


def control_offsets(spec: pl.DataFrame, episode_id: str) -> list[int]:
    rows = spec.filter((pl.col("episode_id") == episode_id) & (pl.col("role") == "control"))
    return sorted(rows["control_day_offset"].unique().to_list(), key=lambda d: (abs(d), d))


def control_onset(spec: pl.DataFrame, episode_id: str, offset: int) -> datetime:
    rows = spec.filter(
        (pl.col("episode_id") == episode_id)
        & (pl.col("control_day_offset") == offset)
        & (pl.col("window") == "acute")
    )
    return rows["window_start_utc"].item()


def test_default_window_bounds_are_exactly_the_design_defaults() -> None:
    eps = episodes_frame(("s1", "e1", utc(2024, 5, 2, 12, 0), utc(2024, 5, 2, 12, 10), "UTC"))
    spec = episode_windows_spec(eps, WindowConfig(n_controls=0))
    assert spec.columns == list(SPEC_COLUMNS)
    assert spec["window"].to_list() == list(DEFAULT_WINDOWS)
    assert spec["role"].unique().to_list() == ["episode"]
    assert spec["control_day_offset"].dtype == pl.Int32
    assert spec["flag_reason"].null_count() == spec.height

    def at(h: int, m: int) -> datetime:
        return utc(2024, 5, 2, h, m)

    assert bounds(spec, "e1") == {
        "baseline": (at(11, 50), at(11, 55)),
        "pre": (at(11, 55), at(12, 0)),
        "acute": (at(12, 0), at(12, 4)),
        "during": (at(12, 0), at(12, 10)),
        "post_0_20": (at(12, 10), at(12, 30)),
        "post_20_60": (at(12, 30), at(13, 10)),
        "post_60_90": (at(13, 10), at(13, 40)),
    }


def test_custom_bounds_follow_config() -> None:
    eps = episodes_frame(("s1", "e1", utc(2024, 5, 2, 12, 0), utc(2024, 5, 2, 12, 10), None))
    cfg = WindowConfig(n_controls=0, baseline_min=(-20.0, -15.0), acute_min=(0.0, 2.5))
    got = bounds(episode_windows_spec(eps, cfg), "e1")
    assert got["baseline"] == (utc(2024, 5, 2, 11, 40), utc(2024, 5, 2, 11, 45))
    assert got["acute"] == (utc(2024, 5, 2, 12, 0), utc(2024, 5, 2, 12, 2, 30))


def test_renamed_post_bins_are_labelled_by_their_bounds_in_order() -> None:
    eps = episodes_frame(("s1", "e1", utc(2024, 5, 2, 12, 0), utc(2024, 5, 2, 12, 10), None))
    cfg = WindowConfig(n_controls=0, post_bins_min=((0.0, 30.0), (30.0, 60.0), (60.0, 120.0)))
    spec = episode_windows_spec(eps, cfg)
    assert spec["window"].to_list()[3:] == ["during", "post_0_30", "post_30_60", "post_60_120"]
    got = bounds(spec, "e1")
    assert got["post_0_30"] == (utc(2024, 5, 2, 12, 10), utc(2024, 5, 2, 12, 40))
    assert got["post_30_60"] == (utc(2024, 5, 2, 12, 40), utc(2024, 5, 2, 13, 10))
    assert got["post_60_120"] == (utc(2024, 5, 2, 13, 10), utc(2024, 5, 2, 14, 10))


def test_the_effect_span_follows_the_latest_post_bin() -> None:
    """An episode 105 min after another's end meets its effect span when any bin reaches it."""
    eps = episodes_frame(
        ("s1", "e1", utc(2024, 5, 2, 12, 0), utc(2024, 5, 2, 12, 10), None),
        ("s1", "e2", utc(2024, 5, 2, 13, 55), utc(2024, 5, 2, 14, 0), None),
    )
    short = WindowConfig(n_controls=0, post_bins_min=((0.0, 90.0),))
    long = WindowConfig(n_controls=0, post_bins_min=((0.0, 120.0), (30.0, 60.0)))

    def flagged(cfg: WindowConfig) -> list[str]:
        spec = episode_windows_spec(eps, cfg)
        hits = spec.filter((pl.col("episode_id") == "e2") & pl.col("flag_reason").is_not_null())
        return hits["window"].to_list()

    assert flagged(short) == []
    assert "baseline" in flagged(long)


def test_overlapping_and_touching_episodes_merge_into_the_first() -> None:
    eps = episodes_frame(
        ("s1", "e2", utc(2024, 5, 2, 12, 5), utc(2024, 5, 2, 12, 20), None),
        ("s1", "e1", utc(2024, 5, 2, 12, 0), utc(2024, 5, 2, 12, 10), None),
        ("s1", "e3", utc(2024, 5, 2, 12, 20), utc(2024, 5, 2, 12, 25), None),  # touches e2
        ("s1", "e4", utc(2024, 5, 3, 12, 0), utc(2024, 5, 3, 12, 10), None),
        ("s2", "x1", utc(2024, 5, 2, 12, 5), utc(2024, 5, 2, 12, 20), None),  # other subject
    )
    units = analysis_units(eps)
    assert units.select("subject_id", "episode_id").rows() == [
        ("s1", "e1"),
        ("s1", "e4"),
        ("s2", "x1"),
    ]
    assert units["merged_episode_ids"].to_list()[0] == ["e1", "e2", "e3"]
    spec = episode_windows_spec(eps, WindowConfig(n_controls=0))
    assert set(spec["episode_id"].unique()) == {"e1", "e4", "x1"}
    assert bounds(spec, "e1")["during"] == (utc(2024, 5, 2, 12, 0), utc(2024, 5, 2, 12, 25))
    assert spec.filter(pl.col("episode_id") == "e1").height == len(DEFAULT_WINDOWS)
    assert spec["flag_reason"].null_count() == spec.height  # a day apart: no flags


def test_episode_nearby_flags_only_the_affected_windows_of_both() -> None:
    # e2 starts 30 min after e1 ends: e1's late post bins and e2's early windows mix.
    eps = episodes_frame(
        ("s1", "e1", utc(2024, 5, 2, 12, 0), utc(2024, 5, 2, 12, 10), None),
        ("s1", "e2", utc(2024, 5, 2, 12, 40), utc(2024, 5, 2, 12, 45), None),
    )
    spec = episode_windows_spec(eps, WindowConfig(n_controls=0))
    flagged = {
        (e, w)
        for e, w, f in spec.select("episode_id", "window", "flag_reason").rows()
        if f == OVERLAP_REASON
    }
    # e2's effect span is [12:35, 14:15); e1's is [11:55, 13:40).
    assert flagged == {
        ("e1", "post_20_60"),
        ("e1", "post_60_90"),
        ("e2", "baseline"),
        ("e2", "pre"),
        ("e2", "acute"),
        ("e2", "during"),
        ("e2", "post_0_20"),
        ("e2", "post_20_60"),
    }


def test_control_days_nearest_first_ties_to_the_earlier_day() -> None:
    eps = episodes_frame(("s1", "e1", utc(2024, 5, 10, 12, 0), utc(2024, 5, 10, 12, 10), "UTC"))
    spec = episode_windows_spec(eps, WindowConfig(n_controls=3))
    assert control_offsets(spec, "e1") == [-1, 1, -2]
    assert control_onset(spec, "e1", -2) == utc(2024, 5, 8, 12, 0)
    ctl = spec.filter(pl.col("role") == "control")
    assert ctl.height == 3 * len(DEFAULT_WINDOWS)
    assert ctl["flag_reason"].null_count() == ctl.height


def test_control_windows_keep_the_episode_window_durations() -> None:
    eps = episodes_frame(
        ("s1", "e1", utc(2024, 3, 31, 0, 30), utc(2024, 3, 31, 1, 30), "Europe/Berlin")
    )
    spec = episode_windows_spec(eps, WindowConfig(n_controls=2))
    span = (pl.col("window_end_utc") - pl.col("window_start_utc")).alias("span")
    per_role = spec.select("role", "control_day_offset", "window", span)
    episode = per_role.filter(pl.col("role") == "episode").select("window", "span")
    for d in control_offsets(spec, "e1"):
        ctl = per_role.filter(pl.col("control_day_offset") == d).select("window", "span")
        assert ctl.rows() == episode.rows()


def test_dst_spring_forward_controls_keep_local_clock_time() -> None:
    # Berlin switched to summer time on 2024-03-31 at 02:00 local.
    # 2024-03-31 12:00 CEST = 10:00 UTC; the day before 12:00 CET = 11:00 UTC (23 h earlier).
    on_switch_day = ("s1", "e1", utc(2024, 3, 31, 10, 0), utc(2024, 3, 31, 10, 10), "Europe/Berlin")
    # 2024-04-01 01:00 CEST = 2024-03-31 23:00 UTC; the day before 01:00 CET = 00:00 UTC.
    day_after = ("s2", "e2", utc(2024, 3, 31, 23, 0), utc(2024, 3, 31, 23, 10), "Europe/Berlin")
    spec = episode_windows_spec(
        episodes_frame(on_switch_day, day_after), WindowConfig(n_controls=2)
    )
    assert control_onset(spec, "e1", -1) == utc(2024, 3, 31, 10, 0) - timedelta(hours=23)
    assert control_onset(spec, "e1", 1) == utc(2024, 3, 31, 10, 0) + timedelta(hours=24)
    assert control_onset(spec, "e2", -1) == utc(2024, 3, 31, 23, 0) - timedelta(hours=23)
    assert control_onset(spec, "e2", 1) == utc(2024, 3, 31, 23, 0) + timedelta(hours=24)


def test_dst_fall_back_control_is_25_hours_away() -> None:
    # Berlin left summer time on 2024-10-27 at 03:00 local. 2024-10-28 12:00 CET = 11:00 UTC;
    # 2024-10-27 12:00 CET = 11:00 UTC too, but 2024-10-26 12:00 CEST = 10:00 UTC.
    eps = episodes_frame(
        ("s1", "e1", utc(2024, 10, 27, 11), utc(2024, 10, 27, 11, 5), "Europe/Berlin")
    )
    spec = episode_windows_spec(eps, WindowConfig(n_controls=2))
    assert control_onset(spec, "e1", -1) == utc(2024, 10, 26, 10, 0)
    assert control_onset(spec, "e1", 1) == utc(2024, 10, 28, 11, 0)


def test_control_in_spring_forward_gap_is_skipped() -> None:
    # 2024-04-01 02:30 CEST (00:30 UTC): 02:30 did not exist in Berlin on 2024-03-31.
    eps = episodes_frame(
        ("s1", "e1", utc(2024, 4, 1, 0, 30), utc(2024, 4, 1, 0, 40), "Europe/Berlin")
    )
    spec = episode_windows_spec(eps, WindowConfig(n_controls=2))
    assert control_offsets(spec, "e1") == [1, -2]


@pytest.mark.parametrize("tz", [None, "UTC", "+02:00", "not/a-zone"])
def test_non_iana_time_zones_shift_by_whole_days(tz: str | None) -> None:
    onset = utc(2024, 3, 31, 10, 0)
    eps = episodes_frame(("s1", "e1", onset, onset + timedelta(minutes=5), tz))
    spec = episode_windows_spec(eps, WindowConfig(n_controls=1))
    assert control_onset(spec, "e1", -1) == onset - timedelta(days=1)


def test_controls_skip_days_with_an_episode_within_exclusion_hours() -> None:
    # e1's windows span 11:50-13:40 UTC; with +-3 h nothing may lie in 08:50-16:40 on a control day.
    eps = episodes_frame(
        ("s1", "e1", utc(2024, 5, 10, 12, 0), utc(2024, 5, 10, 12, 10), "UTC"),
        ("s1", "near", utc(2024, 5, 9, 16, 30), utc(2024, 5, 9, 16, 35), "UTC"),  # blocks -1
        ("s1", "far", utc(2024, 5, 11, 16, 45), utc(2024, 5, 11, 16, 50), "UTC"),  # +1 is fine
        (
            "s1",
            "early",
            utc(2024, 5, 8, 8, 0),
            utc(2024, 5, 8, 9, 0),
            "UTC",
        ),  # ends 09:00: blocks -2
    )
    spec = episode_windows_spec(eps, WindowConfig(n_controls=2))
    assert control_offsets(spec, "e1") == [1, 2]


def test_other_subjects_episodes_do_not_block_controls() -> None:
    eps = episodes_frame(
        ("s1", "e1", utc(2024, 5, 10, 12, 0), utc(2024, 5, 10, 12, 10), "UTC"),
        ("s2", "x1", utc(2024, 5, 9, 12, 0), utc(2024, 5, 9, 12, 10), "UTC"),
    )
    spec = episode_windows_spec(eps, WindowConfig(n_controls=1))
    assert control_offsets(spec, "e1") == [-1]


def test_controls_are_chosen_per_window_by_data_in_its_hours() -> None:
    """Episode 12:00-12:10 UTC. A control day serves a window when the clock hours of its
    baseline (11:50-11:55) and of that window hold data: day -1 has only 11:00 (pre),
    day +1 11:00-12:00 (up to post_0_20, 12:10-12:30), day -2 11:00-13:00 (every
    window; post_60_90 is 13:10-13:40). With one control per window each window gets
    the nearest day that serves it; the old rule (data in the baseline..acute hours for
    all windows) took day +1 for the post windows it has no data for."""
    eps = episodes_frame(("s1", "e1", utc(2024, 5, 10, 12, 0), utc(2024, 5, 10, 12, 10), "UTC"))
    times = [
        utc(2024, 5, 9, 11, 55),
        *(utc(2024, 5, 11, h, 30) for h in (11, 12)),
        *(utc(2024, 5, 8, h, 30) for h in (11, 12, 13)),
        utc(2024, 5, 12, 11, 30),  # day +2: another subject's data
        utc(2024, 5, 12, 12, 30),
    ]
    samples = pl.DataFrame({"subject_id": ["s1"] * 6 + ["s2"] * 2, "t_utc": times}).with_columns(
        pl.col("t_utc").cast(pl.Datetime("us", "UTC"))
    )
    hours = data_hours(samples)
    assert hours.columns == ["subject_id", "hour_utc"]
    spec = episode_windows_spec(eps, WindowConfig(n_controls=1), data_hours=hours)
    assert control_offsets(spec, "e1") == [-1, 1, -2]
    # Every chosen day carries all windows (the shifts pick per window).
    per_day = spec.filter(pl.col("role") == "control").group_by("control_day_offset").len()
    assert set(per_day["len"]) == {len(DEFAULT_WINDOWS)}
    # Three controls per window: the days that serve each, nearest first.
    spec3 = episode_windows_spec(eps, WindowConfig(n_controls=3), data_hours=hours)
    assert control_offsets(spec3, "e1") == [-1, 1, -2]


def test_acute_ends_at_the_end_of_a_short_episode() -> None:
    eps = episodes_frame(
        ("s1", "e1", utc(2024, 5, 10, 12, 0), utc(2024, 5, 10, 12, 2), "UTC"),
        ("s1", "e2", utc(2024, 5, 12, 12, 0), utc(2024, 5, 12, 12, 0), "UTC"),
        ("s1", "e3", utc(2024, 5, 14, 12, 0), utc(2024, 5, 14, 12, 30), "UTC"),
    )
    spec = episode_windows_spec(eps, WindowConfig(n_controls=1))
    assert bounds(spec, "e1")["acute"] == (utc(2024, 5, 10, 12, 0), utc(2024, 5, 10, 12, 2))
    assert bounds(spec, "e1", "control")["acute"] == (
        utc(2024, 5, 9, 12, 0),
        utc(2024, 5, 9, 12, 2),
    )
    assert bounds(spec, "e2")["acute"] == (utc(2024, 5, 12, 12, 0), utc(2024, 5, 12, 12, 0))
    assert bounds(spec, "e3")["acute"] == (utc(2024, 5, 14, 12, 0), utc(2024, 5, 14, 12, 4))


def test_empty_episodes_give_an_empty_spec() -> None:
    spec = episode_windows_spec(schema.empty("episodes"), WindowConfig())
    assert spec.is_empty()
    assert spec.columns == list(SPEC_COLUMNS)


def test_inputs_are_not_mutated() -> None:
    eps = episodes_frame(("s1", "e1", utc(2024, 5, 10, 12, 0), utc(2024, 5, 10, 12, 10), "UTC"))
    before = eps.clone()
    episode_windows_spec(eps, WindowConfig())
    assert eps.equals(before)
