"""Raw ECG or PPG samples from a CSV → beats by peak detection (:mod:`tearsignals.beats.detect`).

Format
------
An optional settings line (or several) starting with ``#`` holds
``key=value`` pairs separated by ``;``; then a header line and one sample per
line (separator ``,`` ``;`` or TAB, UTF-8 with or without BOM)::

    # fs=250; start=2024-05-05T14:50:00Z; device=bardy
    ecg_mv
    0.455
    0.460

Signal column (exactly one):

``ecg_mv`` / ``ecg_uv`` / ``ecg_v``
    ECG (one lead) in mV, µV or V → beats with origin ``ecg``.
``ppg`` / ``ppg_au``
    PPG in arbitrary units, systolic peak up → beats with origin ``ppg``.

Any other ``ecg*``/``ppg*`` column (``ecg``, ``ecg_counts``) is an unknown
unit: the file is recognised, then refused with a one-line InputError.

Time basis (one of):

* a time column, per sample: ``time_ns`` (epoch ns), ``timestamp_ms`` /
  ``epoch_ms`` (epoch ms), ``time_utc`` / ``t_utc`` (ISO 8601, no offset =
  UTC), ``timestamp`` (ISO 8601 with offset). The sampling rate for
  detection is ``fs`` from the settings, else 1 / median sample spacing.
* no time column: settings ``fs`` (Hz) and ``start`` (ISO 8601 with an
  offset, or a local time plus ``tz=<IANA zone>``, else read in the subject's
  zone from the subject profile); sample *k* (0-based among the data lines)
  is at ``start + k / fs``, by the recorder's clock. A local ``timestamp``
  column without ``tz`` is read in the subject's zone too.

A file with neither (e.g. heartpy's bare example signals) is refused: beats
without a start time cannot be placed next to episodes.

Records and rejects
-------------------
A *record* is a detected beat (the interval ending at it), a rejected sample
line, or a sample line dropped as an exact copy of an earlier one
(``duplicates``). A sample line with a missing or unparseable value or
time, or a time at or before the previous sample's, is a reject (table
``beats``, its line and a reason) and breaks the signal: detection runs
separately on each stretch of samples without gaps longer than
:data:`GAP_PERIODS` sample periods. The first beat of a stretch has no
interval and gives no row. A beat whose interval touches a peak failing
heartpy's RR outlier check, or that spans a chunk heartpy could not fit
(:attr:`tearsignals.beats.detect.Beats.interval_ok`), is a reject;
``row_number`` and ``raw`` of a beat are those of its peak sample.

Examples
--------
>>> import tempfile
>>> fs, t = 250.0, np.arange(0, 30, 1 / 250.0)
>>> beat_s = np.cumsum(0.8 + 0.03 * np.sin(np.arange(36)))
>>> ecg = sum(np.exp(-0.5 * ((t - b) / 0.012) ** 2) for b in beat_s)
>>> path = Path(tempfile.mkdtemp()) / "ecg.csv"
>>> lines = ["# fs=250; start=2024-05-05T16:50:00+02:00", "ecg_mv", *map(str, ecg.round(4))]
>>> _ = path.write_text("\\n".join(lines) + "\\n")
>>> ADAPTER.sniff(path.read_bytes()[:65536], path)
True
>>> beats = parse(path).frames["beats"]
>>> beats.height, beats["origin"][0], str(beats["t_utc"][0])[:19]
(35, 'ecg', '2024-05-05 14:50:01')
"""

from __future__ import annotations

import io
import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt
import polars as pl

from tearsignals.beats import detect
from tearsignals.contract import schema
from tearsignals.ingest.adapters import _tabular as tab
from tearsignals.ingest.adapters.base import NO_CONTEXT, Adapter, Context, Parsed, as_rejects
from tearsignals.ingest.adapters.rr_text import local_time_utc
from tearsignals.ingest.timeparse import UTC_DTYPE, LocalZones

