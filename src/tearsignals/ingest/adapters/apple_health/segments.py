"""Segments: the ``<HealthData>`` body in blocks, each cut just before a top-level element."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from tearsignals.ingest.adapters import _tabular as tab
from tearsignals.ingest.adapters import archive
from tearsignals.ingest.adapters.apple_health.export import body_start, prolog

BLOCK_BYTES = 4 * 2**20
MAX_ELEMENT_BYTES = 256 * 2**20
_BOUNDARIES = (b"<Record", b"<Workout", b"<Correlation", b"<ActivitySummary", b"</HealthData")


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
    the file, so only it can hold a truncated record. Each block is copied once.
    """
    carry = prolog(stream, block_bytes)
    carry = carry[body_start(path, carry) :]
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
