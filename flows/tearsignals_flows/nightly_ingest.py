"""``nightly-ingest``: every new inbox file into the silver lake, then re-analyse who gained data.

The run holds the lake's writer lock (:mod:`tearsignals.lake.lock`) from start to
end, including the analysis subflow. Taking the lock removes what a killed
run left behind; files without a committed log entry are simply ingested
again, and subjects whose analysis a crashed run never finished are still
marked pending, so a crashed run needs no manual repair.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.runtime import task_run

from tearsignals import pipeline
from tearsignals.config import AnalysisConfig
from tearsignals.ingest import files
from tearsignals.lake import lock, privacy
from tearsignals_flows.analyze_episodes import analyze_episodes


def _key(key_file: str | None) -> bytes | None:
    """The pseudonymisation key (from the file, else the environment); never a flow parameter."""
    return privacy.load_key(Path(key_file) if key_file else None)


def _run_name() -> str:
    """``nightly-ingest 2026-12-04``: the UTC day the run started."""
    return f"nightly-ingest {datetime.now(UTC).date().isoformat()}"


def _task_name() -> str:
    """``ingest S01``, with the subject as the lake names it (its pseudonym under a key)."""
    parameters = task_run.parameters
    key = _key(parameters.get("key_file"))
    return f"ingest {privacy.stored_subject_id(parameters['subject_id'], key)}"


@task(name="ingest-subject", task_run_name=_task_name, retries=2, retry_delay_seconds=2)
def ingest_subject(
    lake: str, inbox: str, subject_id: str, paths: list[str], key_file: str | None = None
) -> list[files.FileReport]:
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
    return reports


def _summary_markdown(reports: list[files.FileReport]) -> str:
    head = (
        "| subject | file | format | status | in | ok | quarantined | duplicate | skipped |\n"
        "|---|---|---|---|---|---|---|---|---|\n"
    )
    rows = "".join(
        f"| {r.subject_id} | {r.file_id[:12]} | {r.format} | {r.status} | {r.rows_in} "
        f"| {r.rows_ok} | {r.rows_quarantined} | {r.rows_duplicate} | {r.rows_skipped} |\n"
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


def _ingest_all(inbox: str, lake: str, key_file: str | None) -> list[files.FileReport]:
    """One ingest task per subject; the reports of the files committed by this run."""
    logger = get_run_logger()
    by_subject = pipeline.inbox_by_subject(Path(inbox))
    logger.info(
        "inbox has %d files for %d subjects", sum(map(len, by_subject.values())), len(by_subject)
    )
    futures = [
        ingest_subject.submit(lake, inbox, s, [str(p) for p in paths], key_file)
        for s, paths in by_subject.items()
    ]
    return [r for f in futures for r in f.result()]


@flow(name="nightly-ingest", flow_run_name=_run_name, log_prints=False)
def nightly_ingest(
    inbox: str,
    lake: str,
    analyze: bool = True,
    config: AnalysisConfig | None = None,
    pseudonymise_key_file: str | None = None,
) -> dict[str, object]:
    """Ingest every file not yet committed; re-analyse the subjects whose data changed.

    A file that fails is logged ``failed`` and the run goes on; an inbox entry
    refused (a symbolic link, an invalid subject folder name) is a warning.
    Returns ``files`` (how many were committed), ``failed``, ``refused`` (one
    line each), ``reports`` (their :class:`~tearsignals.ingest.files.FileReport`),
    ``subjects_gained``, ``leftovers_removed`` (files of an interrupted run
    removed on taking the lock) and, when it ran, the ``analysis`` result.
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
        gained = pipeline.subjects_gained(reports)
        result: dict[str, object] = {
            "files": len(reports),
            "failed": sum(r.status == files.STATUS_FAILED for r in reports),
            "refused": refused,
            "subjects_gained": gained,
            "reports": reports,
            "leftovers_removed": removed,
        }
        stale = pipeline.subjects_to_analyse(Path(lake), gained)
        if analyze and stale:
            cfg = (config or AnalysisConfig()).model_copy(update={"subjects": tuple(stale)})
            result["analysis"] = analyze_episodes(lake=lake, config=cfg)
    return result
