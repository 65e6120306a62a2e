"""``tearsignals inspect FILE``: what ingest would make of a file, without writing anything.

Examples
--------
>>> import tempfile
>>> path = Path(tempfile.mkdtemp()) / "rr.csv"
>>> _ = path.write_text("timestamp,rr_ms\\n2026-01-05T15:00:01+01:00,1000\\n2026-01-05T15:00:02+01:00,-3\\n")
>>> summary = inspect_file(path)
>>> summary.format, summary.tables["beats"].rows_ok, summary.tables["beats"].rows_quarantined
('csv_beats', 1, 1)
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import polars as pl

from tearsignals.ingest import adapters, files, validate

_TIME_COLUMNS = ("t_utc", "start_utc")
PREVIEW_SUBJECT = "inspect"


@dataclass(frozen=True)
class TableSummary:
    rows_ok: int
    rows_quarantined: int
    rows_duplicate: int
    first_utc: datetime | None
    last_utc: datetime | None


@dataclass(frozen=True)
class FileSummary:
    path: Path
    format: str
    rows_in: int
    tables: dict[str, TableSummary]
    problems: Counter[str] = field(default_factory=Counter)


def _span(frame: pl.DataFrame) -> tuple[datetime | None, datetime | None]:
    column = next((c for c in _TIME_COLUMNS if c in frame.columns), None)
    if column is None or frame.is_empty():
        return None, None
    return frame[column].min(), frame[column].max()  # type: ignore[return-value]


def _table_summary(table: str, frame: pl.DataFrame, problems: Counter[str]) -> TableSummary:
    with_ids = files._with_ids(frame, PREVIEW_SUBJECT, "-", table)
    checked = validate.row_rules(table, with_ids)
    problems.update(f"{table}: {r}" for r in checked.quarantined["reason"].to_list())
    first, last = _span(checked.ok)
    return TableSummary(
        checked.ok.height, checked.quarantined.height, checked.duplicates, first, last
    )


def inspect_file(path: Path) -> FileSummary:
    """Detect, parse and row-check ``path``; raises InputError as ingest would record it."""
    adapter, parsed = adapters.parse_file(path)
    problems: Counter[str] = Counter(
        f"{t}: {r}" for t, r in zip(parsed.rejects["table"], parsed.rejects["reason"], strict=True)
    )
    tables = {t: _table_summary(t, f, problems) for t, f in parsed.frames.items()}
    if parsed.duplicates:
        problems["copies resolved by source priority"] += parsed.duplicates
    return FileSummary(path, adapter.name, parsed.rows_in, tables, problems)


def summary_text(summary: FileSummary) -> str:
    """The report printed by the CLI: counts, time spans and problems (no values)."""
    lines = [f"{summary.path}", f"  format:  {summary.format}", f"  records: {summary.rows_in:,}"]
    for table, t in summary.tables.items():
        span = (
            ""
            if t.first_utc is None
            else f", {t.first_utc:%Y-%m-%d %H:%M:%S} → {t.last_utc:%Y-%m-%d %H:%M:%S} UTC"
        )
        lines.append(
            f"  {table}: {t.rows_ok:,} ok, {t.rows_quarantined:,} would be quarantined, "
            f"{t.rows_duplicate:,} duplicate{span}"
        )
    if summary.problems:
        lines.append("  problems:")
        lines += [f"    {n:>6,} × {reason}" for reason, n in summary.problems.most_common(20)]
    else:
        lines.append("  problems: none")
    return "\n".join(lines)
