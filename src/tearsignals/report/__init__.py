"""Views of the lake for people: text and markdown tables."""

from tearsignals.report.text import cohort_markdown, cohort_rows, cohort_text

__all__ = ["cohort_markdown", "cohort_rows", "cohort_text"]
