"""Deployments: nightly ingest on a cron schedule, analysis triggered by hand."""

from __future__ import annotations

from pathlib import Path
from typing import cast

from prefect import serve
from prefect.deployments.runner import RunnerDeployment
from prefect.schedules import Cron

from tearsignals_flows.analyze_episodes import analyze_episodes
from tearsignals_flows.nightly_ingest import nightly_ingest


def build_deployments(
    inbox: Path, lake: Path, cron: str, timezone: str, key_file: Path | None = None
) -> list[RunnerDeployment]:
    """The two deployments, ready for ``prefect.serve``.

    A pseudonymisation key file is passed by path; the key itself never
    becomes a parameter (parameters are stored in Prefect's database).
    """
    parameters = {"inbox": str(inbox), "lake": str(lake)}
    if key_file is not None:
        parameters["pseudonymise_key_file"] = str(key_file)
    nightly = nightly_ingest.to_deployment(
        name="nightly",
        schedule=Cron(cron, timezone=timezone),
        parameters=parameters,
        description="Ingest new exports from the inbox; re-analyse subjects that gained data.",
    )
    manual = analyze_episodes.to_deployment(
        name="manual",
        parameters={"lake": str(lake)},
        description=(
            "Recompute windows, HRV, shifts and summaries (sensitivity=true adds the "
            "sensitivity runs); parameters validated by pydantic."
        ),
    )
    # ``to_deployment`` is typed for sync and async callers; called synchronously it
    # returns the deployment itself, never a coroutine
    return [cast(RunnerDeployment, nightly), cast(RunnerDeployment, manual)]


def serve_deployments(
    inbox: Path, lake: Path, cron: str, timezone: str, key_file: Path | None = None
) -> None:
    serve(*build_deployments(inbox, lake, cron, timezone, key_file))
