"""HTML pieces: escaped, self-contained, numbers formatted as the tables show them."""

from __future__ import annotations

import base64
import re

import polars as pl

from tearsignals.report import html


def test_a_figure_embeds_its_svg_as_a_data_uri() -> None:
    svg = '<svg xmlns="http://www.w3.org/2000/svg"><rect width="3" height="2"/></svg>'
    block = html.figure_html("forest", svg, 'shift < 0 & "raw"')
    (uri,) = re.findall(r'src="data:image/svg\+xml;base64,([^"]+)"', block)
    assert base64.b64decode(uri).decode() == svg
    assert 'data-figure="forest"' in block and "shift &lt; 0 &amp; &quot;raw&quot;" in block


def test_tables_escape_text_show_nulls_and_mark_numbers() -> None:
    frame = pl.DataFrame({"reason": ["<b>", None], "p_value": [0.012345, None]})
    table = html.table_html("t", frame, {"p_value": html.p_value})
    assert '<td data-column="reason">&lt;b&gt;</td>' in table
    assert '<td data-column="p_value" class="num">0.0123</td>' in table
    assert table.count(">—</td>") == 2


def test_the_page_loads_nothing_from_outside_and_runs_no_script() -> None:
    page = html.page_html("t", "lead", [html.Section("a", "A", "<p>x</p>")])
    assert "default-src 'none'" in page and "<script" not in page
    assert '<a href="#a">A</a>' in page and '<section id="a"><h2>A</h2>' in page
