"""Heart-rate samples from a CSV: a time column (as for beats) and a heart-rate column.

The heart-rate column must state its unit. ``hr_bpm`` is taken as is. A
per-second count (``hr_count_per_s``, ``hr_per_s``, ``hr_hz``) is converted
explicitly (× 60); the conversion is declared in :data:`HR_UNITS`, never
inferred from the values. A bare ``hr``/``heart_rate`` column is not
recognised (unknown unit), so such a file is not detected as ``csv_hr``.

Examples
--------
>>> import tempfile
>>> path = Path(tempfile.mkdtemp()) / "hr.csv"
>>> _ = path.write_text("epoch_ms,hr_count_per_s\\n1767621600000,1.2\\n")
>>> parse(path).frames["heart_rate"]["hr_bpm"].to_list()
[72.0]
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from tearsignals.ingest.adapters import _tabular as tab
from tearsignals.ingest.adapters.base import NO_CONTEXT, Adapter, Context, Parsed
from tearsignals.ingest.timeparse import LocalZones

NAME = "csv_hr"
TABLE = "heart_rate"
# Header name → factor to beats per minute, in priority order.
HR_UNITS: dict[str, float] = {
    "hr_bpm": 1.0,
    "hr_count_per_s": 60.0,
    "hr_per_s": 60.0,
    "hr_hz": 60.0,
}
REQUIRED = (tuple(HR_UNITS), tab.TIME_COLUMN_NAMES)


def sniff(head: bytes, path: Path) -> bool:
    """A text table whose header names a heart-rate column with a known unit."""
    return tab.has_any_column(head, HR_UNITS)


def heart_rate_with_reasons(
    fields: pl.DataFrame, source: str, zones: LocalZones | None = None
) -> pl.DataFrame:
    """Canonical heart-rate columns plus ``reason``, ``row_number`` and ``raw``."""
    column = tab.first_present(fields.columns, tuple(HR_UNITS))
    assert column is not None, "checked by require_columns"
    times = tab.sample_times(fields, zones)
    value, value_reason = tab.float_and_reason(pl.col(column), column)
    device = pl.col("device") if "device" in fields.columns else pl.lit(None, pl.String)
    return fields.with_columns(times).select(
        source=pl.lit(source),
        device=device,
        t_utc=pl.col("utc"),
        hr_bpm=value * HR_UNITS[column],
        confidence=pl.lit(None, pl.Int64),
        row_number=pl.col("row_number"),
        reason=tab.first_reason([pl.col("reason"), value_reason]),
        raw=pl.col("raw"),
    )


def parse(path: Path, context: Context = NO_CONTEXT) -> Parsed:
    """Read a heart-rate CSV into ``heart_rate`` rows and rejects.

    Raises
    ------
    InputError
        File-level problems, or no heart-rate / time column.
    """
    fields = tab.read_csv_fields(path)
    tab.require_columns(path, fields.columns, REQUIRED)
    frame = heart_rate_with_reasons(fields, NAME, context.zones)
    good, rejects = tab.split_rejects(frame, TABLE)
    return Parsed(frames={TABLE: good}, rejects=rejects)


ADAPTER = Adapter(name=NAME, sniff=sniff, parse=parse, reads_profile=True)
