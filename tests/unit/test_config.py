"""Configuration: window names from their bounds, post-bin rules, the parameters behind a hash."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from tearsignals.config import (
    AnalysisConfig,
    Family,
    Outcome,
    StatsConfig,
    WindowConfig,
    minutes_text,
    post_window_name,
)


def test_default_window_names_are_unchanged() -> None:
    assert WindowConfig().names() == (
        "baseline",
        "pre",
        "acute",
        "during",
        "post_0_20",
        "post_20_60",
        "post_60_90",
    )


def test_post_windows_are_named_after_their_bounds() -> None:
    cfg = WindowConfig(post_bins_min=((0.0, 30.0), (30.0, 60.0), (60.0, 120.0)))
    assert cfg.names()[4:] == ("post_0_30", "post_30_60", "post_60_120")
    posts = [s for s in cfg.spans() if s.name.startswith("post_")]
    assert [(s.start_anchor, s.start_min, s.end_anchor, s.end_min) for s in posts] == [
        ("end", 0.0, "end", 30.0),
        ("end", 30.0, "end", 60.0),
        ("end", 60.0, "end", 120.0),
    ]


@pytest.mark.parametrize(
    ("bounds", "name"),
    [
        ((0.0, 22.5), "post_0_22.5"),
        ((7.25, 15.0), "post_7.25_15"),
        ((-5.0, 0.0), "post_-5_0"),
        ((0.1, 0.2), "post_0.1_0.2"),
    ],
)
def test_non_integer_and_negative_bounds_read_as_written(
    bounds: tuple[float, float], name: str
) -> None:
    assert post_window_name(*bounds) == name
    assert WindowConfig(post_bins_min=(bounds,)).names()[-1] == name


def test_bounds_that_differ_give_names_that_differ() -> None:
    close = [0.1, 0.1 + 1e-9, 1.0, 1.0 + 1e-12]
    assert len({minutes_text(m) for m in close}) == len(close)


@pytest.mark.parametrize("n_bins", [1, 2, 5])
def test_any_number_of_ordered_post_bins(n_bins: int) -> None:
    bins = tuple((10.0 * i, 10.0 * (i + 1)) for i in range(n_bins))
    names = WindowConfig(post_bins_min=bins).names()
    assert names[4:] == tuple(f"post_{10 * i}_{10 * (i + 1)}" for i in range(n_bins))


@pytest.mark.parametrize(
    ("bins", "needle"),
    [
        ((), "at least 1"),
        (((30.0, 60.0), (0.0, 30.0)), "ordered"),
        (((0.0, 30.0), (0.0, 30.0)), "distinct"),
        (((0.0, float("inf")),), "finite"),
        (((20.0, 10.0),), "start < end"),
    ],
)
def test_post_bins_must_be_ordered_distinct_and_finite(
    bins: tuple[tuple[float, float], ...], needle: str
) -> None:
    with pytest.raises(ValidationError, match=needle):
        WindowConfig(post_bins_min=bins)


def test_the_effect_span_reaches_the_latest_post_bin_end() -> None:
    cfg = WindowConfig(post_bins_min=((0.0, 90.0), (30.0, 60.0)))
    assert cfg.names()[4:] == ("post_0_90", "post_30_60")
    assert cfg.effect_end_min() == 90.0


def test_hashed_parameters_reproduce_the_hash() -> None:
    cfg = AnalysisConfig(
        windows=WindowConfig(post_bins_min=((0.0, 22.5), (22.5, 60.0))),
        stats=StatsConfig(
            primary=Outcome(metric="mean_hr_bpm", window="during"),
            families=(Family(name="recovery", metrics=("ln_rmssd",), windows=("post_0_22.5",)),),
        ),
        subjects=("S01",),
    )
    again = AnalysisConfig.model_validate(cfg.hashed_parameters())
    assert again.params_hash() == cfg.params_hash()
    assert again.windows.names() == cfg.windows.names()
    assert AnalysisConfig().params_hash() != cfg.params_hash()
    assert cfg.model_copy(update={"subjects": None}).params_hash() == cfg.params_hash()


def test_the_declared_rows_put_the_primary_first_and_never_twice() -> None:
    rows = AnalysisConfig().family_rows()
    assert rows[0] == ("primary", "ln_rmssd", "post_60_90")
    assert ("hrv", "ln_rmssd", "post_60_90") not in rows
    assert ("hrv", "ln_rmssd", "post_0_20") in rows
    keys = [(m, w) for _, m, w in rows]
    assert len(keys) == len(set(keys))
    assert {f for f, _, _ in rows} == {"primary", "heart_rate", "hrv"}


@pytest.mark.parametrize(
    ("stats", "needle"),
    [
        (StatsConfig(primary=Outcome(metric="ln_rmssd", window="baseline")), "baseline"),
        (StatsConfig(primary=Outcome(metric="ln_rmssd", window="post_0_30")), "stats.primary"),
        (
            StatsConfig(families=(Family(name="a", metrics=("ln_rmssd",), windows=("later",)),)),
            "stats.families.a",
        ),
        (
            StatsConfig(
                families=(
                    Family(name="a", metrics=("ln_rmssd",)),
                    Family(name="b", metrics=("ln_rmssd",), windows=("pre",)),
                )
            ),
            "in two families",
        ),
    ],
)
def test_undeclarable_families_are_refused(stats: StatsConfig, needle: str) -> None:
    with pytest.raises(ValidationError, match=needle):
        AnalysisConfig(stats=stats)


def test_family_names_are_distinct_and_not_reserved() -> None:
    with pytest.raises(ValidationError, match="distinct"):
        StatsConfig(families=(Family(name="a", metrics=("x",)), Family(name="a", metrics=("y",))))
    with pytest.raises(ValidationError, match="reserved"):
        Family(name="primary", metrics=("x",))
