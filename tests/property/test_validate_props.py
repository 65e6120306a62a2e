"""Property tests: row rules against a row-by-row brute-force oracle.

The oracle walks the rows one at a time in ``(file_id, row_number)`` order and
applies the rules as ``tearsignals.ingest.validate``'s module docstring states them,
so any disagreement is the vectorised implementation's.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from tearsignals.contract import schema
from tearsignals.ingest import validate

T0 = datetime(2026, 1, 5, 14, tzinfo=UTC)
BEATS_SCHEMA = {
    "subject_id": pl.String,
    "source": pl.String,
    "device": pl.String,
    "file_id": pl.String,
    "t_utc": pl.Datetime("us", "UTC"),
    "rr_ms": pl.Float64,
    "origin": pl.String,
    "row_number": pl.Int64,
}

# Few distinct values, so collisions (duplicates, repeated keys, going back in time) are common.
SECONDS = st.one_of(st.none(), st.integers(0, 8))
RR = st.sampled_from([None, 150.0, 200.0, 800.0, 800.0, 900.0, 5000.0, 5001.0, math.nan])
ORIGIN = st.sampled_from(["rr", "rr", "ppg", "gps", None])
SUBJECT = st.sampled_from(["s01", "s01", "s02", None])
FILE = st.sampled_from(["f1", "f2"])
ROW = st.tuples(SUBJECT, st.sampled_from([None, "polar"]), FILE, SECONDS, RR, ORIGIN)


@st.composite
def beats_frames(draw: st.DrawFn) -> pl.DataFrame:
    """Random beats with nulls, out-of-range values, exact copies and shuffled order."""
    rows = draw(st.lists(ROW, max_size=25))
    copies = draw(st.lists(st.integers(0, max(len(rows) - 1, 0)), max_size=6)) if rows else []
    rows = rows + [rows[i] for i in copies]
    numbered = []
    per_file: dict[str, int] = {}
    for subject, device, file_id, sec, rr, origin in rows:
        per_file[file_id] = per_file.get(file_id, 0) + 1
        t = None if sec is None else T0 + timedelta(seconds=sec)
        numbered.append((subject, "csv_beats", device, file_id, t, rr, origin, per_file[file_id]))
    order = draw(st.permutations(range(len(numbered))))
    return pl.DataFrame([numbered[i] for i in order], schema=BEATS_SCHEMA, orient="row")


def _schema_reason(row: dict) -> str | None:
    """First declared rule the row breaks, in column order (null, range, values)."""
    for column in schema.table("beats").columns:
        value = row[column.name]
        if not column.nullable and value is None:
            return f"{column.name} is null"
        in_range = column.min is None or value is None or column.min <= value <= column.max
        nan = isinstance(value, float) and math.isnan(value)
        if not in_range or (column.min is not None and nan):
            lo, hi = schema.bound_text(column.min), schema.bound_text(column.max)
            return f"{column.name} out of range [{lo}, {hi}]"
        if column.values is not None and value not in column.values:
            return f"{column.name} not in [{', '.join(column.values)}]"
    return None


def _oracle(frame: pl.DataFrame) -> tuple[dict[tuple, str], set[tuple], int]:
    """(row id → reason, ids of ok rows, duplicate count), one row at a time."""
    values = validate.value_columns("beats")
    rows = sorted(frame.iter_rows(named=True), key=lambda r: (r["file_id"], r["row_number"]))
    reasons: dict[tuple, str] = {}
    ok: set[tuple] = set()
    seen_values: set[tuple] = set()
    seen_keys: set[tuple] = set()
    running_max: dict[str, datetime] = {}
    duplicates = 0
    for row in rows:
        row_id = (row["file_id"], row["row_number"])
        reason = _schema_reason(row)
        if reason is None:
            vals = tuple(row[c] for c in values)
            if vals in seen_values:
                duplicates += 1
                continue
            seen_values.add(vals)
            latest = running_max.get(row["file_id"])
            running_max[row["file_id"]] = max(latest or row["t_utc"], row["t_utc"])
            if latest is not None and row["t_utc"] <= latest:
                reason = validate.REASON_NON_MONOTONIC
            elif (row["subject_id"], row["t_utc"]) in seen_keys:
                reason = validate.REASON_KEY_CONFLICT
            else:
                seen_keys.add((row["subject_id"], row["t_utc"]))
        if reason is None:
            ok.add(row_id)
        else:
            reasons[row_id] = reason
    return reasons, ok, duplicates


@settings(max_examples=300, deadline=None)
@given(beats_frames())
def test_every_row_is_ok_quarantined_or_duplicate(frame: pl.DataFrame) -> None:
    checked = validate.row_rules("beats", frame)
    assert checked.ok.height + checked.quarantined.height + checked.duplicates == frame.height
    ids = lambda f: set(f.select("file_id", "row_number").iter_rows())  # noqa: E731
    assert ids(checked.ok).isdisjoint(ids(checked.quarantined))
    assert checked.ok.columns == frame.columns
    assert checked.quarantined.schema == schema.polars_schema("quarantine")


@settings(max_examples=300, deadline=None)
@given(beats_frames())
def test_row_rules_agree_with_the_row_by_row_oracle(frame: pl.DataFrame) -> None:
    reasons, ok, duplicates = _oracle(frame)
    checked = validate.row_rules("beats", frame)
    got = {
        (f, r): why
        for f, r, why in checked.quarantined.select("file_id", "row_number", "reason").iter_rows()
    }
    assert got == reasons
    assert set(checked.ok.select("file_id", "row_number").iter_rows()) == ok
    assert checked.duplicates == duplicates


@settings(max_examples=100, deadline=None)
@given(beats_frames())
def test_ok_rows_keep_input_order_and_satisfy_the_suite_rules(frame: pl.DataFrame) -> None:
    ok = validate.row_rules("beats", frame).ok
    positions = frame.with_row_index("pos").join(ok, on=["file_id", "row_number"], how="semi")
    assert positions["pos"].is_sorted()
    assert ok["rr_ms"].is_between(200, 5000).all()
    assert ok.select(pl.struct("subject_id", "t_utc").is_unique().all()).item()
    increasing = ok.sort("file_id", "row_number").select(
        (pl.col("t_utc").diff().over("file_id").fill_null(timedelta(1)) > timedelta(0)).all()
    )
    assert increasing.item()
