"""Apple Health exports: heart rate, instantaneous-bpm beats and Apple's own SDNN.

Input
-----
The Health app's ``export.zip`` (holding ``apple_health_export/export.xml``),
a bare ``export.xml``, or the XML inside an unpacked ``apple_health_export/``
folder. Detection is by content: a zip signature plus an
``apple_health_export/`` member name (the XML inside is then chosen by its
content: the one member whose head holds ``<HealthData``), or an XML head
holding ``<HealthData`` or the ``HealthKit Export`` DTD comment. Zips are
read through :mod:`tearsignals.ingest.adapters.archive` (streamed, never extracted).

What is read (every other record type is skipped)
-------------------------------------------------
``HKQuantityTypeIdentifierHeartRate`` → ``heart_rate``
    ``hr_bpm`` from ``value``; the unit must be ``count/min``, ``count/s``
    is converted × 60 (declared in :data:`HR_UNITS`), anything else is a
    reject naming the unit.
``HKQuantityTypeIdentifierHeartRateVariabilitySDNN`` → ``vendor_hrv`` and ``beats``
    Apple's SDNN (unit ``ms``) becomes a ``vendor_hrv`` row (``n_beats`` = the
    number of listed beats, null without a list). Each
    ``<InstantaneousBeatsPerMinute bpm=".." time=".."/>`` of the record becomes
    a ``beats`` row with ``origin = "ibpm"`` and ``rr_ms = 60000 / bpm``.
``HKDataTypeIdentifierHeartbeatSeries`` → ``beats``
    Read the same way wherever such a record lists beats.

``source`` is ``apple_health``; ``device`` is the record's ``sourceName``
(XML entities resolved, control characters dropped) plus the hardware model
from its ``device`` attribute when present, e.g. ``Anna's Apple Watch (Watch6,7)``.

Time basis
----------
* ``startDate``/``endDate`` are local wall times with a per-record UTC offset
  (``2017-10-01 08:12:00 +0200``); they are converted to UTC with that offset.
  ``heart_rate.t_utc`` and ``vendor_hrv.t_utc`` are the record's ``startDate``.
* A beat's ``time`` has no date and no offset: it is the wall clock of the
  record's ``startDate`` offset, written in the phone's locale: 12-hour
  (``8:12:03.51 PM``, ``p.m.``, any case, narrow no-break spaces) or 24-hour
  (``20:12:03.51``), with ``.`` or ``,`` before the fraction. A beat is placed
  at ``startDate + d``, where ``d`` is the clock difference between the beat
  and ``startDate`` wrapped into [-12 h, +12 h): a record that crosses midnight
  continues on the next day. A beat must fall within the record's span
  (``startDate`` .. ``endDate``, ±60 s; 5 min when ``endDate`` is unusable)
  and after the record's previous beat, otherwise it is a reject.

Duplicates and source priority
------------------------------
Watch, iPhone and third-party apps often store the same samples. Of several
accepted rows of one table at the same ``t_utc``, the row of the best-ranked
source is kept and the others are counted in ``Parsed.duplicates``
(:func:`source_rank`): Apple Watch (measures HR and HRV itself) > any other
device or app (e.g. a chest strap through its app) > iPhone (which holds
copies and manual entries). Ties keep the first record in the file.

Row numbers
-----------
``heart_rate`` and ``vendor_hrv``: position of the record among the file's
records of that type. ``beats``: position of the beat in the file's beats
ordered by time (Apple does not sort records by time, beat time order is what
the beats table is checked against), unplaceable beats last.

Streaming, bounded memory, cross-check
--------------------------------------
The XML is read in blocks (:data:`BLOCK_BYTES`) and cut just before a
top-level element, so a segment never splits a record. A segment in which no
known type name occurs is skipped after two byte counts (Apple groups records
by type, so most segments are). Otherwise it takes the fast path when byte counts of the
type names prove that a fixed-layout regex found every heart-rate record and
literal searches every HRV record start (:func:`_fast_scan`; HRV records are
then parsed one by one). Otherwise the segment goes through the robust path, a
tolerant tag tokenizer (any attribute order, quoting or line breaks) applied to
every record whose start tag names a type read here. Rows are converted to
typed columns in batches of :data:`BATCH_ROWS`, so memory holds the output
rows, a few blocks and one batch, whatever the file size.
:func:`parse_with_stats` reports which path each segment took. The output
frames themselves (about 60-80 bytes per heart-rate row) are the one part of
memory that grows with the export, as the ``Parsed`` contract returns them whole.

Known defects tolerated: stray control characters, a broken or missing DTD,
invalid UTF-8 in names (replaced), a truncated file (records parsed so far
are kept; the cut record of a known type is a reject ``truncated record``).

XML safety: no XML parser is used at all, so no DTD is read, no entity is
expanded and no external resource is fetched; only the five predefined
entities and character references are resolved in names. A billion-laughs
or external-entity file is just text.

Examples
--------
>>> import tempfile
>>> path = Path(tempfile.mkdtemp()) / "export.xml"
>>> _ = path.write_text(
...     '<HealthData locale="en_US">\\n <Record type="HKQuantityTypeIdentifierHeartRate" '
...     'sourceName="Watch" unit="count/min" startDate="2017-10-01 08:12:00 +0200" '
...     'endDate="2017-10-01 08:12:00 +0200" value="61"/>\\n</HealthData>\\n'
... )
>>> ADAPTER.sniff(path.read_bytes(), path)
True
>>> parse(path).frames["heart_rate"].select("t_utc", "hr_bpm").row(0)
(datetime.datetime(2017, 10, 1, 6, 12, tzinfo=zoneinfo.ZoneInfo(key='UTC')), 61.0)
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from operator import itemgetter
from pathlib import Path

import polars as pl

from tearsignals.contract import schema
from tearsignals.ingest.adapters import _tabular as tab
from tearsignals.ingest.adapters import archive
from tearsignals.ingest.adapters.base import REJECT_SCHEMA, Adapter, Parsed
from tearsignals.ingest.timeparse import UTC_DTYPE, utc_from_iso

NAME = "apple_health"
HEART_RATE = "HKQuantityTypeIdentifierHeartRate"
SDNN = "HKQuantityTypeIdentifierHeartRateVariabilitySDNN"
HEARTBEAT_SERIES = "HKDataTypeIdentifierHeartbeatSeries"
TABLE_OF_TYPE = {HEART_RATE: "heart_rate", SDNN: "vendor_hrv", HEARTBEAT_SERIES: "beats"}
HR_UNITS: dict[str, float] = {"count/min": 1.0, "count/s": 60.0}
SDNN_UNITS: dict[str, float] = {"ms": 1.0}
ORIGIN = "ibpm"
BLOCK_BYTES = 4 * 2**20
BATCH_ROWS = 50_000
MAX_ELEMENT_BYTES = 256 * 2**20
PROLOG_BYTES = 4 * 2**20
BEAT_SPAN_MARGIN = timedelta(seconds=60)
SPAN_WITHOUT_END = timedelta(minutes=5)
RAW_CHARS = 500
REASON_TRUNCATED = "truncated record"
REASON_MALFORMED = "malformed record"
DATE_FORMAT = "%Y-%m-%d %H:%M:%S %z"
EXPORT_MEMBER = "apple_health_export/export.xml"

# Tolerant tokenizer (robust path): any attribute order, quoting and white space.
_ATTRS = rb"((?:\s+[^\s=/<>\"']+\s*=\s*(?:\"[^\"<]*\"|'[^'<]*'))*)"
_START_TAG = re.compile(rb"<Record" + _ATTRS + rb"\s*(/?)>")
_BEAT_TAG = re.compile(rb"<InstantaneousBeatsPerMinute" + _ATTRS + rb"\s*/?>")
_ATTRIBUTE = re.compile(rb"([^\s=/<>\"']+)\s*=\s*(?:\"([^\"<]*)\"|'([^'<]*)')")
_TYPE_ATTR = re.compile(rb"\btype\s*=\s*[\"']([^\"'<]*)[\"']")
_RECORD = re.compile(rb"<Record(?=[\s/>]|$)")
_BEAT = re.compile(rb"<InstantaneousBeatsPerMinute(?=[\s/>]|$)")
# Fast path: Apple's fixed attribute layout. ``[^"]*`` is ~3x faster than ``[^"<]*``
# in ``re``; a capture holding ``<`` (a broken quote) is rejected as malformed.
_HR_FAST = re.compile(
    rb'<Record type="HKQuantityTypeIdentifierHeartRate"\s+sourceName="([^"]*)"'
    rb'(?:\s+sourceVersion="[^"]*")?(?:\s+device="(?:&lt;&lt;HKDevice: 0x[0-9A-Fa-f]+&gt;, )?'
    rb'([^"]*)")?\s+unit="([^"]*)"'
    rb'(?:\s+creationDate="[^"]*")?\s+startDate="([^"]*)"\s+endDate="[^"]*"'
    rb'\s+value="([^"]*)"\s*/?>'
)
_DEVICE_ADDRESS = re.compile(rb"^(?:&lt;|<){2}HKDevice: 0x[0-9A-Fa-f]+(?:&gt;|>), ")
_BEAT_FAST = re.compile(rb'<InstantaneousBeatsPerMinute bpm="([^"]*)" time="([^"]*)"\s*/>')
_LITERALS = {t: b'"' + t.encode() + b'"' for t in TABLE_OF_TYPE}
_STARTS = {t: b'<Record type="' + t.encode() + b'"' for t in (SDNN, HEARTBEAT_SERIES)}
# HKQuantityTypeIdentifierHeartRate is a prefix of the SDNN name: two needles find all three.
_BARE_NAMES = (HEART_RATE.encode(), HEARTBEAT_SERIES.encode())
_BOUNDARIES = (b"<Record", b"<Workout", b"<Correlation", b"<ActivitySummary", b"</HealthData")
_ENCODING = re.compile(rb"<\?xml[^>]*?encoding\s*=\s*[\"']([^\"']+)[\"']")
_UTF8_NAMES = {"utf-8", "utf8", "us-ascii", "ascii"}
_ENTITY = re.compile(r"&(lt|gt|amp|quot|apos|#[0-9]{1,7}|#x[0-9a-fA-F]{1,6});")
_PREDEFINED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"', "apos": "'"}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_DAY_US = 86_400_000_000
_HALF_DAY_US = _DAY_US // 2
_HR_FIELDS = ("name", "device", "unit", "start", "value")
_PENDING = ("heart_rate", "vendor_hrv", "beat_lists", "beat_records")
_QUANTITY_ATTRS = (b"unit", b"startDate", b"value")


# --- names and sources -----------------------------------------------------------------


def xml_unescape(text: str) -> str:
    """Resolve the five predefined XML entities and character references; leave others as text.

    No other entity is expanded (no DTD is read), so ``&lol;`` stays ``&lol;``.

    >>> xml_unescape("Anna&apos;s &lt;Watch&gt; &#x2019; &lol;")
    "Anna's <Watch> ’ &lol;"
    """

    def resolved(match: re.Match[str]) -> str:
        name = match.group(1)
        if not name.startswith("#"):
            return _PREDEFINED[name]
        code = int(name[2:], 16) if name[1] in "xX" else int(name[1:])
        return chr(code) if 0 < code <= 0x10FFFF else match.group(0)

    return _ENTITY.sub(resolved, text)


def _device_field(device: str, name: str) -> str | None:
    """The ``name:value`` field of an HKDevice description (``None`` if absent)."""
    found = re.search(rf"\b{name}:(.*?)(?:, [A-Za-z]+:|>|$)", device)
    return found.group(1).strip() if found and found.group(1).strip() else None


def device_label(source_name: str | None, device: str | None) -> str | None:
    """``sourceName`` plus the hardware model named by the ``device`` attribute, if any.

    >>> watch = "<<HKDevice: 0x1>, name:Apple Watch, model:Watch, hardware:Watch6,7, software:10.2>"
    >>> device_label("Anna's Apple Watch", watch), device_label("Connect", None)
    ("Anna's Apple Watch (Watch6,7)", 'Connect')
    """
    name = _CONTROL.sub("", source_name or "").strip()
    hardware = _device_field(device, "hardware") if device else None
    if hardware:
        hardware = _CONTROL.sub("", hardware)
        return f"{name} ({hardware})" if name else hardware
    return name or None


def source_rank(source_name: str | None, device: str | None) -> int:
    """Priority of a record's source for de-duplication: 0 Apple Watch, 1 other, 2 iPhone.

    The ``device`` attribute's model/hardware decides; without it, the source name.

    >>> source_rank("Anna's Apple Watch", None), source_rank("Polar Flow", None)
    (0, 1)
    >>> source_rank("Health", "<<HKDevice: 0x2>, name:iPhone, model:iPhone, hardware:iPhone12,1>")
    2
    """
    described = " ".join(
        filter(None, [_device_field(device, "model"), _device_field(device, "hardware")])
        if device
        else []
    ).lower()
    text = described or (source_name or "").lower()
    if "watch" in text:
        return 0
    if "iphone" in text:
        return 2
    return 1


def device_key(device: bytes | None) -> bytes | None:
    """The ``device`` attribute without Apple's per-record object address (one device, one key).

    >>> device_key(b"&lt;&lt;HKDevice: 0x283e2d4a0&gt;, name:Apple Watch, hardware:Watch6,7&gt;")
    b'name:Apple Watch, hardware:Watch6,7&gt;'
    """
    return _DEVICE_ADDRESS.sub(b"", device) if device else None


class _Sources:
    """Integer ids for the (sourceName, device) pairs of a file, with label and rank each.

    Keys are the raw attribute bytes, the device without its object address
    (:func:`device_key`); texts are decoded and unescaped once per pair.
    """

    def __init__(self) -> None:
        self._ids: dict[tuple[bytes | None, bytes | None], int] = {}
        self.labels: list[str | None] = []
        self.ranks: list[int] = []

    def _added(self, key: tuple[bytes | None, bytes | None]) -> int:
        normal = (key[0] or None, key[1] or None)  # b"" (fast path) and None: both absent
        if normal not in self._ids:
            name, device = (
                xml_unescape(v.decode("utf-8", "replace")) if v else None for v in normal
            )
            self._ids[normal] = len(self.labels)
            self.labels.append(device_label(name, device))
            self.ranks.append(source_rank(name, device))
        self._ids[key] = self._ids[normal]
        return self._ids[key]

    def ids(self, names: Sequence[bytes | None], devices: Sequence[bytes | None]) -> pl.Series:
        """``source_id`` of each (name, device key) pair, registering new pairs.

        Lookups run in C (``map``); the Python loop only runs for unseen pairs.
        """
        found = list(map(self._ids.get, zip(names, devices, strict=True)))
        if None in found:
            for index, key in enumerate(zip(names, devices, strict=True)):
                if found[index] is None:
                    found[index] = self._ids.get(key)
                    found[index] = self._added(key) if found[index] is None else found[index]
        return pl.Series("source_id", found, dtype=pl.Int64)

    def frame(self) -> pl.DataFrame:
        """``source_id``, ``device`` (label) and ``rank`` of every pair seen."""
        return pl.DataFrame(
            {"source_id": range(len(self.labels)), "device": self.labels, "rank": self.ranks},
            schema={"source_id": pl.Int64, "device": pl.String, "rank": pl.Int64},
        )


# --- opening the export ----------------------------------------------------------------


def _is_export_head(head: bytes) -> bool:
    """Whether a text head looks like an Apple Health export (UTF-8, or UTF-16 with BOM)."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        head = head.decode("utf-16", "ignore").encode("utf-8", "replace")
    text = head.removeprefix(tab.BOM).lstrip()
    return text.startswith(b"<") and (b"<HealthData" in text or b"HealthKit Export" in text)


