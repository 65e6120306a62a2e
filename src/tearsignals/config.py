"""Typed, frozen configuration: the analysis parameters are also the flow's parameter model."""

from __future__ import annotations

import hashlib
import math
from datetime import date
from itertools import pairwise
from typing import Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def validation_summary(err: ValidationError) -> str:
    """The first problem of a failed validation as one line: ``where: what``.

    >>> try:
    ...     WindowConfig(n_controls=-1)
    ... except ValidationError as err:
    ...     print(validation_summary(err))
    n_controls: Input should be greater than or equal to 0
    """
    first = err.errors()[0]
    where = ".".join(str(x) for x in first["loc"])
    message = str(first["msg"]).removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


def minutes_text(minutes: float) -> str:
    """A bound in minutes as it appears in a window name: whole numbers without a fraction.

    Other values keep Python's shortest exact decimal, so distinct bounds give
    distinct names; a negative bound keeps its sign.

    >>> [minutes_text(m) for m in (0.0, 30.0, 22.5, -5.0, 7.25)]
    ['0', '30', '22.5', '-5', '7.25']
    """
    return str(int(minutes)) if float(minutes).is_integer() else repr(float(minutes))


def post_window_name(start_min: float, end_min: float) -> str:
    """The name of the end-locked window ``[end + start_min, end + end_min)``.

    >>> post_window_name(0, 20), post_window_name(0, 22.5)
    ('post_0_20', 'post_0_22.5')
    """
    return f"post_{minutes_text(start_min)}_{minutes_text(end_min)}"


class WindowSpan(NamedTuple):
    """One analysis window: its name and bounds, each in minutes after an anchor."""

    name: str
    start_anchor: Literal["onset", "end"]
    start_min: float
    end_anchor: Literal["onset", "end"]
    end_min: float
    within_episode: bool = False  # ends at the episode end at the latest (acute)


class WindowConfig(_Frozen):
    """Window bounds in minutes. Onset-locked windows are relative to the episode
    onset, end-locked post bins relative to its end (DESIGN.md, analysis definitions).

    :meth:`spans` is the one list of the analysis windows, in order: ``baseline``,
    ``pre``, ``acute`` (cut at the episode end when the episode is shorter),
    ``during`` (onset to end), then one window per post bin,
    named after its bounds by :func:`post_window_name` (``post_0_20`` spans the
    first 20 minutes after the end; ``post_0_22.5`` the first 22.5). Post bins are
    at least one, ordered by start (ties by end) and distinct.

    Windows differ in length (baseline 5 min, post bins 20-40 min), and SDNN,
    SD2 and spectral powers grow with the length of the record, so a window
    longer than ``segment_min`` reads them as the mean over its consecutive
    ``segment_min`` segments (``tearsignals.episodes.window_metrics``).

    >>> WindowConfig(post_bins_min=((0, 30), (30, 60), (60, 120))).names()[3:]
    ('during', 'post_0_30', 'post_30_60', 'post_60_120')
    """

    baseline_min: tuple[float, float] = (-10.0, -5.0)
    pre_min: tuple[float, float] = (-5.0, 0.0)
    acute_min: tuple[float, float] = (0.0, 4.0)
    post_bins_min: tuple[tuple[float, float], ...] = Field(
        ((0.0, 20.0), (20.0, 60.0), (60.0, 90.0)), min_length=1
    )
    n_controls: int = Field(3, ge=0, le=30)
    control_search_days: int = Field(14, ge=1, le=365)
    control_exclusion_h: float = Field(3.0, ge=0.0)
    segment_min: float = Field(
        5.0,
        ge=0.0,
        description="length-dependent metrics of a longer window: mean over consecutive "
        "segments of this many minutes (Task Force 1996: 5); 0 reads the whole window",
    )

    @model_validator(mode="after")
    def _ordered(self) -> WindowConfig:
        spans = [self.baseline_min, self.pre_min, self.acute_min, *self.post_bins_min]
        for lo, hi in spans:
            if not (math.isfinite(lo) and math.isfinite(hi)):
                raise ValueError(f"window ({lo}, {hi}) needs finite bounds")
            if not lo < hi:
                raise ValueError(f"window ({lo}, {hi}) must have start < end")
        if any(not a < b for a, b in pairwise(self.post_bins_min)):
            raise ValueError("post bins must be distinct and ordered by start (then end)")
        return self

    def spans(self) -> tuple[WindowSpan, ...]:
        """Every analysis window in analysis order, with its anchored bounds."""
        onset_locked = {"baseline": self.baseline_min, "pre": self.pre_min, "acute": self.acute_min}
        return (
            *(
                WindowSpan(name, "onset", lo, "onset", hi, within_episode=name == "acute")
                for name, (lo, hi) in onset_locked.items()
            ),
            WindowSpan("during", "onset", 0.0, "end", 0.0),
            *(
                WindowSpan(post_window_name(lo, hi), "end", lo, "end", hi)
                for lo, hi in self.post_bins_min
            ),
        )

    def names(self) -> tuple[str, ...]:
        """The window names in analysis order; the first, ``baseline``, is the reference.

        >>> WindowConfig().names()
        ('baseline', 'pre', 'acute', 'during', 'post_0_20', 'post_20_60', 'post_60_90')
        """
        return tuple(span.name for span in self.spans())

    def effect_end_min(self) -> float:
        """Minutes after the episode end that its effect span reaches (the latest post-bin end)."""
        return max(hi for _, hi in self.post_bins_min)


