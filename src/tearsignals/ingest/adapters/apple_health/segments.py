"""Segments: the ``<HealthData>`` body in blocks, each cut just before a top-level element.

What is not data never reaches the scanners: comments ``<!-- ... -->``, CDATA
sections ``<![CDATA[ ... ]]>`` and processing instructions ``<? ... ?>`` in the
body are removed as the blocks are read (:class:`MarkupFilter`), also when
they span lines or blocks, so a record written inside one is not a record
(the DTD, in the prolog before ``<HealthData``, is never scanned at all).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from tearsignals.ingest.adapters import _tabular as tab
from tearsignals.ingest.adapters import archive
from tearsignals.ingest.adapters.apple_health.export import body_start, prolog

BLOCK_BYTES = 4 * 2**20
MAX_ELEMENT_BYTES = 256 * 2**20
_BOUNDARIES = (b"<Record", b"<Workout", b"<Correlation", b"<ActivitySummary", b"</HealthData")
_NON_DATA = ((b"<!--", b"-->"), (b"<![CDATA[", b"]]>"), (b"<?", b"?>"))
_LONGEST_OPENER = max(len(opener) for opener, _ in _NON_DATA)


class MarkupFilter:
    """Removes comments, CDATA sections and processing instructions from a byte stream.

    Fed the stream block by block (:meth:`feed`, then :meth:`flush`); a span or
    its delimiters may be cut by block ends. An unclosed span runs to the end.

    >>> f = MarkupFilter()
    >>> f.feed(b"a<!-- x --") + f.feed(b"> b <![CDATA[<R/>]]> c <?pi <R/>?>d<!") + f.flush()
    b'a b  c d<!'
    """

    def __init__(self) -> None:
        self._closer: bytes | None = None  # inside a span: what ends it
        self._held = b""  # end of the last block that may begin a delimiter

    def feed(self, block: bytes) -> bytes:
        """The data bytes of ``block`` that are whole (a possible delimiter start is held)."""
        data = self._held + block if self._held else block
        self._held, at = b"", 0
        kept: list[bytes] = []
        while True:
            if self._closer is not None:
                end = data.find(self._closer, at)
                if end < 0:
                    self._held = data[max(at, len(data) - len(self._closer) + 1) :]
                    return b"".join(kept)
                at, self._closer = end + len(self._closer), None
            start, opener, closer = _next_span(data, at)
            if closer is None:
                keep = _held_back(data, at)
                self._held = data[keep:]
                if not kept and at == 0 and keep == len(data):
                    return data  # the usual block: no span, nothing held, no copy
                kept.append(data[at:keep])
                return b"".join(kept)
            kept.append(data[at:start])
            at, self._closer = start + len(opener), closer

    def flush(self) -> bytes:
        """What was held back at the end of the stream (nothing when inside a span)."""
        held, self._held = self._held, b""
        return b"" if self._closer is not None else held


def _next_span(data: bytes, at: int) -> tuple[int, bytes, bytes | None]:
    """(offset, opener, closer) of the first non-data span at or after ``at``; closer None: none."""
    best: tuple[int, bytes, bytes | None] = (-1, b"", None)
    for opener, closer in _NON_DATA:
        found = data.find(opener, at)
        if found >= 0 and (best[2] is None or found < best[0]):
            best = (found, opener, closer)
    return best


def _held_back(data: bytes, at: int) -> int:
    """Where a possible, cut delimiter opener begins at the end of ``data`` (else its length)."""
    lt = data.rfind(b"<", max(at, len(data) - _LONGEST_OPENER + 1))
    if lt >= 0 and any(opener.startswith(data[lt:]) for opener, _ in _NON_DATA):
        return lt
    return len(data)


def _last_boundary(buffer: bytes) -> int:
    """Offset of the last top-level element start in ``buffer`` (everything before is whole).

    Records are by far the most frequent element, so the other names are only
    looked for when no record starts after the buffer's first byte.
    """
    last_record = buffer.rfind(b"<Record")
    if last_record > 0:
        return last_record
    return max(buffer.rfind(b) for b in _BOUNDARIES)


def body_segments(
    path: Path, stream: archive.ByteStream, block_bytes: int
) -> Iterator[tuple[bytes, bool]]:
    """``(segment, is_last)`` pieces of the ``<HealthData>`` body, each cut before an element.

    A segment never ends inside a ``<Record>``; the last one runs to the end of
    the file, so only it can hold a truncated record. Each block is copied once
    (twice when it holds a comment, CDATA section or processing instruction).
    """
    markup = MarkupFilter()
    carry = prolog(stream, block_bytes)
    carry = markup.feed(carry[body_start(path, carry) :])
    while True:
        block = stream.read(block_bytes)
        if not block:
            yield carry + markup.flush(), True
            return
        data = markup.feed(block)
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
