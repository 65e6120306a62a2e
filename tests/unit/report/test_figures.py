"""The figures are deterministic, self-contained SVG."""

from __future__ import annotations

from datetime import date

import polars as pl

from tearsignals.report import figures


def _yield_svg() -> str:
    hours = pl.DataFrame(
        {"subject_id": ["S1", "S1", "S2"], "day": [date(2026, 1, 5), date(2026, 1, 7), date(2026, 1, 5)],
         "hours": [8.0, 3.5, 24.0]}
    )  # fmt: skip
    marks = pl.DataFrame({"subject_id": ["S2"], "day": [date(2026, 1, 6)], "n_episodes": [2]})
    return figures.yield_svg(hours, marks)


def test_the_same_frames_give_the_same_bytes_without_a_date_or_fonts() -> None:
    first, second = _yield_svg(), _yield_svg()
    assert first == second
    assert first.lstrip().startswith("<?xml") and "<svg" in first
    assert "<dc:date>" not in first and "<text" not in first  # text drawn as paths
    assert 'href="http' not in first


def test_the_report_style_is_restored_after_drawing() -> None:
    import matplotlib

    before = dict(matplotlib.rcParams)
    _yield_svg()
    assert dict(matplotlib.rcParams) == before