class CleaningConfig(_Frozen):
    """RR cleaning before metrics (``tearsignals.beats.cleaning.clean_series``).

    ``method="lipponen"`` (default) detects ectopic, missed, extra and long/short
    beats by Lipponen & Tarvainen (2019), the Kubios method, and *corrects* them
    (``tearsignals.beats.correction``); ``"median"`` is the simple rule: physiological
    limits plus a deviation from the local median, flagged beats *rejected*.
    Both apply ``rr_min_ms``/``rr_max_ms`` to the (corrected) intervals and
    ``gap_tolerance_ms`` to decide which intervals are truly successive.

    Lipponen is the default with three guards, each earned on real recordings
    (``tests/golden/test_artifacts_real.py``, docs/validation.md section 5):
    ``lipponen_floor_ms`` (without it ~7 % of 128-Hz-quantised sinus beats are
    flagged); ``lipponen_sinus_guard`` (without it normal sinus arrhythmia is
    "corrected": RMSSD of nsr001's all-N windows median -3 %, worst -28 %):
    a label is acted on only where the interval is not *sinus-like* - outside
    ``sinus_range`` times its local median, or in a premature pair (one
    ``premature_change`` short of the median, the next as much above it: an
    ectopic beat and its compensatory pause); and ``lipponen_residual_gate``
    (without it sustained bigeminy/trigeminy passes as normal: the adaptive
    thresholds grow with the ectopic pattern), which rejects corrected intervals
    that are still not sinus-like.
    """

    method: Literal["median", "lipponen"] = "lipponen"
    rr_min_ms: float = Field(300.0, gt=0)
    rr_max_ms: float = Field(2000.0, gt=0)
    max_successive_change: float = Field(
        0.2,
        gt=0,
        le=1.0,
        description="median rule: largest relative deviation from the local median RR",
    )
    median_window: int = Field(
        11,
        ge=3,
        description="beats in the local median (odd); both methods (Lipponen's mRR, sinus_range)",
    )
    gap_tolerance_ms: float = Field(
        250.0, ge=0, description="beat time gap beyond rr_ms by more than this breaks succession"
    )
    lipponen_c1: float = Field(0.13, ge=0, description="lipponen: slope of the ectopic boundary")
    lipponen_c2: float = Field(0.17, ge=0, description="lipponen: offset of the ectopic boundary")
    lipponen_alpha: float = Field(
        5.2, gt=0, description="lipponen: thresholds = alpha x quartile deviation"
    )
    lipponen_window: int = Field(
        91, ge=5, description="lipponen: beats in the quartile-deviation window (odd)"
    )
    lipponen_floor_ms: float = Field(
        50.0,
        ge=0,
        description="lipponen: least threshold (ms); 0 = the paper (see tearsignals.beats.correction)",
    )
    lipponen_sinus_guard: bool = Field(
        True,
        description="lipponen: act on a label only where the interval is not sinus-like "
        "(False: every label, as the paper)",
    )
    lipponen_residual_gate: bool = Field(
        True, description="lipponen: reject corrected intervals that are still not sinus-like"
    )
    sinus_range: tuple[float, float] = Field(
        (0.7, 1.4),
        description="lipponen: interval / local median range of sinus rhythm",
    )
    premature_change: float = Field(
        0.15,
        gt=0,
        lt=1,
        description="lipponen: a premature pair is an interval this share below its local "
        "median followed by one this share above it",
    )

    @model_validator(mode="after")
    def _sinus_range_brackets_one(self) -> CleaningConfig:
        lo, hi = self.sinus_range
        if not 0 < lo < 1 < hi:
            raise ValueError("sinus_range needs 0 < low < 1 < high")
        return self


