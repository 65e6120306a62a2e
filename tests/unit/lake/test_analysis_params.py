"""The parameters behind a params_hash, stored in the lake: written, read back, reproducing the hash."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from tearsignals import pipeline
from tearsignals.config import AnalysisConfig, Outcome, StatsConfig, WindowConfig
from tearsignals.contract import outputs_doc
from tearsignals.errors import InputError
from tearsignals.lake import store

RENAMED = AnalysisConfig(
    windows=WindowConfig(post_bins_min=((0.0, 22.5), (22.5, 60.0))),
    stats=StatsConfig(primary=Outcome(metric="ln_rmssd", window="post_22.5_60")),
)


def test_recorded_parameters_reproduce_their_hash(tmp_path: Path) -> None:
    path = pipeline.record_params(tmp_path, RENAMED)
    assert path == tmp_path / "_analysis_params" / f"{RENAMED.params_hash()}.json"
    doc = store.read_params(tmp_path, RENAMED.params_hash())
    assert doc["params_hash"] == RENAMED.params_hash()
    assert AnalysisConfig.model_validate(doc["parameters"]).params_hash() == RENAMED.params_hash()
    assert doc["window_names"][4:] == ["post_0_22.5", "post_22.5_60"]
    assert set(doc) == {"params_hash", "parameters", "window_names", "tearsignals_version"}


def test_the_parameters_file_is_owner_only(tmp_path: Path) -> None:
    path = pipeline.record_params(tmp_path, AnalysisConfig())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_a_second_parameter_set_gets_its_own_file(tmp_path: Path) -> None:
    pipeline.record_params(tmp_path, AnalysisConfig())
    pipeline.record_params(tmp_path, RENAMED)
    stored = sorted(p.stem for p in (tmp_path / "_analysis_params").glob("*.json"))
    assert stored == sorted([AnalysisConfig().params_hash(), RENAMED.params_hash()])


@pytest.mark.parametrize(
    ("params_hash", "needle"),
    [
        ("0123456789abcdef", "no analysis parameters"),
        ("../../etc/passwd", "16 hexadecimal digits"),
        ("0123456789ABCDEF", "16 hexadecimal digits"),
    ],
)
def test_an_unknown_or_malformed_hash_is_one_line(
    tmp_path: Path, params_hash: str, needle: str
) -> None:
    with pytest.raises(InputError, match=needle) as err:
        store.read_params(tmp_path, params_hash)
    assert "\n" not in str(err.value)


def test_a_damaged_parameters_file_is_one_line(tmp_path: Path) -> None:
    path = pipeline.record_params(tmp_path, AnalysisConfig())
    path.write_text('{"params_hash": ')
    with pytest.raises(InputError, match="unreadable analysis parameters") as err:
        store.read_params(tmp_path, AnalysisConfig().params_hash())
    assert "\n" not in str(err.value)


def test_docs_outputs_md_describes_every_key_of_the_file() -> None:
    documented = outputs_doc.PARAMS_SECTION
    for key in pipeline.params_document(AnalysisConfig()):
        assert f"| `{key}` |" in documented, key
