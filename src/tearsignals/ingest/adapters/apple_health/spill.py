"""Spilled rows: typed rows written to a scratch folder by calendar month, read back in order.

An export lists records by type, not by time, so the rows of one month arrive
from all over the file. While the file is read, each converted batch of typed
rows is written here, one Arrow IPC file per table and month it touches; then
the months are read back in time order, a few at a time
(:meth:`Spill.month_groups`), so memory holds one group of months, not the
export. Rows sharing an instant (copies to resolve by source priority) fall
in one month.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import polars as pl

from tearsignals.ingest.adapters.apple_health.typed import good_schema

_MONTH = "_month"


class Spill:
    """Typed accepted rows per table and month, in Arrow IPC files under ``folder``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.files: dict[tuple[str, int], list[Path]] = {}
        self.rows: Counter[int] = Counter()

    def add(self, table: str, rows: pl.DataFrame) -> None:
        """Write ``rows`` (typed, with ``t_utc``) to one file per month they touch."""
        months = rows.with_columns(
            pl.col("t_utc").dt.year().cast(pl.Int32).mul(100).add(pl.col("t_utc").dt.month())
            .alias(_MONTH)
        )  # fmt: skip
        for (month,), part in months.partition_by(_MONTH, as_dict=True, include_key=False).items():
            assert isinstance(month, int)
            paths = self.files.setdefault((table, month), [])
            path = self.folder / f"{table}-{month}-{len(paths)}.arrow"
            part.write_ipc(path, compression="lz4")
            paths.append(path)
            self.rows[month] += part.height

    def month_groups(self, rows: int) -> Iterator[list[int]]:
        """Consecutive months in time order, grouped until a group holds at least ``rows`` rows."""
        group: list[int] = []
        held = 0
        for month in sorted(self.rows):
            group.append(month)
            held += self.rows[month]
            if held >= rows:
                yield group
                group, held = [], 0
        if group:
            yield group

    def read(self, table: str, months: list[int]) -> pl.DataFrame:
        """The spilled rows of ``table`` in ``months`` (typed, as added)."""
        paths = [p for m in months for p in self.files.get((table, m), [])]
        if not paths:
            return pl.DataFrame(schema=good_schema(table))
        return pl.concat([pl.read_ipc(p) for p in paths])
