"""The lake: atomic, private, hive-partitioned Parquet that plain readers understand."""

from __future__ import annotations

import stat
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from tearsignals.contract import schema
from tearsignals.lake import layout, store


def _beats(subject: str, n: int = 3) -> pl.DataFrame:
    t0 = datetime(2026, 1, 5, 15, tzinfo=UTC)
    frame = pl.DataFrame(
        {
            "subject_id": [subject] * n,
            "source": ["csv_beats"] * n,
            "device": [None] * n,
            "file_id": ["f" * 64] * n,
            "t_utc": pl.datetime_range(t0, t0 + pl.duration(seconds=n - 1), "1s", eager=True),
            "rr_ms": [1000.0] * n,
            "origin": ["rr"] * n,
        }
    )
    return schema.conform(frame, "beats")


def test_write_part_roundtrip_keeps_schema_and_hive_subject(tmp_path: Path) -> None:
    store.write_part(tmp_path, "beats", _beats("S01"), "S01", "part-a")
    store.write_part(tmp_path, "beats", _beats("007", 2), "007", "part-b")
    back = store.read_table(tmp_path, "beats").sort("subject_id", "t_utc")
    assert back.schema == schema.polars_schema("beats")
    # A numeric-looking id stays a string, not an integer guessed from the folder name.
    assert back.get_column("subject_id").to_list() == ["007"] * 2 + ["S01"] * 3
    only = store.read_table(tmp_path, "beats", ["S01"])
    assert only.height == 3


def test_files_and_dirs_are_owner_only(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    path = store.write_part(lake, "beats", _beats("S01"), "S01", "p")
    for p in (lake, lake / "beats", path.parent):
        assert stat.S_IMODE(p.stat().st_mode) == 0o700, p
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_partition_column_not_stored_inside_files(tmp_path: Path) -> None:
    path = store.write_part(tmp_path, "beats", _beats("S01"), "S01", "p")
    assert "subject_id" not in pl.read_parquet_schema(path)


def test_rows_of_another_subject_are_refused(tmp_path: Path) -> None:
    mixed = pl.concat([_beats("S01"), _beats("S02")])
    with pytest.raises(ValueError, match="other subjects"):
        store.write_part(tmp_path, "beats", mixed, "S01", "p")


def test_a_frame_of_other_dtypes_is_refused_not_cast(tmp_path: Path) -> None:
    loose = _beats("S01").with_columns(pl.col("rr_ms").cast(pl.Int64))
    with pytest.raises(TypeError, match="rr_ms Int64"):
        store.write_part(tmp_path, "beats", loose, "S01", "p")
    assert store.read_table(tmp_path, "beats").is_empty()


def test_failed_write_leaves_previous_file_and_no_temp_litter(tmp_path: Path) -> None:
    target = store.write_part(tmp_path, "beats", _beats("S01"), "S01", "p")
    before = target.read_bytes()

    class Boom(Exception):
        pass

    # Simulate a writer that dies mid-way: the frame's write raises inside the temp file.
    class Exploding(pl.DataFrame):
        def write_parquet(self, *args: object, **kwargs: object) -> None:  # type: ignore[override]
            raise Boom("disk full")

    with pytest.raises(Boom):
        store.write_parquet_atomic(Exploding(_beats("S01")), target)
    assert target.read_bytes() == before
    assert [p.name for p in target.parent.iterdir()] == [target.name]


def test_replace_partition_swaps_whole_subject(tmp_path: Path) -> None:
    store.write_part(tmp_path, "beats", _beats("S01"), "S01", "old-part")
    store.replace_partition(tmp_path, "beats", _beats("S01", 2), "S01")
    files = sorted(p.name for p in layout.partition_dir(tmp_path, "beats", "S01").iterdir())
    assert files == ["part-0.parquet"]
    assert store.read_table(tmp_path, "beats").height == 2


def test_empty_lake_reads_as_empty_table(tmp_path: Path) -> None:
    assert store.read_table(tmp_path, "episodes").schema == schema.polars_schema("episodes")
    assert store.subjects_in(tmp_path, "episodes") == []


def test_pandas_and_duckdb_read_the_lake(tmp_path: Path) -> None:
    import duckdb
    import pandas as pd

    store.write_part(tmp_path, "beats", _beats("S01"), "S01", "p")
    frame = pd.read_parquet(tmp_path / "beats")
    assert len(frame) == 3 and set(frame["subject_id"].astype(str)) == {"S01"}
    con = duckdb.connect()
    n = con.execute(
        f"SELECT count(*) FROM read_parquet('{tmp_path}/beats/**/*.parquet', hive_partitioning=true)"
    ).fetchone()
    assert n == (3,)