def _zip_holds_export(path: Path) -> bool:
    """Whether the zip's listing names an Apple Health export (no member is read)."""
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
    except (OSError, zipfile.BadZipFile, EOFError, ValueError):
        return False
    return any(
        "apple_health_export/" in n
        or n.lower().endswith(("/export.xml", "/export.zip"))
        or n.lower() in ("export.xml", "export.zip")
        for n in names
    )


def sniff(head: bytes, path: Path) -> bool:
    """An Apple Health ``export.zip`` (by its member names) or ``export.xml`` (by its head)."""
    if archive.is_zip(head):
        return _zip_holds_export(path)
    return _is_export_head(head)


def _export_member(path: Path) -> str:
    """The one XML member of the zip whose content is a Health export (InputError otherwise)."""
    names = archive.member_names(path)
    candidates = [n for n in names if n.lower().endswith(".xml") and n.count("/") <= 1]
    candidates.sort(key=lambda n: n != EXPORT_MEMBER)
    exports = [n for n in candidates if _is_export_head(archive.member_head(path, n, 4096))]
    if not exports:
        raise tab.input_error(path, "zip archive holds no Apple Health export XML")
    if len(exports) > 1:
        raise tab.input_error(path, "several Apple Health exports in one archive; add each alone")
    return exports[0]


