"""Statistics over shifts: summaries, the mixed model, the cohort time course."""
