"""Shared pieces of the fault tests: a small inbox, its clean lake, a fork server for crashes.

The inbox is a two-subject, two-day synthetic cohort plus two extra exports
for subject S01: ``rr_S01_fix.csv`` repeats 20 beats with other (smaller) RR
values, so it wins those keys and forces the committed ``rr_S01.csv`` to be
withdrawn and ingested again; ``rr_S01_more.csv`` is a later export that
repeats the last 300 beats and adds 20 new ones.

Set ``TEARSIGNALS_FAULT_FIGURES=PATH`` to have the session write every
injected fault and its outcome to ``PATH`` as JSON (``docs/reliability.md`` is
built from it).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import polars as pl
import pytest

from tearsignals.config import AnalysisConfig, FrequencyConfig
from tearsignals.contract import schema
from tearsignals.lake import store
from tearsignals.synth import SynthConfig, write_cohort

COHORT = SynthConfig(n_subjects=2, n_days=2, seed=0, episodes_per_month=45.0)
# Cheap analysis parameters: the crash tests need gold writes, not precise numbers.
FAST = AnalysisConfig(frequency=FrequencyConfig(method="welch"))
TABLES = schema.TABLE_NAMES
DATA_TABLES = tuple(t for t in store.file_parted_tables() if t != "quarantine")
CHILD = Path(__file__).with_name("_child.py")


class Forker:
    """Client of ``_child.py``: run jobs in forked children, get their exit codes."""

    def __init__(self, prefect_api_url: str) -> None:
        env = {**os.environ, "GX_ANALYTICS_ENABLED": "False", "PREFECT_API_URL": prefect_api_url}
        env.pop(store.FAULT_ENV, None)
        self._proc = subprocess.Popen(
            [sys.executable, str(CHILD)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert json.loads(self._read()) == {"ready": True}

    def _read(self) -> str:
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError(f"fault child server exited with {self._proc.wait()}")
        return line

    def run(self, *jobs: dict[str, Any]) -> list[int]:
        """Run ``jobs`` concurrently (one forked child each); their exit codes."""
        assert self._proc.stdin is not None
        self._proc.stdin.write(json.dumps({"jobs": list(jobs)}) + "\n")
        self._proc.stdin.flush()
        return list(json.loads(self._read())["exits"])

    def close(self) -> None:
        assert self._proc.stdin is not None
        assert self._proc.stdout is not None
        self._proc.stdin.close()
        self._proc.wait(timeout=30)
        self._proc.stdout.close()


def job(lake: Path, inbox: Path, phase: str = "nightly", **extra: Any) -> dict[str, Any]:
    """A job for :class:`Forker` (see ``_child.py``), with the :data:`FAST` parameters."""
    config = FAST.model_dump(mode="json")
    return {"lake": str(lake), "inbox": str(inbox), "phase": phase, "config": config, **extra}


def lake_digest(lake: Path) -> dict[str, str]:
    """Content hash per table (every column but ``ingested_at``), independent of row order."""
    out = {}
    for table in TABLES:
        frame = store.read_table(lake, table)
        frame = frame.drop([c for c in ("ingested_at",) if c in frame.columns])
        row_hashes = frame.hash_rows(seed=0).sort().to_numpy()
        out[table] = hashlib.sha256(row_hashes.tobytes()).hexdigest()
    return out


def unreadable_files(lake: Path) -> tuple[int, list[str]]:
    """(files checked, files a reader could not read): every visible Parquet and JSON file.

    Parquet files are opened with pyarrow and polars, each table is scanned
    whole by DuckDB; JSON files must parse.
    """
    import duckdb
    import pyarrow.parquet as pq

    bad: list[str] = []
    visible = [
        p
        for p in lake.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(lake).parts)
    ]
    for path in visible:
        try:
            if path.suffix == ".parquet":
                pq.read_table(path)
                pl.read_parquet(path)
            elif path.suffix == ".json":
                json.loads(path.read_text())
        except Exception as err:
            bad.append(f"{path.relative_to(lake)}: {type(err).__name__}")
    con = duckdb.connect()
    for table in TABLES:
        if any((lake / table).rglob("*.parquet")):
            try:
                con.execute(f"SELECT count(*) FROM read_parquet('{lake / table}/**/*.parquet')")
            except duckdb.Error as err:
                bad.append(f"{table} (duckdb): {type(err).__name__}")
    return len(visible), bad


def duplicate_keys(lake: Path) -> int:
    """Rows of the data tables whose natural key appears more than once."""
    total = 0
    for table in DATA_TABLES:
        frame = store.read_table(lake, table)
        total += frame.height - frame.unique(subset=list(schema.table(table).key)).height
    return total


def rerun(lake: Path, inbox: Path) -> int:
    """The next nightly run, in this process (the real flow: lock, which cleans up, ingest,
    analysis); how many leftover files taking the lock removed."""
    from tearsignals_flows.nightly_ingest import nightly_ingest

    result = nightly_ingest(inbox=str(inbox), lake=str(lake), config=FAST)
    return int(cast(int, result["leftovers_removed"]))


def _write_extra_exports(subject_dir: Path) -> None:
    rr = pl.read_csv(subject_dir / "rr_S01.csv")
    fix = rr.slice(100, 20).with_columns(pl.col("rr_ms") - 50.0)
    fix.write_csv(subject_dir / "rr_S01_fix.csv")
    last = datetime.fromisoformat(rr["timestamp"][-1])
    new = pl.DataFrame(
        {
            "timestamp": [
                (last + timedelta(seconds=k)).isoformat(timespec="milliseconds")
                for k in range(1, 21)
            ],
            "rr_ms": [1000.0] * 20,
        }
    )
    pl.concat([rr.tail(300), new]).write_csv(subject_dir / "rr_S01_more.csv")


@pytest.fixture(scope="session")
def fault_inbox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    inbox = tmp_path_factory.mktemp("faults") / "inbox"
    write_cohort(inbox, COHORT)
    _write_extra_exports(inbox / "S01")
    return inbox


@pytest.fixture(scope="session")
def clean_run(
    tmp_path_factory: pytest.TempPathFactory, fault_inbox: Path, prefect_harness: str
) -> SimpleNamespace:
    """One uninterrupted nightly run over :func:`fault_inbox`, observed.

    ``lake`` (do not modify), its ``digest``, ``targets`` (lake-relative path
    of every atomic write, in order) and ``hits`` (passes per fault point;
    ``write.during`` is passed once per write).
    """
    lake = tmp_path_factory.mktemp("clean") / "lake"
    targets: list[str] = []
    hits: Counter[str] = Counter()
    real = store._write_atomic

    def recording(target: Path, write: Callable[[Any], object]) -> Path:
        targets.append(str(target.relative_to(lake)))
        hits.update(["write.during"])
        return real(target, write)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(store, "_write_atomic", recording)
        mp.setattr(store, "fault_point", lambda name: hits.update([name]))
        rerun(lake, fault_inbox)
    return SimpleNamespace(lake=lake, digest=lake_digest(lake), targets=targets, hits=hits)


@pytest.fixture(scope="session")
def forker(prefect_harness: str) -> Iterator[Forker]:
    server = Forker(prefect_harness)
    yield server
    server.close()


@pytest.fixture(scope="session")
def fault_figures() -> Iterator[list[dict[str, Any]]]:
    """Outcomes of injected faults; written as JSON if ``TEARSIGNALS_FAULT_FIGURES`` is set."""
    records: list[dict[str, Any]] = []
    yield records
    target = os.environ.get("TEARSIGNALS_FAULT_FIGURES")
    if target:
        Path(target).write_text(json.dumps(records, indent=1) + "\n")


@pytest.fixture(scope="session")
def tools(prefect_harness: str) -> SimpleNamespace:
    """The helpers above, for test modules (conftest modules cannot be imported by name);
    ``rerun`` runs the real nightly flow, so these tests need the Prefect server."""
    return SimpleNamespace(
        job=job,
        digest=lake_digest,
        unreadable=unreadable_files,
        duplicate_keys=duplicate_keys,
        rerun=rerun,
        config=FAST,
        tables=TABLES,
    )
