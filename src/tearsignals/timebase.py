"""Time arithmetic shared by the analysis layers: integer microseconds.

Window bounds and beat times are compared as integer epoch microseconds, so
no float rounding decides whether a beat falls inside a window.

Examples
--------
>>> minutes_us(-2.5)
-150000000
"""

from __future__ import annotations

import polars as pl

US_PER_MIN = 60_000_000


def epoch_us(column: str) -> pl.Expr:
    """Microseconds since the Unix epoch of a time column (any zone)."""
    return pl.col(column).dt.convert_time_zone("UTC").dt.epoch("us")


def minutes_us(minutes: float) -> int:
    """Whole microseconds in ``minutes``."""
    return round(minutes * US_PER_MIN)
