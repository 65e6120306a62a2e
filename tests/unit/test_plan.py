"""The analysis plan file: the default plan, round trips, one-line errors, the stored plan."""

from __future__ import annotations

from pathlib import Path

import pytest

from tearsignals import pipeline
from tearsignals.config import AnalysisConfig, Family, Outcome, StatsConfig, WindowConfig
from tearsignals.errors import InputError
from tearsignals.lake import layout
from tearsignals.plan import load_plan, plan_from_text, plan_toml

REPO = Path(__file__).resolve().parents[2]
DEFAULT_PLAN = REPO / "plans" / "default.toml"
CUSTOM = AnalysisConfig(
    windows=WindowConfig(post_bins_min=((0.0, 22.5), (22.5, 60.0)), n_controls=2),
    stats=StatsConfig(
        primary=Outcome(metric="rmssd_ms", window="post_22.5_60"),
        families=(
            Family(name="early", metrics=("ln_rmssd", "mean_hr_bpm"), windows=("pre", "acute")),
            Family(name="late", metrics=("sdnn_ms",)),
        ),
        moderators=(),
    ),
)


def test_the_default_plan_file_is_the_default_analysis() -> None:
    cfg = load_plan(DEFAULT_PLAN)
    assert cfg == AnalysisConfig()
    assert cfg.params_hash() == AnalysisConfig().params_hash()


@pytest.mark.parametrize("cfg", [AnalysisConfig(), CUSTOM])
def test_a_written_plan_reads_back_to_the_same_parameters(cfg: AnalysisConfig) -> None:
    again = plan_from_text(plan_toml(cfg))
    assert again == cfg
    assert again.params_hash() == cfg.params_hash()


def test_keys_left_out_keep_their_defaults() -> None:
    cfg = plan_from_text('[stats.primary]\nmetric = "mean_hr_bpm"\nwindow = "during"\n')
    assert cfg.stats.primary == Outcome(metric="mean_hr_bpm", window="during")
    assert cfg.stats.families == StatsConfig().families
    assert cfg.windows == WindowConfig()


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[windows\n", "not TOML"),
        ("[subjects]\n", "unknown section [subjects]"),
        ("[windows]\nn_control = 3\n", "windows.n_control: Extra inputs are not permitted"),
        ('[stats.primary]\nmetric = "rmssd"\nwindow = "pre"\n', "unknown metric 'rmssd'"),
        ('[stats.primary]\nmetric = "ln_rmssd"\nwindow = "post_0_30"\n', "stats.primary"),
        ('[[stats.families]]\nname = "hrv"\nmetrics = ["pnn_50"]\n', "stats.families.hrv"),
        ("[windows]\npost_bins_min = [[30.0, 60.0], [0.0, 30.0]]\n", "ordered by start"),
    ],
)
def test_a_bad_plan_is_one_line_naming_the_file_and_the_problem(
    tmp_path: Path, text: str, needle: str
) -> None:
    path = tmp_path / "plan.toml"
    path.write_text(text)
    with pytest.raises(InputError) as caught:
        load_plan(path)
    message = str(caught.value)
    assert message.startswith(f"plan {path}: ") and needle in message
    assert "\n" not in message


def test_an_unreadable_plan_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "plan.toml"
    path.write_bytes(b"\xff\xfe")
    with pytest.raises(InputError, match="cannot be read"):
        load_plan(path)


def test_every_run_stores_its_plan_beside_its_parameters(tmp_path: Path) -> None:
    pipeline.record_params(tmp_path, CUSTOM)
    stored = layout.analysis_plan_path(tmp_path, CUSTOM.params_hash())
    assert stored.parent == layout.analysis_params_path(tmp_path, CUSTOM.params_hash()).parent
    assert load_plan(stored).params_hash() == CUSTOM.params_hash()
    assert stored.stat().st_mode & 0o077 == 0
