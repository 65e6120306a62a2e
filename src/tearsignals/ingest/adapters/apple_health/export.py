"""Opening the export: detection, the XML as a byte stream, and file-level checks."""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tearsignals.ingest.adapters import _tabular as tab
from tearsignals.ingest.adapters import archive

EXPORT_MEMBER = "apple_health_export/export.xml"
PROLOG_BYTES = 4 * 2**20
_ENCODING = re.compile(rb"<\?xml[^>]*?encoding\s*=\s*[\"']([^\"']+)[\"']")
_UTF8_NAMES = {"utf-8", "utf8", "us-ascii", "ascii"}


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
def export_stream(path: Path) -> Iterator[archive.ByteStream]:
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


def prolog(stream: archive.ByteStream, block_bytes: int) -> bytes:
    """The first blocks of the stream, up to the one holding ``<HealthData`` (or PROLOG_BYTES)."""
    head = stream.read(block_bytes)
    while b"<HealthData" not in head and len(head) < PROLOG_BYTES:
        more = stream.read(block_bytes)
        if not more:
            break
        head += more
    return head


def body_start(path: Path, first: bytes) -> int:
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
