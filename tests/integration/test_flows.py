"""Both flows as real Prefect runs on a small synthetic cohort, end to end into Parquet."""

from __future__ import annotations

import hashlib
from pathlib import Path

import polars as pl
import pytest

from tearsignals.config import AnalysisConfig
from tearsignals.contract import schema
from tearsignals.lake import layout, store
from tearsignals.synth import PlantedEffect, SynthConfig, write_cohort
from tearsignals_flows.analyze_episodes import analyze_episodes
from tearsignals_flows.nightly_ingest import nightly_ingest

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("prefect_harness")]

EFFECT = PlantedEffect()
SMALL = SynthConfig(n_subjects=5, n_days=21, seed=11, episodes_per_month=5.0, effect=EFFECT)
SILVER = ("beats", "heart_rate", "episodes", "quarantine", "_ingest_log")
GOLD = ("episode_windows", "episode_shifts", "subject_summary", "cohort_summary")


def _lake_digest(lake: Path, tables: tuple[str, ...]) -> dict[str, str]:
    """Content hash per table, independent of file names and row order."""
    out = {}
    for table in tables:
        frame = store.read_table(lake, table)
        frame = frame.drop([c for c in ("ingested_at",) if c in frame.columns])
        row_hashes = frame.hash_rows(seed=0).sort().to_numpy()
        out[table] = hashlib.sha256(row_hashes.tobytes()).hexdigest()
    return out


def _data_records(inbox: Path) -> int:
    """Records in the inbox files: CSV lines after the header, JSON list items."""
    import json

    total = 0
    for path in inbox.rglob("*"):
        if path.suffix == ".csv":
            total += max(len(path.read_text().splitlines()) - 1, 0)
        elif path.suffix == ".json":
            total += len(json.loads(path.read_text()))
    return total


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, object]]:
    root = tmp_path_factory.mktemp("cohort")
    inbox, lake = root / "inbox", root / "lake"
    write_cohort(inbox, SMALL)
    result = nightly_ingest(inbox=str(inbox), lake=str(lake), analyze=True)
    return inbox, lake, result


def test_every_input_record_is_accounted_for(
    ingested: tuple[Path, Path, dict[str, object]],
) -> None:
    inbox, lake, _ = ingested
    log = store.read_table(lake, "_ingest_log")
    assert log.height == sum(1 for p in inbox.rglob("*") if p.is_file())
    assert (
        log["rows_in"]
        == log["rows_ok"] + log["rows_quarantined"] + log["rows_duplicate"] + log["rows_skipped"]
    ).all()
    assert int(log["rows_in"].sum()) == _data_records(inbox)
    stored = sum(store.read_table(lake, t).height for t in ("beats", "heart_rate", "episodes"))
    assert stored == int(log["rows_ok"].sum())
    assert store.read_table(lake, "quarantine").height == int(log["rows_quarantined"].sum())


def test_naive_local_episode_time_is_quarantined_with_reason(
    ingested: tuple[Path, Path, dict[str, object]],
) -> None:
    _, lake, _ = ingested
    q = store.read_table(lake, "quarantine").filter(pl.col("table") == "episodes")
    assert q.height == 1
    assert q["subject_id"][0] == "S01"
    assert "without offset or tz" in q["reason"][0]


def test_nightly_run_analysed_every_subject_that_gained_data(
    ingested: tuple[Path, Path, dict[str, object]],
) -> None:
    _, lake, result = ingested
    assert sorted(result["subjects_gained"]) == [f"S{i:02d}" for i in range(1, 6)]  # type: ignore[call-overload]
    for table in GOLD:
        frame = store.read_table(lake, table)
        assert frame.height > 0, table
        assert frame.schema == schema.polars_schema(table)
    episodes = store.read_table(lake, "episodes")
    windows = store.read_table(lake, "episode_windows").filter(pl.col("role") == "episode")
    assert set(windows["episode_id"]) == set(episodes["episode_id"])


