"""The report's methods paragraph and parameters table, from a run's ``_analysis_params`` file.

Everything said about windows, cleaning, quality, controls and the spectrum
is read from the stored parameters (``read_params(lake, hash)["parameters"]``,
validated as :class:`~tearsignals.config.AnalysisConfig`), so the paragraph
describes the run that made the numbers; the estimand and the statistics are
the ones the code computes (``tearsignals.episodes.shifts``,
``tearsignals.stats.summaries``, ``tearsignals.stats.mixed_model``,
``tearsignals.stats.cohort_timecourse``).
"""

from __future__ import annotations

import platform
from collections.abc import Mapping, Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import Any, NamedTuple

from tearsignals.config import AnalysisConfig, CleaningConfig, WindowSpan, minutes_text

SOFTWARE = ("polars", "numpy", "scipy", "statsmodels", "matplotlib")


class Cohort(NamedTuple):
    """What the analysed data amount to: counts for the methods paragraph."""

    n_subjects: int
    n_episodes: int
    n_control_days: int


def analysis_config(document: Mapping[str, Any]) -> AnalysisConfig:
    """The :class:`AnalysisConfig` behind a stored parameters document."""
    return AnalysisConfig.model_validate(document["parameters"])


def _span_text(span: WindowSpan) -> str:
    if span.name == "during":
        return "during (onset to end)"
    anchor = "the onset" if span.start_anchor == "onset" else "the end"
    return f"{span.name} [{minutes_text(span.start_min)}, {minutes_text(span.end_min)}) min from {anchor}"


def windows_text(cfg: AnalysisConfig) -> str:
    """One sentence naming every window and its bounds."""
    spans = ", ".join(_span_text(s) for s in cfg.windows.spans())
    return f"Windows were locked to each logged episode's onset and end: {spans}."


def cleaning_text(cleaning: CleaningConfig) -> str:
    """How RR intervals were cleaned before any metric."""
    limits = f"intervals outside {cleaning.rr_min_ms:g}-{cleaning.rr_max_ms:g} ms were not NN"
    gap = (
        f"successive differences were used only between truly successive beats (a beat-time gap "
        f"more than {cleaning.gap_tolerance_ms:g} ms beyond the interval breaks succession)"
    )
    if cleaning.method == "lipponen":
        how = (
            "ectopic, missed, extra and long/short beats were detected by the method of Lipponen "
            f"& Tarvainen (2019; c1 {cleaning.lipponen_c1:g}, c2 {cleaning.lipponen_c2:g}, "
            f"alpha {cleaning.lipponen_alpha:g}, {cleaning.lipponen_window}-beat window, "
            f"threshold floor {cleaning.lipponen_floor_ms:g} ms"
            + (", residual gate on" if cleaning.lipponen_residual_gate else "")
            + ") and corrected"
            + (
                f" where the interval was not sinus-like (outside {cleaning.sinus_range[0]:g}-"
                f"{cleaning.sinus_range[1]:g} x the median of {cleaning.median_window} "
                f"neighbouring intervals, or {100 * cleaning.premature_change:g} % early then "
                "as much late: a premature beat and its pause)"
                if cleaning.lipponen_sinus_guard
                else ""
            )
        )
    else:
        how = (
            f"beats deviating more than {100 * cleaning.max_successive_change:g} % from the median "
            f"of {cleaning.median_window} neighbouring intervals were rejected"
        )
    return f"RR intervals were cleaned per subject: {how}; {limits}; {gap}."


def quality_text(cfg: AnalysisConfig) -> str:
    """The grading rule and which windows enter the shifts."""
    q = cfg.quality
    return (
        f"A window was good with coverage >= {100 * q.good_coverage:g} %, at most "
        f"{100 * q.good_max_artifact:g} % of beats flagged and at least {q.min_beats} NN intervals "
        f"(fair: coverage >= {100 * q.fair_coverage:g} %, <= {100 * q.fair_max_artifact:g} % "
        f"flagged), and poor whenever more than {q.max_pct_corrected:g} % of its beats were "
        f"corrected or {q.max_pct_missing:g} % of its span held no beat; windows on minute "
        "heart rate were graded on coverage and gave mean HR only. Poor windows, windows meeting "
        "another episode's effect span and windows without data enter no shift."
    )


