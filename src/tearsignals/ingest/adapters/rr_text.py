"""Plain RR text: one beat-to-beat interval per line, with an optional ``#`` header.

Format
------
::

    # start: 2024-05-05T14:50:00+00:00
    # unit: ms
    # device: Polar H10
    812
    798

Records are the non-blank lines that are not ``#`` comments; ``row_number``
counts them from 1. Header keys (case-insensitive, in the leading ``#``
lines): ``start``, ``unit`` and ``device``; other comments are ignored.

Time basis
----------
The values carry no clock. ``start`` is the instant the recording started,
ISO 8601, taken from the ``# start:`` header or from a sidecar file
``<file name>.start`` beside the file (e.g. ``rest_rri.txt.start`` holding
``2024-05-05T14:50:00+00:00``). With an offset (``Z`` allowed) it is an
instant; a local time without offset is read in the zone of a ``<file
name>.tz`` sidecar or, without one, in the subject's zone from the subject
profile (:func:`local_time_utc`). Beat *i* is placed at ``start + rr[1] +
... + rr[i]`` (the end of its interval). Header and sidecar must agree when
both exist; with neither, or a local start and no zone, the file is refused
(:class:`~tearsignals.errors.InputError`): a guessed start would shift every
beat against the episode log.

Unit
----
``# unit: ms`` or ``# unit: s`` decides. Without it the median of the positive
values decides, by magnitude only: median >= 200 means milliseconds, median
< 10 means seconds (values x 1000); anything between is refused as ambiguous.

Bad records
-----------
* A line that is not a number is rejected (``unparseable rr``). Every later
  record is rejected too (``time unknown: follows unparseable row N``): its
  place in time depends on the lost interval.
* Zero or negative values are rejected (``rr not positive``) and add nothing
  to the clock.
* Positive values outside the physiological range stay in the clock (the
  device's time did pass) and are quarantined later by the schema rules.

Detection
---------
Text whose non-blank lines are ``#`` comments or single numbers, and either a
``# start:``/``# unit:`` header or every number in [0, 10000] with the median
of the positive ones a plausible RR (200-3000 ms or 0.2-3 s). Single-column exports that start with an epoch (Empatica E4
``HR.csv``, ``EDA.csv``, ...) fail the range test. A waveform column whose
values happen to look like RR (raw PPG counts) passes, and is then refused for
lack of a start time unless one is supplied.

Sidecars
--------
``<file>.start`` (this format) and ``<file>.tz`` (a local start here, Polar
``.hrm``, ISHNE) are read by the adapter of their data file; a ``.tz`` sidecar
wins over the subject profile. :data:`SIDECAR_ADAPTER` recognises them in an
inbox (a name ending in ``.start``/``.tz`` *and* a single line holding an ISO
time with offset / a time zone) so they are logged as ``sidecar`` with 0 rows
instead of ``unknown_format``.

Examples
--------
>>> import tempfile
>>> path = Path(tempfile.mkdtemp()) / "rr.txt"
>>> _ = path.write_text("# start: 2026-01-05T15:00:00+01:00\\n0.8\\n0.9\\n")
>>> ADAPTER.sniff(path.read_bytes(), path)
True
>>> beats = parse(path).frames["beats"]
>>> beats["rr_ms"].to_list(), beats["t_utc"][1].isoformat()
([800.0, 900.0], '2026-01-05T14:00:01.700000+00:00')
"""

from __future__ import annotations

import re
import statistics
from datetime import datetime
from pathlib import Path

import polars as pl

from tearsignals.ingest.adapters import _tabular as tab
from tearsignals.ingest.adapters.base import NO_CONTEXT, SNIFF_BYTES, Adapter, Context, Parsed
from tearsignals.ingest.inbox import is_regular_file
from tearsignals.ingest.profile import PROFILE_NAME
from tearsignals.ingest.timeparse import (
    REASON_NO_TZ,
    UTC_DTYPE,
    LocalZones,
    is_known_time_zone,
    utc_from_iso,
)

