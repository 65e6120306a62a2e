"""HTML pieces of the report: one self-contained page, no script, no outside resource.

Figures are ``<img>`` elements whose source is the SVG itself as a base64
``data:`` URI; styles are inline; nothing is fetched when the page is opened,
so it works offline and prints (A4 landscape, figures and tables kept whole).
Elements carry ``data-figure`` / ``data-table`` / ``data-column`` attributes
so that tests and scripts can find what the page shows.

Examples
--------
>>> frame = pl.DataFrame({"metric": ["ln_rmssd"], "mean_shift": [0.18249]})
>>> '<td data-column="mean_shift" class="num">+0.182</td>' in table_html(
...     "t", frame, {"mean_shift": signed}
... )
True
"""

from __future__ import annotations

import base64
import html
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import polars as pl

MISSING = "—"
Formatter = Callable[[Any], str]

_CSS = """
body { font: 14px/1.45 "DejaVu Sans", Helvetica, Arial, sans-serif; color: #222;
       margin: 0 auto; padding: 1em 2em; max-width: 1180px; background: #fff; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; } h2 { font-size: 1.2em; margin-top: 1.6em;
     border-bottom: 1px solid #ccc; } h3 { font-size: 1em; }
nav a { margin-right: 1em; } .lead { color: #555; }
figure { margin: 0.8em 0; } figure img { max-width: 100%; height: auto; display: block; }
figcaption { color: #444; font-size: 0.92em; margin-top: 0.3em; }
table { border-collapse: collapse; font-size: 0.86em; margin: 0.6em 0; }
th, td { border-bottom: 1px solid #ddd; padding: 2px 8px; text-align: left; }
th { background: #f3f3f3; } .num { text-align: right; }
tbody tr:nth-child(even) { background: #fafafa; } p.methods { max-width: 60em; }
@page { size: A4 landscape; margin: 12mm; }
@media print { body { max-width: none; padding: 0; font-size: 11px; } nav { display: none; }
  figure, table, tr { break-inside: avoid; } h2 { break-after: avoid; } }
"""


# Nothing outside the page may load: images only from data: URIs, styles only inline.
_POLICY = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


class Section(NamedTuple):
    """One part of the page: its anchor id, heading and HTML body."""

    anchor: str
    title: str
    body: str


def signed(x: float | None) -> str:
    """A shift: sign and three decimals (``—`` for null).

    >>> signed(0.1), signed(-2.0), signed(None)
    ('+0.100', '-2.000', '—')
    """
    return MISSING if x is None else f"{x:+.3f}"


def plain(x: float | None) -> str:
    """A level or count-like float with three decimals (``—`` for null)."""
    return MISSING if x is None else f"{x:.3f}"


def p_value(x: float | None) -> str:
    """A p- or q-value with three significant digits (``—`` for null).

    >>> p_value(0.04567), p_value(1.2e-7)
    ('0.0457', '1.2e-07')
    """
    return MISSING if x is None else f"{x:.3g}"


def _cell(value: Any, formatter: Formatter | None) -> str:
    if formatter is not None:
        return formatter(value)
    if value is None:
        return MISSING
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def table_html(
    name: str,
    frame: pl.DataFrame,
    formats: Mapping[str, Formatter] | None = None,
    headers: Mapping[str, str] | None = None,
) -> str:
    """``frame`` as an HTML table; ``formats`` per column, ``headers`` renames column heads."""
    formats = formats or {}
    headers = headers or {}
    attrs = {
        c: f'data-column="{html.escape(c)}"' + (' class="num"' if dtype.is_numeric() else "")
        for c, dtype in frame.schema.items()
    }
    head = "".join(f"<th {attrs[c]}>{html.escape(headers.get(c, c))}</th>" for c in frame.columns)
    body = "".join(
        "<tr>"
        + "".join(
            f"<td {attrs[c]}>{html.escape(_cell(v, formats.get(c)))}</td>"
            for c, v in zip(frame.columns, row, strict=True)
        )
        + "</tr>"
        for row in frame.iter_rows()
    )
    return (
        f'<table data-table="{html.escape(name)}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table>"
    )


def figure_html(name: str, svg: str, caption: str) -> str:
    """A figure: the SVG embedded as a ``data:`` URI, with its caption."""
    uri = "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode("ascii")
    return (
        f'<figure data-figure="{html.escape(name)}"><img alt="{html.escape(caption)}" '
        f'src="{uri}"><figcaption>{html.escape(caption)}</figcaption></figure>'
    )


def paragraph(text: str, css_class: str = "") -> str:
    """A paragraph of plain text (escaped)."""
    attr = f' class="{css_class}"' if css_class else ""
    return f"<p{attr}>{html.escape(text)}</p>"


def page_html(title: str, lead: str, sections: Sequence[Section]) -> str:
    """The whole page: title, one lead line, a contents line and the sections."""
    nav = " ".join(f'<a href="#{s.anchor}">{html.escape(s.title)}</a>' for s in sections)
    body = "".join(
        f'<section id="{s.anchor}"><h2>{html.escape(s.title)}</h2>{s.body}</section>'
        for s in sections
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_POLICY}">'
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>"
        f'<h1>{html.escape(title)}</h1><p class="lead">{html.escape(lead)}</p>'
        f"<nav>{nav}</nav>{body}</body></html>\n"
    )