def spectrum_text(cfg: AnalysisConfig) -> str:
    """The frequency-domain recipe."""
    f = cfg.frequency
    grid = (
        f"frequency step {f.lomb_df_hz:g} Hz"
        if f.lomb_df_hz is not None
        else f"frequency step 1/({f.lomb_oversampling:g} x the span of the window's NN beats)"
    )
    recipe = (
        f"a Lomb-Scargle periodogram of the NN series ({grid}, {f.lomb_scaling} scaling)"
        if f.method == "lomb"
        else f"Welch's method on the NN series interpolated at {f.welch_fs_hz:g} Hz"
    )
    return (
        f"LF ({f.lf_hz[0]:g}-{f.lf_hz[1]:g} Hz) and HF ({f.hf_hz[0]:g}-{f.hf_hz[1]:g} Hz) "
        f"power came from {recipe} in windows holding at least {f.min_clean_s:g} s of NN "
        "intervals." + segments_text(cfg)
    )


def segments_text(cfg: AnalysisConfig) -> str:
    """How windows of different lengths are compared (a sentence after the spectrum's)."""
    seg = cfg.windows.segment_min
    if seg <= 0:
        return " Every window was read whole, whatever its length."
    return (
        f" SDNN, SD2 and the spectral powers of a window longer than {seg:g} min are the mean "
        f"over its consecutive {seg:g}-min segments holding at least {cfg.frequency.min_clean_s:g}"
        " s of NN intervals (Task Force 1996), so windows of every length are compared over "
        "the same length; mean HR, RMSSD and pNN50 use the whole window."
    )


def estimand_text(cfg: AnalysisConfig) -> str:
    """The primary estimand and its matched controls."""
    w = cfg.windows
    return (
        "The primary estimand is the control-adjusted shift: a window's value minus the same "
        f"episode's baseline, minus the mean of the same shift on up to {w.n_controls} matched "
        "control days (the same local clock time on the nearest other days within "
        f"{w.control_search_days} days, with no logged episode within "
        f"{w.control_exclusion_h:g} h), chosen per window: the nearest days with data in "
        "that window and its baseline, so every window's adjusted shift rests on days "
        "measured in that window (n_controls per window and metric). The acute window ends "
        "at the episode end when the episode is shorter. The raw shift "
        "(without controls) is stored as a descriptive column only."
    )


def _families_text(cfg: AnalysisConfig) -> str:
    """The plan's primary outcome and secondary families, as a sentence part."""
    s = cfg.stats
    declared = "; ".join(
        f"{f.name}: {', '.join(f.metrics)}"
        + (f" in {', '.join(f.windows)}" if f.windows is not None else " in every window")
        for f in s.families
    )
    return (
        f"The primary outcome was the control-adjusted {s.primary.metric} shift in "
        f"{s.primary.window} (a family of one); secondary families ({declared or 'none'}) and "
        "the remaining adjusted rows (exploratory) were each corrected by Benjamini-Hochberg FDR"
    )


def statistics_text(cfg: AnalysisConfig) -> str:
    """How subject and cohort estimates, the model and the time course were computed."""
    s = cfg.stats
    tc = s.timecourse
    moderators = (
        f"; moderators ({', '.join(s.moderators)}) came from a second model, whose within-person "
        f"intensity slope was random where at least {s.random_slope_min_subjects} subjects had "
        "three or more episodes of differing intensity"
        if s.moderators
        else ""
    )
    covariates = (
        f"; a third model took the adjusted shifts of {', '.join(s.covariates)} in the same "
        "window as covariates"
        if s.covariates
        else ""
    )
    return (
        "Raw shifts are descriptive only. Per subject: mean adjusted shift with a 95 % "
        "t-interval over the subject's episodes. Cohort: the mean of subject means with a 95 % "
        "t-interval and a one-sample t-test over subject means (the subject as the unit) and "
        f"Cohen's dz. {_families_text(cfg)}. A linear mixed model with a random intercept per "
        "subject (REML, t-based CI with between-within degrees of freedom) was fitted per "
        f"declared window and metric{moderators}{covariates}. The "
        f"event-locked time course used {tc.bin_min:g}-min bins from {tc.start_min:g} to "
        f"{tc.end_min:g} min around onset and end, the same clock-time bins on the matched "
        "control days, averaged per subject, with a 95 % t-interval over subject means of the "
        "control-adjusted change."
    )