class FrequencyConfig(_Frozen):
    """Frequency-domain HRV (``tearsignals.hrv.frequency_domain``): method, bands and gating.

    ``lomb`` is the PhysioNet Cardiovascular Signal Toolbox recipe (Lomb-Scargle
    on the uneven NN series, band sums times the grid step) on a grid tied to
    each window: step ``1 / (lomb_oversampling * T)``, ``T`` the span of the
    window's NN beats (the toolbox's fixed ``1/1024`` Hz is coarser than the
    periodogram's peaks, ``1/T`` wide, in windows over ~17 min; ``lomb_df_hz``
    fixes the step instead). Its raw scaling makes band powers proportional to the beat rate, so
    ``lomb_scaling="density"`` (the default) multiplies by the mean sampling
    interval to give ms^2 whose total matches the NN variance;
    ``"toolbox"`` reproduces the toolbox's numbers. ``welch`` is the ``hrv``
    package recipe (cubic interpolation, Welch with a Hann window, trapezoid
    band areas). Bands are half-open ``[lo, hi)`` in Hz; ``tp_ms2`` is the
    power below ``hf_hz[1]``. ``detrend="smoothness_priors"`` removes a slow
    trend from each window's NN series (Tarvainen et al. 2002, ``detrend_lambda``)
    before either spectrum.
    """

    method: Literal["lomb", "welch"] = "lomb"
    vlf_hz: tuple[float, float] = (0.0033, 0.04)
    lf_hz: tuple[float, float] = (0.04, 0.15)
    hf_hz: tuple[float, float] = (0.15, 0.4)
    min_clean_s: float = Field(
        default=120.0, gt=0, description="seconds of NN intervals a window needs for LF/HF"
    )
    lomb_oversampling: float = Field(
        default=4.0,
        ge=1.0,
        description="Lomb grid step = 1 / (lomb_oversampling x the span of the window's NN beats)",
    )
    lomb_df_hz: float | None = Field(
        default=None,
        gt=0,
        description="fixed Lomb grid step (Hz) instead of the span-tied one (the toolbox: 1/1024)",
    )
    lomb_scaling: Literal["density", "toolbox"] = "density"
    welch_fs_hz: float = Field(default=4.0, gt=0, description="interpolation rate for Welch")
    welch_nperseg: int = Field(default=256, ge=8)
    welch_noverlap: int = Field(default=128, ge=0)
    detrend: Literal["none", "smoothness_priors"] = Field(
        default="none",
        description="NN-series detrending before the spectrum (Tarvainen et al. 2002)",
    )
    detrend_lambda: float = Field(default=500.0, gt=0, description="smoothness-priors lambda")

    @model_validator(mode="after")
    def _bands(self) -> FrequencyConfig:
        bands = (self.vlf_hz, self.lf_hz, self.hf_hz)
        if any(not 0 <= lo < hi for lo, hi in bands) or any(
            a[1] > b[0] for a, b in pairwise(bands)
        ):
            raise ValueError("bands need 0 <= lo < hi and must not overlap, in order VLF, LF, HF")
        if self.welch_noverlap >= self.welch_nperseg:
            raise ValueError("welch_noverlap must be smaller than welch_nperseg")
        if self.hf_hz[1] > self.welch_fs_hz / 2:
            raise ValueError("hf_hz upper edge must not exceed welch_fs_hz / 2")
        return self


