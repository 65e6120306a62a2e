"""Reports in the lake: at the layout's paths, owner-only, hashes and episode ids checked."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import pytest

from tearsignals import pipeline
from tearsignals.config import AnalysisConfig, WindowConfig
from tearsignals.errors import InputError
from tearsignals.lake import layout, store

HASH = "0123456789abcdef"


def test_reports_are_written_owner_only_where_the_layout_says(tmp_path: Path) -> None:
    page = store.write_report(tmp_path, HASH, "<p>cohort</p>")
    assert page == tmp_path / "reports" / HASH / "report.html" == layout.report_path(tmp_path, HASH)
    assert stat.S_IMODE(page.stat().st_mode) == 0o600
    assert stat.S_IMODE(page.parent.stat().st_mode) == 0o700
    one = store.write_report(tmp_path, HASH, "<p>one</p>", episode_id="e1")
    assert (
        one == layout.episode_report_path(tmp_path, HASH, "e1") == page.parent / "episode-e1.html"
    )
    assert page.read_text() == "<p>cohort</p>" and store.has_report(tmp_path, HASH)
    assert not store.has_report(tmp_path, "fedcba9876543210")


@pytest.mark.parametrize(
    ("params_hash", "episode_id", "needle"),
    [("../x", None, "16 hexadecimal"), (HASH, "../e1", "no file-name segment")],
)
def test_bad_hashes_and_episode_ids_are_refused_in_one_line(
    tmp_path: Path, params_hash: str, episode_id: str | None, needle: str
) -> None:
    with pytest.raises(InputError, match=needle):
        store.write_report(tmp_path, params_hash, "x", episode_id)
    assert not (tmp_path / "reports").exists()


def test_parameter_sets_are_listed_newest_first(tmp_path: Path) -> None:
    assert store.params_written(tmp_path) == {}
    older, newer = AnalysisConfig(), AnalysisConfig(windows=WindowConfig(n_controls=2))
    for cfg, age_s in ((older, 100), (newer, 0)):
        path = pipeline.record_params(tmp_path, cfg)
        os.utime(path, (time.time() - age_s, time.time() - age_s))
    assert list(store.params_written(tmp_path)) == [newer.params_hash(), older.params_hash()]
