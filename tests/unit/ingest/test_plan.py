"""The per-file steps of ingest: ids, the one cast, and key resolution with or without a lake."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from tearsignals.contract import schema
from tearsignals.ingest import plan, validate
from tearsignals.ingest.adapters.base import Parsed
from tearsignals.lake import store

T0 = datetime(2026, 1, 5, 14, tzinfo=UTC)


def test_episode_id_is_stable_and_changes_with_subject_and_times() -> None:
    t1 = datetime(2026, 1, 5, 14, 20, tzinfo=UTC)
    frame = pl.DataFrame(
        {"s": [T0, T0, T0], "e": [t1, t1, T0.replace(minute=21)], "who": ["a", "b", "a"]}
    )
    ids = frame.select(plan.episode_id(pl.col("s"), pl.col("e"), pl.col("who")))["episode_id"]
    assert ids[0] != ids[1] and ids[0] != ids[2]
    # pinned: the id must not change between releases (it keys the lake)
    expected = hashlib.sha256(b"a|2026-01-05T14:00:00.000000Z|2026-01-05T14:20:00.000000Z")
    assert ids[0] == expected.hexdigest()[:16]


def _beats(rr_ms: list[float]) -> pl.DataFrame:
    """Adapter output: beats one second apart, the ``device`` column left as untyped nulls."""
    n = len(rr_ms)
    return pl.DataFrame(
        {
            "source": ["csv_beats"] * n,
            "device": [None] * n,
            "t_utc": [T0.replace(second=s) for s in range(n)],
            "rr_ms": rr_ms,
            "origin": ["rr"] * n,
            "row_number": list(range(1, n + 1)),
        }
    )


def test_canonical_rows_add_the_ids_and_cast_to_the_declared_dtypes() -> None:
    rows = plan.canonical_rows("beats", _beats([800.0]), "S01", "f1")
    assert rows.schema == pl.Schema({**schema.polars_schema("beats"), "row_number": pl.Int64()})
    assert rows.row(0, named=True)["subject_id"] == "S01"
    assert schema.checked(rows, "beats").height == 1


def test_episodes_get_the_subject_aware_id_from_ingest() -> None:
    frame = pl.DataFrame(
        {"start_utc": [T0], "end_utc": [T0.replace(minute=20)], "source": ["episodes_csv"],
         "row_number": [1]}
    )  # fmt: skip
    first = plan.canonical_rows("episodes", frame, "S01", "f1")["episode_id"]
    other = plan.canonical_rows("episodes", frame, "S02", "f1")["episode_id"]
    assert first.str.len_chars().to_list() == [16] and first[0] != other[0]


def test_without_a_lake_nothing_is_a_stored_copy(tmp_path: Path) -> None:
    stored = plan.file_plan("csv_beats", Parsed(frames={"beats": _beats([800.0])}), "S01", "f1")
    store.write_part(tmp_path, "beats", stored.tables["beats"].accepted, "S01", "f1")
    store.write_part(tmp_path, "_ingest_log", _log_row(), "S01", "f1")
    again = Parsed(frames={"beats": _beats([800.0, 810.0])})
    alone = plan.file_plan("csv_beats", again, "S01", "f2")
    against = plan.file_plan("csv_beats", again, "S01", "f2", tmp_path)
    assert (alone.rows_ok, alone.rows_duplicate) == (2, 0)
    assert (against.rows_ok, against.rows_duplicate) == (1, 1)
    changed = plan.file_plan(
        "csv_beats", Parsed(frames={"beats": _beats([700.0])}), "S01", "f3", tmp_path
    )
    assert changed.displaced == {"f1"}  # the smaller values win the key


def _log_row() -> pl.DataFrame:
    row = {"subject_id": "S01", "file_id": "f1", "path": "S01/a.csv", "format": "csv_beats",
           "rows_in": 1, "rows_ok": 1, "rows_quarantined": 0, "rows_duplicate": 0, "rows_skipped": 0,
           "status": "ingested", "detail": None, "context_sha256": None, "ingested_at": T0}  # fmt: skip
    return schema.conform(pl.DataFrame([row]), "_ingest_log")


def test_a_row_rule_reason_reaches_the_plan() -> None:
    out = plan.file_plan("csv_beats", Parsed(frames={"beats": _beats([800.0, 90.0])}), "S01", "f1")
    assert out.quarantined["reason"].to_list() == ["rr_ms out of range [200, 5000]"]
    assert out.quarantined.schema == validate.empty_quarantine().schema
