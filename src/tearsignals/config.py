"""Typed, frozen configuration: the analysis parameters are also the flow's parameter model."""

from __future__ import annotations

import hashlib
from datetime import date

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
    stats: StatsConfig = StatsConfig()
    subjects: tuple[str, ...] | None = None
    since: date | None = None
    until: date | None = None

    def params_hash(self) -> str:
        """Hash of the parameters that change numbers (not the subject/date selection)."""
        payload = self.model_dump_json(include={"windows", "cleaning", "quality", "stats"})
        return hashlib.sha256(payload.encode()).hexdigest()[:16]
