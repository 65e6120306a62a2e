"""``nightly-ingest``: every new inbox file into the silver lake, then re-analyse who gained data."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact

from flows.analyze_episodes import analyze_episodes
from tearsignals import ingest
from tearsignals.config import AnalysisConfig


@task(name="ingest-subject", retries=2, retry_delay_seconds=2)
def ingest_subject(
    lake: str, inbox: str, subject_id: str, paths: list[str]
) -> list[dict[str, object]]:
    """Ingest one subject's files in order (one task per subject, never per row or window)."""
    logger = get_run_logger()
    reports = []
    for p in paths:
        report = ingest.ingest_file(Path(lake), Path(inbox), subject_id, Path(p))
        if report is None:
            continue
        logger.info(
            "%s %s: %s, rows in %d = ok %d + quarantined %d + duplicate %d",
            subject_id, report.file_id[:12], report.status, report.rows_in,
            report.rows_ok, report.rows_quarantined, report.rows_duplicate,
        )  # fmt: skip
        reports.append(report.__dict__)
    return reports


def _summary_markdown(reports: list[dict[str, object]]) -> str:
    head = "| subject | file | format | status | in | ok | quarantined | duplicate |\n|---|---|---|---|---|---|---|---|\n"
    rows = "".join(
        f"| {r['subject_id']} | {str(r['file_id'])[:12]} | {r['format']} | {r['status']} "
        f"| {r['rows_in']} | {r['rows_ok']} | {r['rows_quarantined']} | {r['rows_duplicate']} |\n"
        for r in reports
    )
    return "# Nightly ingest\n\n" + head + rows


@flow(name="nightly-ingest", log_prints=False)
def nightly_ingest(
    inbox: str, lake: str, analyze: bool = True, config: AnalysisConfig | None = None
) -> dict[str, object]:
    """Ingest every file not yet committed; re-analyse the subjects that gained rows."""
    logger = get_run_logger()
    by_subject: dict[str, list[str]] = defaultdict(list)
    for subject_id, path in ingest.inbox_files(Path(inbox)):
        by_subject[subject_id].append(str(path))
    logger.info(
        "inbox has %d files for %d subjects", sum(map(len, by_subject.values())), len(by_subject)
    )
    futures = [
        ingest_subject.submit(lake, inbox, s, paths) for s, paths in sorted(by_subject.items())
    ]
    reports = [r for f in futures for r in f.result()]
    create_markdown_artifact(_summary_markdown(reports), key="nightly-ingest-summary")
    gained = sorted({str(r["subject_id"]) for r in reports if int(str(r["rows_ok"])) > 0})
    result: dict[str, object] = {
        "files": len(reports),
        "subjects_gained": gained,
        "reports": reports,
    }
    if analyze and gained:
        cfg = (config or AnalysisConfig()).model_copy(update={"subjects": tuple(gained)})
        result["analysis"] = analyze_episodes(lake=lake, config=cfg)
    return result