@contextmanager
def _export_stream(path: Path) -> Iterator[archive.ByteStream]:
    """The export XML as a binary stream: a zip member, streamed, or the file itself."""
    try:
        with path.open("rb") as handle:
            magic = handle.read(4)
            if not archive.is_zip(magic):
                handle.seek(0)
                yield handle
                return
    except OSError as exc:
        raise tab.input_error(path, f"cannot read file ({exc.strerror or exc})") from exc
    with archive.open_member(path, _export_member(path)) as stream:
        yield stream


def _prolog(stream: archive.ByteStream, block_bytes: int) -> bytes:
    """The first blocks of the stream, up to the one holding ``<HealthData`` (or PROLOG_BYTES)."""
    head = stream.read(block_bytes)
    while b"<HealthData" not in head and len(head) < PROLOG_BYTES:
        more = stream.read(block_bytes)
        if not more:
            break
        head += more
    return head


def _body_start(path: Path, first: bytes) -> int:
    """Offset of ``<HealthData`` in the file's first bytes, after file-level checks (InputError)."""
    if not first.removeprefix(tab.BOM).strip():
        raise tab.input_error(path, "empty file")
    if first.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in first[:4096]:
        raise tab.input_error(path, "not UTF-8 text (UTF-16 or binary); export again or convert")
    declared = _ENCODING.search(first[:512])
    if declared and declared.group(1).decode("ascii", "replace").lower() not in _UTF8_NAMES:
        encoding = declared.group(1).decode("ascii", "replace")[:20]
        raise tab.input_error(path, f"declared encoding {encoding!r} is not UTF-8")
    at = first.find(b"<HealthData")
    if at < 0:
        raise tab.input_error(path, "no <HealthData> element: not an Apple Health export, or cut")
    return at


# --- segments --------------------------------------------------------------------------


def _last_boundary(buffer: bytes) -> int:
    """Offset of the last top-level element start in ``buffer`` (everything before is whole).

    Records are by far the most frequent element, so the other names are only
    looked for when no record starts after the buffer's first byte.
    """
    last_record = buffer.rfind(b"<Record")
    if last_record > 0:
        return last_record
    return max(buffer.rfind(b) for b in _BOUNDARIES)


def _segments(
    path: Path, stream: archive.ByteStream, block_bytes: int
) -> Iterator[tuple[bytes, bool]]:
    """``(segment, is_last)`` pieces of the ``<HealthData>`` body, each cut before an element.

    A segment never ends inside a ``<Record>``; the last one runs to the end of
    the file, so only it can hold a truncated record. Each block is copied once.
    """
    carry = _prolog(stream, block_bytes)
    carry = carry[_body_start(path, carry) :]
    while True:
        data = stream.read(block_bytes)
        if not data:
            yield carry, True
            return
        cut = _last_boundary(data)
        if cut <= 0:
            carry += data
            if len(carry) > MAX_ELEMENT_BYTES:
                raise tab.input_error(path, f"an element larger than {MAX_ELEMENT_BYTES} bytes")
            continue
        segment = b"".join((carry, memoryview(data)[:cut]))
        carry = data[cut:]
        del data
        yield segment, False


# --- scanning one segment --------------------------------------------------------------

Beat = tuple[bytes | None, bytes | None]


@dataclass
class _HrvRecord:
    """A raw SDNN or heartbeat-series record: attributes and beats, or what is wrong with it.

    ``beats`` holds ``(bpm, time)`` per beat element (``None`` without a beat
    list); ``bad_beats`` the positions of elements that could not be read.
    """

    kind: str
    offset: int
    attrs: dict[bytes, bytes]
    beats: list[Beat] | None = None
    bad_beats: frozenset[int] = frozenset()
    problem: str | None = None
    raw: bytes = b""


