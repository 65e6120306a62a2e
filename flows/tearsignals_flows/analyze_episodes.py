"""``analyze-episodes``: windows, HRV, shifts and summaries for chosen subjects.

The run holds the lake's writer lock (:mod:`tearsignals.lake.lock`) from start to
end, so it never interleaves with a nightly ingest; when the lock is busy it
logs who holds it and waits.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact

from tearsignals import pipeline, report
from tearsignals.config import AnalysisConfig
from tearsignals.lake import lock, privacy


def _run_name() -> str:
    """``analyze-episodes 2026-12-04``: the UTC day the run started."""
    return f"analyze-episodes {datetime.now(UTC).date().isoformat()}"


@task(
    name="analyze-subject", task_run_name="analyze {subject_id}", retries=1, retry_delay_seconds=2
)
def analyze_subject(lake: str, subject_id: str, config: AnalysisConfig) -> dict[str, int]:
    """Recompute and replace one subject's gold partitions."""
    with privacy.withheld_errors(f"analysis of subject {subject_id}"):
        return pipeline.analyze_subject(Path(lake), subject_id, config)


@task(name="summarize-cohort", retries=1, retry_delay_seconds=2)
def summarize_cohort(lake: str, config: AnalysisConfig) -> int:
    with privacy.withheld_errors("cohort summary"):
        return pipeline.summarize_cohort(Path(lake), config).height


@task(name="sensitivity-runs", retries=1, retry_delay_seconds=2)
def sensitivity_runs(lake: str, config: AnalysisConfig) -> int:
    with privacy.withheld_errors("sensitivity runs"):
        return pipeline.sensitivity_runs(Path(lake), config).height


@flow(name="analyze-episodes", flow_run_name=_run_name, validate_parameters=True)
def analyze_episodes(
    lake: str, config: AnalysisConfig = AnalysisConfig(), sensitivity: bool = False
) -> dict[str, object]:
    """Analyse the selected subjects (all by default), then rebuild the cohort summary;
    with ``sensitivity``, re-estimate the primary outcome over the plan's sensitivity
    variants (the ``sensitivity`` table) before the report is written."""
    logger = get_run_logger()
    with lock.lake_writer(Path(lake), "analyze-episodes", on_wait=logger.warning) as removed:
        if removed:
            logger.warning("removed %d files left by an interrupted run", removed)
        subjects = pipeline.select_subjects(Path(lake), config.subjects)
        if not subjects:
            logger.warning("the lake holds no episodes yet: nothing to analyse")
            return {"subjects": {}, "cohort_rows": 0, "sensitivity_rows": 0,
                    "params_hash": config.params_hash(), "leftovers_removed": removed}  # fmt: skip
        logger.info("analysing %d subjects with parameters %s", len(subjects), config.params_hash())
        futures = {s: analyze_subject.submit(lake, s, config) for s in subjects}
        counts = {s: f.result() for s, f in futures.items()}
        n_rows = summarize_cohort(lake, config)
        n_variants = sensitivity_runs(lake, config) if sensitivity else 0
        pipeline.analysis_done(Path(lake), subjects)
        cohort = pipeline.read_cohort_summary(Path(lake))
        report_path = report.write_report(Path(lake), config.params_hash())
    markdown = report.cohort_markdown(cohort, config.windows.names(), report_path)
    create_markdown_artifact(markdown, key="cohort-summary")
    logger.info("cohort summary has %d rows", n_rows)
    return {
        "subjects": counts,
        "cohort_rows": n_rows,
        "sensitivity_rows": n_variants,
        "params_hash": config.params_hash(),
        "leftovers_removed": removed,
    }
