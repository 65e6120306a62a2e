"""Typed, frozen configuration: the analysis parameters are also the flow's parameter model."""

from __future__ import annotations

import hashlib
from datetime import date
from itertools import pairwise
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

WINDOW_NAMES = ("baseline", "pre", "acute", "during", "post_0_20", "post_20_60", "post_60_90")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class WindowConfig(_Frozen):
    """Window bounds in minutes. Onset-locked windows are relative to the episode
    onset, end-locked post bins relative to its end (DESIGN.md, analysis definitions)."""

    baseline_min: tuple[float, float] = (-10.0, -5.0)
    pre_min: tuple[float, float] = (-5.0, 0.0)
    acute_min: tuple[float, float] = (0.0, 4.0)
    post_bins_min: tuple[tuple[float, float], ...] = ((0.0, 20.0), (20.0, 60.0), (60.0, 90.0))
    n_controls: int = Field(3, ge=0, le=30)
    control_search_days: int = Field(14, ge=1, le=365)
    control_exclusion_h: float = Field(3.0, ge=0.0)

    @model_validator(mode="after")
    def _ordered(self) -> WindowConfig:
        spans = [self.baseline_min, self.pre_min, self.acute_min, *self.post_bins_min]
        for lo, hi in spans:
            if not lo < hi:
                raise ValueError(f"window ({lo}, {hi}) must have start < end")
        if len(self.post_bins_min) != 3:
            raise ValueError(
                "post_bins_min needs exactly three bins (post_0_20, post_20_60, post_60_90)"
            )
        return self


class CleaningConfig(_Frozen):
    """RR cleaning before metrics: physiological limits and a successive-change rule."""

    rr_min_ms: float = Field(300.0, gt=0)
    rr_max_ms: float = Field(2000.0, gt=0)
    max_successive_change: float = Field(
        0.2, gt=0, le=1.0, description="largest relative deviation from the local median RR"
    )
    median_window: int = Field(11, ge=3, description="beats in the local median (odd)")
    gap_tolerance_ms: float = Field(
        250.0, ge=0, description="beat time gap beyond rr_ms by more than this breaks succession"
    )


class FrequencyConfig(_Frozen):
    """Frequency-domain HRV (``tearsignals.frequency``): method, bands and gating.

    ``lomb`` is the PhysioNet Cardiovascular Signal Toolbox recipe (Lomb-Scargle
    on the uneven NN series, grid ``k * lomb_df_hz``, band sums times the grid
    step). Its raw scaling makes band powers proportional to the beat rate, so
    ``lomb_scaling="density"`` (the default) multiplies by the mean sampling
    interval to give ms^2 whose total matches the NN variance;
    ``"toolbox"`` reproduces the toolbox's numbers. ``welch`` is the ``hrv``
    package recipe (cubic interpolation, Welch with a Hann window, trapezoid
    band areas). Bands are half-open ``[lo, hi)`` in Hz; ``tp_ms2`` is the
    power below ``hf_hz[1]``.
    """

    method: Literal["lomb", "welch"] = "lomb"
    vlf_hz: tuple[float, float] = (0.0033, 0.04)
    lf_hz: tuple[float, float] = (0.04, 0.15)
    hf_hz: tuple[float, float] = (0.15, 0.4)
    min_clean_s: float = Field(
        default=120.0, gt=0, description="seconds of NN intervals a window needs for LF/HF"
    )
    lomb_df_hz: float = Field(default=1 / 1024, gt=0, description="Lomb frequency grid step")
    lomb_scaling: Literal["density", "toolbox"] = "density"
    welch_fs_hz: float = Field(default=4.0, gt=0, description="interpolation rate for Welch")
    welch_nperseg: int = Field(default=256, ge=8)
    welch_noverlap: int = Field(default=128, ge=0)

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
    """Grades per window. ``good`` needs coverage and a low artifact rate."""

    good_coverage: float = Field(0.6, ge=0, le=1)
    fair_coverage: float = Field(0.4, ge=0, le=1)
    good_max_artifact: float = Field(0.05, ge=0, le=1)
    fair_max_artifact: float = Field(0.2, ge=0, le=1)
    min_beats: int = Field(30, ge=2)


class StatsConfig(_Frozen):
    n_boot: int = Field(2000, ge=100)
    seed: int = 0


class AnalysisConfig(_Frozen):
    """Everything analyze-episodes needs; its hash is stored with every output row."""

    windows: WindowConfig = WindowConfig()
    cleaning: CleaningConfig = CleaningConfig()
    quality: QualityConfig = QualityConfig()
    frequency: FrequencyConfig = FrequencyConfig()
    stats: StatsConfig = StatsConfig()
    subjects: tuple[str, ...] | None = None
    since: date | None = None
    until: date | None = None

    def params_hash(self) -> str:
        """Hash of the parameters that change numbers (not the subject/date selection)."""
        payload = self.model_dump_json(
            include={"windows", "cleaning", "quality", "frequency", "stats"}
        )
        return hashlib.sha256(payload.encode()).hexdigest()[:16]
