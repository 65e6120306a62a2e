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

import itertools
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import polars as pl

from tearsignals.errors import InputError
from tearsignals.ingest import adapters, files
from tearsignals.ingest.plan import FilePlan, FileTotals, TableOutcome, file_plan
from tearsignals.ingest.profile import PROFILE_NAME, ProfileFile, read_profile

_TIME_COLUMNS = ("t_utc", "start_utc")
PREVIEW_SUBJECT = "inspect"
PREVIEW_FILE_ID = "inspect"
REASON_SOURCE_PRIORITY = "copies resolved by source priority"
COVERAGE_GAP = timedelta(hours=1)
SHOWN_BLOCKS = 6
Block = tuple[datetime, datetime]


@dataclass(frozen=True)
class TableSummary:
    """One table of the file: what ingest would store, quarantine and count as duplicate.

    ``blocks``: the stored rows' times as blocks ``(first, last)`` separated by
    gaps longer than :data:`COVERAGE_GAP` (:func:`coverage_blocks`), in time order.
    """

    rows_ok: int
    rows_quarantined: int
    rows_duplicate: int
    blocks: tuple[Block, ...] = ()

    @property
    def first_utc(self) -> datetime | None:
        return self.blocks[0][0] if self.blocks else None

    @property
    def last_utc(self) -> datetime | None:
        return self.blocks[-1][1] if self.blocks else None


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


def coverage_blocks(times: pl.Series, gap: timedelta = COVERAGE_GAP) -> list[Block]:
    """``(first, last)`` of each run of ``times`` whose successive gaps are at most ``gap``.

    >>> from datetime import UTC
    >>> t = [datetime(2026, 1, 5, 9, tzinfo=UTC) + timedelta(minutes=m) for m in (0, 1, 2, 2900)]
    >>> [(a.strftime("%d %H:%M"), b.strftime("%d %H:%M")) for a, b in coverage_blocks(pl.Series(t))]
    [('05 09:00', '05 09:02'), ('07 09:20', '07 09:20')]
    """
    ordered = times.drop_nulls().sort()
    if ordered.is_empty():
        return []
    frame = ordered.to_frame("t").with_columns(
        block=(pl.col("t").diff() > gap).fill_null(False).cum_sum()
    )
    spans = frame.group_by("block", maintain_order=True).agg(
        first=pl.col("t").first(), last=pl.col("t").last()
    )
    return list(spans.select("first", "last").iter_rows())


def merged_blocks(
    earlier: list[Block], later: list[Block], gap: timedelta = COVERAGE_GAP
) -> list[Block]:
    """The blocks of two sets of times (e.g. two batches): merged where at most ``gap`` apart."""
    out: list[Block] = []
    for first, last in sorted(earlier + later):
        if out and first - out[-1][1] <= gap:
            out[-1] = (out[-1][0], max(out[-1][1], last))
        else:
            out.append((first, last))
    return out


@dataclass
class _TableCounts:
    rows_ok: int = 0
    rows_quarantined: int = 0
    rows_duplicate: int = 0
    blocks: list[Block] = field(default_factory=list)

    def add(self, outcome: TableOutcome | None, quarantined: int) -> None:
        self.rows_quarantined += quarantined
        if outcome is None:
            return
        self.rows_ok += outcome.accepted.height
        self.rows_duplicate += outcome.duplicates
        column = next((c for c in _TIME_COLUMNS if c in outcome.accepted.columns), None)
        if column is not None:
            self.blocks = merged_blocks(self.blocks, coverage_blocks(outcome.accepted[column]))

    def summary(self) -> TableSummary:
        blocks = tuple(self.blocks)
        return TableSummary(self.rows_ok, self.rows_quarantined, self.rows_duplicate, blocks)


