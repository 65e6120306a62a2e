"""Input formats: one adapter per format, detected by content, registered in one table.

Detection reads the first :data:`~tearsignals.ingest.adapters.base.SNIFF_BYTES` bytes
of a file and asks each adapter in :data:`REGISTRY` order whether it
recognises them; the file name and extension play no part (except to break
ties between E4 sensor files of the same shape, see ``adapters.empatica``).
A new format joins by adding its :class:`~tearsignals.ingest.adapters.base.Adapter` to the
registry, ahead of any more general format it could be mistaken for.

Examples
--------
>>> [a.name for a in REGISTRY]  # doctest: +NORMALIZE_WHITESPACE
['apple_health', 'garmin_fit', 'health_connect', 'ishne', 'e4_ibi', 'e4_hr', 'e4_bvp',
 'e4_tags', 'e4_not_heart', 'polar_hrm', 'hrv_logger', 'garmin_logger', 'fitbit', 'fitbit_csv',
 'fitbit_hrv', 'oura', 'oura_trends', 'whoop', 'garmin_health_status', 'polar_flow',
 'samsung_health', 'polar_h10', 'raw_signal', 'csv_beats', 'csv_hr', 'episodes_csv',
 'episodes_json', 'sidecar', 'elite_hrv', 'rr_text']
"""

from __future__ import annotations

import re
from pathlib import Path

from tearsignals.errors import InputError
from tearsignals.ingest.adapters import _tabular
from tearsignals.ingest.adapters.apple_health import ADAPTER as APPLE_HEALTH
from tearsignals.ingest.adapters.base import NO_CONTEXT, SNIFF_BYTES, Adapter, Context, Parsed
from tearsignals.ingest.adapters.csv_beats import ADAPTER as CSV_BEATS
from tearsignals.ingest.adapters.csv_hr import ADAPTER as CSV_HR
from tearsignals.ingest.adapters.empatica import BVP_ADAPTER as E4_BVP
from tearsignals.ingest.adapters.empatica import HR_ADAPTER as E4_HR
from tearsignals.ingest.adapters.empatica import IBI_ADAPTER as E4_IBI
from tearsignals.ingest.adapters.empatica import NOT_HEART_ADAPTER as E4_NOT_HEART
from tearsignals.ingest.adapters.empatica import TAGS_ADAPTER as E4_TAGS
from tearsignals.ingest.adapters.episode_log import CSV_ADAPTER as EPISODES_CSV
from tearsignals.ingest.adapters.episode_log import JSON_ADAPTER as EPISODES_JSON
from tearsignals.ingest.adapters.fitbit import ADAPTER as FITBIT
from tearsignals.ingest.adapters.fitbit_csv import HEART_RATE_ADAPTER as FITBIT_CSV
from tearsignals.ingest.adapters.fitbit_csv import HRV_ADAPTER as FITBIT_HRV
from tearsignals.ingest.adapters.garmin_fit import ADAPTER as GARMIN_FIT
from tearsignals.ingest.adapters.garmin_logger import ADAPTER as GARMIN_LOGGER
from tearsignals.ingest.adapters.garmin_wellness import ADAPTER as GARMIN_HEALTH_STATUS
from tearsignals.ingest.adapters.health_connect import ADAPTER as HEALTH_CONNECT
from tearsignals.ingest.adapters.hrv_logger import ADAPTER as HRV_LOGGER
from tearsignals.ingest.adapters.ishne import ADAPTER as ISHNE
from tearsignals.ingest.adapters.oura import ADAPTER as OURA
from tearsignals.ingest.adapters.oura import TRENDS_ADAPTER as OURA_TRENDS
from tearsignals.ingest.adapters.polar_flow import ADAPTER as POLAR_FLOW
from tearsignals.ingest.adapters.polar_h10 import ADAPTER as POLAR_H10
from tearsignals.ingest.adapters.polar_hrm import ADAPTER as POLAR_HRM
from tearsignals.ingest.adapters.raw_signal import ADAPTER as RAW_SIGNAL
from tearsignals.ingest.adapters.rr_text import ADAPTER as RR_TEXT
from tearsignals.ingest.adapters.rr_text import ELITE_ADAPTER as ELITE_HRV
from tearsignals.ingest.adapters.rr_text import SIDECAR_ADAPTER as SIDECAR
from tearsignals.ingest.adapters.samsung_health import ADAPTER as SAMSUNG_HEALTH
from tearsignals.ingest.adapters.whoop import ADAPTER as WHOOP

__all__ = [
    "NO_CONTEXT",
    "REGISTRY",
    "Adapter",
    "Context",
    "Parsed",
    "UnknownFormat",
    "by_name",
    "detect",
    "detected",
    "parse_file",
]


