"""The ingest steps of a whole inbox without Prefect, for unit tests of ingest itself.

The nightly flow (``tearsignals_flows.nightly_ingest``) is the only orchestration
of the product and the fault and integration tests drive it; unit tests of
file-level behaviour call the same steps in the flow's order through
:func:`ingest_every_file`.
"""

from __future__ import annotations

from pathlib import Path

from tearsignals import pipeline
from tearsignals.ingest import files


def ingest_every_file(lake: Path, inbox: Path, key: bytes | None = None) -> list[files.FileReport]:
    """The reports of every inbox file not yet committed, subject by subject, as the flow's
    tasks produce them (InputError when the lake and the inbox are not apart)."""
    files.check_apart(inbox, lake)
    return [
        report
        for subject_id, paths in pipeline.inbox_by_subject(inbox).items()
        for report in pipeline.ingest_subject_files(lake, inbox, subject_id, paths, key)
    ]