@dataclass
class _Found:
    """Relevant records of one segment, raw, in document order."""

    hr: list[tuple[bytes | None, ...]] = field(default_factory=list)
    hr_problems: dict[int, tuple[str, bytes]] = field(default_factory=dict)
    hrv: list[_HrvRecord] = field(default_factory=list)
    fast: bool = True
    relevant_literals: int = 0


def _attributes(text: bytes) -> dict[bytes, bytes]:
    """Attribute name → raw value (entities not resolved) of a tag's attribute text."""
    return {m[0]: m[1] or m[2] for m in _ATTRIBUTE.findall(text)}


def _hr_fields(attrs: dict[bytes, bytes]) -> tuple[bytes | None, ...]:
    """The heart-rate fields in the fast path's order (see ``_HR_FIELDS``)."""
    device = device_key(attrs.get(b"device"))
    return (attrs.get(b"sourceName"), device, *(attrs.get(k) for k in _QUANTITY_ATTRS))


def _beats_by_tag(body: bytes) -> tuple[list[Beat], frozenset[int]]:
    """Beats of a record body through the tolerant tokenizer, and the unreadable positions."""
    beats: list[Beat] = []
    bad: set[int] = set()
    for index, start in enumerate(_BEAT.finditer(body)):
        tag = _BEAT_TAG.match(body, start.start())
        if tag is None:
            bad.add(index)
            beats.append((None, None))
            continue
        attrs = _attributes(tag.group(1))
        beats.append((attrs.get(b"bpm"), attrs.get(b"time")))
    return beats, frozenset(bad)


def _beats_in(body: bytes) -> tuple[list[Beat] | None, frozenset[int]]:
    """``(bpm, time)`` of each beat element of a record body; ``None`` when it lists none."""
    listed = body.count(b"<InstantaneousBeatsPerMinute")
    if not listed:
        return None, frozenset()
    beats: list[Beat] = _BEAT_FAST.findall(body)
    if len(beats) == listed:
        return beats, frozenset()
    return _beats_by_tag(body)


def _hrv_record(segment: bytes, at: int, kind: str, last: bool) -> _HrvRecord:
    """Parse the SDNN / heartbeat-series record starting at ``at``."""
    tag = _START_TAG.match(segment, at)
    limit = _RECORD.search(segment, at + 1)
    end = limit.start() if limit else len(segment)
    cut_off = last and limit is None
    if tag is None:
        truncated = cut_off and segment.find(b">", at) < 0
        reason = REASON_TRUNCATED if truncated else REASON_MALFORMED
        return _HrvRecord(kind, at, {}, problem=reason, raw=segment[at:end])
    attrs = _attributes(tag.group(1))
    if tag.group(2):
        return _HrvRecord(kind, at, attrs, raw=tag.group(0))
    close = segment.find(b"</Record>", tag.end(), end)
    if close < 0:
        reason = REASON_TRUNCATED if cut_off else f"{REASON_MALFORMED}: no </Record>"
        return _HrvRecord(kind, at, attrs, problem=reason, raw=segment[at:end])
    beats, bad = _beats_in(segment[tag.end() : close])
    return _HrvRecord(kind, at, attrs, beats, bad, raw=tag.group(0))


def _type_near(segment: bytes, at: int) -> str | None:
    """The ``type`` attribute of a tag whose start could not be parsed, if readable."""
    stop = segment.find(b"<", at + 1)
    found = _TYPE_ATTR.search(segment, at, stop if stop >= 0 else len(segment))
    return found.group(1).decode("ascii", "replace") if found else None


def _broken_hr(segment: bytes, at: int, last: bool, found: _Found) -> None:
    """Add a heart-rate record whose start tag is unreadable, as a problem."""
    stop = segment.find(b"<", at + 1)
    truncated = last and stop < 0 and segment.find(b">", at) < 0
    raw = segment[at : stop if stop >= 0 else len(segment)]
    found.hr_problems[len(found.hr)] = (REASON_TRUNCATED if truncated else REASON_MALFORMED, raw)
    found.hr.append((None,) * len(_HR_FIELDS))


def _robust_record(segment: bytes, at: int, last: bool, found: _Found) -> None:
    """Add the record starting at ``at`` to ``found`` if it is of a type this adapter reads."""
    tag = _START_TAG.match(segment, at)
    attrs = _attributes(tag.group(1)) if tag is not None else {}
    kind = attrs.get(b"type", b"").decode("ascii", "replace") if tag else _type_near(segment, at)
    if kind not in TABLE_OF_TYPE:
        return
    if kind != HEART_RATE:
        found.hrv.append(_hrv_record(segment, at, kind, last))
    elif tag is not None:
        found.hr.append(_hr_fields(attrs))
    else:
        _broken_hr(segment, at, last, found)


def _robust_scan(segment: bytes, last: bool) -> _Found:
    """The records of known types through the tolerant tokenizer, in document order.

    A record is tokenized when a known type name occurs between its ``<Record``
    and the next tag: any attribute order, quoting or white space is found,
    and the cost follows the number of relevant records, not of all records.
    """
    found = _Found(fast=False)
    starts: set[int] = set()
    for name in _BARE_NAMES:
        for at in _positions(segment, name):
            start = segment.rfind(b"<Record", 0, at)
            if start >= 0 and segment.find(b"<", start + 1, at) < 0:
                starts.add(start)
    for start in sorted(starts):
        _robust_record(segment, start, last, found)
    found.relevant_literals = sum(segment.count(lit) for lit in _LITERALS.values())
    return found


def _positions(segment: bytes, needle: bytes) -> list[int]:
    """Offsets of every occurrence of ``needle`` (a long literal: fast byte search)."""
    found, at = [], segment.find(needle)
    while at >= 0:
        found.append(at)
        at = segment.find(needle, at + 1)
    return found


def _fast_scan(segment: bytes, last: bool) -> _Found | None:
    """Relevant records by fixed-layout search, or ``None`` if the byte counts disagree.

    Proof of completeness, from long-literal byte counts. Every record read
    here holds its bare type name; a segment holding none is skipped (exports
    are grouped by type, so most are). Each occurrence of the bare heart-rate
    name is either the quoted heart-rate type ``"...HeartRate"`` or the start
    of an SDNN record ``<Record type="...SDNN"``, or something else (other
    quoting or attribute order, another ``HeartRate...`` type). The counts of
    the first two add up to the total only if there is nothing else; then the
    regex must have matched every quoted heart-rate type. Heartbeat series
    must all be exact record starts.
    """
    hr_family, series = (segment.count(name) for name in _BARE_NAMES)
    if not hr_family and not series:
        return _Found()
    expected_hr = segment.count(_LITERALS[HEART_RATE])
    sdnn_at = _positions(segment, _STARTS[SDNN]) if hr_family > expected_hr else []
    series_at = _positions(segment, _STARTS[HEARTBEAT_SERIES]) if series else []
    if hr_family != expected_hr + len(sdnn_at) or series != len(series_at):
        return None
    hr = _HR_FAST.findall(segment) if expected_hr else []
    if len(hr) != expected_hr:
        return None
    found = _Found(hr=hr, relevant_literals=expected_hr + len(sdnn_at) + len(series_at))
    kinds = [(at, SDNN) for at in sdnn_at] + [(at, HEARTBEAT_SERIES) for at in series_at]
    found.hrv = [_hrv_record(segment, at, kind, last) for at, kind in sorted(kinds)]
    return found


