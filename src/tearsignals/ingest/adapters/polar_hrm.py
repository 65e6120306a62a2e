"""Polar Precision Performance ``.hrm`` files recorded in R-R mode.

Format
------
An INI-like text file: ``[Params]`` holds ``key=value`` lines (``Version``,
``Monitor``, ``SMode``, ``Date=YYYYMMDD``, ``StartTime=HH:MM:SS.s``,
``Length=HH:MM:SS.s``, ``Interval``); ``[HRData]`` holds one record per line.
With ``Interval=238`` (R-R mode) the first value of each line is an R-R
interval in milliseconds; other columns (speed, cadence, ... per ``SMode``)
are ignored. Other sections (``[Note]``, ``[HRZones]``, ...) are not read.
Polar's software writes Windows-1252 text; only the ASCII sections are used.

Only R-R recordings are read: an ``Interval`` other than 238 is a heart-rate
recording sampled every ``Interval`` seconds and is refused (``HR mode, not
R-R``), because where its first sample sits relative to ``StartTime`` is not
documented well enough to place it without guessing.

Time basis
----------
``Date`` + ``StartTime`` is the watch's local wall time, with no zone. The
zone comes from, in order:

* a sidecar file ``<file name>.tz`` beside the file (``exercise_rri.hrm.tz``)
  holding an IANA zone name (``Europe/Berlin``) or a UTC offset (``+01:00``),
  and/or a ``TimeZone=`` line in ``[Params]`` (our extension; Polar never
  writes it): the file's own zone, which must agree when both exist;
* else the subject's zone on that date, from the subject profile
  (:mod:`tearsignals.ingest.profile`).

Without any the file is refused with a one-line
:class:`~tearsignals.errors.InputError`; a start in a DST gap or overlap is
refused too. Beat *i* is at ``start + rr[1] + ... + rr[i]``. The sum of the
intervals must match ``Length`` within max(2 s, 0.5 %): a shorter sum means a
truncated file or beats lost mid-recording, after which beat times cannot be
placed, so such a file is refused rather than silently shifted.

Bad records follow :mod:`tearsignals.ingest.adapters.rr_text` (unparseable value:
that record and every later one rejected; non-positive: rejected).

Lap markers
-----------
``[IntTimes]`` holds one block per lap / event marker whose first line starts
with the marker's elapsed time (``00:06:05.6``) followed by HR statistics.
:func:`lap_offsets_s` reads these offsets. They are lap button presses, not
crying episodes, and no canonical table holds them, so ingest stores nothing
from them.

Examples
--------
>>> import tempfile
>>> path = Path(tempfile.mkdtemp()) / "a.hrm"
>>> _ = path.write_text(
...     "[Params]\\nDate=20260105\\nStartTime=15:00:00.0\\nLength=00:00:01.7\\n"
...     "Interval=238\\nTimeZone=Europe/Berlin\\n\\n[HRData]\\n800\\n900\\n"
... )
>>> parse(path).frames["beats"]["t_utc"][1].isoformat()
'2026-01-05T14:00:01.700000+00:00'
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import polars as pl

from tearsignals.ingest.adapters import _tabular as tab
from tearsignals.ingest.adapters import rr_text
from tearsignals.ingest.adapters.base import NO_CONTEXT, Adapter, Context, Parsed
from tearsignals.ingest.timeparse import LocalZones, is_known_time_zone

NAME = "polar_hrm"
TABLE = "beats"
RR_MODE_INTERVAL = "238"
LENGTH_TOLERANCE_S = 2.0
LENGTH_TOLERANCE_FRACTION = 0.005
ENCODING = "cp1252"

_SECTION = re.compile(r"^\[([^\]]+)\]$")
_CLOCK = re.compile(r"^(\d{1,2}):(\d{2}):(\d{2}(?:\.\d+)?)$")
_OFFSET = re.compile(r"^(?:[Zz]|[+-]\d{2}(?::?\d{2})?)$")


def sniff(head: bytes, path: Path) -> bool:
    """Text whose first non-blank line is ``[Params]`` and that sets ``Interval=``."""
    if b"\x00" in head:
        return False
    text = head.removeprefix(tab.BOM).decode(ENCODING, errors="replace")
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return first.lower() == "[params]" and re.search(r"(?im)^\s*interval\s*=", text) is not None


def hrm_text(path: Path) -> str:
    """The file as text (Windows-1252; bytes it cannot map become U+FFFD).

    Raises
    ------
    InputError
        Unreadable, empty or binary file.
    """
    try:
        data = path.read_bytes().removeprefix(tab.BOM)
    except OSError as exc:
        raise tab.input_error(path, f"cannot read file ({exc.strerror or exc})") from exc
    if not data.strip():
        raise tab.input_error(path, "empty file")
    if b"\x00" in data:
        raise tab.input_error(path, "binary data, not a text file")
    return data.decode(ENCODING, errors="replace")


def sections(path: Path, text: str) -> dict[str, list[str]]:
    """Stripped non-blank lines of every ``[Section]``, keyed by lower-case name.

    Raises
    ------
    InputError
        A section given twice.
    """
    out: dict[str, list[str]] = {}
    current: list[str] | None = None
    for raw_line in text.splitlines():
        line = raw_line.strip()
        match = _SECTION.match(line)
        if match is not None:
            name = match.group(1).strip().lower()
            if name in out:
                raise tab.input_error(path, f"section [{match.group(1)}] given twice")
            current = out[name] = []
        elif line and current is not None:
            current.append(line)
    return out


def params(path: Path, found: dict[str, list[str]]) -> dict[str, str]:
    """``[Params]`` as a dict with lower-case keys (InputError if the section is missing)."""
    if "params" not in found:
        raise tab.input_error(path, "missing section [Params]")
    pairs = (line.split("=", 1) for line in found["params"] if "=" in line)
    return {key.strip().lower(): value.strip() for key, value in pairs}


def clock_seconds(text: str) -> float | None:
    """Seconds of an ``HH:MM:SS(.s)`` duration, or ``None``.

    >>> clock_seconds("00:42:41.7"), clock_seconds("soon")
    (2561.7, None)
    """
    match = _CLOCK.match(text.strip())
    if match is None:
        return None
    hours, minutes, seconds = match.groups()
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def lap_offsets_s(path: Path) -> list[float]:
    """Elapsed seconds of the ``[IntTimes]`` lap / event markers (empty if none).

    Raises
    ------
    InputError
        File-level problems (see :func:`hrm_text`).
    """
    found = sections(path, hrm_text(path))
    firsts = (line.split()[0] for line in found.get("inttimes", []))
    return [s for s in (clock_seconds(f) for f in firsts) if s is not None]


def _zone_ok(zone: str) -> bool:
    return bool(_OFFSET.match(zone)) or is_known_time_zone(zone)


def time_zone(path: Path, values: dict[str, str]) -> str | None:
    """The file's own zone for the local start time: ``<file>.tz`` sidecar and/or ``TimeZone=``.

    Raises
    ------
    InputError
        An unknown zone, or sidecar and ``[Params]`` disagree.
    """
    sidecar_name = path.name + rr_text.TZ_SUFFIX
    from_sidecar = rr_text.sidecar_text(path, rr_text.TZ_SUFFIX)
    from_params = values.get("timezone")
    for zone, where in ((from_sidecar, sidecar_name), (from_params, "[Params] TimeZone")):
        if zone is not None and not _zone_ok(zone):
            raise tab.input_error(path, f"unknown time zone in {where}")
    if from_sidecar is not None and from_params is not None and from_sidecar != from_params:
        raise tab.input_error(path, f"time zones in {sidecar_name} and [Params] disagree")
    return from_sidecar if from_sidecar is not None else from_params


def start_utc(path: Path, values: dict[str, str], zones: LocalZones | None = None) -> datetime:
    """``Date`` + ``StartTime`` read in the file's zone, else in the subject's ``zones``, as UTC.

    Raises
    ------
    InputError
        Missing or malformed ``Date``/``StartTime``, no zone, DST gap or overlap.
    """
    date, clock = values.get("date", ""), values.get("starttime", "")
    if not re.fullmatch(r"\d{8}", date):
        raise tab.input_error(path, "missing or malformed [Params] Date (YYYYMMDD)")
    match = _CLOCK.match(clock)
    if match is None:
        raise tab.input_error(path, "missing or malformed [Params] StartTime (HH:MM:SS.s)")
    local = f"{date[:4]}-{date[4:6]}-{date[6:]}T{int(match.group(1)):02d}:{clock.split(':', 1)[1]}"
    file_zone = f"in {path.name}{rr_text.TZ_SUFFIX} or TimeZone= in [Params]"
    return rr_text.local_time_utc(
        path, local, time_zone(path, values), zones, "start time", file_zone
    )


def check_rr_mode(path: Path, values: dict[str, str]) -> None:
    """Refuse anything but an R-R recording (``Interval=238``)."""
    interval = values.get("interval")
    if interval is None:
        raise tab.input_error(path, "missing [Params] Interval")
    if interval != RR_MODE_INTERVAL:
        raise tab.input_error(
            path, f"HR mode (Interval={interval[:8]}), not R-R: only Interval=238 files are read"
        )


def check_length(path: Path, values: dict[str, str], beats: pl.DataFrame) -> None:
    """Refuse a file whose RR sum and ``Length`` disagree (truncated or beats lost)."""
    length_s = clock_seconds(values.get("length", ""))
    if length_s is None:
        return
    rr_sum_s = float(beats["rr_ms"].sum()) / 1000.0
    tolerance = max(LENGTH_TOLERANCE_S, LENGTH_TOLERANCE_FRACTION * length_s)
    if abs(rr_sum_s - length_s) > tolerance:
        raise tab.input_error(
            path,
            f"RR intervals sum to {rr_sum_s:.0f} s but Length says {length_s:.0f} s "
            "(truncated file, or beats lost mid-recording): beat times cannot be placed",
        )


def hrdata_records(path: Path, found: dict[str, list[str]]) -> pl.DataFrame:
    """``text`` (first value), ``row_number`` and ``raw`` of the ``[HRData]`` lines."""
    if "hrdata" not in found:
        raise tab.input_error(path, "missing section [HRData]")
    lines = found["hrdata"]
    return pl.DataFrame(
        {
            "text": pl.Series([line.split()[0] for line in lines], dtype=pl.String),
            "row_number": pl.Series(range(1, len(lines) + 1), dtype=pl.Int64),
            "raw": pl.Series(lines, dtype=pl.String),
        }
    )


def parse(path: Path, context: Context = NO_CONTEXT) -> Parsed:
    """Read an R-R mode ``.hrm`` file into ``beats`` rows and rejects.

    Raises
    ------
    InputError
        Unreadable, empty or binary file; missing ``[Params]``/``[HRData]``;
        not R-R mode; no time zone; RR sum disagreeing with ``Length``.
    """
    found = sections(path, hrm_text(path))
    values = params(path, found)
    check_rr_mode(path, values)
    records = hrdata_records(path, found)
    start = start_utc(path, values, context.zones)
    monitor = values.get("monitor")
    device = "Polar" if monitor is None else f"Polar Monitor={monitor[:8]}"
    good, rejects = rr_text.beats_from_intervals(records, start, 1.0, NAME, device)
    check_length(path, values, good)
    return Parsed(frames={TABLE: good}, rejects=rejects)


ADAPTER = Adapter(name=NAME, sniff=sniff, parse=parse, reads_profile=True)