NAME = "rr_text"
SIDECAR_NAME = "sidecar"
TABLE = "beats"
START_SUFFIX = ".start"
TZ_SUFFIX = ".tz"
SIDECAR_SUFFIXES = (START_SUFFIX, TZ_SUFFIX)
# Header unit → factor to milliseconds.
UNITS: dict[str, float] = {
    "ms": 1.0,
    "millisecond": 1.0,
    "milliseconds": 1.0,
    "s": 1000.0,
    "sec": 1000.0,
    "second": 1000.0,
    "seconds": 1000.0,
}
MEDIAN_MS_MIN = 200.0  # median at or above: milliseconds
MEDIAN_S_MAX = 10.0  # median below: seconds
SNIFF_MAX_VALUE = 10_000.0
SNIFF_MS_RANGE = (200.0, 3000.0)
SNIFF_S_RANGE = (0.2, 3.0)
REASON_UNPARSEABLE = "unparseable rr"
REASON_NOT_POSITIVE = "rr not positive"

_NUMBER = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$")
_HEADER_KEY = re.compile(r"^#\s*([A-Za-z_]+)\s*:\s*(.*?)\s*$")


# --- detection --------------------------------------------------------------------------


def _head_lines(head: bytes) -> list[str] | None:
    """Stripped lines of a text head, without a last line the head may have cut."""
    text = tab.head_text(head)
    if text is None:
        return None
    lines = text.splitlines()
    if len(head) >= SNIFF_BYTES and not text.endswith("\n"):
        lines = lines[:-1]
    return [line.strip() for line in lines]


def plausible_rr_values(values: list[float]) -> bool:
    """Whether numbers look like RR intervals in ms or s (see *Detection*).

    >>> plausible_rr_values([812.0, 790.0, 0.0]), plausible_rr_values([1.56e9, 1.0, 71.0])
    (True, False)
    """
    if not values or any(not 0.0 <= v <= SNIFF_MAX_VALUE for v in values):
        return False
    positive = [v for v in values if v > 0]
    if not positive:
        return False
    median = statistics.median(positive)
    return any(lo <= median <= hi for lo, hi in (SNIFF_MS_RANGE, SNIFF_S_RANGE))


def _has_rr_header(lines: list[str]) -> bool:
    """Whether a ``# start:`` or ``# unit:`` line is among the comments."""
    keys = (_HEADER_KEY.match(line) for line in lines if line.startswith("#"))
    return any(k is not None and k.group(1).lower() in ("start", "unit") for k in keys)


def sniff(head: bytes, path: Path) -> bool:
    """Numbers-only text (plus ``#`` comments) whose values look like RR intervals.

    With a ``# start:`` or ``# unit:`` header the magnitude test is skipped: the
    header says what the numbers are, and :func:`parse` then checks the unit.
    """
    lines = _head_lines(head)
    if lines is None:
        return False
    values: list[float] = []
    for line in lines:
        if not line or line.startswith("#"):
            continue
        if not _NUMBER.match(line):
            return False
        values.append(float(line))
    if _has_rr_header(lines):
        return True
    return plausible_rr_values(values)


# --- header, sidecars, unit ---------------------------------------------------------------


def header_fields(path: Path, lines: list[str]) -> dict[str, str]:
    """``key: value`` pairs of the leading ``#`` lines (keys lower-case).

    Raises
    ------
    InputError
        A key given twice.
    """
    fields: dict[str, str] = {}
    for line in lines:
        if line and not line.startswith("#"):
            break
        match = _HEADER_KEY.match(line)
        if match is None:
            continue
        key = match.group(1).lower()
        if key in fields:
            raise tab.input_error(path, f"header key {key!r} given twice")
        fields[key] = match.group(2)
    return fields


