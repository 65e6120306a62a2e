"""What an HTML report shows, parsed with the standard library: tables by name, figures."""

from __future__ import annotations

from html.parser import HTMLParser


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[dict[str, str]]] = {}
        self.figures: list[str] = []
        self.image_sources: list[str] = []
        self._table: str | None = None
        self._row: dict[str, str] | None = None
        self._column: str | None = None
        self._text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {k: v or "" for k, v in attrs}
        if tag == "table":
            self._table = found.get("data-table", "")
            self.tables[self._table] = []
        elif tag == "tr" and self._table is not None:
            self._row = {}
        elif tag == "td" and self._row is not None:
            self._column, self._text = found["data-column"], ""
        elif tag == "figure":
            self.figures.append(found.get("data-figure", ""))
        elif tag == "img":
            self.image_sources.append(found.get("src", ""))

    def handle_data(self, data: str) -> None:
        if self._column is not None:
            self._text += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._row is not None and self._column is not None:
            self._row[self._column] = self._text
            self._column = None
        elif tag == "tr" and self._table is not None and self._row:
            self.tables[self._table].append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None


def parsed(text: str) -> _Page:
    """The page's tables (name -> rows of column -> shown text), figure names and image sources."""
    page = _Page()
    page.feed(text)
    return page


def number(text: str) -> float | None:
    """A shown number as a float (``—`` is null)."""
    return None if text == "—" else float(text)
