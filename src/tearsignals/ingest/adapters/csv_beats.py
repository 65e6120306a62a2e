"""Beat-to-beat intervals from a CSV: one row per beat, a time column and ``rr_ms``.

Time column (first present wins): ``timestamp`` (ISO 8601 with offset, or local
time plus a ``tz`` column, else in the subject's zone), ``time_utc``/``t_utc`` (ISO; a value without offset
is UTC, as the header says), ``timestamp_ms``/``epoch_ms`` (epoch milliseconds).
An optional ``device`` column fills ``device``; other columns are ignored.

Examples
--------
>>> import tempfile
>>> path = Path(tempfile.mkdtemp()) / "rr.txt"
>>> _ = path.write_text("timestamp,rr_ms\\n2026-01-05T15:00:00.812+01:00,812\\n")
>>> ADAPTER.sniff(path.read_bytes(), path)
True
>>> parse(path).frames["beats"].select("t_utc", "rr_ms").row(0)[1]
812.0
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from tearsignals.ingest.adapters import _tabular as tab
from tearsignals.ingest.adapters.base import NO_CONTEXT, Adapter, Context, Parsed
from tearsignals.ingest.timeparse import LocalZones

NAME = "csv_beats"
TABLE = "beats"
VALUE_COLUMN = "rr_ms"
REQUIRED = ((VALUE_COLUMN,), tab.TIME_COLUMN_NAMES)


def sniff(head: bytes, path: Path) -> bool:
    """A text table whose header names ``rr_ms``."""
    return tab.has_any_column(head, (VALUE_COLUMN,))


def beats_with_reasons(
    fields: pl.DataFrame, source: str, zones: LocalZones | None = None
) -> pl.DataFrame:
    """Canonical beat columns plus ``reason``, ``row_number`` and ``raw`` for every record."""
    times = tab.sample_times(fields, zones)
    rr_ms, rr_reason = tab.float_and_reason(pl.col(VALUE_COLUMN), VALUE_COLUMN)
    device = pl.col("device") if "device" in fields.columns else pl.lit(None, pl.String)
    return fields.with_columns(times).select(
        source=pl.lit(source),
        device=device,
        t_utc=pl.col("utc"),
        rr_ms=rr_ms,
        origin=pl.lit("rr"),
        row_number=pl.col("row_number"),
        reason=tab.first_reason([pl.col("reason"), rr_reason]),
        raw=pl.col("raw"),
    )


def parse(path: Path, context: Context = NO_CONTEXT) -> Parsed:
    """Read a beats CSV into ``beats`` rows and rejects.

    Raises
    ------
    InputError
        File-level problems (see :mod:`tearsignals.ingest.adapters._tabular`), or no
        ``rr_ms`` / time column.
    """
    fields = tab.read_csv_fields(path)
    tab.require_columns(path, fields.columns, REQUIRED)
    good, rejects = tab.split_rejects(beats_with_reasons(fields, NAME, context.zones), TABLE)
    return Parsed(frames={TABLE: good}, rejects=rejects)


ADAPTER = Adapter(name=NAME, sniff=sniff, parse=parse, reads_profile=True)
