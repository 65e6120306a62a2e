"""Empatica E4 session files (native E4 Connect CSVs), each file parsed on its own.

Formats and time basis (all times unix UTC; Empatica's ``info.txt``)
-------------------------------------------------------------------
``IBI.csv`` → ``beats`` (origin ``rr``)
    Line 1 ``<start>, IBI``; then ``offset_s,ibi_s``. Beat time =
    start + offset (the end of the interval); ``rr_ms`` = ibi_s × 1000.
    A record is a data line. ``ibi_s`` must be in seconds: a value above
    :data:`IBI_MAX_S` (e.g. milliseconds) is rejected as an unknown unit.
``HR.csv`` → ``heart_rate``
    Line 1 start, line 2 rate (1 Hz), then one value per line; sample *i*
    (0-based) is at start + i / rate. (E4 HR is a 10 s running average.)
    A record is a sample line.
``BVP.csv`` → ``beats`` (origin ``ppg``)
    Line 1 start, line 2 rate (64 Hz), then the PPG signal. Beats come from
    :func:`tearsignals.beats.detect.ppg_beats` at the ``foot`` fiducial (the
    pulse minimum, where E4's own IBI places its beats). **A record is a
    detected pulse**: one whose interval is an RR
    (:attr:`~tearsignals.beats.detect.Beats.interval_ok`) is a beat; one
    failing heartpy's RR outlier check, or one without an accepted, linked
    predecessor, is a reject with its reason. Stretches heartpy cannot fit
    yield no pulses and hence no records. An unparseable or empty sample line
    is also a reject (a gap for the detector). ``row_number`` is the sample
    line of the pulse.
``tags*.csv`` → ``episodes``
    One unix time per line (button presses). Rule: consecutive tags pair up
    as start/end; a start whose next tag is more than
    :data:`MAX_PAIR_GAP_S` later, or the trailing unpaired tag, is an
    episode of :data:`SINGLE_TAG_S` (10 min). ``tz`` (the zone control days
    are matched in) is the subject's zone at the tag from the subject profile,
    else ``UTC`` (the device logs instants, not a zone); intensity null,
    context ``E4 button tag``.
    **A record is an episode** (its ``row_number`` is its start tag's line);
    a line that is no valid time, or earlier than the previous tag, is a
    reject; a repeated tag time is a duplicate. A 0-byte tags file (no
    presses) cannot be recognised by content and is reported as an empty file.
``ACC.csv``, ``EDA.csv``, ``TEMP.csv``
    Recognised, not ingested: parsing raises a one-line InputError saying
    the file holds movement or skin data, so the ingest log says why.

Detection (content first)
-------------------------
Sample files: line 1 is a unix time in [2010, 2100) (integer or decimal,
``1644227574.00``), one or three equal columns; line 2 the rate (0-1000 Hz).
The rate and column count decide: three columns → ACC, 64 Hz → BVP,
1 Hz → HR, 4 Hz → EDA/TEMP. The file name (``HR``, ``BVP``, ``EDA``,
``TEMP``, ``ACC`` as the last ``_``-separated part of the stem) only
breaks ties: EDA vs TEMP, a rate E4 does not use (e.g. the rate line is
missing; the HR/BVP reader then refuses the file because E4 HR is always
1 Hz and BVP 64 Hz), and a file cut after its first line (which would
otherwise look like a one-tag tags file). IBI: the ``, IBI`` marker. Tags:
every complete line of the head is a unix time. A file with no sensor name
and a rate E4 does not use is not detected (unknown format).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from tearsignals.beats import detect
from tearsignals.ingest.adapters import _tabular as tab
from tearsignals.ingest.adapters.base import (
    NO_CONTEXT,
    SNIFF_BYTES,
    Adapter,
    Context,
    Parsed,
    as_rejects,
)
from tearsignals.ingest.timeparse import UTC_DTYPE, LocalZones

IBI_ADAPTER_NAME = "e4_ibi"
HR_ADAPTER_NAME = "e4_hr"
BVP_ADAPTER_NAME = "e4_bvp"
TAGS_ADAPTER_NAME = "e4_tags"
DEVICE = "Empatica E4"
EPOCH_S_MIN = 1_262_304_000  # 2010-01-01T00:00:00Z
EPOCH_S_MAX = 4_102_444_800  # 2100-01-01T00:00:00Z
MAX_RATE_HZ = 1000.0
RATE_KINDS = {64.0: "BVP", 1.0: "HR", 4.0: "EDA/TEMP", 32.0: "ACC"}
E4_RATES_HZ = {"BVP": 64.0, "HR": 1.0}
NAMED_KINDS = ("HR", "BVP", "EDA", "TEMP", "ACC")
NOT_HEART = {
    "ACC": "movement",
    "EDA": "skin conductance",
    "TEMP": "skin temperature",
    "EDA/TEMP": "skin conductance or temperature",
}
IBI_MAX_S = 5.0
MAX_PAIR_GAP_S = 3600.0
SINGLE_TAG_S = 600.0
TAG_CONTEXT = "E4 button tag"
REASON_PEAK_REJECTED = "PPG peak rejected by heartpy"
REASON_NO_INTERVAL = "PPG peak without an accepted previous peak (no interval)"
_NUMBER = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)$")
_IBI_HEADER = re.compile(r"^\s*([+-]?\d+(?:\.\d*)?)\s*,\s*IBI\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class SampleHeader:
    """Start (unix s), rate (Hz; None when the file stops after line 1) and column count."""

    start_s: float
    rate_hz: float | None
    columns: int


def _number(text: str) -> float | None:
    """A plain decimal number, or None."""
    text = text.strip()
    return float(text) if _NUMBER.match(text) else None


def _epoch_s(text: str) -> float | None:
    """A unix time in seconds within [2010, 2100), or None."""
    value = _number(text)
    return value if value is not None and EPOCH_S_MIN <= value < EPOCH_S_MAX else None


def _equal_values(line: str, convert: Callable[[str], float | None]) -> float | None:
    """The common value of one or three equal comma-separated fields, else None."""
    values = [convert(f) for f in line.split(",")]
    first = values[0]
    if len(values) not in (1, 3) or first is None or any(v != first for v in values):
        return None
    return first


def sample_header(lines: list[str]) -> SampleHeader | None:
    """The header of an E4 sample file (start line, rate line), or None if not that shape."""
    if not lines or (start := _equal_values(lines[0], _epoch_s)) is None:
        return None
    columns = len(lines[0].split(","))
    if len(lines) < 2:
        return SampleHeader(start, None, columns)
    rate = _equal_values(lines[1], _number)
    if rate is None or not 0 < rate <= MAX_RATE_HZ or len(lines[1].split(",")) != columns:
        return None
    return SampleHeader(start, rate, columns)


def _named_kind(path: Path) -> str | None:
    """The E4 sensor named by the file name (``HR.csv``, ``S01_BVP.csv``), if any."""
    last = re.split(r"[_\-\s]", path.stem)[-1].upper()
    return last if last in NAMED_KINDS else None


def sensor_kind(header: SampleHeader, path: Path) -> str | None:
    """Which E4 sample file this is: content first, the name only to break ties."""
    named = _named_kind(path)
    if header.columns == 3:
        return "ACC"
    if header.rate_hz is None:
        return named if named != "ACC" else None
    by_rate = RATE_KINDS.get(header.rate_hz)
    if by_rate == "EDA/TEMP" and named in ("EDA", "TEMP"):
        return named
    if by_rate is not None and by_rate != "ACC":
        return by_rate
    return named if named not in (None, "ACC") else None


def _head_lines(head: bytes) -> list[str]:
    """Complete non-blank lines of a sniffed head, stripped (empty if binary).

    Bytes that are not UTF-8 become U+FFFD here, so a file with a bad byte
    further down is still recognised and then refused with a precise message.
    """
    if b"\x00" in head:
        return []
    lines = head.removeprefix(tab.BOM).decode("utf-8", errors="replace").splitlines()
    if len(head) >= SNIFF_BYTES and lines:
        lines = lines[:-1]  # the head may end inside a line
    return [line.strip() for line in lines if line.strip()]


def _head_kind(head: bytes, path: Path) -> str | None:
    header = sample_header(_head_lines(head)[:2])
    return None if header is None else sensor_kind(header, path)


def sniff_ibi(head: bytes, path: Path) -> bool:
    """First line ``<unix start>, IBI``."""
    lines = _head_lines(head)
    match = _IBI_HEADER.match(lines[0]) if lines else None
    return match is not None and _epoch_s(match.group(1)) is not None


def sniff_hr(head: bytes, path: Path) -> bool:
    """An E4 sample file whose rate (or, on a tie, name) says HR."""
    return _head_kind(head, path) == "HR"


def sniff_bvp(head: bytes, path: Path) -> bool:
    """An E4 sample file whose rate (or, on a tie, name) says BVP."""
    return _head_kind(head, path) == "BVP"


def sniff_not_heart(head: bytes, path: Path) -> bool:
    """An E4 ACC, EDA or TEMP file."""
    return _head_kind(head, path) in NOT_HEART


def sniff_tags(head: bytes, path: Path) -> bool:
    """Every complete line is a unix time, and it is not a sample file cut after line 1."""
    lines = _head_lines(head)
    return (
        bool(lines)
        and all(_epoch_s(line) is not None for line in lines)
        and _head_kind(head, path) is None
    )


def _text_lines(path: Path) -> list[str]:
    """The file's lines (UTF-8, BOM removed), trailing blank lines dropped."""
    lines = tab.text_bytes(path).decode("utf-8").splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    return lines


