"""A strap and a watch on two clocks, through ingest and ``pipeline.analyze_subject``."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest

from tearsignals import pipeline
from tearsignals.config import AnalysisConfig
from tearsignals.ingest import files
from tearsignals.lake import store
from tests.support.two_devices import T0, heart_curve_bpm, strap_beats, watch_minutes

PLANTED_S = 97.0
CFG = AnalysisConfig()


def _iso(column: str) -> pl.Expr:
    return pl.col(column).dt.strftime("%Y-%m-%dT%H:%M:%S%.3f+00:00").alias("timestamp")


def _two_device_lake(root: Path) -> Path:
    """Inbox of one subject (strap RR, watch minute HR 97 s early, one episode), ingested."""
    inbox, lake = root / "inbox", root / "lake"
    folder = inbox / "S1"
    folder.mkdir(parents=True)
    curve = heart_curve_bpm(seed=31, hours=3)
    strap_beats(curve, seed=32).select(_iso("t_utc"), "rr_ms").write_csv(folder / "rr_strap.csv")
    watch = watch_minutes(curve, PLANTED_S, seed=33).select(_iso("t_utc"), "hr_bpm")
    watch.write_csv(folder / "hr_watch.csv", float_precision=1)
    onset = T0 + timedelta(minutes=90)
    (folder / "episodes.csv").write_text(
        "start,end,tz,intensity,context\n"
        f"{onset:%Y-%m-%d %H:%M},{onset + timedelta(minutes=6):%Y-%m-%d %H:%M},UTC,5,alone\n"
    )
    for subject_id, path in files.inbox_files(inbox):
        report = files.ingest_file(lake, inbox, subject_id, path)
        assert report is not None and report.status == "ingested", report
    return lake


def test_analysis_writes_clock_offsets_and_puts_the_watch_on_the_strap_clock(
    tmp_path: Path,
) -> None:
    lake = _two_device_lake(tmp_path)
    counts = pipeline.analyze_subject(lake, "S1", CFG)
    offsets = store.read_table(lake, "clock_offsets")
    assert counts["clock_offsets"] == offsets.height == 1
    row = offsets.row(0, named=True)
    assert (row["source"], row["reference_source"]) == ("csv_hr", "csv_beats")
    assert row["status"] == "applied" and row["params_hash"] == CFG.params_hash()
    assert abs(row["offset_s"] - PLANTED_S) <= 5.0

    # The silver stamps keep the watch's clock; the analysis reads them on the strap's,
    # where each minute of HR starts on a whole minute of the strap's recording.
    silver = store.read_table(lake, "heart_rate").sort("t_utc")
    seen = pipeline.subject_inputs(lake, "S1", CFG).heart_rate.sort("t_utc")
    moved_s = (seen["t_utc"] - silver["t_utc"]).dt.total_microseconds() / 1e6
    assert moved_s.unique().to_list() == pytest.approx([row["offset_s"]], abs=1e-6)
    past_minute = (seen["t_utc"] - T0).dt.total_microseconds() / 1e6 % 60.0
    assert past_minute.map_elements(lambda s: min(s, 60.0 - s), float).max() <= 5.0


def test_analysis_without_the_estimate_reads_the_watch_as_stamped(tmp_path: Path) -> None:
    lake = _two_device_lake(tmp_path)
    cfg = AnalysisConfig.model_validate({"clock": {"enabled": False}})
    pipeline.analyze_subject(lake, "S1", cfg)
    assert store.read_table(lake, "clock_offsets").is_empty()
    seen = pipeline.subject_inputs(lake, "S1", cfg).heart_rate.sort("t_utc")
    assert seen["t_utc"].equals(store.read_table(lake, "heart_rate").sort("t_utc")["t_utc"])
