"""Scanning one segment: the raw records of the types read here, by fast or robust path.

The fast path (:func:`_fast_scan`) is a fixed-layout regex whose completeness
is proven by byte counts of the type names; the robust path
(:func:`_robust_scan`) is a tolerant tag tokenizer. Both return a
:class:`Found` of raw attribute bytes, in document order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from tearsignals.ingest.adapters.apple_health.records import (
    HEART_RATE,
    HEARTBEAT_SERIES,
    REASON_MALFORMED,
    REASON_TRUNCATED,
    SDNN,
    TABLE_OF_TYPE,
)
from tearsignals.ingest.adapters.apple_health.sources import device_key

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
_BEAT_FAST = re.compile(rb'<InstantaneousBeatsPerMinute bpm="([^"]*)" time="([^"]*)"\s*/>')
_LITERALS = {t: b'"' + t.encode() + b'"' for t in TABLE_OF_TYPE}
_STARTS = {t: b'<Record type="' + t.encode() + b'"' for t in (SDNN, HEARTBEAT_SERIES)}
# HKQuantityTypeIdentifierHeartRate is a prefix of the SDNN name: two needles find all three.
_BARE_NAMES = (HEART_RATE.encode(), HEARTBEAT_SERIES.encode())
HR_FIELDS = ("name", "device", "unit", "start", "value")
QUANTITY_ATTRS = (b"unit", b"startDate", b"value")
Beat = tuple[bytes | None, bytes | None]


@dataclass
class HrvRecord:
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
class Found:
    """Relevant records of one segment, raw, in document order."""

    hr: list[tuple[bytes | None, ...]] = field(default_factory=list)
    hr_problems: dict[int, tuple[str, bytes]] = field(default_factory=dict)
    hrv: list[HrvRecord] = field(default_factory=list)
    fast: bool = True
    relevant_literals: int = 0


def _attributes(text: bytes) -> dict[bytes, bytes]:
    """Attribute name → raw value (entities not resolved) of a tag's attribute text."""
    return {m[0]: m[1] or m[2] for m in _ATTRIBUTE.findall(text)}


def _hr_fields(attrs: dict[bytes, bytes]) -> tuple[bytes | None, ...]:
    """The heart-rate fields in the fast path's order (see ``HR_FIELDS``)."""
    device = device_key(attrs.get(b"device"))
    return (attrs.get(b"sourceName"), device, *(attrs.get(k) for k in QUANTITY_ATTRS))


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


def _hrv_record(segment: bytes, at: int, kind: str, last: bool) -> HrvRecord:
    """Parse the SDNN / heartbeat-series record starting at ``at``."""
    tag = _START_TAG.match(segment, at)
    limit = _RECORD.search(segment, at + 1)
    end = limit.start() if limit else len(segment)
    cut_off = last and limit is None
    if tag is None:
        truncated = cut_off and segment.find(b">", at) < 0
        reason = REASON_TRUNCATED if truncated else REASON_MALFORMED
        return HrvRecord(kind, at, {}, problem=reason, raw=segment[at:end])
    attrs = _attributes(tag.group(1))
    if tag.group(2):
        return HrvRecord(kind, at, attrs, raw=tag.group(0))
    close = segment.find(b"</Record>", tag.end(), end)
    if close < 0:
        reason = REASON_TRUNCATED if cut_off else f"{REASON_MALFORMED}: no </Record>"
        return HrvRecord(kind, at, attrs, problem=reason, raw=segment[at:end])
    beats, bad = _beats_in(segment[tag.end() : close])
    return HrvRecord(kind, at, attrs, beats, bad, raw=tag.group(0))


def _type_near(segment: bytes, at: int) -> str | None:
    """The ``type`` attribute of a tag whose start could not be parsed, if readable."""
    stop = segment.find(b"<", at + 1)
    found = _TYPE_ATTR.search(segment, at, stop if stop >= 0 else len(segment))
    return found.group(1).decode("ascii", "replace") if found else None


def _broken_hr(segment: bytes, at: int, last: bool, found: Found) -> None:
    """Add a heart-rate record whose start tag is unreadable, as a problem."""
    stop = segment.find(b"<", at + 1)
    truncated = last and stop < 0 and segment.find(b">", at) < 0
    raw = segment[at : stop if stop >= 0 else len(segment)]
    found.hr_problems[len(found.hr)] = (REASON_TRUNCATED if truncated else REASON_MALFORMED, raw)
    found.hr.append((None,) * len(HR_FIELDS))


def _robust_record(segment: bytes, at: int, last: bool, found: Found) -> None:
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


def _robust_scan(segment: bytes, last: bool) -> Found:
    """The records of known types through the tolerant tokenizer, in document order.

    A record is tokenized when a known type name occurs between its ``<Record``
    and the next tag: any attribute order, quoting or white space is found,
    and the cost follows the number of relevant records, not of all records.
    """
    found = Found(fast=False)
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


def _fast_scan(segment: bytes, last: bool) -> Found | None:
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
        return Found()
    expected_hr = segment.count(_LITERALS[HEART_RATE])
    sdnn_at = _positions(segment, _STARTS[SDNN]) if hr_family > expected_hr else []
    series_at = _positions(segment, _STARTS[HEARTBEAT_SERIES]) if series else []
    if hr_family != expected_hr + len(sdnn_at) or series != len(series_at):
        return None
    hr = _HR_FAST.findall(segment) if expected_hr else []
    if len(hr) != expected_hr:
        return None
    found = Found(hr=hr, relevant_literals=expected_hr + len(sdnn_at) + len(series_at))
    kinds = [(at, SDNN) for at in sdnn_at] + [(at, HEARTBEAT_SERIES) for at in series_at]
    found.hrv = [_hrv_record(segment, at, kind, last) for at, kind in sorted(kinds)]
    return found


def scanned(segment: bytes, last: bool, force_robust: bool) -> Found:
    """The relevant records of one segment, through the fast path if it provably suffices."""
    found = None if force_robust else _fast_scan(segment, last)
    return found if found is not None else _robust_scan(segment, last)