def robustness_text(cfg: AnalysisConfig) -> str:
    """The power table and the sensitivity runs (``sensitivity``, ``power``)."""
    p, s = cfg.stats.power, cfg.stats.sensitivity
    effect = (
        f"an adjusted shift of {p.effect:g}"
        if p.effect is not None
        else "half the fitted SD of one episode's shift"
    )
    baselines = ", ".join(
        f"[{minutes_text(lo)}, {minutes_text(hi)})"
        for lo, hi in dict.fromkeys((cfg.windows.baseline_min, *s.baselines_min))
    )
    methods_ = ", ".join(dict.fromkeys((cfg.cleaning.method, *s.cleaning_methods)))
    jitters = ", ".join(f"{d:+g}" for d in dict.fromkeys(s.onset_jitter_min) if d != 0)
    return (
        f"The power table (power) gives the subjects needed for {100 * p.target_power:g} % "
        f"power (two-sided alpha {p.alpha:g}) to detect {effect} in the primary outcome, per "
        "number of episodes per subject, from the base model's between- and within-subject "
        "variance components (non-central t over subject means). Sensitivity runs "
        "(sensitivity, when requested) re-estimated the primary outcome for every cleaning "
        f"method ({methods_}) x baseline ({baselines} min from the onset) x onset jitter "
        f"(none, {jitters or 'none'} min: every logged episode moved by that much)."
    )


def software_text(document: Mapping[str, Any]) -> str:
    """The versions behind the numbers (the analysis) and the report's libraries."""
    libraries = ", ".join(f"{name} {package_version(name)}" for name in SOFTWARE)
    return (
        f"Software: tearsignals {document.get('tearsignals_version', 'unknown')} (analysis), "
        f"Python {platform.python_version()}, {libraries}."
    )


def package_version(name: str) -> str:
    """The installed version of ``name``, or ``not installed``."""
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def methods_text(document: Mapping[str, Any], cohort: Cohort) -> str:
    """The generated methods paragraph of a report.

    >>> cfg = AnalysisConfig()
    >>> doc = {"params_hash": cfg.params_hash(), "parameters": cfg.hashed_parameters()}
    >>> text = methods_text(doc, Cohort(6, 24, 60))
    >>> "6 subjects" in text and "post_0_20 [0, 20) min from the end" in text
    True
    """
    cfg = analysis_config(document)
    data = (
        f"The analysis covered {cohort.n_episodes} episodes of {cohort.n_subjects} subjects "
        f"and {cohort.n_control_days} matched control days (parameters {document['params_hash']})."
    )
    parts = [
        data,
        windows_text(cfg),
        cleaning_text(cfg.cleaning),
        quality_text(cfg),
        spectrum_text(cfg),
        estimand_text(cfg),
        statistics_text(cfg),
        robustness_text(cfg),
        software_text(document),
    ]
    return " ".join(parts)


def parameter_rows(parameters: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """Every stored parameter as (dotted name, value text), in the document's key order.

    >>> parameter_rows({"windows": {"n_controls": 3, "pre_min": [-5.0, 0.0]}})
    [('windows.n_controls', '3'), ('windows.pre_min', '[-5.0, 0.0]')]
    """
    rows: list[tuple[str, str]] = []
    for key, value in parameters.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            rows += parameter_rows(value, f"{name}.")
        else:
            rows.append((name, _value_text(value)))
    return rows


def _value_text(value: Any) -> str:
    if isinstance(value, Sequence) and not isinstance(value, str):
        return "[" + ", ".join(_value_text(v) for v in value) + "]"
    return "null" if value is None else str(value)
