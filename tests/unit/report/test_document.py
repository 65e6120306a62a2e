"""The report of a lake with nothing analysed is refused in one line, not drawn empty."""

from __future__ import annotations

from pathlib import Path

import pytest

from tearsignals import pipeline
from tearsignals.config import AnalysisConfig
from tearsignals.errors import InputError
from tearsignals.report import document


def test_a_parameter_set_without_analysed_episodes_has_no_report(tmp_path: Path) -> None:
    cfg = AnalysisConfig()
    pipeline.record_params(tmp_path, cfg)
    pipeline.summarize_cohort(tmp_path, cfg)
    with pytest.raises(
        InputError, match=f"holds no analysed episodes for parameters {cfg.params_hash()}"
    ):
        document.write_report(tmp_path, cfg.params_hash())
