"""The analysed lake shared by the report, notebook and status tests (built once per session)."""

from __future__ import annotations

import pytest

from tests.support.lakes import AnalysedLake, analysed_lake


@pytest.fixture(scope="session")
def desk_lake(tmp_path_factory: pytest.TempPathFactory, prefect_harness: str) -> AnalysedLake:
    return analysed_lake(tmp_path_factory.mktemp("desk"))