def _utc_from_us(micros: pl.Expr) -> pl.Expr:
    """Unix microseconds as ``Datetime("us", "UTC")``."""
    return pl.from_epoch(micros, time_unit="us").dt.replace_time_zone("UTC").cast(UTC_DTYPE)


def _data_lines(lines: list[str]) -> pl.DataFrame:
    """Data lines as ``raw`` text (stripped) with their 1-based ``row_number``."""
    raw = pl.Series("raw", [line.strip() for line in lines], dtype=pl.String)
    return raw.to_frame().with_columns(row_number=pl.int_range(1, pl.len() + 1, dtype=pl.Int64))


# --- IBI.csv ---------------------------------------------------------------------------


def _ibi_start(path: Path, lines: list[str]) -> float:
    """The start time of an IBI file (InputError unless line 1 is ``<start>, IBI``)."""
    match = _IBI_HEADER.match(lines[0]) if lines else None
    start = _epoch_s(match.group(1)) if match else None
    if start is None:
        raise tab.input_error(path, "not an E4 IBI file (line 1 must be '<unix start>, IBI')")
    return start


def ibi_beats_with_reasons(start_s: float, lines: list[str]) -> pl.DataFrame:
    """Canonical beat columns plus ``reason`` and ``raw`` for every IBI data line."""
    fields = (
        _data_lines(lines)
        .with_columns(
            parts=pl.col("raw").str.split_exact(",", 1).struct.rename_fields(["offset_s", "ibi_s"])
        )
        .unnest("parts")
    )
    offset, offset_reason = tab.float_and_reason(pl.col("offset_s"), "offset_s")
    ibi, ibi_reason = tab.float_and_reason(pl.col("ibi_s"), "ibi_s")
    unit_reason = (
        pl.when(ibi > IBI_MAX_S).then(pl.lit(f"ibi_s above {IBI_MAX_S:g} s: not seconds (unknown unit)"))
        .when(ibi <= 0).then(pl.lit("ibi_s not positive"))
        .when(offset < 0).then(pl.lit("negative offset_s"))
    )  # fmt: skip
    micros = (pl.lit(start_s) * 1e6 + offset * 1e6).round(0).cast(pl.Int64)
    return fields.select(
        source=pl.lit(IBI_ADAPTER_NAME),
        device=pl.lit(DEVICE),
        t_utc=_utc_from_us(micros),
        rr_ms=ibi * 1000.0,
        origin=pl.lit("rr"),
        row_number="row_number",
        reason=tab.first_reason([offset_reason, ibi_reason, unit_reason]),
        raw="raw",
    )


