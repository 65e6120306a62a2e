"""Runs started at the same time are serialised by the lake's writer lock.

Two forked children start together; the first to get the lock holds it until
the other has asked for it too (a file barrier), so they certainly contend; their lock intervals
(recorded by each child) must not overlap, one of them must have waited, and
the lake must equal the lake of one clean run.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from tearsignals.lake import lock, store


def _events(path: Path) -> list[dict[str, Any]]:
    return sorted(
        (json.loads(line) for line in path.read_text().splitlines()), key=lambda e: e["start"]
    )


def _assert_serialised(events: list[dict[str, Any]]) -> None:
    assert len(events) == 2
    first, second = events
    assert first["end"] <= second["start"], events
    assert [e["waited"] for e in events] == [False, True]


@pytest.mark.parametrize(
    "phases",
    [("nightly", "nightly"), ("nightly", "analyze")],
    ids=["two-ingests", "ingest+analysis"],
)
def test_simultaneous_runs_give_the_lake_of_one_run(
    phases: tuple[str, str],
    tmp_path: Path,
    forker: Any,
    tools: SimpleNamespace,
    fault_inbox: Path,
    clean_run: SimpleNamespace,
    fault_figures: list[dict[str, Any]],
) -> None:
    lake, events = tmp_path / "lake", tmp_path / "events.jsonl"
    barrier = str(tmp_path / "asked")
    jobs = [
        tools.job(lake, fault_inbox, p, hold_s=0.5, events=str(events), barrier=barrier, parties=2)
        for p in phases
    ]
    assert forker.run(*jobs) == [0, 0]
    _assert_serialised(_events(events))
    assert tools.digest(lake) == clean_run.digest
    assert tools.duplicate_keys(lake) == 0
    fault_figures.append({"suite": "quick", "kind": f"concurrent {' + '.join(phases)}",
                          "serialised": True, "lake_equals_clean_run": True})  # fmt: skip


def test_threads_of_one_process_wait_for_each_other(tmp_path: Path) -> None:
    spans: list[tuple[float, float]] = []

    def hold() -> None:
        with lock.lake_writer(tmp_path, "thread", on_wait=lambda _: None):
            start = time.monotonic()
            time.sleep(0.2)
            spans.append((start, time.monotonic()))

    threads = [threading.Thread(target=hold) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    (_, a_end), (b_start, _) = sorted(spans)
    assert a_end <= b_start


HOLDER = """
import sys, time
from pathlib import Path
from tearsignals.lake import lock
with lock.lake_writer(Path(sys.argv[1]), "nightly-ingest"):
    print("locked", flush=True)
    time.sleep(60)
"""


def test_a_lake_locked_by_another_process_names_the_holder_until_it_dies(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    messages: list[str] = []
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        busy = rf"lake {tmp_path} is still locked by nightly-ingest \(pid {holder.pid}, since "
        with (
            pytest.raises(lock.LakeBusy, match=busy),
            lock.lake_writer(tmp_path, "manual", timeout_s=0.3, on_wait=messages.append),
        ):
            pass
    finally:
        holder.kill()  # SIGKILL: the kernel drops its lock
        holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()
    assert len(messages) == 1
    assert messages[0].startswith(f"lake {tmp_path} is locked by nightly-ingest (pid {holder.pid}")
    assert messages[0].endswith("waiting for it to finish")
    with lock.lake_writer(tmp_path, "after the crash", timeout_s=1):
        pass


def test_another_thread_times_out_on_a_busy_lake(tmp_path: Path) -> None:
    ready, release = threading.Event(), threading.Event()

    def holder() -> None:
        with lock.lake_writer(tmp_path, "nightly-ingest"):
            ready.set()
            release.wait(10)

    thread = threading.Thread(target=holder)
    thread.start()
    ready.wait(10)
    try:
        with (
            pytest.raises(lock.LakeBusy, match="still locked by another run"),
            lock.lake_writer(tmp_path, "manual", timeout_s=0.2, on_wait=lambda _: None),
        ):
            pass
    finally:
        release.set()
        thread.join()


def test_taking_the_lock_removes_what_killed_writers_left(tmp_path: Path) -> None:
    litter = tmp_path / "beats" / "subject_id=S01" / f".x.parquet.{'a' * 32}.tmp"
    orphan = tmp_path / "beats" / "subject_id=S01" / f"{'b' * 64}.parquet"
    kept = tmp_path / "beats" / "subject_id=S01" / ".DS_Store"
    for path in (litter, orphan, kept):
        store.ensure_dir(path.parent)
        path.write_bytes(b"x")
    with lock.lake_writer(tmp_path, "cleanup") as removed:
        assert removed == 2
    assert not litter.exists() and not orphan.exists() and kept.exists()