def sidecar_text(path: Path, suffix: str) -> str | None:
    """The first non-comment line of ``<path name><suffix>`` beside ``path``, if it exists.

    Raises
    ------
    InputError
        The sidecar exists but is unreadable, not UTF-8, or empty.
    """
    sidecar = path.with_name(path.name + suffix)
    if not is_regular_file(sidecar):  # a link is not followed (it is refused in the inbox)
        return None
    try:
        text = sidecar.read_bytes().removeprefix(tab.BOM).decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise tab.input_error(path, f"cannot read {sidecar.name} as UTF-8 text") from exc
    lines = [line.strip() for line in text.splitlines()]
    value = next((line for line in lines if line and not line.startswith("#")), None)
    if value is None:
        raise tab.input_error(path, f"{sidecar.name} is empty")
    return value


def local_time_utc(
    path: Path,
    text: str,
    zone: str | None,
    zones: LocalZones | None,
    where: str,
    file_zone: str = "",
) -> datetime:
    """The UTC instant of an ISO 8601 time, local ones read in ``zone``, else in ``zones``.

    An inline offset wins. ``zone`` is the file's own (a ``.tz`` sidecar, a
    setting in the file); ``zones`` the subject's, from the subject profile.
    ``file_zone`` says where the file's own zone goes (default: the ``.tz``
    sidecar), for the message when there is none.

    Raises
    ------
    InputError
        Naming ``where``: unparseable, a local time with no zone at all (the
        message says how to give one), an unknown zone, a DST gap or overlap.
    """
    tz = None if zone is None else pl.Series([zone], dtype=pl.String)
    parsed = utc_from_iso(pl.Series([text], dtype=pl.String), tz, default_tz=zones)
    reason = parsed["reason"][0]
    if reason == REASON_NO_TZ:
        raise tab.input_error(
            path,
            f"{where} is a local time without zone: put an IANA zone (e.g. Europe/Berlin) "
            f"{file_zone or f'in {path.name}{TZ_SUFFIX}'} or as timezone in the subject's "
            f"{PROFILE_NAME}",
        )
    if reason is not None:
        raise tab.input_error(path, f"{where}: {reason}")
    value: datetime = parsed["utc"][0]
    return value


def start_utc(path: Path, header: dict[str, str], zones: LocalZones | None = None) -> datetime:
    """Recording start from the ``# start:`` header and/or the ``.start`` sidecar.

    A local start is read in the ``.tz`` sidecar's zone, else in ``zones``.

    Raises
    ------
    InputError
        No start anywhere, an unplaceable one, or header and sidecar disagree.
    """
    sidecar_name = path.name + START_SUFFIX
    in_header = header.get("start")
    in_sidecar = sidecar_text(path, START_SUFFIX)
    if in_header is None and in_sidecar is None:
        raise tab.input_error(
            path,
            "no start time: add '# start: <ISO 8601 time with offset>' as the first line "
            f"or put that time in {sidecar_name}",
        )
    zone = sidecar_text(path, TZ_SUFFIX)

    def instant(text: str | None, where: str) -> datetime | None:
        return None if text is None else local_time_utc(path, text, zone, zones, where)

    header_utc = instant(in_header, "start time in header")
    sidecar_utc = instant(in_sidecar, f"start time in {sidecar_name}")
    if header_utc is not None and sidecar_utc is not None and header_utc != sidecar_utc:
        raise tab.input_error(path, f"start time in header and in {sidecar_name} disagree")
    result = header_utc if header_utc is not None else sidecar_utc
    assert result is not None
    return result


def ms_factor(path: Path, header: dict[str, str], values: pl.Series) -> float:
    """Factor from the file's values to milliseconds (declared unit or the median rule).

    Raises
    ------
    InputError
        Unknown declared unit, or a median between the two magnitude ranges.
    """
    declared = header.get("unit")
    if declared is not None:
        factor = UNITS.get(declared.strip().lower())
        if factor is None:
            raise tab.input_error(path, f"unknown unit {declared!r} in header (use ms or s)")
        return factor
    positive = values.filter(values > 0).to_list()
    median = float(statistics.median(positive)) if positive else None
    if median is None or median >= MEDIAN_MS_MIN:
        return 1.0
    if median < MEDIAN_S_MAX:
        return 1000.0
    raise tab.input_error(
        path,
        "cannot tell milliseconds from seconds (median between 10 and 200): "
        "add '# unit: ms' or '# unit: s'",
    )


