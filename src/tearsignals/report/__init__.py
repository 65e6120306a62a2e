"""Views of the lake for people: the HTML report, the status screen, text and markdown tables."""

from tearsignals.report.document import latest_params_hash, report_html, write_report
from tearsignals.report.text import (
    cohort_markdown,
    cohort_rows,
    cohort_text,
    power_text,
    sensitivity_text,
)

__all__ = [
    "cohort_markdown",
    "cohort_rows",
    "cohort_text",
    "latest_params_hash",
    "power_text",
    "report_html",
    "sensitivity_text",
    "write_report",
]