def parse_ibi(path: Path, context: Context = NO_CONTEXT) -> Parsed:
    """Read an E4 ``IBI.csv`` into ``beats`` (origin ``rr``) and rejects.

    Raises
    ------
    InputError
        File-level problems, or line 1 is not ``<unix start>, IBI``.
    """
    lines = _text_lines(path)
    frame = ibi_beats_with_reasons(_ibi_start(path, lines), lines[1:])
    good, rejects = tab.split_rejects(frame, "beats")
    return Parsed(frames={"beats": good}, rejects=rejects)


# --- HR.csv / BVP.csv ------------------------------------------------------------------


def _samples(path: Path, expected: str) -> tuple[SampleHeader, float, list[str]]:
    """Header, rate and sample lines of an E4 sample file of kind ``expected``."""
    lines = _text_lines(path)
    header = sample_header(lines[:2])
    if header is None or sensor_kind(header, path) != expected:
        raise tab.input_error(path, f"not an E4 {expected} file (line 1 start, line 2 rate)")
    if header.rate_hz is None:
        raise tab.input_error(path, f"truncated E4 {expected} header: no sample-rate line")
    if header.rate_hz != E4_RATES_HZ[expected]:
        # The value is not echoed: with the rate line missing it would be a health value.
        raise tab.input_error(
            path,
            f"line 2 is not E4's {expected} sample rate ({E4_RATES_HZ[expected]:g} Hz):"
            " rate line missing or altered",
        )
    return header, header.rate_hz, lines[2:]