# --- records to beats -------------------------------------------------------------------


def interval_values(text: pl.Expr) -> pl.Expr:
    """Float64 value of each record's text; null where not a finite number."""
    value = text.str.strip_chars().cast(pl.Float64, strict=False)
    return pl.when(value.is_finite()).then(value)


def beats_from_intervals(
    records: pl.DataFrame, start: datetime, factor: float, source: str, device: str | None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Beats placed at ``start`` + cumulative intervals, and the rejected records.

    Parameters
    ----------
    records
        ``text`` (one interval as text), ``row_number`` and ``raw``, in file order.
    start
        UTC instant the first interval starts at.
    factor
        Multiplier from the values to milliseconds.
    source, device
        Written to every beat.
    """
    value = interval_values(pl.col("text"))
    bad_rows = records.filter(value.is_null())["row_number"]
    first_bad = int(bad_rows[0]) if bad_rows.len() else None  # records are in file order
    after_bad = pl.lit(False) if first_bad is None else pl.col("row_number") > first_bad
    reason = (
        pl.when(value.is_null()).then(pl.lit(REASON_UNPARSEABLE))
        .when(after_bad).then(pl.lit(f"time unknown: follows unparseable row {first_bad}"))
        .when(value <= 0).then(pl.lit(REASON_NOT_POSITIVE))
    )  # fmt: skip
    work = records.with_columns(rr_ms=(value * factor).round(3), reason=reason)
    step_us = pl.when(pl.col("reason").is_null()).then((pl.col("rr_ms") * 1000).round(0))
    elapsed = step_us.fill_null(0).cast(pl.Int64).cum_sum()
    beats = work.select(
        source=pl.lit(source),
        device=pl.lit(device, pl.String),
        t_utc=(pl.lit(start, UTC_DTYPE) + pl.duration(microseconds=elapsed)).cast(UTC_DTYPE),
        rr_ms="rr_ms",
        origin=pl.lit("rr"),
        row_number="row_number",
        reason="reason",
        raw="raw",
    )
    return tab.split_rejects(beats, TABLE)


def record_lines(lines: list[str]) -> pl.DataFrame:
    """``text``, ``row_number`` and ``raw`` of the data lines (not blank, not ``#``)."""
    data = [line for line in lines if line and not line.startswith("#")]
    return pl.DataFrame(
        {
            "text": pl.Series(data, dtype=pl.String),
            "row_number": pl.Series(range(1, len(data) + 1), dtype=pl.Int64),
            "raw": pl.Series(data, dtype=pl.String),
        }
    )


def parse(path: Path, context: Context = NO_CONTEXT) -> Parsed:
    """Read a plain RR text file into ``beats`` rows and rejects.

    Raises
    ------
    InputError
        Unreadable, empty, binary or non-UTF-8 file; no start time; unknown or
        ambiguous unit; a header key twice.
    """
    lines = [line.strip() for line in tab.text_bytes(path).decode("utf-8").splitlines()]
    header = header_fields(path, lines)
    records = record_lines(lines)
    start = start_utc(path, header, context.zones)
    factor = ms_factor(path, header, records.select(interval_values(pl.col("text")))["text"])
    good, rejects = beats_from_intervals(records, start, factor, NAME, header.get("device"))
    return Parsed(frames={TABLE: good}, rejects=rejects)


ADAPTER = Adapter(name=NAME, sniff=sniff, parse=parse, reads_profile=True)


# --- Elite HRV --------------------------------------------------------------------------------

ELITE_NAME = "elite_hrv"
_ELITE_FILE = re.compile(r"^(\d{4}-\d{2}-\d{2}) (\d{2})-(\d{2})-(\d{2})\.txt$", re.IGNORECASE)


def elite_start(path: Path) -> str | None:
    """The local start an Elite HRV file name holds: ``2026-01-17 17-47-13.txt`` → ISO text.

    >>> elite_start(Path("2026-01-17 17-47-13.txt")), elite_start(Path("rr.txt"))
    ('2026-01-17T17:47:13', None)
    """
    match = _ELITE_FILE.match(path.name)
    return None if match is None else f"{match[1]}T{match[2]}:{match[3]}:{match[4]}"


def sniff_elite(head: bytes, path: Path) -> bool:
    """RR text (:func:`sniff`) named as Elite HRV names its readings (the one use of the name)."""
    return elite_start(path) is not None and sniff(head, path)


def parse_elite(path: Path, context: Context = NO_CONTEXT) -> Parsed:
    """Read an Elite HRV reading: RR text whose start is the phone's local time in its name.

    A ``# start:`` header or ``.start`` sidecar wins over the name; the name's
    local time is read in the ``.tz`` sidecar's zone, else the subject
    profile's.

    Raises
    ------
    InputError
        As :func:`parse`; a start in the name that is local with no zone, or
        falls in a DST gap or overlap.
    """
    lines = [line.strip() for line in tab.text_bytes(path).decode("utf-8").splitlines()]
    header = header_fields(path, lines)
    records = record_lines(lines)
    named = elite_start(path)
    if "start" in header or sidecar_text(path, START_SUFFIX) is not None or named is None:
        start = start_utc(path, header, context.zones)
    else:
        zone = sidecar_text(path, TZ_SUFFIX)
        start = local_time_utc(path, named, zone, context.zones, "start time in the file name")
    factor = ms_factor(path, header, records.select(interval_values(pl.col("text")))["text"])
    good, rejects = beats_from_intervals(records, start, factor, ELITE_NAME, header.get("device"))
    return Parsed(frames={TABLE: good}, rejects=rejects)


ELITE_ADAPTER = Adapter(name=ELITE_NAME, sniff=sniff_elite, parse=parse_elite, reads_profile=True)


# --- sidecars ------------------------------------------------------------------------------

_OFFSET = re.compile(r"^(?:[Zz]|[+-]\d{2}(?::?\d{2})?)$")


def _sidecar_value_ok(suffix: str, value: str) -> bool:
    """Whether a sidecar line is a zone (``.tz``) or an ISO time with offset (``.start``)."""
    if suffix == TZ_SUFFIX:
        return bool(_OFFSET.match(value)) or is_known_time_zone(value)
    parsed = utc_from_iso(pl.Series([value], dtype=pl.String))
    return parsed["reason"][0] is None


def _sidecar_suffix(path: Path) -> str | None:
    """``.tz`` or ``.start`` when the name ends with it (after a data file's name)."""
    name = path.name.lower()
    return next((s for s in (TZ_SUFFIX, START_SUFFIX) if name.endswith(s) and name != s), None)


def sniff_sidecar(head: bytes, path: Path) -> bool:
    """A ``.tz``/``.start`` name *and* one line holding a zone / an ISO time with offset."""
    suffix = _sidecar_suffix(path)
    lines = _head_lines(head)
    if suffix is None or lines is None:
        return False
    values = [line for line in lines if line and not line.startswith("#")]
    return len(values) == 1 and len(values[0]) <= 64 and _sidecar_value_ok(suffix, values[0])


def parse_sidecar(path: Path, context: Context = NO_CONTEXT) -> Parsed:
    """A sidecar holds no records: 0 rows (its data file's adapter reads it).

    Raises
    ------
    InputError
        The content is not a single zone / ISO time with offset.
    """
    suffix = _sidecar_suffix(path)
    head = tab.text_bytes(path)
    if suffix is None or not sniff_sidecar(head, path):
        raise tab.input_error(path, "not a .tz or .start sidecar (one zone or ISO time per file)")
    return Parsed(frames={})


SIDECAR_ADAPTER = Adapter(name=SIDECAR_NAME, sniff=sniff_sidecar, parse=parse_sidecar)