def _scanned(segment: bytes, last: bool, force_robust: bool) -> _Found:
    """The relevant records of one segment, through the fast path if it provably suffices."""
    found = None if force_robust else _fast_scan(segment, last)
    return found if found is not None else _robust_scan(segment, last)


# --- raw rows per segment, typed rows per batch -----------------------------------------

_VALUE_SCHEMA: dict[str, dict[str, pl.DataType]] = {
    "heart_rate": {"hr_bpm": pl.Float64()},
    "vendor_hrv": {"sdnn_ms": pl.Float64(), "n_beats": pl.Int64()},
    "beats": {"rr_ms": pl.Float64()},
}
_KEY_SCHEMA = {"ordinal": pl.Int64(), "pos": pl.Int32()}
_REJECT_ROWS = pl.Schema({**_KEY_SCHEMA, "reason": pl.String(), "raw": pl.String()})


def _good_schema(table: str) -> pl.Schema:
    """Columns of accepted typed rows of ``table`` (before numbering and de-duplication)."""
    return pl.Schema(
        {**_KEY_SCHEMA, "source_id": pl.Int32(), "t_utc": UTC_DTYPE, **_VALUE_SCHEMA[table]}
    )


def _split(rows: pl.DataFrame, table: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Typed rows with a ``reason`` column → (accepted rows, rejects)."""
    bad = pl.col("reason").is_not_null()
    good = rows.filter(~bad).select(_good_schema(table).names()).cast(_good_schema(table))
    rejects = rows.filter(bad).select(_REJECT_ROWS.names()).cast(_REJECT_ROWS)
    return good, rejects


def _binary(values: Sequence[bytes | None]) -> pl.Series:
    return pl.Series(values, dtype=pl.Binary)


def _as_text(frame: pl.DataFrame, columns: Sequence[str]) -> pl.DataFrame:
    """``frame`` with Binary ``columns`` as text (invalid UTF-8 replaced: rare and slow)."""
    try:
        return frame.with_columns(pl.col(columns).cast(pl.String))
    except pl.exceptions.PolarsError:
        return frame.with_columns(
            pl.Series(c, [None if v is None else v.decode("utf-8", "replace") for v in frame[c]])
            for c in columns
        )


def _raw_text(raw: bytes) -> str:
    """A record's text for a reject's ``raw`` (capped at RAW_CHARS characters)."""
    return raw[: RAW_CHARS * 4].decode("utf-8", "replace")[:RAW_CHARS]


def _problem_columns(n: int, problems: dict[int, tuple[str, bytes]]) -> dict[str, pl.Series]:
    """``problem`` and ``problem_raw`` columns: set where the record itself was unreadable."""
    reasons: list[str | None] = [None] * n
    raws: list[str | None] = [None] * n
    for index, (reason, raw) in problems.items():
        reasons[index], raws[index] = reason, _raw_text(raw)
    return {
        "problem": pl.Series(reasons, dtype=pl.String),
        "problem_raw": pl.Series(raws, dtype=pl.String),
    }


def _ordinals(done: int, n: int) -> pl.Series:
    return pl.Series("ordinal", range(done + 1, done + n + 1), dtype=pl.Int64)


def _hr_raw(found: _Found, done: int, sources: _Sources) -> pl.DataFrame:
    """The segment's heart-rate records: source id, Binary fields, ordinal and problems."""
    n, hr = len(found.hr), found.hr
    columns = [list(map(itemgetter(i), hr)) for i in range(len(_HR_FIELDS))]
    fields = {k: _binary(columns[i]) for i, k in enumerate(_HR_FIELDS) if i >= 2}
    return pl.DataFrame(
        {
            "ordinal": _ordinals(done, n),
            "source_id": sources.ids(columns[0], columns[1]),
            **fields,
            **_problem_columns(n, found.hr_problems),
        }
    )


def _record_sources(records: Sequence[_HrvRecord], sources: _Sources) -> pl.Series:
    """``source_id`` of each HRV record."""
    names = [r.attrs.get(b"sourceName") for r in records]
    return sources.ids(names, [device_key(r.attrs.get(b"device")) for r in records])


def _record_problems(records: Sequence[_HrvRecord]) -> dict[int, tuple[str, bytes]]:
    return {i: (r.problem, r.raw) for i, r in enumerate(records) if r.problem is not None}


def _vendor_raw(records: Sequence[_HrvRecord], done: int, sources: _Sources) -> pl.DataFrame:
    """The segment's SDNN records: source id, Binary fields, ordinal, beat count, problems."""
    names = ("unit", "start", "value")
    fields = {
        k: _binary([r.attrs.get(a) for r in records])
        for k, a in zip(names, _QUANTITY_ATTRS, strict=True)
    }
    beat_counts = [None if r.beats is None else len(r.beats) for r in records]
    return pl.DataFrame(
        {
            "ordinal": _ordinals(done, len(records)),
            "source_id": _record_sources(records, sources),
            **fields,
            "n_beats": pl.Series(beat_counts, dtype=pl.Int64),
            **_problem_columns(len(records), _record_problems(records)),
        }
    )


def _beat_entries(record: _HrvRecord) -> list[Beat]:
    """The beats a record contributes: its list, or one placeholder for an unreadable series.

    An unreadable SDNN record is rejected once, as ``vendor_hrv``; an unreadable
    heartbeat series (which has no other row) once, as ``beats``.
    """
    if record.problem is None:
        return record.beats or []
    return [(None, None)] if record.kind == HEARTBEAT_SERIES else []


def _beat_list_raw(records: Sequence[_HrvRecord], done: int) -> pl.DataFrame:
    """One row per beat: record ``ordinal``, ``pos``, Binary ``bpm``/``time``, ``bad`` element."""
    ordinals: list[int] = []
    positions: list[int] = []
    beats: list[Beat] = []
    bad: list[bool] = []
    for index, record in enumerate(records):
        entries = _beat_entries(record)
        ordinals += [done + index + 1] * len(entries)
        positions += range(1, len(entries) + 1)
        beats += entries
        bad += [i in record.bad_beats for i in range(len(entries))]
    return pl.DataFrame(
        {
            "ordinal": pl.Series(ordinals, dtype=pl.Int64),
            "pos": pl.Series(positions, dtype=pl.Int64),
            "bpm": _binary([b[0] for b in beats]),
            "time": _binary([b[1] for b in beats]),
            "bad": pl.Series(bad, dtype=pl.Boolean),
        }
    )


def _beat_record_raw(records: Sequence[_HrvRecord], done: int, sources: _Sources) -> pl.DataFrame:
    """One row per HRV record: ``ordinal``, source id, Binary dates, problem."""
    return pl.DataFrame(
        {
            "ordinal": _ordinals(done, len(records)),
            "source_id": _record_sources(records, sources),
            "start": _binary([r.attrs.get(b"startDate") for r in records]),
            "end": _binary([r.attrs.get(b"endDate") for r in records]),
            **_problem_columns(len(records), _record_problems(records)),
        }
    )


def _utc_and_reason(text: pl.Series, name: str) -> pl.DataFrame:
    """``utc`` and ``reason`` (``"<name>: ..."``) of Apple date texts.

    The export's one layout is parsed by ``strptime``; anything else goes
    through :func:`tearsignals.ingest.timeparse.utc_from_iso` for a value or a reason.
    """
    fast = text.str.strptime(pl.Datetime("us"), DATE_FORMAT, strict=False).cast(UTC_DTYPE)
    if fast.null_count() == 0:
        return pl.DataFrame({"utc": fast, "reason": pl.Series([None] * len(text), dtype=pl.String)})
    slow = utc_from_iso(text)
    return (
        pl.DataFrame({"fast": fast})
        .with_columns(slow)
        .select(
            utc=pl.coalesce("fast", "utc"),
            reason=pl.when(pl.col("fast").is_null()).then(tab.prefixed(pl.col("reason"), name)),
        )
    )


def _unit_factor_and_reason(unit: pl.Expr, factors: dict[str, float]) -> tuple[pl.Expr, pl.Expr]:
    """Conversion factor of a declared unit, and ``missing unit``/``unknown unit X`` otherwise."""
    factor = unit.replace_strict(factors, default=None, return_dtype=pl.Float64)
    reason = (
        pl.when(unit.is_null() | (unit == "")).then(pl.lit("missing unit"))
        .when(factor.is_null()).then(pl.concat_str(pl.lit("unknown unit "), unit.str.slice(0, 20)))
    )  # fmt: skip
    return factor, reason


def _malformed(columns: Sequence[str]) -> pl.Expr:
    """``malformed record`` where a captured value holds ``<`` (a quote was not closed)."""
    broken = pl.any_horizontal(pl.col(c).str.contains("<", literal=True) for c in columns)
    return pl.when(broken.fill_null(False)).then(pl.lit(REASON_MALFORMED))


def _quantity_reasons(frame: pl.DataFrame, table: str, factors: dict[str, float]) -> pl.DataFrame:
    """Typed rows with a ``reason`` for each record (the thorough, slower path)."""
    times = _utc_and_reason(frame["start"], "startDate")
    value, value_reason = tab.float_and_reason(pl.col("value"), "value")
    factor, unit_reason = _unit_factor_and_reason(pl.col("unit"), factors)
    reasons = [pl.col("problem"), _malformed(["unit", "start", "value"]), pl.col("time_reason")]
    fields = pl.concat_str(
        [pl.col(c).fill_null("") for c in ("unit", "start", "value")], separator=","
    )
    value_column = next(iter(_VALUE_SCHEMA[table]))
    extra = {"n_beats": pl.col("n_beats")} if table == "vendor_hrv" else {}
    return (
        frame.lazy()
        .with_columns(t_utc=times["utc"], time_reason=times["reason"])
        .with_columns(reason=tab.first_reason([*reasons, unit_reason, value_reason]))
        .select(
            "ordinal",
            pos=pl.lit(0, pl.Int32),
            source_id="source_id",
            t_utc="t_utc",
            **{value_column: value * factor},
            **extra,
            reason="reason",
            raw=pl.when(pl.col("reason").is_not_null()).then(pl.coalesce("problem_raw", fields)),
        )
        .collect()
    )


def _quantity_rows(
    raw: pl.DataFrame, table: str, factors: dict[str, float]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Accepted rows and rejects of quantity records (raw frames of ``_hr_raw``/``_vendor_raw``).

    Records in the export's usual form take a cheap typed pass; only those it
    cannot type go through :func:`_quantity_reasons` for their reason.
    """
    frame = _as_text(raw, ["unit", "start", "value"])
    value_column = next(iter(_VALUE_SCHEMA[table]))
    number = pl.col("value").cast(pl.Float64, strict=False)
    factor = pl.col("unit").replace_strict(factors, default=None, return_dtype=pl.Float64)
    typed = frame.with_columns(
        t_utc=pl.col("start").str.strptime(pl.Datetime("us"), DATE_FORMAT, strict=False),
        pos=pl.lit(0, pl.Int32),
        **{value_column: number * factor},
    )
    fine = (
        pl.col("problem").is_null()
        & pl.col("t_utc").is_not_null()
        & pl.col(value_column).is_finite()
    ).fill_null(False)
    schema_good = _good_schema(table)
    good = typed.filter(fine).select(schema_good.names()).cast(schema_good)
    failing = frame.filter(~typed.select(fine).to_series())
    if failing.is_empty():
        return good, pl.DataFrame(schema=_REJECT_ROWS)
    late_good, rejects = _split(_quantity_reasons(failing, table, factors), table)
    return pl.concat([good, late_good]).sort("ordinal"), rejects


def _beat_frame(lists: pl.DataFrame, records: pl.DataFrame) -> pl.DataFrame:
    """Text rows of beats joined to their record's source id, dates and problem."""
    per_record = _as_text(records, ["start", "end"])
    beats = _as_text(lists, ["bpm", "time"])
    joined = beats.join(per_record, on="ordinal", how="left", maintain_order="left")
    bad = pl.when("bad").then(pl.lit("malformed beat element"))
    return joined.with_columns(problem=pl.coalesce("problem", bad))


def _clock_us_by_regex(text: pl.Series) -> pl.Series:
    """:func:`clock_us` for the texts ``strptime`` does not take (``p.m.``, no seconds, ...)."""
    normal = text.str.replace_all(r"[ \t\u00a0\u202f]+", " ").str.strip_chars().str.to_lowercase()
    parts = normal.str.extract_groups(
        r"^(?P<h>[0-9]{1,2}):(?P<m>[0-9]{2})(?::(?P<s>[0-9]{2})(?:[.,](?P<f>[0-9]{1,9}))?)?"
        r"(?: ?(?P<half>[ap])\.? ?m\.?)?$"
    )
    hour, minute, second = (pl.col(n).cast(pl.Int64) for n in ("h", "m", "s"))
    half = pl.col("half")
    hour24 = (
        pl.when(half.is_null() & (hour < 24)).then(hour)
        .when(half.is_not_null() & (hour >= 1) & (hour <= 12))
        .then(hour % 12 + pl.when(half == "p").then(12).otherwise(0))
    )  # fmt: skip
    micros = pl.col("f").str.slice(0, 6).str.pad_end(6, "0").cast(pl.Int64).fill_null(0)
    value = hour24 * 3_600_000_000 + minute * 60_000_000 + second.fill_null(0) * 1_000_000
    valid = (minute < 60) & (second.fill_null(0) < 60)
    return (
        parts.struct.unnest()
        .select(pl.when(valid).then(value + micros).alias(text.name))
        .to_series()
    )


def clock_us(text: pl.Series) -> pl.Series:
    """Microseconds since midnight of locale clock texts (12 h or 24 h); null if unreadable.

    Accepts ``AM``/``PM`` in any case, with optional dots and (narrow no-break)
    spaces, and ``.`` or ``,`` before the fraction. The usual forms go through
    ``strptime``; the rest through a regex.

    >>> clocks = ["8:12:03.51 PM", "20:12:03,51", "12:00:01\u202fa.m.", "13:00 PM", "0:00"]
    >>> clock_us(pl.Series(clocks)).to_list()
    [72723510000, 72723510000, 1000000, None, 0]
    """
    dotted = text.str.replace(",", ".", literal=True)
    parsed = pl.select(
        pl.coalesce(
            pl.lit(dotted).str.to_time("%I:%M:%S%.f %p", strict=False),
            pl.lit(dotted).str.to_time("%H:%M:%S%.f", strict=False),
        ).cast(pl.Int64)
        // 1000
    ).to_series()
    unread = parsed.is_null() & text.is_not_null()
    if not unread.any():
        return parsed.alias(text.name)
    return parsed.zip_with(~unread, _clock_us_by_regex(text)).alias(text.name)


def _start_clock_us(start: pl.Series) -> pl.Series:
    """Microseconds since midnight of ``startDate`` texts' wall clock."""
    return clock_us(start.str.extract(r"[ T]([0-9]{2}:[0-9]{2}:[0-9]{2})\b", 1))


def _beat_times(frame: pl.DataFrame) -> pl.DataFrame:
    """Beat text rows plus ``start_utc``, ``start_reason``, ``end_utc``, ``clock`` and ``t_utc``."""
    start = _utc_and_reason(frame["start"], "record startDate")
    end = frame["end"].str.strptime(pl.Datetime("us"), DATE_FORMAT, strict=False)
    clock = clock_us(frame["time"])
    delta_us = (clock - _start_clock_us(frame["start"]) + 3 * _HALF_DAY_US) % _DAY_US
    work = frame.with_columns(
        start_utc=start["utc"],
        start_reason=start["reason"],
        end_utc=end.cast(UTC_DTYPE),
        clock=clock,
        delta_us=delta_us - _HALF_DAY_US,
    )
    return work.with_columns(t_utc=pl.col("start_utc") + pl.duration(microseconds="delta_us"))


def _beat_reasons(frame: pl.DataFrame) -> pl.DataFrame:
    """Add ``t_utc``, ``bpm_value`` and ``reason`` (all but the monotonic check) to beat text rows."""
    bpm = pl.col("bpm").str.strip_chars().str.replace(",", ".", literal=True)
    work = _beat_times(frame).with_columns(bpm_value=bpm.cast(pl.Float64, strict=False))
    span = pl.coalesce(pl.col("end_utc") - pl.col("start_utc"), pl.lit(SPAN_WITHOUT_END))
    earliest = pl.col("start_utc") - BEAT_SPAN_MARGIN
    latest = pl.col("start_utc") + span + BEAT_SPAN_MARGIN
    value = pl.col("bpm_value")
    reason = tab.first_reason([
        pl.col("problem"),
        pl.col("start_reason"),
        pl.when(pl.col("time").str.strip_chars().fill_null("") == "").then(pl.lit("missing beat time")),
        pl.when(pl.col("clock").is_null()).then(pl.lit("unparseable beat time")),
        pl.when(bpm.fill_null("") == "").then(pl.lit("missing bpm")),
        pl.when(value.is_null() | ~value.is_finite()).then(pl.lit("unparseable bpm")),
        pl.when(value <= 0).then(pl.lit("bpm not positive")),
        pl.when((pl.col("t_utc") < earliest) | (pl.col("t_utc") > latest))
        .then(pl.lit("beat time outside record span")),
    ])  # fmt: skip
    return work.with_columns(reason=reason)


def _beat_rows(lists: pl.DataFrame, records: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Accepted beats and rejects (raw frames of ``_beat_list_raw`` and ``_beat_record_raw``).

    A beat at or before an earlier beat of its record is a ``non-monotonic beat time``.
    """
    work = _beat_reasons(_beat_frame(lists, records))
    eligible = pl.col("reason").is_null()
    earlier = pl.when(eligible).then("t_utc").cum_max().forward_fill().shift(1).over("ordinal")
    late = eligible & (pl.col("t_utc") <= earlier)
    reason = pl.coalesce("reason", pl.when(late).then(pl.lit("non-monotonic beat time")))
    fields = pl.concat_str(
        [pl.col(c).fill_null("") for c in ("start", "bpm", "time")], separator=","
    )
    rows = work.with_columns(reason=reason).select(
        "ordinal",
        "pos",
        "source_id",
        "t_utc",
        rr_ms=60_000.0 / pl.col("bpm_value"),
        reason="reason",
        raw=pl.when(pl.col("reason").is_not_null()).then(pl.coalesce("problem_raw", fields)),
    )
    return _split(rows, "beats")


# --- the whole file ----------------------------------------------------------------------


@dataclass
class ScanStats:
    """How a file was read, for the fast-path cross-check and the benchmark.

    ``relevant_literals`` counts by byte scan the records of the types this
    adapter reads (in robust segments: the quoted type names); ``relevant_parsed``
    counts those the parser handled (kept, rejected or duplicate). They differ
    only if a type name occurs outside a record start, or a record of a known
    type was cut before its type attribute.
    """

    segments_fast: int = 0
    segments_robust: int = 0
    bytes_scanned: int = 0
    relevant_literals: int = 0
    relevant_parsed: int = 0


Typed = dict[str, tuple[pl.DataFrame, pl.DataFrame]]


def _typed_parts(pending: dict[str, pl.DataFrame]) -> Typed:
    """Accepted rows and rejects per table of one batch of raw frames."""
    parts = {}
    for table, factors in (("heart_rate", HR_UNITS), ("vendor_hrv", SDNN_UNITS)):
        if table in pending:
            parts[table] = _quantity_rows(pending[table], table, factors)
    if "beat_records" in pending:
        lists = pending.get("beat_lists", _beat_list_raw([], 0))
        parts["beats"] = _beat_rows(lists, pending["beat_records"])
    return parts


class _Collected:
    """Rows of the segments read so far: raw frames pending, typed parts converted in batches.

    Converting per segment would pay polars' fixed per-query cost hundreds of
    times per GB; converting everything at the end would hold the raw text. A
    batch of about :data:`BATCH_ROWS` records is the middle way.
    """

    def __init__(self) -> None:
        self.sources = _Sources()
        self.stats = ScanStats()
        self.parts: dict[str, list[pl.DataFrame]] = {t: [] for t in _VALUE_SCHEMA}
        self.rejects: dict[str, list[pl.DataFrame]] = {t: [] for t in _VALUE_SCHEMA}
        self.pending: dict[str, list[pl.DataFrame]] = {k: [] for k in _PENDING}
        self.pending_rows = 0
        self.done = {"heart_rate": 0, "vendor_hrv": 0, "hrv_records": 0}

    def add(self, found: _Found, segment_bytes: int) -> None:
        sdnn = [r for r in found.hrv if r.kind == SDNN]
        done, sources = self.done, self.sources
        raw = {
            "heart_rate": _hr_raw(found, done["heart_rate"], sources) if found.hr else None,
            "vendor_hrv": _vendor_raw(sdnn, done["vendor_hrv"], sources) if sdnn else None,
            "beat_lists": _beat_list_raw(found.hrv, done["hrv_records"]),
            "beat_records": _beat_record_raw(found.hrv, done["hrv_records"], sources),
        }
        for key, frame in raw.items():
            if frame is not None and frame.height:
                self.pending[key].append(frame)
                self.pending_rows += frame.height
        done["heart_rate"] += len(found.hr)
        done["vendor_hrv"] += len(sdnn)
        done["hrv_records"] += len(found.hrv)
        self._count(found, segment_bytes)
        if self.pending_rows >= BATCH_ROWS:
            self.flush()

    def flush(self) -> None:
        """Convert the pending raw frames into accepted rows and rejects."""
        pending = {k: pl.concat(v) for k, v in self.pending.items() if v}
        self.pending = {k: [] for k in _PENDING}
        self.pending_rows = 0
        for table, (good, rejects) in _typed_parts(pending).items():
            self.parts[table].append(good)
            if rejects.height:
                self.rejects[table].append(rejects)

    def _count(self, found: _Found, segment_bytes: int) -> None:
        stats = self.stats
        stats.segments_fast += found.fast
        stats.segments_robust += not found.fast
        stats.bytes_scanned += segment_bytes
        stats.relevant_literals += found.relevant_literals
        stats.relevant_parsed += len(found.hr) + len(found.hrv)


def _numbered(
    table: str, good: pl.DataFrame, bad: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``row_number``: the record ordinal, or for beats the position in time order, rejects last."""
    if table != "beats":
        return (
            good.with_columns(row_number=pl.col("ordinal")),
            bad.with_columns(row_number=pl.col("ordinal")),
        )
    good = good.sort("t_utc", "ordinal", "pos").with_columns(
        row_number=pl.int_range(1, pl.len() + 1, dtype=pl.Int64)
    )
    bad = bad.sort("ordinal", "pos").with_columns(
        row_number=pl.int_range(good.height + 1, good.height + pl.len() + 1, dtype=pl.Int64)
    )
    return good, bad


def _best_per_instant(good: pl.DataFrame, sources: pl.DataFrame) -> pl.DataFrame:
    """One row per ``t_utc``: the best-ranked source, then the first in the file.

    Only rows sharing an instant are compared; without any, ``good`` is
    returned as is (no copy). File order is kept.
    """
    shared = good.filter(pl.col("t_utc").is_duplicated())
    if shared.is_empty():
        return good
    rank = pl.col("source_id").replace_strict(
        sources["source_id"], sources["rank"], return_dtype=pl.Int64
    )
    preference = rank * 2**40 + pl.col("row_number")
    losers = shared.filter(preference != preference.min().over("t_utc"))["row_number"]
    return good.filter(~pl.col("row_number").is_in(losers.implode()))


def _canonical(table: str, kept: pl.DataFrame, sources: pl.DataFrame) -> pl.DataFrame:
    """The table's columns (but ``subject_id``/``file_id``) plus ``row_number``, typed."""
    derived = {
        "source": pl.lit(NAME, pl.String),
        "origin": pl.lit(ORIGIN, pl.String),
        "device": pl.col("source_id").replace_strict(
            sources["source_id"], sources["device"], return_dtype=pl.String
        ),
    }
    columns = [c for c in schema.table(table).columns if c.name not in ("subject_id", "file_id")]
    return kept.select(
        *[
            derived[c.name].alias(c.name) if c.name in derived
            else pl.col(c.name).cast(c.dtype) if c.name in kept.columns
            else pl.lit(None, c.dtype).alias(c.name)
            for c in columns
        ],
        pl.col("row_number").cast(pl.Int64),
    )  # fmt: skip


def _table_output(
    table: str, goods: list[pl.DataFrame], bads: list[pl.DataFrame], sources: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame, int]:
    """Canonical rows, rejects and the duplicate count of one table."""
    good = pl.concat(goods, rechunk=False) if goods else pl.DataFrame(schema=_good_schema(table))
    bad = pl.concat(bads) if bads else pl.DataFrame(schema=_REJECT_ROWS)
    good, bad = _numbered(table, good, bad)
    kept = _best_per_instant(good, sources)
    rejects = bad.select(table=pl.lit(table), row_number="row_number", reason="reason", raw="raw")
    return _canonical(table, kept, sources), rejects, good.height - kept.height


def _parsed(collected: _Collected) -> Parsed:
    """The canonical frames, table by table, letting go of each table's parts when done."""
    sources = collected.sources.frame()
    frames, rejects, duplicates = {}, [], 0
    for table in _VALUE_SCHEMA:
        goods, bads = collected.parts.pop(table), collected.rejects.pop(table)
        frames[table], table_rejects, table_duplicates = _table_output(table, goods, bads, sources)
        del goods, bads
        rejects.append(table_rejects)
        duplicates += table_duplicates
    all_rejects = pl.concat(rejects).cast(dict(REJECT_SCHEMA))  # type: ignore[arg-type]
    return Parsed(frames=frames, rejects=all_rejects, duplicates=duplicates)


def parse_with_stats(
    path: Path, *, block_bytes: int = BLOCK_BYTES, force_robust: bool = False
) -> tuple[Parsed, ScanStats]:
    """Read an export like :func:`parse`, and say how (fast/robust segments, counts).

    ``block_bytes`` sets the read size (memory per segment); ``force_robust``
    sends every segment through the tolerant tokenizer (for cross-checks).
    """
    collected = _Collected()
    with _export_stream(path) as stream:
        for segment, last in _segments(path, stream, block_bytes):
            collected.add(_scanned(segment, last, force_robust), len(segment))
    collected.flush()
    return _parsed(collected), collected.stats


def parse(path: Path) -> Parsed:
    """Read an Apple Health export into ``heart_rate``, ``beats`` and ``vendor_hrv`` rows.

    Raises
    ------
    InputError
        Unreadable, empty, UTF-16 or non-UTF-8 file, no ``<HealthData>``
        element, an unsafe or unusable zip archive (see
        :mod:`tearsignals.ingest.adapters.archive`), no export XML in the zip.
    """
    return parse_with_stats(path)[0]


ADAPTER = Adapter(name=NAME, sniff=sniff, parse=parse)
