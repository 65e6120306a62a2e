"""The HTML report of an analysed lake: it renders in Chromium, every figure is drawn, and the
numbers it shows are the lake's Parquet values.

One lake per session (``desk_lake``, tests/support/lakes.py); one page with
every figure (the cohort report plus one episode's panel, as
``tearsignals report --episode`` writes it) is rendered once per module.
"""

from __future__ import annotations

import base64
import dataclasses
import os
import re
from pathlib import Path

import polars as pl
import pytest

from tearsignals import cli, report
from tearsignals.contract import outputs_doc
from tearsignals.lake import layout, store
from tearsignals.report import document, figures
from tests.support import browser, pages
from tests.support.lakes import AnalysedLake

pytestmark = pytest.mark.integration

FIGURES = ["episode", "event-locked", "forest", "yield"]
WHITE_SVG = '<svg xmlns="http://www.w3.org/2000/svg" width="800" height="400"></svg>'


@pytest.fixture(scope="module")
def chromium() -> None:
    reason = browser.chromium_or_reason()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(reason)  # CI installs it (make test): missing there is a broken set-up
        pytest.skip(reason)


@pytest.fixture(scope="module")
def episode_id(desk_lake: AnalysedLake) -> str:
    """An analysed episode of an RR subject (S01)."""
    windows = store.read_table(desk_lake.lake, "episode_windows", ["S01"])
    return str(windows.filter(pl.col("role") == "episode")["episode_id"].sort()[0])


@pytest.fixture(scope="module")
def episode_page(desk_lake: AnalysedLake, episode_id: str) -> Path:
    assert cli.main(["report", "--lake", str(desk_lake.lake), "--episode", episode_id]) == 0
    return layout.episode_report_path(desk_lake.lake, desk_lake.params_hash, episode_id)


