"""Android Health Connect export: the SQLite database ``health_connect_export.db`` (or its zip).

Health Connect (Android settings → Health Connect → *Export data*) writes a
zip holding ``health_connect_export.db``, a copy of its own SQLite store, with
what every app on the phone wrote (Fitbit, Samsung Health, Garmin, Oura, ...).
Google documents no schema; the one here is the one public readers of real
exports describe.

Tables read
-----------
* Heart rate is a *series*: a parent ``heart_rate_record_table`` (``row_id``,
  ``app_info_id``, ``start_time``, ``start_zone_offset``, ...) holds no value;
  its samples are rows of ``heart_rate_record_series_table`` (``parent_key`` →
  the parent's ``row_id``, ``epoch_millis``, ``beats_per_minute``), one or many
  per parent → ``heart_rate``, one row per sample.
* ``heart_rate_variability_rmssd_record_table`` (an *instant* record:
  ``time``, ``zone_offset``, ``heart_rate_variability_millis``; Fitbit writes
  one every 5 minutes of sleep) → ``vendor_hrv.rmssd_ms``, period ``reading``.
  Older exports lack the table: no HRV rows.
* ``application_info_table.package_name`` of the record's ``app_info_id`` →
  ``device`` (e.g. ``com.fitbit.FitbitMobile``): which app wrote it.

Every other table (steps, sleep, resting heart rate, Health Connect's own
bookkeeping) is not read, and not counted.

Time basis: UTC epoch ms
------------------------
``epoch_millis`` and ``time`` are UTC epoch milliseconds. ``zone_offset`` /
``start_zone_offset`` is the writing app's offset from UTC **in seconds**
(``32400`` for Tokyo; Health Connect's own generated column
``local_date_time = time + 1000 * zone_offset`` shows the unit), null when
the app gave none; it does not move ``t_utc``, so no profile is needed.

Values are read as text (SQLite columns hold any type: a value stored as text
is read like a number) and checked like any table's fields: a sample without
time or value, or whose parent record is missing, is a reject with a reason;
out-of-range values are quarantined by the schema rules.

Detection: SQLite (``SQLite format 3``) holding ``heart_rate_record_table`` or
the RMSSD table, or a zip whose listing names ``health_connect_export.db``.

Examples
--------
>>> import sqlite3, tempfile
>>> path = Path(tempfile.mkdtemp()) / "health_connect_export.db"
>>> with sqlite3.connect(path) as db:
...     _ = db.executescript(
...         "CREATE TABLE application_info_table (row_id INTEGER PRIMARY KEY, package_name TEXT);"
...         "CREATE TABLE heart_rate_record_table (row_id INTEGER PRIMARY KEY, app_info_id INTEGER);"
...         "CREATE TABLE heart_rate_record_series_table (parent_key INTEGER, epoch_millis INTEGER,"
...         " beats_per_minute INTEGER);"
...         "INSERT INTO heart_rate_record_table VALUES (1, NULL);"
...         "INSERT INTO heart_rate_record_series_table VALUES (1, 1767621600000, 61);"
...     )
>>> hr = parse(path).frames["heart_rate"]
>>> hr["t_utc"][0].isoformat(), hr["hr_bpm"][0]
('2026-01-05T14:00:00+00:00', 61.0)
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import polars as pl

from tearsignals.errors import InputError
from tearsignals.ingest.adapters import _tabular as tab
from tearsignals.ingest.adapters import archive
from tearsignals.ingest.adapters.base import NO_CONTEXT, Adapter, Context, Parsed, no_rejects
from tearsignals.ingest.timeparse import utc_from_epoch_ms

NAME = "health_connect"
DB_MEMBER = "health_connect_export.db"
SQLITE_MAGIC = b"SQLite format 3\x00"
HR_PARENT = "heart_rate_record_table"
HR_SERIES = "heart_rate_record_series_table"
RMSSD = "heart_rate_variability_rmssd_record_table"
APPS = "application_info_table"
REASON_NO_PARENT = "series sample without its heart-rate record"

_HEART_RATE_SQL = f"""
SELECT s.epoch_millis, s.beats_per_minute, a.package_name, r.row_id IS NOT NULL
FROM {HR_SERIES} s
LEFT JOIN {HR_PARENT} r ON s.parent_key = r.row_id
LEFT JOIN {APPS} a ON r.app_info_id = a.row_id
ORDER BY s.epoch_millis, s.rowid
"""
_RMSSD_SQL = f"""
SELECT h.time, h.heart_rate_variability_millis, a.package_name, h.zone_offset
FROM {RMSSD} h LEFT JOIN {APPS} a ON h.app_info_id = a.row_id
ORDER BY h.time, h.rowid
"""


def _tables(db: sqlite3.Connection) -> set[str]:
    rows = db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return {name for (name,) in rows}


def _connect(path: Path) -> sqlite3.Connection:
    """The database opened read-only, never modified (not even its journal)."""
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True)


def _is_export_db(path: Path) -> bool:
    try:
        with closing(_connect(path)) as db:
            return not _tables(db).isdisjoint({HR_PARENT, RMSSD})
    except sqlite3.Error:
        return False


def _zip_holds_export(path: Path) -> bool:
    try:
        names = archive.member_names(path)
    except InputError:
        return False
    return any(n.rsplit("/", 1)[-1] == DB_MEMBER for n in names)


def sniff(head: bytes, path: Path) -> bool:
    """A SQLite database with Health Connect's heart tables, or a zip naming the export DB."""
    if archive.is_zip(head):
        return _zip_holds_export(path)
    return head.startswith(SQLITE_MAGIC) and _is_export_db(path)


