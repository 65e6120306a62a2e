"""What every format adapter returns, and the shape of a rejected row.

An adapter reads a file as one or more *batches* (:meth:`Adapter.read`), each a
:class:`Parsed`. A small format is one batch (its ``parse``); a format whose
files grow without bound (Apple Health exports of several GB) yields bounded
batches (its ``batches``), so ingest holds one batch at a time. The batch
contract, checked by :func:`in_order`: the rows of a table in a later batch
lie strictly after (``t_utc``) every row of that table in earlier batches, so
the checks ingest makes per batch (duplicates, natural keys, time order) are
those it would make on the whole file. Episodes come from one-batch formats.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
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
    ``scratch``: a private folder where a batching adapter may spill what it
    has read until it can emit it in order (ingest gives one inside the lake,
    cleaned after a crash); ``None``: the system's temporary folder.
    """

    zones: LocalZones | None = None
    scratch: Path | None = None


NO_CONTEXT = Context()


@dataclass(frozen=True)
class Adapter:
    """One input format: ``sniff`` looks at the first bytes, ``parse`` reads the file.

    ``reads_profile``: the format may hold local times without offset, so its
    reading depends on the subject profile (``parse`` uses ``Context.zones``).
    ``batches``, for formats whose files can be larger than memory: the file
    as bounded batches in the order of the batch contract (module docstring);
    ``parse`` is then their :func:`whole`.
    """

    name: str
    sniff: Callable[[bytes, Path], bool]
    parse: Callable[[Path, Context], Parsed]
    reads_profile: bool = False
    batches: Callable[[Path, Context], Iterator[Parsed]] | None = None

    def read(self, path: Path, context: Context = NO_CONTEXT) -> Iterator[Parsed]:
        """The file as batches: ``batches`` when the format has them, else ``parse`` as one."""
        if self.batches is not None:
            return in_order(self.batches(path, context))
        return iter([self.parse(path, context)])


def _time_span(frame: pl.DataFrame) -> tuple[datetime, datetime] | None:
    if "t_utc" not in frame.columns or frame.is_empty():
        return None
    times = pl.col("t_utc")
    first, last = frame.select(times.min().alias("first"), times.max().alias("last")).row(0)
    return first, last


def in_order(batches: Iterable[Parsed]) -> Iterator[Parsed]:
    """``batches``, checked against the batch contract (AssertionError: an adapter defect)."""
    latest: dict[str, datetime] = {}
    for batch in batches:
        for table, frame in batch.frames.items():
            span = _time_span(frame)
            if span is None:
                continue
            if table in latest and not span[0] > latest[table]:
                raise AssertionError(f"{table}: a batch starts before the previous one ended")
            latest[table] = span[1]
        yield batch


def whole(batches: Iterable[Parsed]) -> Parsed:
    """One :class:`Parsed` holding every batch (for tests, and the ``parse`` of batching formats)."""
    frames: dict[str, list[pl.DataFrame]] = {}
    rejects, duplicates, skipped = [], 0, Counter[str]()
    for batch in batches:
        for table, frame in batch.frames.items():
            frames.setdefault(table, []).append(frame)
        rejects.append(batch.rejects)
        duplicates += batch.duplicates
        skipped.update(batch.skipped)
    return Parsed(
        frames={table: pl.concat(parts) for table, parts in frames.items()},
        rejects=pl.concat(rejects) if rejects else no_rejects(),
        duplicates=duplicates,
        skipped=skipped,
    )