def file_summary(path: Path, plans: Iterable[FilePlan]) -> FileSummary:
    """The summary of a file's batch plans: per table (in plan order, then reject-only tables)."""
    tables: dict[str, _TableCounts] = {}
    problems: Counter[str] = Counter()
    skipped: Counter[str] = Counter()
    totals = FileTotals("unknown")
    for plan in plans:
        totals.format = plan.format
        totals.add(plan)
        tables_of_rows = plan.quarantined.get_column("table").to_list()
        per_table = Counter(tables_of_rows)
        for table in dict.fromkeys([*plan.tables, *tables_of_rows]):
            tables.setdefault(table, _TableCounts()).add(plan.tables.get(table), per_table[table])
        problems.update(
            f"{t}: {r}" for t, r in plan.quarantined.select("table", "reason").iter_rows()
        )
        if plan.adapter_duplicates:
            problems[REASON_SOURCE_PRIORITY] += plan.adapter_duplicates
        skipped.update(plan.skipped)
    counts = (
        totals.rows_in, totals.rows_ok, totals.rows_quarantined, totals.rows_duplicate,
        totals.rows_skipped,
    )  # fmt: skip
    summaries = {t: c.summary() for t, c in tables.items()}
    return FileSummary(path, totals.format, *counts, summaries, problems, skipped)


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
    batches = adapter.read(path, files.reading_context(path, adapter, profile))
    plans = (file_plan(adapter.name, b, PREVIEW_SUBJECT, PREVIEW_FILE_ID) for b in batches)
    return file_summary(path, plans)


def duration_text(span: timedelta) -> str:
    """A duration in its two largest units: ``1 d 22 h``, ``2 h 10 min``, ``3 min 5 s``, ``0 s``.

    >>> duration_text(timedelta(days=1, hours=22, minutes=40)), duration_text(timedelta(seconds=185))
    ('1 d 22 h', '3 min 5 s')
    """
    seconds = int(span.total_seconds())
    parts = [(seconds // 86400, "d"), (seconds // 3600 % 24, "h"), (seconds // 60 % 60, "min")]
    parts.append((seconds % 60, "s"))
    shown = [f"{n} {unit}" for n, unit in parts if n][:2]
    return " ".join(shown) or "0 s"


def _span_text(first: datetime, last: datetime) -> str:
    return f"{first:%Y-%m-%d %H:%M:%S} → {last:%Y-%m-%d %H:%M:%S} UTC"


def _coverage_lines(blocks: tuple[Block, ...]) -> list[str]:
    """The blocks of a table and its largest gaps (nothing for one block: the span says it)."""
    if len(blocks) < 2:
        return []
    covered = sum((last - first for first, last in blocks), timedelta())
    gaps = sorted((b[0] - a[1] for a, b in itertools.pairwise(blocks)), reverse=True)
    lines = [
        f"    coverage: {len(blocks):,} blocks (split at gaps over {duration_text(COVERAGE_GAP)}), "
        f"{duration_text(covered)} covered; largest gaps: "
        + ", ".join(duration_text(g) for g in gaps[:3])
    ]
    half = SHOWN_BLOCKS // 2
    shown = list(blocks) if len(blocks) <= SHOWN_BLOCKS else [*blocks[:half], None, *blocks[-half:]]
    for block in shown:
        hidden = len(blocks) - SHOWN_BLOCKS
        lines.append(
            f"      … {hidden:,} more blocks" if block is None else f"      {_span_text(*block)}"
        )
    return lines


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
        span = "" if not t.blocks else f", {_span_text(t.blocks[0][0], t.blocks[-1][1])}"
        lines.append(
            f"  {table}: {t.rows_ok:,} ok, {t.rows_quarantined:,} would be quarantined, "
            f"{t.rows_duplicate:,} duplicate{span}"
        )
        lines += _coverage_lines(t.blocks)
    if summary.problems:
        lines.append("  problems:")
        lines += [f"    {n:>6,} × {reason}" for reason, n in summary.problems.most_common(20)]
    else:
        lines.append("  problems: none")
    if summary.skipped:
        lines.append("  skipped (not ingested, not quarantined):")
        lines += [f"    {n:>6,} × {reason}" for reason, n in summary.skipped.most_common(20)]
    return "\n".join(lines)