@pytest.fixture(scope="module")
def rendered(
    chromium: None, episode_page: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[list[browser.FigureBox], object]:
    height, boxes = browser.figure_layout(episode_page)
    shot = tmp_path_factory.mktemp("screens") / "episode-page.png"
    return boxes, browser.screenshot(episode_page, height, shot)


def test_every_figure_is_laid_out_decoded_and_drawn(
    rendered: tuple[list[browser.FigureBox], object],
) -> None:
    boxes, pixels = rendered
    assert [b.name for b in boxes] == FIGURES
    for box in boxes:
        area = browser.region(pixels, box)  # type: ignore[arg-type]
        assert box.complete and box.natural_w > 0, box
        assert area.size and area.std() > browser.MIN_SD, (box.name, area.std())


@pytest.mark.parametrize("name", ["episode", "event-locked", "forest"])
def test_episode_curves_and_estimates_are_drawn_in_their_colour(
    rendered: tuple[list[browser.FigureBox], object], name: str
) -> None:
    boxes, pixels = rendered
    (box,) = [b for b in boxes if b.name == name]
    area = browser.region(pixels, box)  # type: ignore[arg-type]
    assert browser.colour_share(area, figures.EPISODE_COLOUR) > 0.001, name


def test_a_blank_figure_is_detected(
    chromium: None, desk_lake: AnalysedLake, tmp_path: Path
) -> None:
    text = desk_lake.report.read_text()
    blank = "data:image/svg+xml;base64," + base64.b64encode(WHITE_SVG.encode()).decode()
    sabotaged = re.sub(
        r'(<figure data-figure="forest"><img alt="[^"]*" src=")[^"]+', rf"\g<1>{blank}", text
    )
    assert sabotaged != text
    page = tmp_path / "sabotaged.html"
    page.write_text(sabotaged)
    assert browser.blank_figures(page, tmp_path / "sabotaged.png") == ["forest"]


def _same(shown: float | None, truth: float | None, **tolerance: float) -> None:
    """A shown number equals the stored one to the shown precision (null shown as null)."""
    if truth is None:
        assert shown is None
    else:
        assert shown == pytest.approx(truth, **tolerance)


def _adjusted(lake: Path, table: str) -> pl.DataFrame:
    return store.read_table(lake, table).filter(pl.col("shift_kind") == "adjusted")


def _row_key(row: dict[str, str]) -> tuple[str, str]:
    return row["metric"], row["window"]


def test_the_cohort_table_shows_the_parquet_values(desk_lake: AnalysedLake) -> None:
    shown = pages.parsed(desk_lake.report.read_text()).tables["cohort_summary"]
    lake = _adjusted(desk_lake.lake, "cohort_summary")
    assert sorted(map(_row_key, shown)) == sorted(lake.select("metric", "window").iter_rows())
    by_key = {(r["metric"], r["window"]): r for r in lake.iter_rows(named=True)}
    for row in shown:
        truth = by_key[_row_key(row)]
        for column in ("n_subjects", "n_episodes", "n_excluded"):
            assert int(row[column]) == truth[column]
        for column in ("mean_shift", "median_shift", "ci_low", "ci_high", "effect_size"):
            _same(pages.number(row[column]), truth[column], abs=5e-4)
        _same(pages.number(row["p_value"]), truth["p_value"], rel=5e-3)


def test_the_model_table_shows_the_parquet_intercepts(desk_lake: AnalysedLake) -> None:
    shown = pages.parsed(desk_lake.report.read_text()).tables["cohort_model"]
    lake = store.read_table(desk_lake.lake, "cohort_model").filter(
        (pl.col("model") == "base") & (pl.col("term") == "intercept")
    )
    by_key = {(r["metric"], r["window"]): r for r in lake.iter_rows(named=True)}
    assert sorted(map(_row_key, shown)) == sorted(by_key)
    for row in shown:
        truth = by_key[_row_key(row)]
        for column in ("estimate", "ci_low", "ci_high"):
            _same(pages.number(row[column]), truth[column], abs=5e-4)
        _same(pages.number(row["q_value"]), truth["q_value"], rel=5e-3)
        assert row["method"] == truth["method"]


def test_yield_and_quality_tables_count_what_the_lake_holds(desk_lake: AnalysedLake) -> None:
    tables = pages.parsed(desk_lake.report.read_text()).tables
    minutes = (
        pl.concat(
            [
                pl.read_parquet(
                    layout.table_dir(desk_lake.lake, t) / "*/*.parquet", hive_partitioning=True
                ).select("subject_id", "t_utc")
                for t in ("beats", "heart_rate")
            ]
        )
        .select("subject_id", pl.col("t_utc").dt.truncate("1m"))
        .unique()
    )
    hours = dict(
        minutes.group_by("subject_id").len().select("subject_id", pl.col("len") / 60).iter_rows()
    )
    assert {r["subject_id"]: float(r["hours"]) for r in tables["yield"]} == pytest.approx(
        hours, abs=0.05
    )
    windows = store.read_table(desk_lake.lake, "episode_windows")
    for row in tables["quality"]:
        reason = (
            pl.col("reason").is_null()
            if row["reason"] == "(none)"
            else pl.col("reason") == row["reason"]
        )
        chosen = windows.filter((pl.col("quality") == row["quality"]) & reason)
        assert int(row["episode"]) == chosen.filter(pl.col("role") == "episode").height
        assert int(row["control"]) == chosen.filter(pl.col("role") == "control").height
    assert sum(int(r["episode"]) + int(r["control"]) for r in tables["quality"]) == windows.height


def test_the_episode_panel_lists_that_episode_s_windows(
    desk_lake: AnalysedLake, episode_id: str, episode_page: Path
) -> None:
    shown = pages.parsed(episode_page.read_text())
    assert shown.figures == FIGURES
    windows = store.read_table(desk_lake.lake, "episode_windows").filter(
        pl.col("episode_id") == episode_id
    )
    rows = shown.tables["episode_windows"]
    assert len(rows) == windows.height
    assert sorted((r["window"], r["quality"]) for r in rows) == sorted(
        windows.select("window", "quality").iter_rows()
    )
    assert (
        sum(r["day"].startswith("episode") for r in rows)
        == windows.filter(pl.col("role") == "episode").height
    )


def test_the_page_is_self_contained_and_the_same_when_rendered_again(
    desk_lake: AnalysedLake,
) -> None:
    text = desk_lake.report.read_text()
    links = re.findall(r'(?:src|href)="([^"]*)"', text)
    assert links and all(link.startswith(("data:", "#")) for link in links)
    assert "<script" not in text and "default-src 'none'" in text
    assert "http://" not in text.replace('xmlns="http://www.w3.org', "")
    assert report.report_html(desk_lake.lake, desk_lake.params_hash) == text


def test_further_cohort_tables_get_a_section_only_when_they_hold_rows(
    desk_lake: AnalysedLake,
) -> None:
    inputs = document.read_inputs(desk_lake.lake, desk_lake.params_hash)
    holding = {t for t, (_, frame) in inputs.other_tables.items() if not frame.is_empty()}
    assert holding == {"subject_effects", "power"}  # by every analysis; sensitivity on request
    page = desk_lake.report.read_text()
    assert 'id="subject_effects"' in page and 'id="power"' in page
    assert 'id="sensitivity"' not in page
    rows = pl.DataFrame({"variant": ["jitter -5 min", "median cleaning"], "estimate": [0.17, 0.19]})

    def sections(frame: pl.DataFrame) -> dict[str, str]:
        more = dataclasses.replace(inputs, other_tables={"sensitivity": ("Variants.", frame)})
        return {s.anchor: s.body for s in document.other_table_sections(more)}

    assert sections(rows.clear()) == {}
    table = pages.parsed(sections(rows)["sensitivity"]).tables["sensitivity"]
    assert [(r["variant"], r["estimate"]) for r in table] == [
        ("jitter -5 min", "+0.170"),
        ("median cleaning", "+0.190"),
    ]


def test_report_command_writes_where_asked_and_fails_in_one_line(
    desk_lake: AnalysedLake, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "mine.html"
    assert cli.main(["report", "--lake", str(desk_lake.lake), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"report:  {out}" in printed and f"open it: xdg-open {out}" in printed
    assert out.read_text() == desk_lake.report.read_text()
    for argv, needle in (
        (["report", "--lake", str(tmp_path)], "holds no analysis yet"),
        (["report", "--lake", str(desk_lake.lake), "--episode", "e0"], "no analysed episode"),
        (["report", "--lake", str(desk_lake.lake), "--params", "abc"], "not 16 hexadecimal"),
    ):
        with pytest.raises(SystemExit) as exc:
            cli.main(argv)
        err = capsys.readouterr().err
        assert exc.value.code == 1 and err.count("\n") == 1 and needle in err, err


def test_docs_outputs_md_describes_every_section_and_path(episode_page: Path) -> None:
    documented = [
        line.split("|")[1].strip()
        for line in outputs_doc.REPORTS_SECTION.splitlines()
        if line.startswith("| ") and not line.startswith("| section")
    ]
    further = {t.replace("_", " ").capitalize() for t in document.other_cohort_tables()}
    titles = [
        t for t in re.findall(r"<h2>([^<]*)</h2>", episode_page.read_text()) if t not in further
    ]
    assert titles and all(any(d.startswith(t.split()[0]) for d in documented) for t in titles)
    assert [d for d in documented if not d.startswith("(")] == [
        t if not t.startswith("Episode") else "Episode (with `--episode`)" for t in titles
    ]
    cohort = str(layout.report_path(Path("LAKE"), "HASH"))
    one = str(layout.episode_report_path(Path("LAKE"), "HASH", "ID"))
    for path in (cohort, one.replace("ID", "<episode_id>")):
        assert f"`{path.replace('HASH', '<params_hash>')}`" in outputs_doc.REPORTS_SECTION
