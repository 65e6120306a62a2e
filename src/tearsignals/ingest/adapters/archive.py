"""Safe read access to untrusted zip archives: list, pick and stream one member, never extract.

Adapters that accept a zip (an Apple Health ``export.zip``, a vendor's bundle)
read it only through this module. Nothing is written to disk, so a member name
can do no harm by itself; the name checks still refuse archives built to attack
tools that *do* extract (zip-slip), because such a file is not an honest export.

Checks, each failing with a one-line :class:`~tearsignals.errors.InputError`
that names the archive (never its data):

* the file is a readable zip (not truncated, not corrupt) with at most
  :attr:`ZipLimits.max_members` entries;
* every member name is relative and stays inside the archive: no absolute
  path, drive letter or UNC name, no ``..`` component (``/`` and ``\\`` both
  count as separators), no NUL; no symbolic-link members;
* no nested archives: a member named ``*.zip`` is refused with a message
  saying to unzip the outer archive first, and so is a member whose bytes
  start with a zip signature;
* the opened member is not encrypted, declares at most
  :attr:`ZipLimits.max_member_bytes` and inflates at most
  :attr:`ZipLimits.max_ratio` times its compressed size (zip bomb). Headers can
  lie, so the stream counts the bytes it really delivers and stops at the
  declared size (as :mod:`zipfile` does) and at the limit.

Examples
--------
>>> import tempfile, zipfile
>>> path = Path(tempfile.mkdtemp()) / "bundle.zip"
>>> with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
...     zf.writestr("export/data.xml", "<HealthData/>")
>>> is_zip(path.read_bytes()[:4]), member_names(path)
(True, ('export/data.xml',))
>>> with open_member(path, "export/data.xml") as stream:
...     stream.read()
b'<HealthData/>'
"""

from __future__ import annotations

import re
import stat
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from tearsignals.ingest.adapters._tabular import input_error

ZIP_SIGNATURES = (b"PK\x03\x04", b"PK\x05\x06")
NESTED_SUFFIXES = (".zip",)
_DRIVE = re.compile(r"^[A-Za-z]:")
_READ_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError)


class ByteStream(Protocol):
    """What :func:`open_member` yields: a readable binary stream."""

    def read(self, size: int = -1, /) -> bytes: ...


@dataclass(frozen=True)
class ZipLimits:
    """Limits for one archive and the member read from it.

    ``max_ratio`` is only judged for members declaring at least
    ``min_ratio_bytes``: tiny, very regular files compress extremely well and
    cannot hurt anyone. Apple Health XML compresses about 20-40 times.
    """

    max_member_bytes: int = 64 * 2**30
    max_ratio: float = 200.0
    min_ratio_bytes: int = 2**20
    max_members: int = 100_000


DEFAULT_LIMITS = ZipLimits()


def is_zip(head: bytes) -> bool:
    """Whether ``head`` starts with a zip signature (an archive, or an empty one).

    >>> is_zip(b"PK\\x03\\x04rest"), is_zip(b"<?xml")
    (True, False)
    """
    return head.startswith(ZIP_SIGNATURES)


def unsafe_name_reason(name: str) -> str | None:
    """Why a member name could escape the extraction folder, or ``None`` if it cannot.

    >>> [unsafe_name_reason(n) for n in ("a/b.xml", "../x", "/etc/x", "C:\\\\x", "a\\\\..\\\\b")]
    [None, 'parent-folder component', 'absolute path', 'absolute path', 'parent-folder component']
    """
    if "\x00" in name:
        return "NUL in name"
    if name.startswith(("/", "\\")) or _DRIVE.match(name):
        return "absolute path"
    if ".." in re.split(r"[\\/]", name):
        return "parent-folder component"
    return None


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    """Whether a member was stored as a symbolic link (Unix mode in the external attributes)."""
    return stat.S_ISLNK(info.external_attr >> 16)


def _check_listing(path: Path, infos: list[zipfile.ZipInfo], limits: ZipLimits) -> None:
    """Raise InputError for too many members, unsafe names, links or nested archives."""
    if len(infos) > limits.max_members:
        raise input_error(path, f"zip archive with more than {limits.max_members} members")
    for info in infos:
        reason = unsafe_name_reason(info.filename)
        if reason is not None:
            raise input_error(path, f"unsafe member name in zip archive ({reason})")
        if _is_symlink(info):
            raise input_error(path, "zip archive contains a symbolic link member")
        if info.filename.lower().endswith(NESTED_SUFFIXES):
            raise input_error(
                path,
                f"nested zip archive {info.filename!r} inside; "
                "unzip the outer archive and add the inner file instead",
            )