class UnknownFormat(InputError):
    """No registered adapter recognises the file (it may be empty, binary or a new format)."""


# Order matters: the first adapter whose sniff accepts the head wins.
# E4 and FIT sniffs are strict (header values, binary signature), so they go first.
REGISTRY: tuple[Adapter, ...] = (
    APPLE_HEALTH,  # zip listing or XML head with <HealthData>: strict, and the only XML format
    GARMIN_FIT,
    HEALTH_CONNECT,  # SQLite (or a zip naming its database): binary, strict
    ISHNE,
    E4_IBI,
    E4_HR,
    E4_BVP,
    E4_TAGS,
    E4_NOT_HEART,
    POLAR_HRM,
    HRV_LOGGER,
    GARMIN_LOGGER,
    FITBIT,
    FITBIT_CSV,
    FITBIT_HRV,
    OURA,
    OURA_TRENDS,
    WHOOP,
    GARMIN_HEALTH_STATUS,
    POLAR_FLOW,
    SAMSUNG_HEALTH,  # its metadata line would be read as a header by the generic tables
    # Raw ECG/PPG tables: their headers may also name rr_ms / hr_bpm.
    POLAR_H10,
    RAW_SIGNAL,
    CSV_BEATS,
    CSV_HR,
    EPISODES_CSV,
    EPISODES_JSON,
    # Numbers-only text is the most general shape: any stricter format goes first.
    SIDECAR,
    ELITE_HRV,  # RR text named as Elite HRV names its readings
    RR_TEXT,
)


def by_name(name: str) -> Adapter:
    """The registered adapter called ``name`` (``KeyError`` if none)."""
    for adapter in REGISTRY:
        if adapter.name == name:
            return adapter
    raise KeyError(f"no adapter {name!r}; known: {', '.join(a.name for a in REGISTRY)}")


def _head(path: Path) -> bytes:
    """The first SNIFF_BYTES bytes of ``path`` (InputError if unreadable)."""
    try:
        with path.open("rb") as handle:
            return handle.read(SNIFF_BYTES)
    except OSError as exc:
        raise _tabular.input_error(path, f"cannot read file ({exc.strerror or exc})") from exc


def detect(path: Path) -> Adapter | None:
    """The first adapter in :data:`REGISTRY` that recognises the file's content, or ``None``.

    Raises
    ------
    InputError
        If the file cannot be read.
    """
    return _detected(_head(path), path)


def _detected(head: bytes, path: Path) -> Adapter | None:
    """The first registered adapter whose sniff accepts ``head``."""
    return next((a for a in REGISTRY if a.sniff(head, path)), None)


def _header_summary(head: bytes) -> str:
    """The header names for an error message, unless the first line looks like data.

    Values are never echoed: messages end up in logs, which carry no health data.
    """
    names = _tabular.header_columns(head)
    if names and all(re.fullmatch(r"[a-z_][a-z0-9_ .()/-]{0,40}", n) for n in names):
        shown = ", ".join(names[:12]) + (", ..." if len(names) > 12 else "")
        return f"header: {shown}"
    return "first line is not a header of known column names"


def _unknown_format(path: Path, head: bytes) -> InputError:
    """The most useful one-line error for a file no adapter recognised.

    An empty file is a plain :class:`InputError`; anything else is :class:`UnknownFormat`.
    """
    if not head.removeprefix(_tabular.BOM).strip():
        return _tabular.input_error(path, "empty file")
    if _tabular.head_text(head) is None:
        problem = "unknown format: not UTF-8 text (binary or other encoding)"
    else:
        problem = f"unknown format ({_header_summary(head)})"
    return UnknownFormat(str(_tabular.input_error(path, problem)))


def detected(path: Path) -> Adapter:
    """The adapter of ``path``'s format.

    Raises
    ------
    InputError
        One line naming the file: unreadable, empty, or (:class:`UnknownFormat`)
        no adapter recognises it.
    """
    head = _head(path)
    adapter = _detected(head, path)
    if adapter is None:
        raise _unknown_format(path, head)
    return adapter


def parse_file(path: Path, context: Context = NO_CONTEXT) -> tuple[Adapter, Parsed]:
    """Detect the format of ``path`` and parse it (local times without zone read in ``context``).

    Returns
    -------
    tuple[Adapter, Parsed]
        The adapter that read the file and its output.

    Raises
    ------
    InputError
        One line naming the file: unreadable, empty, not UTF-8, unknown
        format, missing required column, malformed structure.
    """
    adapter = detected(path)
    return adapter, adapter.parse(path, context)