NAME = "raw_signal"
TABLE = "beats"
ECG_UNITS = {"ecg_mv": "mV", "ecg_uv": "µV", "ecg_v": "V"}
PPG_COLUMNS = ("ppg", "ppg_au")
TIME_NS = "time_ns"
TIME_COLUMN_NAMES = (TIME_NS, *tab.TIME_COLUMN_NAMES)
GAP_PERIODS = 1.5
EPOCH_NS_MIN = 631_152_000 * 10**9  # 1990-01-01T00:00:00Z, as for epoch ms
EPOCH_NS_MAX = 4_102_444_800 * 10**9  # 2100-01-01T00:00:00Z
REASON_NON_MONOTONIC = "non-monotonic time"
_SIGNAL_NAME = re.compile(r"^(?:ecg|ppg)(?:_.*)?$")

Detector = Callable[[npt.ArrayLike, float], detect.Beats]
DETECTORS: dict[str, Detector] = {"ecg": detect.ecg_beats, "ppg": detect.ppg_beats}
MIN_FS = {"ecg": detect.MIN_ECG_FS, "ppg": detect.MIN_PPG_FS}


@dataclass(frozen=True)
class SignalFile:
    """A raw-signal CSV as read: settings from ``#`` lines and all-String fields."""

    settings: dict[str, str]
    fields: pl.DataFrame


def canonical(frame: pl.DataFrame, table: str) -> pl.DataFrame:
    """``frame`` with the table's adapter columns, typed (absent nullable ones as nulls)."""
    emitted = schema.adapter_columns(table)
    columns = [c for c in schema.table(table).columns if c.name in emitted]
    return frame.select(
        *[
            pl.col(c.name).cast(c.dtype)
            if c.name in frame.columns
            else pl.lit(None, c.dtype).alias(c.name)
            for c in columns
        ],
        pl.col("row_number").cast(pl.Int64),
    )


def _lines_after_settings(text: str) -> tuple[list[str], str]:
    """Leading ``#`` lines (without ``#``) and the text from the header line on."""
    settings: list[str] = []
    rest = text
    while True:
        stripped = rest.lstrip("\r\n")
        if not stripped.startswith("#"):
            return settings, stripped
        line, _, rest = stripped.partition("\n")
        settings.append(line[1:].strip())


def settings_of(lines: list[str]) -> dict[str, str]:
    """``key=value`` pairs of the settings lines (keys lower-case; later lines win).

    >>> settings_of(["fs=250; start=2024-05-05T14:50:00Z", "note without pairs"])
    {'fs': '250', 'start': '2024-05-05T14:50:00Z'}
    """
    pairs = (p.partition("=") for line in lines for p in line.split(";"))
    return {k.strip().lower(): v.strip() for k, eq, v in pairs if eq and k.strip()}


def _header_names(head: bytes) -> tuple[str, ...]:
    """Normalised names of the first non-``#`` line of a text head (empty if not text)."""
    text = tab.head_text(head)
    if text is None:
        return ()
    _, rest = _lines_after_settings(text)
    line = rest.split("\n", 1)[0].rstrip("\r")
    return tuple(tab.normalised_name(n) for n in line.split(tab.separator_of(line)))


def sniff(head: bytes, path: Path) -> bool:
    """A text table (after optional ``#`` settings lines) with a signal column.

    A known signal column (``ecg_mv``, ``ppg``, ...) always claims the file. Another
    ``ecg*``/``ppg*`` name (an unknown unit) claims it only when the table has no
    ``rr_ms``/``hr_bpm`` column: a beats table with an ``ecg_quality`` column stays
    with the beats adapters.

    >>> sniff(b"ecg_counts\\n12\\n", Path("x")), sniff(b"t_utc,rr_ms,ecg_flag\\n", Path("x"))
    (True, False)
    """
    names = _header_names(head)
    if any(n in ECG_UNITS or n in PPG_COLUMNS for n in names):
        return True
    signal_like = any(_SIGNAL_NAME.match(n) for n in names)
    return signal_like and not {"rr_ms", "hr_bpm"} & set(names)


