"""What every format adapter returns, and the shape of a rejected row."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

REJECT_SCHEMA = pl.Schema(
    {"table": pl.String(), "row_number": pl.Int64(), "reason": pl.String(), "raw": pl.String()}
)

SNIFF_BYTES = 65536


def no_rejects() -> pl.DataFrame:
    return pl.DataFrame(schema=REJECT_SCHEMA)


@dataclass(frozen=True)
class Parsed:
    """An adapter's output.

    ``frames`` maps a canonical table name (``beats``, ``heart_rate``,
    ``episodes``) to a frame with that table's columns *except* ``subject_id``
    and ``file_id`` (ingest adds them), plus ``row_number`` (Int64, 1-based
    position of the record among the file's data records). ``rejects`` holds
    the records the adapter could not parse, with a reason. ``duplicates``
    counts records the adapter dropped as copies of records it kept (e.g. the
    same sample recorded by watch and phone, resolved by a documented source
    priority). ``rows_in`` = total records read = frame heights + rejects +
    duplicates.
    """

    frames: Mapping[str, pl.DataFrame]
    rejects: pl.DataFrame = field(default_factory=no_rejects)
    duplicates: int = 0

    @property
    def rows_in(self) -> int:
        return sum(f.height for f in self.frames.values()) + self.rejects.height + self.duplicates


@dataclass(frozen=True)
class Adapter:
    """One input format: ``sniff`` looks at the first bytes, ``parse`` reads the file."""

    name: str
    sniff: Callable[[bytes, Path], bool]
    parse: Callable[[Path], Parsed]
