"""The canonical tables, declared once in ``schemas/*.json``.

The JSON files are the contract: this module turns them into polars schemas,
casts frames to them, and is what the great-expectations suites and
``docs/outputs.md`` are built from.

Examples
--------
>>> list(polars_schema("beats"))[:3]
['subject_id', 'source', 'device']
>>> table("beats").key
('subject_id', 'source', 't_utc')
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import polars as pl

TABLE_NAMES = (
    "beats",
    "heart_rate",
    "episodes",
    "vendor_hrv",
    "vendor_resting_hr",
    "quarantine",
    "_ingest_log",
    "clock_offsets",
    "episode_windows",
    "episode_shifts",
    "subject_summary",
    "cohort_summary",
    "cohort_model",
    "subject_effects",
    "episode_timecourse",
    "cohort_timecourse",
    "sensitivity",
    "power",
)

ROW_NUMBER = "row_number"
# Set by ingest, not by format adapters: the subject (the inbox folder), the input
# file, and ids derived from the subject (see tearsignals.ingest.plan.canonical_rows).
INGEST_COLUMNS = ("subject_id", "file_id", "episode_id")

_DTYPES: dict[str, pl.DataType] = {
    "String": pl.String(),
    "Float64": pl.Float64(),
    "Int64": pl.Int64(),
    "Int32": pl.Int32(),
    "Boolean": pl.Boolean(),
    "Datetime[us, UTC]": pl.Datetime("us", "UTC"),
}


@dataclass(frozen=True)
class Column:
    """One declared column; ``min``/``max`` bound it (inclusive): numbers, or for a
    time column instants (ISO 8601 in the JSON: the plausible time range of data)."""

    name: str
    dtype: pl.DataType
    nullable: bool
    description: str
    min: float | datetime | None = None
    max: float | datetime | None = None
    values: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Table:
    name: str
    layer: str
    description: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    partition_by: tuple[str, ...]

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


def schemas_dir() -> Path:
    """The table declarations: ``schemas/`` of the project, shipped as package data.

    ``tearsignals/contract/schemas`` is a link to the project's top-level
    ``schemas/`` folder, so the installed package and a checkout read the same
    files through :mod:`importlib.resources`.
    """
    return Path(str(resources.files("tearsignals.contract") / "schemas"))


def _bound(value: float | str | None) -> float | datetime | None:
    """A declared bound: a number, or an instant written in ISO 8601 (``...Z``)."""
    if isinstance(value, str):
        return datetime.fromisoformat(value).astimezone(UTC)
    return value


def bound_text(value: float | datetime) -> str:
    """A bound as reasons and docs write it: ``200``, ``0.5``, ``1990-01-01T00:00:00Z``.

    >>> bound_text(200.0), bound_text(datetime(1990, 1, 1, tzinfo=UTC))
    ('200', '1990-01-01T00:00:00Z')
    """
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    return f"{value:g}"


def _column(raw: dict[str, Any]) -> Column:
    values = raw.get("values")
    return Column(
        name=raw["name"],
        dtype=_DTYPES[raw["dtype"]],
        nullable=bool(raw["nullable"]),
        description=raw["description"],
        min=_bound(raw.get("min")),
        max=_bound(raw.get("max")),
        values=tuple(values) if values is not None else None,
    )


@cache
def table(name: str) -> Table:
    """The declared table ``name``."""
    if name not in TABLE_NAMES:
        raise KeyError(f"unknown table {name!r}; known: {', '.join(TABLE_NAMES)}")
    raw = json.loads((schemas_dir() / f"{name}.json").read_text())
    return Table(
        name=name,
        layer=raw["layer"],
        description=raw["description"],
        columns=tuple(_column(c) for c in raw["columns"]),
        key=tuple(raw["key"]),
        partition_by=tuple(raw["partition_by"]),
    )


def adapter_columns(name: str) -> tuple[str, ...]:
    """The columns a format adapter emits for table ``name``, in declared order.

    The declared columns but :data:`INGEST_COLUMNS`, plus ``row_number`` (the
    record's 1-based position among the file's data records).

    >>> adapter_columns("heart_rate")
    ('source', 'device', 't_utc', 'hr_bpm', 'confidence', 'row_number')
    """
    kept = [c for c in table(name).column_names if c not in INGEST_COLUMNS]
    return (*kept, ROW_NUMBER)


def polars_schema(name: str) -> pl.Schema:
    """Column names and polars dtypes of table ``name``, in declared order."""
    return pl.Schema({c.name: c.dtype for c in table(name).columns})


def empty(name: str) -> pl.DataFrame:
    """An empty frame of table ``name``."""
    return pl.DataFrame(schema=polars_schema(name))


def _declared_in(df: pl.DataFrame, name: str) -> pl.Schema:
    """The polars schema of ``name``; ``KeyError`` naming the declared columns ``df`` lacks."""
    schema = polars_schema(name)
    missing = [c for c in schema.names() if c not in df.columns]
    if missing:
        raise KeyError(f"{name}: missing columns {missing}")
    return schema


def conform(df: pl.DataFrame, name: str) -> pl.DataFrame:
    """Select the declared columns of ``name`` in order and cast them strictly.

    Raises ``KeyError`` naming the missing columns, so a frame that lacks part
    of the contract fails loudly instead of being padded with nulls.
    """
    schema = _declared_in(df, name)
    return df.select(pl.col(c).cast(t, strict=True) for c, t in schema.items())


def checked(df: pl.DataFrame, name: str) -> pl.DataFrame:
    """The declared columns of ``name`` in order, after checking (not casting) their dtypes.

    For frames that were conformed once already (by ingest or by the step that
    computed them): raises ``KeyError`` naming missing columns and ``TypeError``
    naming columns of another dtype, so nothing reaches the lake uncast.

    >>> checked(empty("beats").with_columns(pl.col("rr_ms").cast(pl.Int64)), "beats")
    Traceback (most recent call last):
    ...
    TypeError: beats: columns of another dtype than declared: rr_ms Int64 (declared Float64)
    """
    schema = _declared_in(df, name)
    wrong = [f"{c} {df.schema[c]} (declared {t})" for c, t in schema.items() if df.schema[c] != t]
    if wrong:
        raise TypeError(f"{name}: columns of another dtype than declared: {', '.join(wrong)}")
    return df.select(schema.names())
