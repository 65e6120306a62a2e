"""The synthetic cohort: determinism, episode rules, physiology ranges, planted effect, files."""

from __future__ import annotations

import json
import math
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl
import pytest

from tearsignals.config import WindowConfig
from tearsignals.synth import (
    POST_EFFECT_MIN,
    PlantedEffect,
    SubjectData,
    SynthConfig,
    generate_subject,
    recording_bounds_utc,
    spaced_episodes,
    write_cohort,
)

MIN = timedelta(minutes=1)

# Many episodes on few days, no minute-HR subject: enough episodes to average over.
EFFECT_CFG = SynthConfig(n_subjects=3, n_days=12, episodes_per_month=30.0, minute_hr_every=0)
# Index 3 is a minute-HR subject under the default minute_hr_every=4.
MIXED_CFG = SynthConfig(n_subjects=4, n_days=8, episodes_per_month=20.0, seed=7)


@pytest.fixture(scope="module")
def effect_cohort() -> list[SubjectData]:
    return [generate_subject(i, EFFECT_CFG) for i in range(EFFECT_CFG.n_subjects)]


@pytest.fixture(scope="module")
def zero_cohort() -> list[SubjectData]:
    cfg = EFFECT_CFG.model_copy(update={"effect": PlantedEffect.zero()})
    return [generate_subject(i, cfg) for i in range(cfg.n_subjects)]


@pytest.fixture(scope="module")
def mixed_cohort() -> list[SubjectData]:
    return [generate_subject(i, MIXED_CFG) for i in range(MIXED_CFG.n_subjects)]


def _rr_between(beats: pl.DataFrame, lo: datetime, hi: datetime) -> np.ndarray:
    return beats.filter(pl.col("t_utc").is_between(lo, hi, closed="left"))["rr_ms"].to_numpy()


def _rmssd_ms(rr: np.ndarray) -> float:
    """RMSSD over successive differences that are not ectopic jumps (> 20 %)."""
    diffs = np.diff(rr)
    clean = np.abs(diffs) < 0.2 * rr[1:]
    return float(np.sqrt(np.mean(diffs[clean] ** 2)))


def _episodes_of(cohort: list[SubjectData]) -> list[tuple[SubjectData, datetime, datetime]]:
    return [
        (s, on, end) for s in cohort for on, end in s.episodes.select("start_utc", "end_utc").rows()
    ]


def _during_minus_baseline_bpm(cohort: list[SubjectData]) -> list[float]:
    """Mean instantaneous HR in [onset, end) minus mean in [onset-10, onset-5) per episode."""
    shifts = []
    for subject, onset, end in _episodes_of(cohort):
        assert subject.beats is not None
        during = _rr_between(subject.beats, onset, end)
        baseline = _rr_between(subject.beats, onset - 10 * MIN, onset - 5 * MIN)
        shifts.append(float(np.mean(60000.0 / during) - np.mean(60000.0 / baseline)))
    return shifts