def read_signal_file(path: Path) -> SignalFile:
    """Settings and all-String fields (with ``row_number`` and ``raw``) of a raw-signal CSV.

    Raises
    ------
    InputError
        Unreadable, empty, binary or non-UTF-8 file, no header, duplicate
        column, malformed quoting.
    """
    setting_lines, body = _lines_after_settings(tab.text_bytes(path).decode("utf-8"))
    if not body.strip():
        raise tab.input_error(path, "no header line after the settings")
    header = body.split("\n", 1)[0].rstrip("\r")
    names = [tab.normalised_name(n) for n in header.split(tab.separator_of(header))]
    if len(set(names)) != len(names):
        raise tab.input_error(path, "duplicate column name in the header")
    try:
        frame = pl.read_csv(
            io.StringIO(body),
            infer_schema=False,
            separator=tab.separator_of(header),
            truncate_ragged_lines=True,
        )
    except pl.exceptions.PolarsError as exc:
        raise tab.input_error(path, "malformed CSV (broken quoting or record structure)") from exc
    names = [tab.normalised_name(n) for n in frame.columns]
    fields = tab.with_row_number_and_raw(frame.rename(dict(zip(frame.columns, names, strict=True))))
    return SignalFile(settings=settings_of(setting_lines), fields=fields)


def signal_column(path: Path, columns: list[str]) -> tuple[str, str]:
    """The signal column and its origin (``ecg``/``ppg``); InputError if absent, unknown or two."""
    candidates = [c for c in columns if _SIGNAL_NAME.match(c)]
    known = [c for c in candidates if c in ECG_UNITS or c in PPG_COLUMNS]
    unknown = [c for c in candidates if c not in known]
    if unknown:
        expected = ", ".join([*ECG_UNITS, *PPG_COLUMNS])
        raise tab.input_error(
            path, f"unknown signal unit in column {unknown[0]!r} (known: {expected})"
        )
    if len(known) != 1:
        problem = (
            "no signal column" if not known else f"several signal columns ({', '.join(known)})"
        )
        raise tab.input_error(
            path, f"{problem}: need exactly one of {', '.join([*ECG_UNITS, *PPG_COLUMNS])}"
        )
    return known[0], "ecg" if known[0] in ECG_UNITS else "ppg"


