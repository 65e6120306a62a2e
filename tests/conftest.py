"""Shared fixtures: a real Prefect test harness (temporary local server) for the session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.realdata import MISSING, REALDATA

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")


@pytest.fixture(scope="module")
def prefect_harness() -> Iterator[None]:
    """A temporary Prefect server per test module.

    Module scope, not session: the server's background threads draw from the
    global ``random`` state, which Hypothesis (rightly) flags in property tests
    that happen to run while a harness is still alive. The server gets 3 minutes
    to start (Prefect's default of 30 s is too short on a loaded shared machine).
    """
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=180):
        yield


@pytest.fixture(scope="session")
def realdata() -> Path:
    """The real recordings beside the checkout; missing means a broken CI layout, not a skip."""
    if not REALDATA.is_dir():
        pytest.fail(MISSING)
    return REALDATA
