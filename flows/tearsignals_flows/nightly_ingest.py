"""``nightly-ingest``: every new inbox file into the silver lake, then re-analyse who gained data.

The run holds the lake's writer lock (:mod:`tearsignals.lake.lock`) from start to
end, including the analysis subflow. Taking the lock removes what a killed
run left behind; files without a committed log entry are simply ingested
again, and subjects whose analysis a crashed run never finished are still
marked pending, so a crashed run needs no manual repair.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact

from tearsignals import pipeline
from tearsignals.config import AnalysisConfig
from tearsignals.ingest import files
from tearsignals.lake import lock, privacy
from tearsignals_flows.analyze_episodes import analyze_episodes


def _key(key_file: str | None) -> bytes | None:
    """The pseudonymisation key (from the file, else the environment); never a flow parameter."""
    return privacy.load_key(Path(key_file) if key_file else None)


@task(name="ingest-subject", retries=2, retry_delay_seconds=2)
def ingest_subject(
    lake: str, inbox: str, subject_id: str, paths: list[str], key_file: str | None = None
) -> list[dict[str, object]]:
    """Ingest one subject's files in order (one task per subject, never per row or window)."""
    logger = get_run_logger()
    key = _key(key_file)
    stored_id = privacy.stored_subject_id(subject_id, key)
    with privacy.withheld_errors(f"ingest of subject {stored_id}"):
        reports = pipeline.ingest_subject_files(
            Path(lake), Path(inbox), subject_id, [Path(p) for p in paths], key
        )
    for report in reports:
        logger.info(
            "%s %s: %s, rows in %d = ok %d + quarantined %d + duplicate %d + skipped %d",
            report.subject_id, report.file_id[:12], report.status, report.rows_in,
            report.rows_ok, report.rows_quarantined, report.rows_duplicate, report.rows_skipped,
        )  # fmt: skip
    return [report.__dict__ for report in reports]


def _summary_markdown(reports: list[dict[str, object]]) -> str:
    head = (
        "| subject | file | format | status | in | ok | quarantined | duplicate | skipped |\n"
        "|---|---|---|---|---|---|---|---|---|\n"
    )
    rows = "".join(
        f"| {r['subject_id']} | {str(r['file_id'])[:12]} | {r['format']} | {r['status']} "
        f"| {r['rows_in']} | {r['rows_ok']} | {r['rows_quarantined']} | {r['rows_duplicate']} "
        f"| {r['rows_skipped']} |\n"
        for r in reports
    )
    return "# Nightly ingest\n\n" + head + rows


def _refused(inbox: str, key_file: str | None) -> list[str]:
    """One warning per inbox entry left unread (a link, a bad folder name), names withheld
    under a key."""
    logger = get_run_logger()
    lines = [r.line(_key(key_file)) for r in files.inbox_refusals(Path(inbox))]
    for line in lines:
        logger.warning("refused %s", line)
    return lines


def _ingest_all(inbox: str, lake: str, key_file: str | None) -> list[dict[str, object]]:
    """One ingest task per subject; the reports of the files committed by this run."""
    logger = get_run_logger()
    by_subject: dict[str, list[str]] = defaultdict(list)
    for subject_id, path in files.inbox_files(Path(inbox)):
        by_subject[subject_id].append(str(path))
    logger.info(
        "inbox has %d files for %d subjects", sum(map(len, by_subject.values())), len(by_subject)
    )
    futures = [
        ingest_subject.submit(lake, inbox, s, paths, key_file)
        for s, paths in sorted(by_subject.items())
    ]
    return [r for f in futures for r in f.result()]


@flow(name="nightly-ingest", log_prints=False)
def nightly_ingest(
    inbox: str,
    lake: str,
    analyze: bool = True,
    config: AnalysisConfig | None = None,
    pseudonymise_key_file: str | None = None,
) -> dict[str, object]:
    """Ingest every file not yet committed; re-analyse the subjects whose data changed.

    A file that fails is logged ``failed`` and the run goes on; an inbox entry
    refused (a symbolic link, an invalid subject folder name) is a warning and ``refused`` in the result.
    """
    logger = get_run_logger()
    files.check_apart(Path(inbox), Path(lake))
    with lock.lake_writer(Path(lake), "nightly-ingest", on_wait=logger.warning) as removed:
        if removed:
            logger.warning("removed %d files left by an interrupted run", removed)
        privacy.check_lake_mode(Path(lake), _key(pseudonymise_key_file))
        refused = _refused(inbox, pseudonymise_key_file)
        reports = _ingest_all(inbox, lake, pseudonymise_key_file)
        create_markdown_artifact(_summary_markdown(reports), key="nightly-ingest-summary")
        gained = sorted({str(r["subject_id"]) for r in reports if int(str(r["rows_ok"])) > 0})
        result: dict[str, object] = {
            "files": len(reports),
            "failed": sum(r["status"] == files.STATUS_FAILED for r in reports),
            "refused": refused,
            "subjects_gained": gained,
            "reports": reports,
        }
        stale = pipeline.subjects_to_analyse(Path(lake), gained)
        if analyze and stale:
            cfg = (config or AnalysisConfig()).model_copy(update={"subjects": tuple(stale)})
            result["analysis"] = analyze_episodes(lake=lake, config=cfg)
    return result