class QualityConfig(_Frozen):
    """Grades per window. ``good`` needs coverage and a low artifact rate.

    ``max_pct_corrected`` and ``max_pct_missing`` are the PhysioNet
    Cardiovascular Signal Toolbox rejection rules (``RejectionThreshold`` 0.2,
    ``MissingDataThreshold`` 0.15): an ``rr`` window with more of its beats
    corrected, or more of its span without beats, is ``poor`` whatever else holds.
    """

    good_coverage: float = Field(0.6, ge=0, le=1)
    fair_coverage: float = Field(0.4, ge=0, le=1)
    good_max_artifact: float = Field(0.05, ge=0, le=1)
    fair_max_artifact: float = Field(0.2, ge=0, le=1)
    min_beats: int = Field(30, ge=2)
    max_pct_corrected: float = Field(
        20.0, ge=0, le=100, description="percent of beats corrected above which a window is poor"
    )
    max_pct_missing: float = Field(
        15.0, ge=0, le=100, description="percent of the span without beats above which it is poor"
    )


class TimecourseConfig(_Frozen):
    """Event-locked time course (``tearsignals.episodes.timecourse``): bins and per-bin quality.

    Bins of ``bin_min`` minutes run from ``start_min`` to ``end_min`` around the
    episode onset and, separately, around its end. A bin's values count only
    when its coverage, artifact rate and clean-beat count pass the thresholds.
    """

    bin_min: float = Field(2.0, ge=1.0, le=2.0, description="bin width, minutes")
    start_min: float = Field(-30.0, le=0.0, description="first bin start vs the anchor")
    end_min: float = Field(120.0, gt=0.0, description="last bin end vs the anchor")
    min_coverage: float = Field(0.6, ge=0, le=1)
    max_artifact: float = Field(0.2, ge=0, le=1)
    min_nn: int = Field(20, ge=2, description="clean intervals a bin needs for HR/ln RMSSD")

    @model_validator(mode="after")
    def _whole_bins(self) -> TimecourseConfig:
        n = (self.end_min - self.start_min) / self.bin_min
        if abs(n - round(n)) > 1e-9:
            raise ValueError("end_min - start_min must be a whole number of bins")
        return self


class SensitivityConfig(_Frozen):
    """Sensitivity runs of the primary analysis (``tearsignals.stats.sensitivity``).

    The primary outcome is re-estimated (``cohort_summary``'s t-interval over
    subject means) for every combination of a cleaning method, a baseline window
    and an onset jitter: each list is joined with the plan's own choice (its
    ``cleaning.method``, ``windows.baseline_min`` and no jitter), so the grid
    always holds the primary analysis itself. A jitter of ``d`` minutes moves
    every logged episode (onset and end) by ``d``: crying logs are written after
    the fact, so the logged onset may be minutes off.
    """

    cleaning_methods: tuple[Literal["median", "lipponen"], ...] = ("lipponen", "median")
    baselines_min: tuple[tuple[float, float], ...] = Field(
        ((-10.0, -5.0), (-20.0, -10.0)),
        description="baseline windows (minutes from the onset) besides the plan's",
    )
    onset_jitter_min: tuple[float, ...] = Field(
        (-5.0, -2.0, 2.0), description="shifts of every logged episode, minutes (0: none)"
    )

    @model_validator(mode="after")
    def _finite(self) -> SensitivityConfig:
        for lo, hi in self.baselines_min:
            if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
                raise ValueError(f"baseline ({lo}, {hi}) needs finite bounds with start < end")
        if not all(math.isfinite(d) and abs(d) <= 60.0 for d in self.onset_jitter_min):
            raise ValueError("onset jitters must be finite and within 60 minutes")
        return self


