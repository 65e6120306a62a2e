"""Samsung Health heart rate: ``com.samsung.shealth.tracker.heart_rate.<stamp>.csv``.

Samsung Health → Settings → *Download personal data* writes one CSV per data
type into a folder (or zip) named ``samsunghealth_<user>_<stamp>``; heart rate
measured by a Galaxy Watch (or the phone's sensor) is in
``com.samsung.shealth.tracker.heart_rate.<stamp>.csv``.

Format
------
::

    com.samsung.shealth.tracker.heart_rate,6315005,21
    source,tag_id,com.samsung.health.heart_rate.create_sh_ver,...,com.samsung.health.heart_rate.start_time,...
    0,21313,,...,2024-01-28 13:00:29.233,...,UTC+0100,...,66.0,

* **A metadata line first**: the data type, the app's version and a column
  count; the header is the *second* line. It is skipped, not read as a header.
* **Prefixed columns**: most columns are named
  ``com.samsung.health.heart_rate.<name>``, a few are not (``source``,
  ``tag_id``); the order differs between app versions. Columns are matched by
  name with the prefix removed, never by position (a file with a column both
  with and without the prefix is refused as a duplicate column).
* A trailing comma ends the header and every row (an unnamed, empty column:
  ignored). A UTF-8 BOM may precede the metadata line; lines may end in CRLF.

Taken: ``start_time`` → ``t_utc``, ``heart_rate`` → ``hr_bpm``,
``deviceuuid`` → ``device`` (Samsung's opaque id of the watch or phone, no
name). A row whose ``binning_data`` names a JSON file of per-minute values (a
continuous measurement) holds Samsung's mean over ``start_time`` →
``end_time``; the referenced files are not read, so the mean is taken at
``start_time``. ``min``, ``max``, ``heart_beat_count``, ``tag_id`` (the
measurement context) and the other columns are not taken. A heart rate of 0
(Samsung's failed spot measurement) is quarantined by the ``hr_bpm`` range.

Time basis: UTC, ``time_offset`` the local offset
------------------------------------------------
``start_time`` (``YYYY-MM-DD HH:MM:SS.fff``, no offset) is **UTC**;
``time_offset`` (``UTC+0100``, ``UTC-0400``, ``UTC+0530``) is the phone's
offset from UTC when the value was recorded, i.e. its local clock is
``start_time + time_offset``. The Samsung Health SDK stores every time as UTC
epoch ms with a separate offset, and independent public parsers of real
exports read the CSVs the same way (a night logged ``02:53`` with
``UTC-0400`` is a sleep starting 22:53 local). The offset is therefore not
applied to ``t_utc``; a row with an unreadable ``time_offset`` is still
placed in time, so no profile is needed.

Detection: the metadata line names ``com.samsung.shealth.tracker.heart_rate``
(or ``com.samsung.health.heart_rate``), or, for a file whose metadata line was
removed, the header names ``com.samsung.health.heart_rate.heart_rate``.

Examples
--------
>>> import tempfile
>>> path = Path(tempfile.mkdtemp()) / "com.samsung.shealth.tracker.heart_rate.20240130.csv"
>>> _ = path.write_text(
...     "com.samsung.shealth.tracker.heart_rate,6315005,3\\n"
...     "com.samsung.health.heart_rate.start_time,com.samsung.health.heart_rate.time_offset,"
...     "com.samsung.health.heart_rate.heart_rate,\\n"
...     "2024-01-28 13:00:29.233,UTC+0100,66.0,\\n"
... )
>>> hr = parse(path).frames["heart_rate"]
>>> hr["t_utc"][0].isoformat(), hr["hr_bpm"][0]
('2024-01-28T13:00:29.233000+00:00', 66.0)
"""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl

from tearsignals.ingest.adapters import _tabular as tab
from tearsignals.ingest.adapters.base import NO_CONTEXT, Adapter, Context, Parsed
from tearsignals.ingest.timeparse import utc_from_iso

NAME = "samsung_health"
TABLE = "heart_rate"
PREFIX = "com.samsung.health.heart_rate."
_METADATA = re.compile(r"^(com\.samsung\.shealth\.tracker|com\.samsung\.health)\.heart_rate,")
_HEADER_VALUE = f"{PREFIX}heart_rate"


def _lines(head: bytes) -> list[str]:
    text = tab.head_text(head)
    return [] if text is None else text.lstrip("\r\n").splitlines()[:2]


def _has_metadata_line(head: bytes) -> bool:
    lines = _lines(head)
    return bool(lines) and _METADATA.match(lines[0]) is not None


def sniff(head: bytes, path: Path) -> bool:
    """A metadata line naming Samsung's heart-rate type, or a header with its prefixed value."""
    if _has_metadata_line(head):
        return True
    return _HEADER_VALUE in tab.header_columns(head)


def short_names(columns: list[str]) -> dict[str, str]:
    """Each column's name without Samsung's ``com.samsung.health.heart_rate.`` prefix.

    >>> short_names(["source", "com.samsung.health.heart_rate.start_time"])
    {'source': 'source', 'com.samsung.health.heart_rate.start_time': 'start_time'}
    """
    return {c: c.removeprefix(PREFIX) for c in columns}


def _fields(path: Path) -> pl.DataFrame:
    """The file's fields under their short names (InputError on a duplicate or missing column)."""
    with path.open("rb") as handle:
        head = handle.read(4096)
    fields = tab.read_csv_fields(path, preamble_lines=1 if _has_metadata_line(head) else 0)
    renamed = short_names([c for c in fields.columns if c not in ("row_number", "raw")])
    shorts = list(renamed.values())
    duplicated = sorted({n for n in shorts if shorts.count(n) > 1})
    if duplicated:
        raise tab.input_error(path, f"duplicate column {duplicated[0]!r} (with and without prefix)")
    fields = fields.rename(renamed)
    tab.require_columns(path, fields.columns, [("start_time",), ("heart_rate",)])
    return fields


def heart_rate_with_reasons(fields: pl.DataFrame) -> pl.DataFrame:
    """Canonical heart-rate columns plus ``reason``, ``row_number`` and ``raw``."""
    times = utc_from_iso(fields["start_time"], default_tz="UTC").select("utc", "reason")
    bpm, bpm_reason = tab.float_and_reason(pl.col("heart_rate"), "heart_rate")
    device = pl.col("deviceuuid") if "deviceuuid" in fields.columns else pl.lit(None, pl.String)
    return fields.with_columns(times).select(
        source=pl.lit(NAME),
        device=device,
        t_utc=pl.col("utc"),
        hr_bpm=bpm,
        confidence=pl.lit(None, pl.Int64),
        row_number=pl.col("row_number"),
        reason=tab.first_reason([tab.prefixed(pl.col("reason"), "start_time"), bpm_reason]),
        raw=pl.col("raw"),
    )


def parse(path: Path, context: Context = NO_CONTEXT) -> Parsed:
    """Read a Samsung Health heart-rate CSV into ``heart_rate`` rows and rejects.

    Times carry their basis (UTC): ``context`` plays no part.

    Raises
    ------
    InputError
        File-level problems, no header after the metadata line, a duplicate
        column, or no ``start_time`` / ``heart_rate`` column.
    """
    frame = heart_rate_with_reasons(_fields(path))
    good, rejects = tab.split_rejects(frame, TABLE)
    return Parsed(frames={TABLE: good}, rejects=rejects)


ADAPTER = Adapter(name=NAME, sniff=sniff, parse=parse)
