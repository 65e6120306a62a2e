"""Shared fixtures: a real Prefect test harness (temporary local server) for the session."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.realdata import MISSING, REALDATA

# Prefect's home (profiles, local storage, the temporary server's database) lives in a
# directory of this test run, for every process the tests start: ~/.prefect is never touched.
_PREFECT_HOME = tempfile.mkdtemp(prefix="tearsignals-tests-prefect-")
atexit.register(shutil.rmtree, _PREFECT_HOME, ignore_errors=True)
os.environ["PREFECT_HOME"] = _PREFECT_HOME
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the tests that need the Prefect server last, so it starts once per session.

    The server's background threads draw from the global ``random`` state,
    which Hypothesis (rightly) flags in property tests running beside it; with
    every Prefect test at the end, no other test runs while it is alive. The
    sort is stable: the order within each group stays as collected.
    """
    items.sort(key=lambda item: "prefect_harness" in getattr(item, "fixturenames", ()))


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[str]:
    """One temporary Prefect server for the session; its API URL (for child processes).

    The server gets 3 minutes to start (Prefect's default of 30 s is too short
    on a loaded shared machine).
    """
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=180):
        yield str(PREFECT_API_URL.value())


@pytest.fixture(scope="session")
def realdata() -> Path:
    """The real recordings beside the checkout; missing means a broken CI layout, not a skip."""
    if not REALDATA.is_dir():
        pytest.fail(MISSING)
    return REALDATA