def test_the_analysis_run_writes_its_report_and_links_it_from_its_artifact(
    ingested: tuple[Path, Path, dict[str, object]],
) -> None:
    from prefect import get_client
    from prefect.client.schemas.filters import ArtifactCollectionFilter, ArtifactCollectionFilterKey

    _, lake, result = ingested
    analysis = result["analysis"]
    assert isinstance(analysis, dict)
    page = layout.report_path(lake, analysis["params_hash"])
    assert '<figure data-figure="forest">' in page.read_text()
    wanted = ArtifactCollectionFilter(key=ArtifactCollectionFilterKey(any_=["cohort-summary"]))
    with get_client(sync_client=True) as client:
        (artifact,) = client.read_latest_artifacts(artifact_filter=wanted)
    assert f"Report: [report.html]({page.resolve().as_uri()})" in str(artifact.data)


def _cohort_row(lake: Path, metric: str, window: str) -> dict[str, float]:
    cohort = store.read_table(lake, "cohort_summary")
    row = cohort.filter(
        (pl.col("metric") == metric)
        & (pl.col("window") == window)
        & (pl.col("shift_kind") == "adjusted")
    )
    assert row.height == 1
    return row.row(0, named=True)


@pytest.mark.parametrize(("metric", "window"), list(EFFECT.expected_shifts()))
def test_planted_effect_lies_inside_the_cohort_ci(
    ingested: tuple[Path, Path, dict[str, object]], metric: str, window: str
) -> None:
    _, lake, _ = ingested
    row = _cohort_row(lake, metric, window)
    planted = EFFECT.expected_shifts()[(metric, window)]
    assert row["ci_low"] <= planted <= row["ci_high"], row
    assert not row["ci_low"] <= 0.0 <= row["ci_high"], (
        "a planted effect this large must be detected"
    )


def test_ingest_twice_leaves_the_same_lake(ingested: tuple[Path, Path, dict[str, object]]) -> None:
    inbox, lake, _ = ingested
    before = _lake_digest(lake, SILVER + GOLD)
    again = nightly_ingest(inbox=str(inbox), lake=str(lake), analyze=True)
    assert again["files"] == 0 and again["subjects_gained"] == []
    assert _lake_digest(lake, SILVER + GOLD) == before


def test_reanalysis_replaces_rows_instead_of_adding(
    ingested: tuple[Path, Path, dict[str, object]],
) -> None:
    _, lake, _ = ingested
    first = store.read_table(lake, "episode_windows").height
    cfg = AnalysisConfig().model_copy(update={"subjects": ("S01",)})
    analyze_episodes(lake=str(lake), config=cfg)
    assert store.read_table(lake, "episode_windows").height == first


def test_zero_effect_cohort_gives_cis_containing_zero(tmp_path: Path) -> None:
    cfg = SMALL.model_copy(update={"effect": PlantedEffect.zero(), "n_subjects": 4})
    write_cohort(tmp_path / "inbox", cfg)
    nightly_ingest(inbox=str(tmp_path / "inbox"), lake=str(tmp_path / "lake"), analyze=True)
    for metric, window in EFFECT.expected_shifts():
        row = _cohort_row(tmp_path / "lake", metric, window)
        assert row["ci_low"] <= 0.0 <= row["ci_high"], (metric, window, row)


def test_analysis_of_a_lake_without_episodes_says_so_and_writes_no_gold(tmp_path: Path) -> None:
    inbox, lake = tmp_path / "inbox", tmp_path / "lake"
    (inbox / "S01").mkdir(parents=True)
    (inbox / "S01" / "rr.csv").write_text("timestamp,rr_ms\n2026-01-05T15:00:01+01:00,1000\n")
    ingested = nightly_ingest(inbox=str(inbox), lake=str(lake))
    assert ingested["files"] == 1 and "analysis" not in ingested
    result = analyze_episodes(lake=str(lake))
    assert result["subjects"] == {} and result["cohort_rows"] == 0
    assert all(store.read_table(lake, t).is_empty() for t in GOLD)
    assert not (lake / layout.REPORTS_DIR).exists()
