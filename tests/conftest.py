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


def _needs_prefect(item: pytest.Item) -> bool:
    return "prefect_harness" in getattr(item, "fixturenames", ())


def _is_hypothesis(item: pytest.Item) -> bool:
    return bool(getattr(getattr(item, "obj", None), "is_hypothesis_test", False))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Keep the Prefect server's threads away from the Hypothesis tests.

    The server's background threads draw from the global ``random`` state,
    which Hypothesis (rightly) flags in property tests running beside it in
    the same process. In one process (plain ``pytest``) the tests that need
    the server run last, so it starts once and no other test runs while it is
    alive. Under pytest-xdist (``make test`` runs ``-n auto --dist loadgroup
    --no-loadscope-reorder``) the work is cut into groups, in this order:
    the Hypothesis tests, the fault tests, the other Prefect tests, then every
    other test on its own. Workers take groups in turn, so the Hypothesis
    group runs first on its worker, before any server starts there, and the
    two Prefect groups run on different workers, one server each. Sorts are
    stable: the order within each group stays as collected.
    """
    if config.pluginmanager.hasplugin("xdist") and config.getoption("dist", "no") != "no":
        for item in items:
            group = _xdist_group(item)
            if group is not None:
                item.add_marker(pytest.mark.xdist_group(group))
        order = {"hypothesis": 0, "prefect-faults": 1, "prefect": 2, None: 3}
        items.sort(key=lambda item: order[_xdist_group(item)])
    else:
        items.sort(key=_needs_prefect)


def _xdist_group(item: pytest.Item) -> str | None:
    if _is_hypothesis(item):
        return "hypothesis"
    if _needs_prefect(item):
        return "prefect-faults" if "faults" in item.path.parts else "prefect"
    return None


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