class ClockConfig(_Frozen):
    """Clock offsets between a subject's sources (``tearsignals.beats.clock_offset``).

    Two devices worn at once (a watch and a chest strap) rarely agree on the
    time. Before source priority each source's heart rate is compared with the
    reference source's (the best origin present) on a grid of ``bin_s`` seconds,
    and the lag within ``max_lag_min`` that maximises their correlation is the
    source's offset. It is applied only where the sources overlap for at least
    ``min_overlap_min`` minutes, the correlation reaches ``min_correlation``, and
    the offsets estimated on each UTC day of the overlap agree within
    ``max_day_spread_s``. A ``heart_rate`` sample stands for the mean heart rate
    of the ``hr_span_s`` seconds from its stamp on (minute HR stamped at the
    minute's start); beat-derived HR is averaged over the same span.
    """

    enabled: bool = Field(True, description="estimate and apply clock offsets before priority")
    bin_s: float = Field(5.0, gt=0.0, le=60.0, description="grid step of the HR series, seconds")
    hr_span_s: float = Field(
        60.0, gt=0.0, le=600.0, description="seconds a heart_rate sample stands for, from its stamp"
    )
    max_lag_min: float = Field(15.0, gt=0.0, le=180.0, description="largest offset searched")
    min_overlap_min: float = Field(
        30.0, gt=0.0, description="minutes both sources need in common for an estimate"
    )
    min_correlation: float = Field(
        0.5, gt=0.0, le=1.0, description="weaker best correlations are not applied"
    )
    max_day_spread_s: float = Field(
        30.0, ge=0.0, description="daily estimates further apart than this are inconsistent"
    )


class PowerConfig(_Frozen):
    """The power table (``tearsignals.stats.power``): subjects x episodes for a target power.

    ``effect`` is the control-adjusted shift to detect, in the primary metric's
    unit; ``None`` takes half the fitted SD of one episode's shift,
    ``0.5 sqrt(tau^2 + sigma^2)`` (a medium standardised effect).
    """

    effect: float | None = Field(None, description="effect to detect (primary metric's unit)")
    target_power: float = Field(0.8, gt=0.0, lt=1.0)
    alpha: float = Field(0.05, gt=0.0, lt=1.0, description="two-sided test level")
    episodes_per_subject: tuple[int, ...] = Field(
        (1, 2, 3, 4, 6, 8, 12), min_length=1, description="designs to size (episodes each)"
    )
    max_subjects: int = Field(1000, ge=3, description="larger designs: subjects_needed null")

    @model_validator(mode="after")
    def _positive(self) -> PowerConfig:
        if any(m < 1 for m in self.episodes_per_subject):
            raise ValueError("episodes_per_subject must be >= 1")
        if self.effect is not None and not (math.isfinite(self.effect) and self.effect != 0):
            raise ValueError("effect must be a finite, non-zero number")
        return self


class Outcome(_Frozen):
    """One result row of the analysis: the control-adjusted shift of ``metric`` in ``window``."""

    metric: str = Field(min_length=1)
    window: str = Field(min_length=1)


FAMILY_NAME = r"^[a-z][a-z0-9_]*$"
RESERVED_FAMILIES = ("primary", "exploratory")


class Family(_Frozen):
    """A declared family of secondary outcomes: ``metrics`` x ``windows`` (``None``: every
    window but baseline). The Benjamini-Hochberg correction runs within each family."""

    name: str = Field(pattern=FAMILY_NAME)
    metrics: tuple[str, ...] = Field(min_length=1)
    windows: tuple[str, ...] | None = None

    @model_validator(mode="after")
    def _not_reserved(self) -> Family:
        if self.name in RESERVED_FAMILIES:
            raise ValueError(f"family name {self.name!r} is reserved")
        return self