def _file_bytes(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


# --- determinism -------------------------------------------------------------------------


def test_same_seed_writes_identical_bytes_and_other_seed_differs(tmp_path: Path) -> None:
    cfg = SynthConfig(n_subjects=4, n_days=2, episodes_per_month=30.0)
    write_cohort(tmp_path / "a", cfg)
    write_cohort(tmp_path / "b", cfg)
    write_cohort(tmp_path / "c", cfg.model_copy(update={"seed": 1}))
    first, again, other = (_file_bytes(tmp_path / d) for d in "abc")
    assert len(first) == 8
    assert first == again
    assert first.keys() == other.keys()
    for name in ("S01/rr_S01.csv", "S02/rr_S02.csv", "S04/hr_S04.csv"):
        assert first[name] != other[name]


def test_subject_does_not_depend_on_cohort_size_or_effect() -> None:
    small = generate_subject(2, SynthConfig(n_subjects=3, n_days=3, episodes_per_month=30.0))
    large = generate_subject(2, SynthConfig(n_subjects=9, n_days=3, episodes_per_month=30.0))
    zero = generate_subject(
        2,
        SynthConfig(n_subjects=3, n_days=3, episodes_per_month=30.0, effect=PlantedEffect.zero()),
    )
    assert small.beats is not None and large.beats is not None
    assert small.beats.equals(large.beats)
    assert small.episodes.equals(zero.episodes)
    assert small.artifacts.filter(pl.col("kind") == "dropout").equals(
        zero.artifacts.filter(pl.col("kind") == "dropout")
    )


# --- episodes ----------------------------------------------------------------------------


def test_episodes_follow_spacing_duration_and_value_rules(effect_cohort: list[SubjectData]) -> None:
    n_episodes = 0
    for subject in effect_cohort:
        episodes = subject.episodes.sort("start_utc")
        starts, ends = episodes["start_utc"].to_list(), episodes["end_utc"].to_list()
        local_days = [s.astimezone(ZoneInfo(subject.tz)).date() for s in starts]
        assert len(set(local_days)) == len(local_days), "more than one episode on a day"
        for prev_end, start in zip(ends, starts[1:], strict=False):
            assert start - prev_end >= timedelta(hours=4)
        durations = [(e - s) / MIN for s, e in zip(starts, ends, strict=True)]
        assert all(3 <= d <= 20 and d == int(d) for d in durations)
        assert all(s.second == 0 and s.microsecond == 0 for s in starts)
        assert episodes["intensity"].is_between(1, 10).all()
        assert episodes["context"].null_count() == 0
        n_episodes += episodes.height
    assert n_episodes >= 20


def test_spaced_episodes_drops_an_episode_too_close_to_the_previous() -> None:
    t0 = datetime(2026, 1, 5, 16, 0, tzinfo=ZoneInfo("UTC"))
    plan = pl.DataFrame(
        {
            "start_utc": [t0, t0 + timedelta(hours=3), t0 + timedelta(hours=5)],
            "end_utc": [
                t0 + 10 * MIN,
                t0 + timedelta(hours=3, minutes=10),
                t0 + timedelta(hours=5),
            ],
        }
    )
    kept = spaced_episodes(plan)
    assert kept["start_utc"].to_list() == [t0, t0 + timedelta(hours=5)]


def test_recording_covers_every_episode_window(mixed_cohort: list[SubjectData]) -> None:
    for subject, onset, end in _episodes_of(mixed_cohort):
        lo, hi = onset - 30 * MIN, end + 100 * MIN
        day = subject.recordings.filter(pl.col("start_utc") <= lo, pl.col("end_utc") >= hi)
        assert day.height == 1, f"{subject.subject_id}: no recording covers {lo}..{hi}"
        signal = subject.beats if subject.beats is not None else subject.heart_rate
        assert signal is not None
        times = signal.filter(pl.col("t_utc").is_between(day["start_utc"][0], day["end_utc"][0]))
        assert times["t_utc"].min() <= lo  # type: ignore[operator]
        assert times["t_utc"].max() >= hi  # type: ignore[operator]


# --- physiology --------------------------------------------------------------------------


def test_rr_and_hr_are_in_plausible_ranges(mixed_cohort: list[SubjectData]) -> None:
    for subject in mixed_cohort:
        assert 60.0 <= subject.resting_hr_bpm <= 75.0
        if subject.beats is None:
            continue
        ectopic = subject.artifacts.filter(pl.col("kind") == "ectopic")
        flagged = pl.concat([ectopic["start_utc"], ectopic["end_utc"]])
        regular = subject.beats.filter(~pl.col("t_utc").is_in(flagged.implode()))
        assert regular["rr_ms"].is_between(300.0, 2000.0).all()
        assert subject.beats["rr_ms"].is_between(200.0, 5000.0).all()
        assert 0.002 <= ectopic.height / subject.beats.height <= 0.006
        hr = 60000.0 / regular["rr_ms"].to_numpy()
        assert 55.0 <= float(np.median(hr)) <= 82.0
        assert 20.0 <= _rmssd_ms(regular["rr_ms"].to_numpy()) <= 55.0


def test_beat_times_follow_rr_except_across_dropouts(mixed_cohort: list[SubjectData]) -> None:
    subject = mixed_cohort[0]
    assert subject.beats is not None
    t_ms = subject.beats["t_utc"].dt.epoch("ms").to_numpy()
    rr = subject.beats["rr_ms"].to_numpy()
    gap_ms = np.diff(t_ms) - rr[1:]
    same_day = np.diff(t_ms) < 3_600_000
    jumps = np.abs(gap_ms[same_day]) > 2.0
    n_dropouts = subject.artifacts.filter(pl.col("kind") == "dropout").height
    assert 1 <= jumps.sum() <= n_dropouts
    assert np.all(gap_ms[same_day][jumps] >= 4000.0)


def test_minute_hr_subject_has_one_sample_per_minute(mixed_cohort: list[SubjectData]) -> None:
    subject = mixed_cohort[3]
    assert subject.beats is None and subject.heart_rate is not None
    hr = subject.heart_rate
    assert hr.height == MIXED_CFG.n_days * 510
    assert (hr["t_utc"].dt.second() == 0).all()
    assert hr["hr_bpm"].is_between(40.0, 110.0).all()
    assert (hr["hr_bpm"] * 10).round(6).equals((hr["hr_bpm"] * 10).round(0))


# --- planted effect ----------------------------------------------------------------------


def test_planted_hr_effect_is_recovered(effect_cohort: list[SubjectData]) -> None:
    shifts = _during_minus_baseline_bpm(effect_cohort)
    assert len(shifts) >= 20
    assert np.mean(shifts) == pytest.approx(EFFECT_CFG.effect.hr_during_bpm, abs=1.0)


def test_zero_effect_leaves_hr_unchanged(zero_cohort: list[SubjectData]) -> None:
    assert np.mean(_during_minus_baseline_bpm(zero_cohort)) == pytest.approx(0.0, abs=1.0)


def test_planted_rmssd_ratio_in_post_0_20(
    effect_cohort: list[SubjectData], zero_cohort: list[SubjectData]
) -> None:
    log_ratios = []
    for (with_effect, onset, end), (without, _, _) in zip(
        _episodes_of(effect_cohort), _episodes_of(zero_cohort), strict=True
    ):
        assert with_effect.beats is not None and without.beats is not None
        post = (end, end + 20 * MIN)
        baseline = (onset - 10 * MIN, onset - 5 * MIN)
        log_ratios.append(
            math.log(_rmssd_ms(_rr_between(with_effect.beats, *post)))
            - math.log(_rmssd_ms(_rr_between(without.beats, *post)))
        )
        assert _rr_between(with_effect.beats, *baseline).tolist() == (
            _rr_between(without.beats, *baseline).tolist()
        )
    assert math.exp(np.mean(log_ratios)) == pytest.approx(1.2, abs=0.03)


def test_minute_hr_subject_carries_the_hr_effect(mixed_cohort: list[SubjectData]) -> None:
    subject = mixed_cohort[3]
    assert subject.heart_rate is not None
    hr = subject.heart_rate
    shifts = []
    for onset, end in subject.episodes.select("start_utc", "end_utc").rows():
        during = hr.filter(pl.col("t_utc").is_between(onset, end, closed="left"))["hr_bpm"]
        base = hr.filter(
            pl.col("t_utc").is_between(onset - 10 * MIN, onset - 5 * MIN, closed="left")
        )["hr_bpm"]
        shifts.append(during.mean() - base.mean())  # type: ignore[operator]
    assert len(shifts) >= 3
    assert np.mean(shifts) == pytest.approx(8.0, abs=2.5)


# --- time zones --------------------------------------------------------------------------


def test_berlin_recording_starts_at_15_local_across_dst() -> None:
    cfg = SynthConfig(n_subjects=1, n_days=4, start_date=date(2026, 3, 27))
    subject = generate_subject(0, cfg)
    assert subject.tz == "Europe/Berlin" and subject.beats is not None
    berlin = ZoneInfo("Europe/Berlin")
    first = (
        subject.beats.group_by(pl.col("t_utc").dt.date().alias("day"))
        .agg(pl.col("t_utc").min())
        .sort("t_utc")
    )
    assert first.height == 4
    for start in first["t_utc"]:
        local = start.astimezone(berlin)
        assert time(15, 0) <= local.time() <= time(15, 0, 2)
    utc_hours = [start.hour for start in subject.recordings["start_utc"]]
    assert utc_hours == [14, 14, 13, 13]
    assert recording_bounds_utc(date(2026, 3, 29), "Europe/Berlin")[0].hour == 13


def test_written_offsets_follow_dst(tmp_path: Path) -> None:
    cfg = SynthConfig(n_subjects=1, n_days=4, start_date=date(2026, 3, 27))
    write_cohort(tmp_path, cfg)
    stamps = pl.read_csv(tmp_path / "S01" / "rr_S01.csv")["timestamp"]
    offsets = stamps.str.slice(-6).unique(maintain_order=True).to_list()
    assert offsets == ["+01:00", "+02:00"]
    assert stamps.str.slice(11, 8).min() >= "15:00:00"


# --- written files -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[SubjectData]]:
    root = tmp_path_factory.mktemp("inbox")
    return root, write_cohort(root, MIXED_CFG)


def test_rr_files_round_trip_to_the_truth(written: tuple[Path, list[SubjectData]]) -> None:
    root, truth = written
    iso = pl.read_csv(root / "S01" / "rr_S01.csv", infer_schema=False)
    assert iso.columns == ["timestamp", "rr_ms"]
    assert iso["timestamp"][0].endswith(("+01:00", "+02:00"))
    parsed = iso.select(
        pl.col("timestamp").str.to_datetime("%Y-%m-%dT%H:%M:%S%.3f%:z", time_unit="us"),
        pl.col("rr_ms").cast(pl.Float64),
    )
    assert truth[0].beats is not None
    assert parsed["timestamp"].dt.convert_time_zone("UTC").equals(truth[0].beats["t_utc"])
    assert parsed["rr_ms"].equals(truth[0].beats["rr_ms"])
    epoch = pl.read_csv(root / "S02" / "rr_S02.csv")
    assert epoch.columns == ["timestamp_ms", "rr_ms"]
    assert truth[1].beats is not None
    assert epoch["timestamp_ms"].to_list() == truth[1].beats["t_utc"].dt.epoch("ms").to_list()


def test_minute_hr_file_has_local_iso_stamps(written: tuple[Path, list[SubjectData]]) -> None:
    root, truth = written
    hr = pl.read_csv(root / "S04" / "hr_S04.csv", infer_schema=False)
    assert hr.columns == ["timestamp", "hr_bpm"]
    assert truth[3].heart_rate is not None
    assert hr.height == truth[3].heart_rate.height
    assert hr["timestamp"][0] == "2026-01-05T15:00:00.000+00:00"


def test_episode_csv_has_truth_plus_one_naive_row(written: tuple[Path, list[SubjectData]]) -> None:
    root, truth = written
    log = pl.read_csv(root / "S01" / "episodes.csv", infer_schema=False)
    assert log.columns == ["start", "end", "tz", "intensity", "context"]
    assert log.height == truth[0].episodes.height + 1
    assert log["tz"].null_count() == 1 and log["tz"][-1] is None
    starts = log.head(-1).select(pl.col("start").str.to_datetime("%Y-%m-%d %H:%M", time_unit="us"))[
        "start"
    ]
    local = starts.dt.replace_time_zone("Europe/Berlin").dt.convert_time_zone("UTC")
    assert local.equals(truth[0].episodes["start_utc"])
    assert log.head(-1)["context"].to_list() == truth[0].episodes["context"].to_list()
    no_naive = pl.read_csv(root / "S03" / "episodes.csv", infer_schema=False)
    assert no_naive.height == truth[2].episodes.height


def test_episode_json_matches_truth(written: tuple[Path, list[SubjectData]]) -> None:
    root, truth = written
    records = json.loads((root / "S02" / "episodes.json").read_text())
    assert len(records) == truth[1].episodes.height
    for record, row in zip(records, truth[1].episodes.iter_rows(named=True), strict=True):
        assert set(record) == {"start", "duration_min", "intensity", "context"}
        start = datetime.fromisoformat(record["start"])
        assert start.utcoffset() is not None
        assert start == row["start_utc"]
        assert start + timedelta(minutes=record["duration_min"]) == row["end_utc"]
        assert record["intensity"] == row["intensity"]


def test_contexts_with_commas_survive_csv(tmp_path: Path) -> None:
    cfg = SynthConfig(n_subjects=1, n_days=30, episodes_per_month=30.0, seed=3)
    truth = write_cohort(tmp_path, cfg)[0]
    log = pl.read_csv(tmp_path / "S01" / "episodes.csv", infer_schema=False)
    assert any("," in c for c in truth.episodes["context"])
    assert log.head(-1)["context"].to_list() == truth.episodes["context"].to_list()


# --- PlantedEffect -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hr_during_bpm=8,rmssd_post_0_20_ratio=1.2", PlantedEffect()),
        (" none ", PlantedEffect.zero()),
        ("NONE", PlantedEffect.zero()),
        ("hr_during_bpm = 5", PlantedEffect(hr_during_bpm=5.0, rmssd_post_0_20_ratio=1.2)),
        ("rmssd_post_0_20_ratio=0.8", PlantedEffect(hr_during_bpm=8.0, rmssd_post_0_20_ratio=0.8)),
    ],
)
def test_parse_accepts_good_text(text: str, expected: PlantedEffect) -> None:
    assert PlantedEffect.parse(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "hr_during_bpm",
        "hr=8",
        "hr_during_bpm=abc",
        "hr_during_bpm=8,hr_during_bpm=9",
        "hr_during_bpm=8,",
        "rmssd_post_0_20_ratio=0",
        "hr_during_bpm=nan",
        "hr_during_bpm=500",
    ],
)
def test_parse_rejects_bad_text_with_value_error(text: str) -> None:
    with pytest.raises(ValueError, match="bad effect"):
        PlantedEffect.parse(text)


