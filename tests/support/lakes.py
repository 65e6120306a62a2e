"""One small analysed lake for the tests that read a finished analysis (report, notebook, status).

Three synthetic subjects over eight days with the default planted effect;
``S03`` records minute heart rate only, the others RR. Built by the real
``nightly-ingest`` flow (ingest, then its analysis subflow, which writes the
report), so callers need the test session's Prefect server.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from tearsignals import report
from tearsignals.config import AnalysisConfig
from tearsignals.lake import layout
from tearsignals.report import document, frames, methods
from tearsignals.synth import SynthConfig, write_cohort
from tearsignals_flows.nightly_ingest import nightly_ingest

COHORT = SynthConfig(n_subjects=3, n_days=8, seed=5, episodes_per_month=12.0, minute_hr_every=3)
CONFIG = AnalysisConfig()


@dataclass(frozen=True)
class AnalysedLake:
    """The lake, its inbox, the parameter set of its analysis and the report written for it."""

    lake: Path
    inbox: Path
    params_hash: str
    report: Path


def analysed_lake(root: Path) -> AnalysedLake:
    """Synthesise, ingest and analyse :data:`COHORT` under ``root``; write its report."""
    inbox, lake = root / "inbox", root / "lake"
    write_cohort(inbox, COHORT)
    nightly_ingest(inbox=str(inbox), lake=str(lake), config=CONFIG)
    params_hash = CONFIG.params_hash()
    return AnalysedLake(lake, inbox, params_hash, layout.report_path(lake, params_hash))


def planted_effect_in_view(lake: Path) -> dict[str, float]:
    """What the report's figures show at the planted effect (the default ``PlantedEffect``).

    ``curve_min``: the lowest cohort ln RMSSD change over the ``post_0_20`` bins
    after the end; ``band_high``: the upper 95% bound of the matched controls'
    shift there; ``ln_rmssd_ci_low`` / ``hr_during_ci_low``: the lower CI bound of
    the forest plot's cohort diamonds at the two planted pairs.
    """
    inputs = document.read_inputs(lake, report.latest_params_hash(lake))
    spans = methods.analysis_config(inputs.document).windows.spans()
    band = frames.control_bands(inputs.episode_shifts, spans).filter(
        (pl.col("metric") == "ln_rmssd") & (pl.col("window") == "post_0_20")
    )
    curve = inputs.cohort_timecourse.filter(
        (pl.col("anchor") == "end") & (pl.col("metric") == "ln_rmssd")
        & (pl.col("measure") == "change")
        & (pl.col("bin_start_min") >= 0) & (pl.col("bin_end_min") <= 20)
    )  # fmt: skip
    forest = frames.forest_rows(
        inputs.subject_summary, inputs.cohort_summary, ["mean_hr_bpm", "ln_rmssd"],
        ["during", "post_0_20"],
    ).filter(pl.col("is_cohort"))  # fmt: skip
    low = {(m, w): lo for m, w, lo in forest.select("metric", "window", "ci_low").iter_rows()}
    return {
        "curve_min": float(curve["mean_value"].min()),  # type: ignore[arg-type]
        "band_high": float(band["ci_high"][0]),
        "ln_rmssd_ci_low": low[("ln_rmssd", "post_0_20")],
        "hr_during_ci_low": low[("mean_hr_bpm", "during")],
    }
