"""great-expectations gate: suites follow the schemas, bad batches fail and say why."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from tearsignals.contract import expectations, schema

ROOT = Path(__file__).resolve().parents[3]
T0 = datetime(2026, 1, 5, 14, tzinfo=UTC)


def _beats(n: int = 5) -> pl.DataFrame:
    frame = pl.DataFrame(
        {
            "subject_id": ["s01"] * n,
            "source": ["csv_beats"] * n,
            "device": [None] * n,
            "file_id": ["f" * 64] * n,
            "t_utc": [T0 + timedelta(milliseconds=800 * i) for i in range(n)],
            "rr_ms": [800.0] * n,
            "origin": ["rr"] * n,
        }
    )
    return schema.conform(frame, "beats")


def test_good_batch_passes() -> None:
    gate = expectations.validate_batch("beats", _beats())
    assert gate.success
    assert gate.failed == ()
    assert gate.result_json["success"] is True
    json.dumps(gate.result_json)


def test_empty_batch_passes() -> None:
    assert expectations.validate_batch("episodes", schema.empty("episodes")).success


def test_out_of_range_value_fails_naming_the_expectation() -> None:
    frame = _beats().with_columns(rr_ms=pl.Series([800.0, 100.0, 800.0, 800.0, 800.0]))
    gate = expectations.validate_batch("beats", frame)
    assert not gate.success
    assert gate.failed == (
        "expect_column_values_to_be_between(column=rr_ms, min_value=200.0, max_value=5000.0)",
    )
    json.dumps(gate.result_json)


def test_null_key_fails_naming_the_expectation() -> None:
    frame = _beats().with_columns(
        t_utc=pl.when(pl.int_range(pl.len()) == 2).then(None).otherwise(pl.col("t_utc"))
    )
    gate = expectations.validate_batch("beats", frame)
    assert not gate.success
    assert gate.failed == ("expect_column_values_to_not_be_null(column=t_utc)",)


def test_duplicate_key_value_set_and_column_set_failures() -> None:
    repeated = pl.concat([_beats(2), _beats(1)])
    assert expectations.validate_batch("beats", repeated).failed == (
        "expect_compound_columns_to_be_unique(column_list=subject_id,source,t_utc)",
    )
    bad_origin = _beats(2).with_columns(origin=pl.lit("gps"))
    assert expectations.validate_batch("beats", bad_origin).failed == (
        "expect_column_values_to_be_in_set(column=origin, value_set=rr,ppg,ecg,ibpm)",
    )
    extra = _beats(2).with_columns(row_number=pl.lit(1))
    (failed,) = expectations.validate_batch("beats", extra).failed
    assert failed.startswith("expect_table_columns_to_match_set(")


def test_input_frame_is_not_modified() -> None:
    frame = _beats()
    before = frame.clone()
    expectations.validate_batch("beats", frame)
    assert frame.equals(before)


@pytest.mark.parametrize("table", schema.TABLE_NAMES)
def test_committed_suite_files_equal_the_built_suites(table: str) -> None:
    committed = (ROOT / "schemas" / "expectations" / f"{table}.json").read_text()
    assert committed == expectations.suite_file_text(table), (
        "run `python -m tearsignals.contract.expectations` to regenerate schemas/expectations/"
    )
    assert json.loads(committed) == expectations.suite_json(table)


@pytest.mark.parametrize("table", schema.TABLE_NAMES)
def test_suite_follows_the_schema(table: str) -> None:
    declared = schema.table(table)
    built = expectations.suite_json(table)["expectations"]
    by_type: dict[str, list[dict]] = {}
    for e in built:
        by_type.setdefault(e["type"], []).append(e["kwargs"])
    (columns,) = by_type["expect_table_columns_to_match_set"]
    assert columns["column_set"] == declared.column_names
    assert columns.get("exact_match", True) is True  # GX omits its default (True)
    not_null = {k["column"] for k in by_type.get("expect_column_values_to_not_be_null", [])}
    assert not_null == {c.name for c in declared.columns if not c.nullable}
    between = {
        k["column"]: (k.get("min_value"), k.get("max_value"))
        for k in by_type.get("expect_column_values_to_be_between", [])
    }
    assert between == {  # a time bound's kwargs are stored as text
        c.name: tuple(str(b) if isinstance(b, datetime) else b for b in (c.min, c.max))
        for c in declared.columns
        if c.min is not None or c.max is not None
    }
    in_set = {
        k["column"]: tuple(k["value_set"])
        for k in by_type.get("expect_column_values_to_be_in_set", [])
    }
    assert in_set == {c.name: c.values for c in declared.columns if c.values is not None}
    unique = (
        by_type.get("expect_compound_columns_to_be_unique")
        or by_type["expect_column_values_to_be_unique"]
    )
    assert unique == [{"column_list": list(declared.key)}] or unique == [
        {"column": declared.key[0]}
    ]


def test_check_mode_reports_stale_files(tmp_path: Path) -> None:
    written = expectations.write_suite_files(tmp_path)
    assert len(written) == len(schema.TABLE_NAMES)
    assert expectations.stale_suite_files(tmp_path) == []
    (tmp_path / "beats.json").write_text("{}\n")
    assert expectations.stale_suite_files(tmp_path) == ["beats"]
