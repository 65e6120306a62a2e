"""schemas/*.json is the one declaration; docs and frames follow it."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from tearsignals.contract import outputs_doc, schema

ROOT = Path(__file__).resolve().parents[3]


def test_every_table_has_a_schema_file_and_a_key_inside_its_columns() -> None:
    files = {p.stem for p in (ROOT / "schemas").glob("*.json")}
    assert set(schema.TABLE_NAMES) <= files
    for name in schema.TABLE_NAMES:
        t = schema.table(name)
        assert set(t.key) <= set(t.column_names), name
        assert set(t.partition_by) <= set(t.column_names), name


def test_docs_outputs_md_matches_the_schemas() -> None:
    committed = (ROOT / "docs" / "outputs.md").read_text()
    assert committed == outputs_doc.outputs_markdown(), (
        "run `make docs` to regenerate docs/outputs.md"
    )


def test_conform_orders_casts_and_refuses_missing_columns() -> None:
    frame = pl.DataFrame({"hr_bpm": [60], "t_utc": ["2026-01-01T00:00:00Z"]})
    with pytest.raises(KeyError, match="missing columns"):
        schema.conform(frame, "heart_rate")
    full = pl.DataFrame(
        {
            "t_utc": [None],
            "hr_bpm": [61],
            "file_id": ["f"],
            "device": [None],
            "source": ["x"],
            "subject_id": ["S1"],
            "confidence": [None],
        }
    )
    out = schema.conform(full, "heart_rate")
    assert out.columns == schema.table("heart_rate").column_names
    assert out.schema["hr_bpm"] == pl.Float64


def test_unknown_table_is_a_clear_error() -> None:
    with pytest.raises(KeyError, match="unknown table"):
        schema.table("nope")