def _checked_infos(path: Path, zf: zipfile.ZipFile, limits: ZipLimits) -> list[zipfile.ZipInfo]:
    """The archive's members after :func:`_check_listing`."""
    infos = zf.infolist()
    _check_listing(path, infos, limits)
    return infos


@contextmanager
def _opened_zip(path: Path) -> Iterator[zipfile.ZipFile]:
    """The archive, open; InputError if it is not a readable zip."""
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, EOFError, ValueError) as exc:
        raise input_error(path, "not a readable zip archive (truncated or corrupt)") from exc
    except OSError as exc:
        raise input_error(path, f"cannot read file ({exc.strerror or exc})") from exc
    with zf:
        yield zf


def member_names(path: Path, limits: ZipLimits = DEFAULT_LIMITS) -> tuple[str, ...]:
    """Names of the archive's file members (folders left out), after the safety checks.

    Raises
    ------
    InputError
        Not a readable zip, too many members, unsafe names, links, nested archives.
    """
    with _opened_zip(path) as zf:
        infos = _checked_infos(path, zf, limits)
    return tuple(i.filename for i in infos if not i.is_dir())


def _check_member(path: Path, info: zipfile.ZipInfo, limits: ZipLimits) -> None:
    """Raise InputError if the member is encrypted, too large or compressed suspiciously well."""
    if info.flag_bits & 0x1:
        raise input_error(path, f"zip member {info.filename!r} is encrypted")
    if info.file_size > limits.max_member_bytes:
        raise input_error(
            path, f"zip member {info.filename!r} larger than {limits.max_member_bytes} bytes"
        )
    ratio = info.file_size / max(info.compress_size, 1)
    if info.file_size >= limits.min_ratio_bytes and ratio > limits.max_ratio:
        raise input_error(
            path,
            f"zip member {info.filename!r} compression ratio {ratio:.0f} above "
            f"{limits.max_ratio:.0f} (zip bomb?)",
        )


class _CountedMember:
    """A member stream that turns read errors into InputError and enforces the size limit."""

    def __init__(self, path: Path, name: str, raw: ByteStream, limit: int) -> None:
        self._path, self._name, self._raw, self._limit = path, name, raw, limit
        self.delivered = 0

    def read(self, size: int = -1) -> bytes:
        try:
            data = self._raw.read(size)
        except _READ_ERRORS as exc:
            raise input_error(
                self._path, f"zip member {self._name!r} is corrupt ({type(exc).__name__})"
            ) from exc
        self.delivered += len(data)
        if self.delivered > self._limit:
            raise input_error(self._path, f"zip member {self._name!r} inflates beyond its limit")
        return data


def _first_bytes_are_zip(path: Path, zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> bool:
    """Whether the member's content starts with a zip signature (a nested archive)."""
    try:
        with zf.open(info) as probe:
            return is_zip(probe.read(4))
    except (*_READ_ERRORS, RuntimeError, NotImplementedError) as exc:
        raise input_error(path, f"zip member {info.filename!r} cannot be read") from exc


@contextmanager
def open_member(path: Path, name: str, limits: ZipLimits = DEFAULT_LIMITS) -> Iterator[ByteStream]:
    """Stream the member ``name`` of the archive at ``path`` (read-only, nothing extracted).

    The whole listing is checked first (see the module docstring), then the
    member itself. The yielded object supports ``read(size)``.

    Raises
    ------
    InputError
        Any failed check, a missing member, or corrupt compressed data while reading.
    """
    with _opened_zip(path) as zf:
        infos = {i.filename: i for i in _checked_infos(path, zf, limits)}
        info = infos.get(name)
        if info is None or info.is_dir():
            raise input_error(path, f"zip archive has no member {name!r}")
        _check_member(path, info, limits)
        if _first_bytes_are_zip(path, zf, info):
            raise input_error(
                path, f"nested zip archive {name!r} inside; unzip the outer archive first"
            )
        limit = min(info.file_size, limits.max_member_bytes)
        with zf.open(info) as raw:
            yield _CountedMember(path, name, raw, limit)


def member_head(path: Path, name: str, size: int, limits: ZipLimits = DEFAULT_LIMITS) -> bytes:
    """The first ``size`` bytes of a member (for content-based choices between members)."""
    with open_member(path, name, limits) as stream:
        return stream.read(size)


__all__ = [
    "DEFAULT_LIMITS",
    "ByteStream",
    "ZipLimits",
    "is_zip",
    "member_head",
    "member_names",
    "open_member",
    "unsafe_name_reason",
]