def epoch_ns_times(values: pl.Series) -> pl.DataFrame:
    """``utc`` and ``reason`` of epoch-nanosecond texts, accepted in [1990, 2100).

    >>> epoch_ns_times(pl.Series(["1714920600006020096", "17149206", "x"]))["reason"].to_list()
    [None, 'epoch ns out of range [1990, 2100)', 'unparseable epoch ns']
    """
    text = values.cast(pl.String).str.strip_chars()
    frame = pl.DataFrame({"text": text, "ns": text.cast(pl.Int64, strict=False)})
    ns = pl.col("ns")
    reason = (
        pl.when(pl.col("text").is_null() | (pl.col("text") == "")).then(pl.lit("missing time"))
        .when(ns.is_null()).then(pl.lit("unparseable epoch ns"))
        .when((ns < EPOCH_NS_MIN) | (ns >= EPOCH_NS_MAX)).then(pl.lit("epoch ns out of range [1990, 2100)"))
    )  # fmt: skip
    utc = pl.from_epoch(ns // 1000, time_unit="us").dt.replace_time_zone("UTC")
    return frame.with_columns(reason=reason).select(
        utc=pl.when(pl.col("reason").is_null()).then(utc).cast(UTC_DTYPE), reason="reason"
    )


def column_times(fields: pl.DataFrame, zones: LocalZones | None = None) -> pl.DataFrame:
    """``utc`` and ``reason`` (prefixed with the column name) from the best time column."""
    if TIME_NS in fields.columns:
        parsed = epoch_ns_times(fields[TIME_NS])
        return parsed.select("utc", reason=tab.prefixed(pl.col("reason"), TIME_NS))
    return tab.sample_times(fields, zones)


def _declared_start(path: Path, settings: dict[str, str], zones: LocalZones | None) -> datetime:
    """The ``start`` setting as a UTC instant (InputError if absent or unplaceable)."""
    if not settings.get("start"):
        raise tab.input_error(
            path,
            "no start time: add a time column or a first line '# fs=<Hz>; start=<ISO 8601 with offset>'",
        )
    zone = settings.get("tz") or None
    file_zone = "as tz=<zone> in the settings line"
    return local_time_utc(path, settings["start"], zone, zones, "start setting", file_zone)


def declared_fs(path: Path, settings: dict[str, str]) -> float | None:
    """The ``fs`` setting in Hz, ``None`` if absent (InputError if not a positive number)."""
    text = settings.get("fs")
    if text is None:
        return None
    try:
        fs = float(text)
    except ValueError:
        fs = float("nan")
    if not (np.isfinite(fs) and fs > 0):
        raise tab.input_error(path, "fs setting is not a positive number of Hz")
    return fs


def declared_times(
    path: Path, settings: dict[str, str], fields: pl.DataFrame, zones: LocalZones | None = None
) -> pl.DataFrame:
    """``utc`` (start + (row_number - 1) / fs) and a null ``reason`` for every sample line."""
    start = _declared_start(path, settings, zones)
    fs = declared_fs(path, settings)
    if fs is None:
        raise tab.input_error(path, "no time column and no fs setting: add '# fs=<Hz>; start=...'")
    offset_us = ((pl.col("row_number") - 1).cast(pl.Float64) * (1e6 / fs)).round(0).cast(pl.Int64)
    return fields.select(
        utc=pl.lit(start, UTC_DTYPE) + pl.duration(microseconds=offset_us),
        reason=pl.lit(None, pl.String),
    )


def samples_with_reasons(fields: pl.DataFrame, column: str, times: pl.DataFrame) -> pl.DataFrame:
    """``row_number, raw, utc, value, reason, time_reason, duplicate`` for every sample line.

    ``time_reason``: the time is missing, unparseable, or at or before the
    latest earlier usable time (``non-monotonic time``). ``reason``: the time
    reason, else a bad value. ``duplicate``: the line repeats an earlier line
    with the same time exactly (then both reasons are null).
    """
    value, value_reason = tab.float_and_reason(pl.col(column), column)
    work = pl.concat(
        [fields.select("row_number", "raw", value=value, value_reason=value_reason), times],
        how="horizontal",
    )
    timed = pl.col("reason").is_null()
    duplicate = timed & ~pl.struct("utc", "raw").is_first_distinct().over(timed)
    work = work.with_columns(duplicate=duplicate)
    usable = timed & ~pl.col("duplicate")
    latest = pl.when(usable).then("utc").cum_max().forward_fill().shift(1)
    time_reason = pl.coalesce(
        "reason", pl.when(usable & (pl.col("utc") <= latest)).then(pl.lit(REASON_NON_MONOTONIC))
    )
    return work.with_columns(time_reason=time_reason).select(
        "row_number",
        "raw",
        "utc",
        "value",
        reason=pl.when(~pl.col("duplicate")).then(pl.coalesce("time_reason", "value_reason")),
        time_reason="time_reason",
        duplicate="duplicate",
    )


def stretches(t_us: npt.NDArray[np.int64], fs: float) -> list[slice]:
    """Slices of ``t_us`` without a step longer than :data:`GAP_PERIODS` sample periods.

    >>> stretches(np.array([0, 4000, 8000, 20000, 24000]), 250.0)
    [slice(0, 3, None), slice(3, 5, None)]
    """
    breaks = np.flatnonzero(np.diff(t_us) > GAP_PERIODS * 1e6 / fs) + 1
    bounds = [0, *breaks.tolist(), int(t_us.size)]
    return [slice(a, b) for a, b in itertools.pairwise(bounds) if b > a]


def sampling_rate(fs: float | None, t_us: npt.NDArray[np.int64]) -> float | None:
    """``fs`` if declared, else 1 / median spacing of ``t_us`` (``None`` with < 2 samples)."""
    if fs is not None:
        return fs
    steps = np.diff(t_us)
    steps = steps[steps > 0]
    return 1e6 / float(np.median(steps)) if steps.size else None


def _stretch_beats(
    t_us: npt.NDArray[np.int64], values: npt.NDArray[np.float64], fs: float, detect: Detector
) -> dict[str, np.ndarray]:
    """Positions, times, intervals and quality of the beats of one stretch (first beat dropped)."""
    found = detect(values, fs)
    pos = found.index
    return {
        "pos": pos[1:],
        "t_us": t_us[pos[1:]],
        "rr_ms": np.diff(t_us[pos]) / 1000.0,
        "ok": found.interval_ok[1:],
    }


def detected_beats(kept: pl.DataFrame, fs: float, origin: str) -> pl.DataFrame:
    """``t_utc, rr_ms, row_number, raw, reason`` of the beats found in the kept samples.

    ``kept`` holds ``row_number, raw, utc, value`` of the accepted samples, in time order.
    """
    t_us = kept["utc"].dt.epoch("us").to_numpy()
    values = kept["value"].to_numpy()
    parts = [
        {**b, "pos": b["pos"] + s.start}
        for s in stretches(t_us, fs)
        for b in [_stretch_beats(t_us[s], values[s], fs, DETECTORS[origin])]
    ]
    pos = np.concatenate([p["pos"] for p in parts]) if parts else np.zeros(0, np.int64)
    frame = pl.DataFrame({
        "t_us": np.concatenate([p["t_us"] for p in parts]) if parts else np.zeros(0, np.int64),
        "rr_ms": np.concatenate([p["rr_ms"] for p in parts]) if parts else np.zeros(0),
        "ok": np.concatenate([p["ok"] for p in parts]) if parts else np.zeros(0, np.bool_),
    })  # fmt: skip
    failed = f"{origin} beat failed the peak quality check (RR outlier)"
    return frame.select(
        t_utc=pl.from_epoch("t_us", time_unit="us").dt.replace_time_zone("UTC"),
        rr_ms="rr_ms",
        row_number=kept["row_number"].gather(pos),
        raw=kept["raw"].gather(pos),
        reason=pl.when(~pl.col("ok")).then(pl.lit(failed)),
    )


def sample_rejects(samples: pl.DataFrame) -> pl.DataFrame:
    """The rejected sample lines of :func:`samples_with_reasons` in the reject schema."""
    return as_rejects(samples.filter(pl.col("reason").is_not_null()), TABLE)


def kept_samples(samples: pl.DataFrame) -> pl.DataFrame:
    """The accepted, non-duplicate samples (already in time order)."""
    return samples.filter(pl.col("reason").is_null() & ~pl.col("duplicate"))


def checked_rate(path: Path, fs: float | None, origin: str) -> float | None:
    """``fs`` unless it is below what the detector needs (InputError then)."""
    if fs is not None and fs < MIN_FS[origin]:
        raise tab.input_error(
            path,
            f"sampling rate {fs:.3g} Hz is below the {MIN_FS[origin]:g} Hz {origin} detection needs",
        )
    return fs


def beats_parsed(
    beats: pl.DataFrame, origin: str, source: str, device: str | None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Canonical beat rows and rejects from :func:`detected_beats` output."""
    labelled = beats.with_columns(
        source=pl.lit(source), device=pl.lit(device, pl.String), origin=pl.lit(origin)
    )
    good = canonical(labelled.filter(pl.col("reason").is_null()), TABLE)
    return good, as_rejects(labelled.filter(pl.col("reason").is_not_null()), TABLE)


def parse(path: Path, context: Context = NO_CONTEXT) -> Parsed:
    """Read a raw ECG/PPG CSV and detect its beats.

    Raises
    ------
    InputError
        File-level problems (see :mod:`tearsignals.ingest.adapters._tabular`), no or
        several signal columns, an unknown unit, no time basis (no time
        column and no ``fs``/``start`` settings), an unplaceable ``start``,
        or a sampling rate too low for detection.
    """
    signal_file = read_signal_file(path)
    fields, settings = signal_file.fields, signal_file.settings
    column, origin = signal_column(path, fields.columns)
    has_time = any(c in fields.columns for c in TIME_COLUMN_NAMES)
    zones = context.zones
    times = (
        column_times(fields, zones) if has_time else declared_times(path, settings, fields, zones)
    )
    samples = samples_with_reasons(fields, column, times)
    kept = kept_samples(samples)
    fs = sampling_rate(declared_fs(path, settings), kept["utc"].dt.epoch("us").to_numpy())
    fs = checked_rate(path, fs, origin)
    beats = (
        detected_beats(kept, fs, origin)
        if fs is not None
        else detected_beats(kept.head(0), 1.0, origin)
    )
    good, bad = beats_parsed(beats, origin, NAME, settings.get("device") or None)
    duplicates = int(samples["duplicate"].sum())
    return Parsed(
        frames={TABLE: good},
        rejects=pl.concat([sample_rejects(samples), bad]),
        duplicates=duplicates,
    )


ADAPTER = Adapter(name=NAME, sniff=sniff, parse=parse, reads_profile=True)
