"""The lake's writer lock: one writing run at a time; readers never wait.

Ingest and analysis runs write the lake. Each run holds an exclusive advisory
lock (``fcntl.flock``) on ``LAKE/.lock`` for its whole duration, so a nightly
ingest and a manual analysis started at the same moment run one after the
other: the second reports who holds the lock and waits (or gives up after
``timeout_s`` with :class:`LakeBusy`). Readers (polars, pandas, DuckDB on the
Parquet files) take no lock: every file appears by an atomic rename.

The kernel drops the lock when its process dies, so a crashed run (even one
that Prefect still shows as "Running") never blocks the next one. Whoever
takes the lock first deletes what a killed writer left behind
(:func:`tearsignals.lake.store.remove_uncommitted`): that is safe exactly because
no other writer can be running.

Within one process the lock is re-entrant for the thread that holds it (the
nightly flow runs the analysis flow as a subflow); other threads of the same
process wait like other processes do. ``flock`` needs a local file system
(not NFS without lock support, not an object store).

Examples
--------
>>> import tempfile
>>> lake = Path(tempfile.mkdtemp())
>>> with lake_writer(lake, "doctest") as removed:
...     with lake_writer(lake, "nested"):  # the same thread may re-enter
...         removed
0
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from tearsignals.errors import InputError
from tearsignals.lake import layout, store

_log = logging.getLogger(__name__)


class LakeBusy(InputError):
    """Another run held the lake's writer lock for longer than the caller would wait."""


@dataclass
class _Held:
    """Per-lake state of this process: which thread holds the lock, how deeply, which fd."""

    thread_lock: threading.RLock = field(default_factory=threading.RLock)
    depth: int = 0
    fd: int | None = None


_HELD: dict[str, _Held] = {}
_HELD_GUARD = threading.Lock()


def _held_state(lake: Path) -> _Held:
    with _HELD_GUARD:
        return _HELD.setdefault(str(lake.resolve()), _Held())


def _try_flock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _holder(fd: int) -> str:
    """Who holds the lock, as recorded in the lock file by the holder (best effort)."""
    try:
        info = json.loads(os.pread(fd, 4096, 0) or b"{}")
        return f"{info['purpose']} (pid {info['pid']}, since {info['since']})"
    except (OSError, ValueError, KeyError, TypeError):
        return "another run"


def _record_holder(fd: int, purpose: str) -> None:
    since = datetime.now(UTC).isoformat(timespec="seconds")
    data = json.dumps({"purpose": purpose, "pid": os.getpid(), "since": since}).encode()
    os.ftruncate(fd, 0)
    os.pwrite(fd, data + b"\n", 0)


def _wait_for_flock(fd: int, timeout_s: float | None) -> bool:
    """Block until the lock is ours (``True``) or ``timeout_s`` has passed (``False``)."""
    if timeout_s is None:
        fcntl.flock(fd, fcntl.LOCK_EX)
        return True
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        time.sleep(0.05)
        if _try_flock(fd):
            return True
    return False


def _file_lock(
    lake: Path, purpose: str, timeout_s: float | None, on_wait: Callable[[str], object]
) -> int:
    """An open descriptor of ``LAKE/.lock`` holding the exclusive flock."""
    store.ensure_dir(lake)
    fd = os.open(layout.lock_path(lake), os.O_RDWR | os.O_CREAT, store.file_mode())
    try:
        if not _try_flock(fd):
            on_wait(f"lake {lake} is locked by {_holder(fd)}; waiting for it to finish")
            if not _wait_for_flock(fd, timeout_s):
                raise LakeBusy(f"lake {lake} is still locked by {_holder(fd)} after {timeout_s} s")
        _record_holder(fd, purpose)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _thread_lock(
    held: _Held, lake: Path, timeout_s: float | None, on_wait: Callable[[str], object]
) -> None:
    """Take the in-process part of the lock (other threads of this process wait here)."""
    if held.thread_lock.acquire(blocking=False):
        return
    on_wait(f"lake {lake} is locked by another run in this process; waiting for it to finish")
    if not held.thread_lock.acquire(timeout=-1 if timeout_s is None else timeout_s):
        raise LakeBusy(f"lake {lake} is still locked by another run after {timeout_s} s")


@contextmanager
def lake_writer(
    lake: Path,
    purpose: str,
    *,
    timeout_s: float | None = None,
    on_wait: Callable[[str], object] | None = None,
) -> Iterator[int]:
    """Hold the exclusive writer lock of ``lake`` for the ``with`` block.

    Parameters
    ----------
    lake
        The lake directory (created if missing).
    purpose
        Recorded in the lock file and shown to anyone who has to wait.
    timeout_s
        Give up with :class:`LakeBusy` after this long; ``None`` waits for good.
    on_wait
        Called with a one-line message when the lock is busy (default: a
        warning on this module's logger).

    Yields
    ------
    int
        Files left by killed writers that were removed on taking the lock
        (0 when re-entered).
    """
    notify = on_wait if on_wait is not None else _log.warning
    held = _held_state(lake)
    _thread_lock(held, lake, timeout_s, notify)
    try:
        first = held.depth == 0
        if first:
            held.fd = _file_lock(lake, purpose, timeout_s, notify)
        held.depth += 1
        try:
            yield store.remove_uncommitted(lake) if first else 0
        finally:
            held.depth -= 1
            if held.depth == 0 and held.fd is not None:
                os.close(held.fd)  # closing the only descriptor releases the flock
                held.fd = None
    finally:
        held.thread_lock.release()