def test_expected_shifts() -> None:
    shifts = PlantedEffect(hr_during_bpm=6.0, rmssd_post_0_20_ratio=1.5).expected_shifts()
    assert shifts == {
        ("mean_hr_bpm", "during"): 6.0,
        ("ln_rmssd", "post_0_20"): pytest.approx(math.log(1.5)),
    }
    assert set(PlantedEffect.zero().expected_shifts().values()) == {0.0}


def test_the_planted_rmssd_window_is_the_analysis_window_of_its_span() -> None:
    """The effect's name, its expected-shift window and the analysis's default bin agree."""
    (span,) = (s for s in WindowConfig().spans() if s.name == "post_0_20")
    assert (span.start_min, span.end_min) == (0.0, POST_EFFECT_MIN)
    windows = {window for _, window in PlantedEffect().expected_shifts()}
    assert windows <= set(WindowConfig().names())
    assert f"rmssd_{span.name}_ratio" in PlantedEffect.model_fields


def _hourly_hr_bpm(beats: pl.DataFrame) -> pl.DataFrame:
    """Mean instantaneous HR per hour since each day's recording start (hour 0, 1, ...)."""
    return (
        beats.with_columns(day=pl.col("t_utc").dt.date(), hr=60000.0 / pl.col("rr_ms"))
        .with_columns(
            hour=((pl.col("t_utc") - pl.col("t_utc").min().over("day")).dt.total_seconds() // 3600)
        )
        .group_by("hour")
        .agg(pl.col("hr").mean())
        .sort("hour")
    )


def test_circadian_drift_raises_heart_rate_by_the_stated_rate_per_hour() -> None:
    base = SynthConfig(n_subjects=1, n_days=6, episodes_per_month=0.0, minute_hr_every=0)
    drifting = base.model_copy(update={"drift_bpm_per_h": 2.0})
    beats = [generate_subject(0, cfg).beats for cfg in (base, drifting)]
    assert beats[0] is not None and beats[1] is not None
    plain, moved = _hourly_hr_bpm(beats[0]), _hourly_hr_bpm(beats[1])
    gain = moved["hr"] - plain["hr"]
    slope = np.polyfit(plain["hour"].to_numpy(), gain.to_numpy(), 1)[0]
    assert slope == pytest.approx(2.0, abs=0.15)
    assert float(gain.mean()) == pytest.approx(0.0, abs=0.6)  # centred on the recording


def test_subject_effects_spread_around_the_population_effect_by_the_stated_sd() -> None:
    from tearsignals.synth.subjects import subject_effect

    effect = PlantedEffect(hr_during_sd_bpm=2.0, ln_rmssd_ratio_sd=0.1)
    cfg = SynthConfig(n_subjects=1, effect=effect)
    hr, ratio = np.array([subject_effect(i, cfg) for i in range(400)]).T
    assert hr.mean() == pytest.approx(effect.hr_during_bpm, abs=0.25)
    assert hr.std(ddof=1) == pytest.approx(2.0, rel=0.12)
    assert np.log(ratio).mean() == pytest.approx(math.log(1.2), abs=0.015)
    assert np.log(ratio).std(ddof=1) == pytest.approx(0.1, rel=0.12)
    same = SynthConfig(n_subjects=1)
    for i in range(5):
        assert subject_effect(i, same) == (8.0, pytest.approx(1.2, rel=1e-12))


def test_heterogeneity_changes_only_the_effect_itself() -> None:
    cfg = SynthConfig(n_subjects=1, n_days=3, episodes_per_month=20.0, minute_hr_every=0)
    spread = cfg.model_copy(update={"effect": PlantedEffect(hr_during_sd_bpm=3.0)})
    a, b = generate_subject(0, cfg), generate_subject(0, spread)
    assert a.episodes.equals(b.episodes)
    assert a.beats is not None and b.beats is not None
    assert a.beats.height != b.beats.height or not a.beats.equals(b.beats)
    outside = pl.col("t_utc") < a.episodes["start_utc"].min()
    assert a.beats.filter(outside).equals(b.beats.filter(outside))