def parse_hr(path: Path, context: Context = NO_CONTEXT) -> Parsed:
    """Read an E4 ``HR.csv`` into ``heart_rate`` rows and rejects.

    Raises
    ------
    InputError
        File-level problems, or no start / rate header lines.
    """
    header, rate, lines = _samples(path, "HR")
    fields = _data_lines(lines)
    value, reason = tab.float_and_reason(pl.col("raw"), "hr_bpm")
    micros = (header.start_s * 1e6 + (pl.col("row_number") - 1) * (1e6 / rate)).round(0)
    frame = fields.select(
        source=pl.lit(HR_ADAPTER_NAME),
        device=pl.lit(DEVICE),
        t_utc=_utc_from_us(micros.cast(pl.Int64)),
        hr_bpm=value,
        confidence=pl.lit(None, pl.Int64),  # E4 reports none
        row_number="row_number",
        reason=reason,
        raw="raw",
    )
    good, rejects = tab.split_rejects(frame, "heart_rate")
    return Parsed(frames={"heart_rate": good}, rejects=rejects)


def _peak_reason(beats: detect.Beats) -> list[str | None]:
    """Why each detected pulse is not a beat (None where it is one)."""
    return [
        None if interval_ok else (REASON_NO_INTERVAL if ok else REASON_PEAK_REJECTED)
        for interval_ok, ok in zip(beats.interval_ok.tolist(), beats.ok.tolist(), strict=True)
    ]


def bvp_peaks_with_reasons(
    header: SampleHeader, rate: float, samples: pl.DataFrame, signal: np.ndarray
) -> pl.DataFrame:
    """Canonical beat columns plus ``reason`` and ``raw`` for every detected peak."""
    beats = detect.ppg_beats(signal, rate, "foot")
    index = beats.index
    t_s = index / rate
    rr_ms = np.where(beats.interval_ok, np.diff(t_s, prepend=np.nan) * 1000.0, np.nan)
    peaks = pl.DataFrame(
        {
            "t_s": t_s,
            "rr_ms": rr_ms,
            "reason": pl.Series(_peak_reason(beats), dtype=pl.String),
            "raw": samples["raw"].gather(index) if index.size else pl.Series([], dtype=pl.String),
            "row_number": pl.Series(index + 1, dtype=pl.Int64),
        }
    )
    micros = (pl.lit(header.start_s) * 1e6 + pl.col("t_s") * 1e6).round(0).cast(pl.Int64)
    return peaks.select(
        source=pl.lit(BVP_ADAPTER_NAME),
        device=pl.lit(DEVICE),
        t_utc=_utc_from_us(micros),
        rr_ms=pl.col("rr_ms").fill_nan(None),
        origin=pl.lit("ppg"),
        row_number="row_number",
        reason="reason",
        raw="raw",
    )


def parse_bvp(path: Path, context: Context = NO_CONTEXT) -> Parsed:
    """Read an E4 ``BVP.csv``, detect beats by heartpy, return ``beats`` and rejects.

    Raises
    ------
    InputError
        File-level problems, or no start / rate header lines.
    """
    header, rate, lines = _samples(path, "BVP")
    samples = _data_lines(lines)
    value, reason = tab.float_and_reason(pl.col("raw"), "BVP sample")
    checked = samples.with_columns(value=value, reason=reason)
    signal = checked["value"].fill_null(float("nan")).to_numpy().astype(np.float64)
    peaks = bvp_peaks_with_reasons(header, rate, samples, signal)
    good, peak_rejects = tab.split_rejects(peaks, "beats")
    bad_samples = as_rejects(checked.filter(pl.col("reason").is_not_null()), "beats")
    rejects = pl.concat([peak_rejects, bad_samples])
    return Parsed(frames={"beats": good}, rejects=rejects.sort("row_number"))


