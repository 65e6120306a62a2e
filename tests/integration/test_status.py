"""``tearsignals status``: its screen against what the Parquet files of a built lake hold."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from tearsignals import cli
from tearsignals.lake import layout
from tests.support.lakes import AnalysedLake

pytestmark = pytest.mark.integration


def _status(lake: Path, capsys: pytest.CaptureFixture[str]) -> list[str]:
    assert cli.main(["status", "--lake", str(lake)]) == 0
    return capsys.readouterr().out.splitlines()


def _parquet(lake: Path, table: str) -> pl.DataFrame:
    return pl.read_parquet(
        layout.table_dir(lake, table) / "*" / "*.parquet",
        hive_partitioning=True,
        hive_schema={"subject_id": pl.String},
    )


def _expected_source_lines(lake: Path) -> list[list[str]]:
    """Per subject, table and source: rows, first/last sample and minute coverage, as words."""
    lines = []
    for table in ("beats", "heart_rate"):
        frame = _parquet(lake, table).with_columns(minute=pl.col("t_utc").dt.truncate("1m"))
        for (subject, source), rows in frame.group_by("subject_id", "source"):
            first, last = rows["t_utc"].min(), rows["t_utc"].max()
            span_min = (rows["minute"].max() - rows["minute"].min()).total_seconds() / 60 + 1  # type: ignore[operator]
            coverage = 100 * rows["minute"].n_unique() / span_min
            lines.append(
                [str(subject), table, str(source), f"{rows.height:,}",
                 *f"{first:%Y-%m-%d %H:%M}".split(), *f"{last:%Y-%m-%d %H:%M}".split(),
                 f"{coverage:.1f}", "%"]
            )  # fmt: skip
    return sorted(lines)


def test_status_shows_subjects_sources_files_episodes_and_analyses(
    desk_lake: AnalysedLake, capsys: pytest.CaptureFixture[str]
) -> None:
    lake = desk_lake.lake
    shown = _status(lake, capsys)
    assert len(shown) <= 40  # one screen
    assert shown[0] == f"lake: {lake}"
    assert "subject ids: as in the inbox" in shown
    assert "subjects: 3   pending analysis: none" in shown
    expected = _expected_source_lines(lake)
    source_lines = sorted(line.split() for line in shown if line.startswith("  S0"))
    assert source_lines == expected

    log = _parquet(lake, "_ingest_log")
    assert log["status"].unique().to_list() == ["ingested"]
    assert (
        f"files: {log.height}: ingested {log.height} (rows in {log['rows_in'].sum():,} = ok "
        f"{log['rows_ok'].sum():,} + quarantined {log['rows_quarantined'].sum():,} + duplicate "
        f"{log['rows_duplicate'].sum():,} + skipped {log['rows_skipped'].sum():,})"
    ) in shown

    episodes = _parquet(lake, "episodes").group_by("subject_id").len().sort("subject_id")
    per_subject = ", ".join(f"{s} {n}" for s, n in episodes.iter_rows())
    total = int(episodes["len"].sum())
    assert f"episodes: {total} logged, {total} analysed ({per_subject})" in shown

    (params_line,) = [line for line in shown if line.startswith(f"  {desk_lake.params_hash}")]
    assert params_line.endswith(f"3 subjects, {total} episodes  [cohort tables]")
    assert f"    report:  {desk_lake.report}" in shown
    assert shown[-1].startswith("last ingest: 20")


def test_status_of_an_empty_lake(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shown = _status(tmp_path, capsys)
    assert "subjects: 0   pending analysis: none" in shown
    assert "files: 0: none" in shown
    assert "episodes: 0 logged, 0 analysed" in shown
    assert "parameter sets: 0 (newest first)" in shown
    assert shown[-1] == "last ingest: — UTC"
