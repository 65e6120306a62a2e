"""What every format adapter returns, and the shape of a rejected row."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from tearsignals.ingest.timeparse import LocalZones

REJECT_SCHEMA = pl.Schema(
    {"table": pl.String(), "row_number": pl.Int64(), "reason": pl.String(), "raw": pl.String()}
)

SNIFF_BYTES = 65536


def no_rejects() -> pl.DataFrame:
    return pl.DataFrame(schema=REJECT_SCHEMA)


def as_rejects(rows: pl.DataFrame, table: str, reason: pl.Expr | None = None) -> pl.DataFrame:
    """``rows`` as rejects of ``table`` in :data:`REJECT_SCHEMA`, with their ``row_number`` and ``raw``.

    The reason is the rows' ``reason`` column, or ``reason`` when given (e.g.
    one literal for every row). Callers choose the rows (usually those whose
    ``reason`` is set).

    >>> rows = pl.DataFrame({"row_number": [3], "raw": ["x,1"], "reason": ["bad"]})
    >>> as_rejects(rows, "beats").row(0)
    ('beats', 3, 'bad', 'x,1')
    """
    return rows.select(
        table=pl.lit(table, pl.String),
        row_number=pl.col("row_number").cast(pl.Int64),
        reason=(pl.col("reason") if reason is None else reason).cast(pl.String),
        raw=pl.col("raw").cast(pl.String),
    )


@dataclass(frozen=True)
class Parsed:
    """An adapter's output.

    ``frames`` maps a canonical table name (``beats``, ``heart_rate``,
    ``episodes``) to a frame with that table's
    :func:`~tearsignals.contract.schema.adapter_columns`: its columns *except*
    ``subject_id``, ``file_id`` and ``episode_id`` (ingest adds them), plus
    ``row_number`` (Int64, 1-based position of the record among the file's
    data records). Nullable columns a format never reports may be left out. ``rejects`` holds
    the records the adapter could not parse, with a reason. ``duplicates``
    counts records the adapter dropped as copies of records it kept (e.g. the
    same sample recorded by watch and phone, resolved by a documented source
    priority). ``skipped`` counts, per reason, records that are sound but
    hold a measure no table takes (e.g. a logger's step counts): they are
    neither data nor bad data, so they go to no table and to no quarantine.
    ``rows_in`` = total records read = frame heights + rejects + duplicates +
    skipped.
    """

    frames: Mapping[str, pl.DataFrame]
    rejects: pl.DataFrame = field(default_factory=no_rejects)
    duplicates: int = 0
    skipped: Mapping[str, int] = field(default_factory=Counter)

    @property
    def rows_skipped(self) -> int:
        return sum(self.skipped.values())

    @property
    def rows_in(self) -> int:
        kept = sum(f.height for f in self.frames.values())
        return kept + self.rejects.height + self.duplicates + self.rows_skipped


def skipped_counts(reasons: pl.Series) -> Counter[str]:
    """How many records were skipped for each reason (the reasons of skipped records).

    >>> skipped_counts(pl.Series(["measure not ingested: STEPS"] * 2))
    Counter({'measure not ingested: STEPS': 2})
    """
    return Counter(reasons.to_list())


@dataclass(frozen=True)
class Context:
    """What reading a file may depend on besides its bytes (and its own sidecars).

    ``zones``: the subject's local zone over time, from the subject profile
    (:mod:`tearsignals.ingest.profile`), for local times the data give no
    offset or zone for; ``None`` without a profile (such times are refused).
    """

    zones: LocalZones | None = None


NO_CONTEXT = Context()


@dataclass(frozen=True)
class Adapter:
    """One input format: ``sniff`` looks at the first bytes, ``parse`` reads the file.

    ``reads_profile``: the format may hold local times without offset, so its
    reading depends on the subject profile (``parse`` uses ``Context.zones``).
    """

    name: str
    sniff: Callable[[bytes, Path], bool]
    parse: Callable[[Path, Context], Parsed]
    reads_profile: bool = False