def parse_not_heart(path: Path, context: Context = NO_CONTEXT) -> Parsed:
    """Refuse an E4 ACC/EDA/TEMP file with a one-line reason (always raises InputError)."""
    header = sample_header(_text_lines(path)[:2])
    kind = (sensor_kind(header, path) if header is not None else None) or "sensor"
    what = NOT_HEART.get(kind, "no heart data")
    raise tab.input_error(path, f"E4 {kind} file holds {what}, not heart data (not ingested yet)")


# --- tags.csv ----------------------------------------------------------------------------


def _tag_fields(lines: list[str]) -> pl.DataFrame:
    """Non-blank tag lines with ``t_s``, a ``reason`` and ``duplicate`` flag."""
    fields = _data_lines([line for line in lines if line.strip()])
    times = pl.Series("t_s", [_epoch_s(raw) for raw in fields["raw"]], dtype=pl.Float64)
    checked = fields.with_columns(times)
    earlier = pl.col("t_s").cum_max().forward_fill().shift(1)
    return checked.with_columns(
        reason=pl.when(pl.col("t_s").is_null()).then(pl.lit("not a unix time in [2010, 2100)"))
        .when(pl.col("t_s") < earlier).then(pl.lit("non-monotonic time (tag before previous tag)")),
        duplicate=(pl.col("t_s") == earlier).fill_null(False),
    )  # fmt: skip


def tag_pairs(times_s: list[float]) -> list[tuple[int, float]]:
    """Indices of the start tags and episode durations (s) by the pairing rule.

    >>> tag_pairs([0.0, 300.0, 400.0, 5000.0, 5100.0, 9000.0])
    [(0, 300.0), (2, 600.0), (3, 100.0), (5, 600.0)]
    """
    episodes: list[tuple[int, float]] = []
    i = 0
    while i < len(times_s):
        gap = times_s[i + 1] - times_s[i] if i + 1 < len(times_s) else None
        if gap is None or gap > MAX_PAIR_GAP_S:
            episodes.append((i, SINGLE_TAG_S))
            i += 1
        else:
            episodes.append((i, gap))
            i += 2
    return episodes


def tag_episodes(tags: pl.DataFrame, zones: LocalZones | None = None) -> pl.DataFrame:
    """Episode rows from accepted, distinct tags (``t_s``, ``row_number``, ``raw``).

    ``tz`` is the zone of ``zones`` at each episode's start, ``UTC`` without ``zones``.
    """
    pairs = tag_pairs(tags["t_s"].to_list())
    starts = tags[[i for i, _ in pairs]].with_columns(
        duration_s=pl.Series([d for _, d in pairs], dtype=pl.Float64)
    )
    start = _utc_from_us((pl.col("t_s") * 1e6).round(0).cast(pl.Int64))
    end = start + pl.duration(microseconds=(pl.col("duration_s") * 1e6).round(0).cast(pl.Int64))
    return starts.select(
        start_utc=start,
        end_utc=end,
        tz=pl.lit("UTC") if zones is None else zones.of_instant(start),
        intensity=pl.lit(None, pl.Float64),
        context=pl.lit(TAG_CONTEXT),
        source=pl.lit(TAGS_ADAPTER_NAME),
        row_number="row_number",
    )


def parse_tags(path: Path, context: Context = NO_CONTEXT) -> Parsed:
    """Read an E4 tags file into ``episodes`` by the pairing rule.

    Raises
    ------
    InputError
        File-level problems (empty, binary, not UTF-8).
    """
    fields = _tag_fields(_text_lines(path))
    accepted = fields.filter(pl.col("reason").is_null() & ~pl.col("duplicate"))
    rejects = as_rejects(fields.filter(pl.col("reason").is_not_null()), "episodes")
    return Parsed(
        frames={"episodes": tag_episodes(accepted, context.zones)},
        rejects=rejects,
        duplicates=int(fields["duplicate"].sum()),
    )


IBI_ADAPTER = Adapter(name=IBI_ADAPTER_NAME, sniff=sniff_ibi, parse=parse_ibi)
HR_ADAPTER = Adapter(name=HR_ADAPTER_NAME, sniff=sniff_hr, parse=parse_hr)
BVP_ADAPTER = Adapter(name=BVP_ADAPTER_NAME, sniff=sniff_bvp, parse=parse_bvp)
TAGS_ADAPTER = Adapter(
    name=TAGS_ADAPTER_NAME, sniff=sniff_tags, parse=parse_tags, reads_profile=True
)
NOT_HEART_ADAPTER = Adapter(name="e4_not_heart", sniff=sniff_not_heart, parse=parse_not_heart)