class StatsConfig(_Frozen):
    """Cohort statistics: the primary outcome, the families, the mixed model, time course.

    The estimand of every inferential row is the control-adjusted shift
    (``episode_shifts.adjusted_shift``). ``primary`` is the one pre-declared
    primary outcome (a family of one row); ``families`` are the declared
    secondary families (the primary row is never part of them, and no row may
    be in two). Adjusted rows of ``cohort_summary`` outside every declared
    family form the family ``exploratory``. The mixed model
    (``tearsignals.stats.mixed_model``) covers the primary row and the
    declared families, with a random intercept per subject, plus a random
    ``intensity_within`` slope where ``random_slope_min_subjects`` subjects let
    it be estimated, and optional ``covariates``. ``sensitivity`` names the
    variants of the sensitivity runs of the primary outcome, ``power`` the
    designs of the power table. Windows must be windows of the analysis
    (:meth:`WindowConfig.names`) other than ``baseline``, checked by
    :class:`AnalysisConfig`; metric names by :func:`tearsignals.plan.checked`.
    """

    primary: Outcome = Outcome(metric="ln_rmssd", window="post_60_90")
    families: tuple[Family, ...] = (
        Family(name="heart_rate", metrics=("mean_hr_bpm",)),
        Family(
            name="hrv", metrics=("ln_rmssd", "rmssd_ms", "sdnn_ms", "lf_ms2", "hf_ms2", "lf_hf")
        ),
    )
    moderators: tuple[Literal["intensity", "context"], ...] = ("intensity", "context")
    covariates: tuple[Literal["mean_hr_bpm", "resp_rate_bpm"], ...] = Field(
        (),
        description="adjusted shifts of mean HR / breathing rate in the same window as "
        "covariates of a third model (its intercept: the shift at no HR/breathing change)",
    )
    model_min_subjects: int = Field(3, ge=2, description="fewer subjects: no model (method none)")
    random_slope_min_subjects: int = Field(
        5,
        ge=3,
        description="subjects with >= 3 episodes of differing intensity that a random "
        "intensity_within slope needs; fewer: a fixed slope (random_effects says which)",
    )
    min_context_episodes: int = Field(
        5, ge=1, description="rarer contexts are pooled into 'other' for the context term"
    )
    timecourse: TimecourseConfig = TimecourseConfig()
    sensitivity: SensitivityConfig = SensitivityConfig()
    power: PowerConfig = PowerConfig()

    @model_validator(mode="after")
    def _distinct_families(self) -> StatsConfig:
        names = [f.name for f in self.families]
        if len(set(names)) < len(names):
            raise ValueError(f"family names must be distinct, got {names}")
        return self


class AnalysisConfig(_Frozen):
    """Everything analyze-episodes needs; its hash is stored with every output row."""

    windows: WindowConfig = WindowConfig()
    cleaning: CleaningConfig = CleaningConfig()
    quality: QualityConfig = QualityConfig()
    frequency: FrequencyConfig = FrequencyConfig()
    stats: StatsConfig = StatsConfig()
    clock: ClockConfig = ClockConfig()
    subjects: tuple[str, ...] | None = None
    since: date | None = None
    until: date | None = None

    @model_validator(mode="after")
    def _families_known(self) -> AnalysisConfig:
        allowed = self.windows.names()[1:]
        declared = [("stats.primary", (self.stats.primary.window,))] + [
            (f"stats.families.{f.name}", f.windows or ()) for f in self.stats.families
        ]
        for where, chosen in declared:
            unknown = [w for w in chosen if w not in allowed]
            if unknown:
                raise ValueError(
                    f"{where}: windows {unknown} not among the compared windows {list(allowed)} "
                    "(baseline is the reference of every shift)"
                )
        rows = [(m, w) for f in self.stats.families for m in f.metrics for w in self._windows(f)]
        twice = sorted({r for r in rows if rows.count(r) > 1})
        if twice:
            raise ValueError(f"stats.families: {twice[0][0]} in {twice[0][1]} is in two families")
        return self

    def _windows(self, family: Family) -> tuple[str, ...]:
        return family.windows if family.windows is not None else self.windows.names()[1:]

    def family_rows(self) -> tuple[tuple[str, str, str], ...]:
        """``(family, metric, window)`` of every declared row: the primary one first, then
        each family's metrics x windows (in the run's window order) without the primary row.

        >>> rows = AnalysisConfig().family_rows()
        >>> rows[0], rows[1]
        (('primary', 'ln_rmssd', 'post_60_90'), ('heart_rate', 'mean_hr_bpm', 'pre'))
        """
        primary = (self.stats.primary.metric, self.stats.primary.window)
        secondary = [
            (f.name, m, w)
            for f in self.stats.families
            for m in f.metrics
            for w in self.windows.names()
            if w in self._windows(f) and (m, w) != primary
        ]
        return (("primary", *primary), *secondary)

    def hashed_parameters(self) -> dict[str, Any]:
        """The parameters that change numbers (not the subject/date selection), as JSON types."""
        return self.model_dump(mode="json", include=set(HASHED_SECTIONS))

    def params_hash(self) -> str:
        """Hash of :meth:`hashed_parameters`: 16 hex digits of a SHA-256."""
        payload = self.model_dump_json(include=set(HASHED_SECTIONS))
        return hashlib.sha256(payload.encode()).hexdigest()[:16]


HASHED_SECTIONS = ("windows", "cleaning", "quality", "frequency", "stats", "clock")
