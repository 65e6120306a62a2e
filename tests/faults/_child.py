"""Fork server for the crash tests: import tearsignals once, then fork one child per job.

Run as ``python tests/faults/_child.py``. It reads one JSON request per line on
stdin, ``{"jobs": [job, ...]}``, forks one child per job (all at once, so jobs
of one request run concurrently), waits for them and answers one JSON line
``{"exits": [code, ...]}`` (``-9`` is a SIGKILL). A job is::

    {"lake": str, "inbox": str, "phase": "nightly" | "analyze", "config": AnalysisConfig,
     "env": {name: value}, "fsize": bytes | null, "hold_s": float, "events": path | null,
     "errors": path | null}

Each child applies ``env`` (e.g. ``TEARSIGNALS_FAULT``) and the optional
``RLIMIT_FSIZE`` (with SIGXFSZ ignored, so writes fail with EFBIG like on a
full disk), takes the lake's writer lock, optionally holds it ``hold_s``
seconds, runs the phase like the flows do, and appends one JSON line
(phase, lock start/end times, whether it had to wait) to ``events``. A child
that fails writes ``<exception type>: <message>`` to ``errors``.

Forking is safe because this process only imports modules and builds the
great-expectations context; it never runs a polars query, so there is no
thread pool to lose. Starting once and forking saves the ~3 s import and
great-expectations start-up per crash.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import sys
import time
import traceback
from pathlib import Path
from typing import Any


def _run_job(job: dict[str, Any]) -> None:
    from tearsignals import pipeline
    from tearsignals.config import AnalysisConfig
    from tearsignals.lake import lock

    os.environ.update(job.get("env") or {})
    if job.get("fsize"):
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (job["fsize"], job["fsize"]))
    lake, inbox = Path(job["lake"]), Path(job["inbox"])
    cfg = AnalysisConfig.model_validate(job["config"])
    waits: list[str] = []
    with lock.lake_writer(lake, f"fault-test {job['phase']}", on_wait=waits.append):
        start = time.time()
        time.sleep(job.get("hold_s") or 0.0)
        if job["phase"] == "nightly":
            pipeline.nightly_run(lake, inbox, cfg)
        else:
            pipeline.analyze_lake(lake, cfg)
        end = time.time()
    if job.get("events"):
        line = {"phase": job["phase"], "start": start, "end": end, "waited": bool(waits)}
        with Path(job["events"]).open("a") as fh:
            fh.write(json.dumps(line) + "\n")


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
    from tearsignals import pipeline  # noqa: F401  (imported once, before forks)
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
