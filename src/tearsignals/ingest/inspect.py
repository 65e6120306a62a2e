"""``tearsignals inspect FILE``: what ingest would make of a file, without writing anything.

Inspect runs the steps of ingest: :func:`tearsignals.ingest.adapters.parse_file`
(format detection and parsing, local times without zone read in the subject
profile found in the file's folder or the nearest folder above it), then
:func:`tearsignals.ingest.plan.file_plan`
(ids, the cast, row rules, the great-expectations gate) with no lake. Its
counts are therefore those ingest stores for the file in a lake that holds none
of its rows yet: rows ok, quarantined (with their reasons), duplicate and
skipped (measures no table takes, with their reasons). A file
that ingest would log as ``unknown_format`` or ``rejected`` raises the
:class:`~tearsignals.errors.InputError` whose message ingest logs as ``detail``.

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

from tearsignals.errors import InputError
from tearsignals.ingest import adapters, files
from tearsignals.ingest.plan import FilePlan, TableOutcome, file_plan
from tearsignals.ingest.profile import PROFILE_NAME, ProfileFile, read_profile

_TIME_COLUMNS = ("t_utc", "start_utc")
PREVIEW_SUBJECT = "inspect"
PREVIEW_FILE_ID = "inspect"
REASON_SOURCE_PRIORITY = "copies resolved by source priority"


@dataclass(frozen=True)
class TableSummary:
    """One table of the file: what ingest would store, quarantine and count as duplicate."""

    rows_ok: int
    rows_quarantined: int
    rows_duplicate: int
    first_utc: datetime | None
    last_utc: datetime | None


@dataclass(frozen=True)
class FileSummary:
    """The file as ingest would log it (``rows_*``), per table, and the reasons for quarantine.

    ``rows_duplicate`` includes the copies the adapter resolved itself (listed
    under ``problems`` as :data:`REASON_SOURCE_PRIORITY`), which belong to no table,
    so the tables' duplicates may add up to less. ``skipped`` counts the skipped
    records per reason.
    """

    path: Path
    format: str
    rows_in: int
    rows_ok: int
    rows_quarantined: int
    rows_duplicate: int
    rows_skipped: int
    tables: dict[str, TableSummary]
    problems: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)


def _span(frame: pl.DataFrame) -> tuple[datetime | None, datetime | None]:
    column = next((c for c in _TIME_COLUMNS if c in frame.columns), None)
    if column is None or frame.is_empty():
        return None, None
    times = pl.col(column)
    first, last = frame.select(times.min().alias("first"), times.max().alias("last")).row(0)
    return first, last


def _table_summary(outcome: TableOutcome | None, quarantined: int) -> TableSummary:
    if outcome is None:
        return TableSummary(0, quarantined, 0, None, None)
    first, last = _span(outcome.accepted)
    return TableSummary(outcome.accepted.height, quarantined, outcome.duplicates, first, last)


def file_summary(path: Path, plan: FilePlan) -> FileSummary:
    """The summary of a file's plan: per table (in plan order, then reject-only tables)."""
    tables_of_rows = plan.quarantined.get_column("table").to_list()
    names = list(dict.fromkeys([*plan.tables, *tables_of_rows]))
    per_table = Counter(tables_of_rows)
    tables = {t: _table_summary(plan.tables.get(t), per_table[t]) for t in names}
    problems = Counter(
        f"{t}: {r}" for t, r in plan.quarantined.select("table", "reason").iter_rows()
    )
    if plan.adapter_duplicates:
        problems[REASON_SOURCE_PRIORITY] += plan.adapter_duplicates
    counts = (
        plan.rows_in, plan.rows_ok, plan.rows_quarantined, plan.rows_duplicate, plan.rows_skipped
    )  # fmt: skip
    return FileSummary(path, plan.format, *counts, tables, problems, Counter(plan.skipped))


def nearest_profile(path: Path) -> ProfileFile | None:
    """The subject profile of the file's folder or of the nearest folder above it holding one."""
    folder = next((f for f in path.parents if (f / PROFILE_NAME).is_file()), None)
    return None if folder is None else read_profile(folder)


def inspect_file(path: Path) -> FileSummary:
    """Plan ``path`` as ingest does, with no lake; raises InputError as ingest would log it.

    A subject profile is summarised as a file without rows (InputError if invalid).
    """
    profile = nearest_profile(path)
    if path.name == PROFILE_NAME:
        if profile is not None and profile.problem is not None:
            raise InputError(profile.problem)
        return FileSummary(path, files.PROFILE_FORMAT, 0, 0, 0, 0, 0, {})
    adapter = adapters.detected(path)
    parsed = adapter.parse(path, files.reading_context(path, adapter, profile))
    return file_summary(path, file_plan(adapter.name, parsed, PREVIEW_SUBJECT, PREVIEW_FILE_ID))


def summary_text(summary: FileSummary) -> str:
    """The report printed by the CLI: counts, time spans and problems (no values)."""
    lines = [
        f"{summary.path}",
        f"  format:  {summary.format}",
        f"  records: {summary.rows_in:,} ({summary.rows_ok:,} ok, {summary.rows_quarantined:,} "
        f"would be quarantined, {summary.rows_duplicate:,} duplicate, "
        f"{summary.rows_skipped:,} skipped)",
    ]
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
    if summary.skipped:
        lines.append("  skipped (not ingested, not quarantined):")
        lines += [f"    {n:>6,} × {reason}" for reason, n in summary.skipped.most_common(20)]
    return "\n".join(lines)