@contextmanager
def export_db(path: Path, scratch: Path | None) -> Iterator[Path]:
    """The export database: the file itself, or the zip's member copied to ``scratch``.

    SQLite cannot read from a stream, so a zipped database is copied (through
    the checks of :mod:`tearsignals.ingest.adapters.archive`) to a private
    temporary file, removed afterwards.
    """
    with path.open("rb") as handle:
        zipped = archive.is_zip(handle.read(4))
    if not zipped:
        yield path
        return
    members = [n for n in archive.member_names(path) if n.rsplit("/", 1)[-1] == DB_MEMBER]
    if len(members) != 1:
        raise tab.input_error(path, f"zip archive must hold one {DB_MEMBER}")
    with tempfile.TemporaryDirectory(prefix=".health-connect-", dir=scratch) as folder:
        copy = Path(folder) / DB_MEMBER
        with archive.open_member(path, members[0]) as stream, copy.open("wb") as out:
            shutil.copyfileobj(stream, out)
        yield copy


def _text(values: list[object]) -> pl.Series:
    return pl.Series([None if v is None else str(v) for v in values], dtype=pl.String)


def _fields(db: sqlite3.Connection, sql: str, names: tuple[str, ...]) -> pl.DataFrame:
    """The query's rows as text fields, with ``row_number`` and ``raw`` (the values joined)."""
    rows = db.execute(sql).fetchall()
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
    fields = pl.DataFrame({n: _text(list(c)) for n, c in zip(names, columns, strict=True)})
    shown = [pl.col(n).fill_null("") for n in names]
    return fields.with_columns(
        row_number=pl.int_range(1, pl.len() + 1, dtype=pl.Int64),
        raw=pl.concat_str(shown, separator=","),
    )


def heart_rate_with_reasons(fields: pl.DataFrame) -> pl.DataFrame:
    """Canonical heart-rate columns plus ``reason``, ``row_number`` and ``raw``."""
    times = utc_from_epoch_ms(fields["epoch_millis"]).select("utc", "reason")
    bpm, bpm_reason = tab.float_and_reason(pl.col("beats_per_minute"), "beats_per_minute")
    orphan = pl.when(pl.col("has_parent") == "0").then(pl.lit(REASON_NO_PARENT))
    return fields.with_columns(times).select(
        source=pl.lit(NAME),
        device=pl.col("package_name"),
        t_utc=pl.col("utc"),
        hr_bpm=bpm,
        confidence=pl.lit(None, pl.Int64),
        row_number=pl.col("row_number"),
        reason=tab.first_reason(
            [tab.prefixed(pl.col("reason"), "epoch_millis"), bpm_reason, orphan]
        ),
        raw=pl.col("raw"),
    )


def rmssd_with_reasons(fields: pl.DataFrame) -> pl.DataFrame:
    """Canonical ``vendor_hrv`` columns plus ``reason``, ``row_number`` and ``raw``."""
    times = utc_from_epoch_ms(fields["time"]).select("utc", "reason")
    value = "heart_rate_variability_millis"
    rmssd, rmssd_reason = tab.float_and_reason(pl.col(value), value)
    return fields.with_columns(times).select(
        source=pl.lit(NAME),
        device=pl.col("package_name"),
        t_utc=pl.col("utc"),
        period=pl.lit("reading"),
        rmssd_ms=rmssd,
        row_number=pl.col("row_number"),
        reason=tab.first_reason([tab.prefixed(pl.col("reason"), "time"), rmssd_reason]),
        raw=pl.col("raw"),
    )


def parse(path: Path, context: Context = NO_CONTEXT) -> Parsed:
    """Read a Health Connect export into ``heart_rate`` and ``vendor_hrv`` rows and rejects.

    Times are UTC epoch ms: ``context.zones`` plays no part (``context.scratch``
    receives the database of a zip while it is read).

    Raises
    ------
    InputError
        Not a readable SQLite database, a zip without exactly one export
        database (or failing the archive checks), or a heart-rate series
        table without the columns above.
    """
    frames, rejects = {}, []
    with export_db(path, context.scratch) as db_path:
        try:
            with closing(_connect(db_path)) as db:
                tables = _tables(db)
                if HR_SERIES in tables:
                    names = ("epoch_millis", "beats_per_minute", "package_name", "has_parent")
                    hr = heart_rate_with_reasons(_fields(db, _HEART_RATE_SQL, names))
                    frames["heart_rate"], bad = tab.split_rejects(hr, "heart_rate")
                    rejects.append(bad)
                if RMSSD in tables:
                    names = ("time", "heart_rate_variability_millis", "package_name", "zone")
                    hrv = rmssd_with_reasons(_fields(db, _RMSSD_SQL, names))
                    frames["vendor_hrv"], bad = tab.split_rejects(hrv, "vendor_hrv")
                    rejects.append(bad)
        except sqlite3.Error as exc:
            problem = f"not a readable Health Connect database ({type(exc).__name__})"
            raise tab.input_error(path, problem) from exc
    return Parsed(frames=frames, rejects=pl.concat(rejects) if rejects else no_rejects())


ADAPTER = Adapter(name=NAME, sniff=sniff, parse=parse)
