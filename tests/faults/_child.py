"""Fork server for the crash tests: import the flows once, then fork one child per job.

Run as ``python tests/faults/_child.py`` with ``PREFECT_API_URL`` naming the
test session's Prefect server. It reads one JSON request per line on stdin,
``{"jobs": [job, ...]}``, forks one child per job (all at once, so jobs of one
request run concurrently), waits for them and answers one JSON line
``{"exits": [code, ...]}`` (``-9`` is a SIGKILL). A job is::

    {"lake": str, "inbox": str, "phase": "nightly" | "analyze", "config": AnalysisConfig,
     "env": {name: value}, "fsize": bytes | null, "hold_s": float, "events": path | null,
     "errors": path | null, "barrier": path prefix | null, "parties": int}

Each child applies ``env`` (e.g. ``TEARSIGNALS_FAULT``) and the optional
``RLIMIT_FSIZE`` (with SIGXFSZ ignored, so writes fail with EFBIG like on a
full disk), then runs the real flow of the phase, ``nightly-ingest`` or
``analyze-episodes``, as the CLI does. To observe the lock, the child wraps
:func:`tearsignals.lake.lock.lake_writer`: once the flow holds the lock it
sleeps ``hold_s`` seconds and, when the flow lets go, appends one JSON line
(phase, lock start/end times, whether it had to wait) to ``events``. A child
whose flow fails writes ``<exception type>: <message>`` to ``errors``.

Forking is safe because this process only imports modules and builds the
great-expectations context; it never runs a polars query or a flow, so there
is no thread pool or event loop to lose. Starting once and forking saves the
import of Prefect and the great-expectations start-up per crash.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any


def _observed_lock(
    real: Callable[..., AbstractContextManager[int]], job: dict[str, Any]
) -> Callable[..., AbstractContextManager[int]]:
    """``lake_writer`` that holds the outermost lock and records its span.

    With ``barrier`` (a path prefix) and ``parties``, every child touches
    ``<barrier>.<pid>`` before asking for the lock, and the holder keeps the lock
    until all ``parties`` have asked (then ``hold_s`` more): the runs certainly
    contend, however long Prefect takes to start each flow.
    """
    depth = [0]
    barrier = job.get("barrier")

    @contextmanager
    def lake_writer(lake: Path, purpose: str, **kwargs: Any) -> Iterator[int]:
        waits: list[str] = []
        notify = kwargs.pop("on_wait", None)

        def on_wait(message: str) -> None:
            waits.append(message)
            if notify is not None:
                notify(message)

        if barrier and depth[0] == 0:
            Path(f"{barrier}.{os.getpid()}").touch()
        with real(lake, purpose, on_wait=on_wait, **kwargs) as removed:
            depth[0] += 1
            outer = depth[0] == 1
            start = time.time()
            if outer:
                _await_parties(barrier, int(job.get("parties") or 1))
                time.sleep(job.get("hold_s") or 0.0)
            try:
                yield removed
            finally:
                depth[0] -= 1
        if outer and job.get("events"):
            line = {"phase": job["phase"], "start": start, "end": time.time(),
                    "waited": bool(waits)}  # fmt: skip
            with Path(job["events"]).open("a") as fh:
                fh.write(json.dumps(line) + "\n")

    return lake_writer


def _await_parties(barrier: str | None, parties: int, patience_s: float = 600.0) -> None:
    """Wait until ``parties`` children touched their ``<barrier>.<pid>`` file."""
    if not barrier:
        return
    folder, prefix = Path(barrier).parent, Path(barrier).name + "."
    deadline = time.monotonic() + patience_s
    while sum(p.name.startswith(prefix) for p in folder.iterdir()) < parties:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only some of {parties} runs asked for the lock")
        time.sleep(0.05)


def _run_job(job: dict[str, Any]) -> None:
    from tearsignals.config import AnalysisConfig
    from tearsignals.lake import lock
    from tearsignals_flows.analyze_episodes import analyze_episodes
    from tearsignals_flows.nightly_ingest import nightly_ingest

    os.environ.update(job.get("env") or {})
    if job.get("fsize"):
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (job["fsize"], job["fsize"]))
    lock.lake_writer = _observed_lock(lock.lake_writer, job)  # type: ignore[assignment]
    config = AnalysisConfig.model_validate(job["config"])
    if job["phase"] == "nightly":
        nightly_ingest(inbox=job["inbox"], lake=job["lake"], config=config)
    else:
        analyze_episodes(lake=job["lake"], config=config)


def _child(job: dict[str, Any]) -> None:
    """Body of a forked child: never returns, whatever happens."""
    code = 1
    try:
        os.dup2(2, 1)  # stdout is the answer pipe; anything printed goes to stderr
        _run_job(job)
        code = 0
    except BaseException as err:
        _report_failure(job, err)
    finally:
        os._exit(code)


def _report_failure(job: dict[str, Any], err: BaseException) -> None:
    """Write the error to ``job["errors"]`` and stderr (either may fail under RLIMIT_FSIZE)."""
    message = f"{type(err).__name__}: {err}"
    try:
        if job.get("errors"):
            Path(job["errors"]).write_text(message + "\n")
        print(f"child failed: {message}", file=sys.stderr)
        traceback.print_exc()
        sys.stderr.flush()
    except OSError:
        pass


def _serve() -> None:
    import tearsignals_flows.analyze_episodes
    import tearsignals_flows.nightly_ingest  # noqa: F401  (imported once, before forks)
    from tearsignals.contract import expectations

    expectations.suite("beats")  # builds the great-expectations context once
    expectations._batch_definition()
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        jobs = json.loads(line)["jobs"]
        pids = []
        for job in jobs:
            pid = os.fork()
            if pid == 0:
                _child(job)
            pids.append(pid)
        exits = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in pids]
        print(json.dumps({"exits": exits}), flush=True)


if __name__ == "__main__":
    _serve()
