"""Prefect 3 flows that wire the tearsignals library: the only place that imports Prefect."""
