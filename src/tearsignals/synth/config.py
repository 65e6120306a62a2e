"""What a synthetic cohort is asked to be: its size and seed, and the effect planted in it."""

from __future__ import annotations

import math
from datetime import date

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tearsignals.config import post_window_name

POST_EFFECT_MIN = 20.0  # the planted RMSSD change spans [end, end + 20 min): post_0_20


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PlantedEffect(_Frozen):
    """The episode effect written into the synthetic data.

    ``hr_during_bpm`` and ``rmssd_post_0_20_ratio`` are the population means;
    ``hr_during_sd_bpm`` and ``ln_rmssd_ratio_sd`` the between-subject SDs of
    the effect (subject ``i`` gets ``hr_during_bpm + hr_during_sd_bpm * z_i``
    and the ratio ``exp(ln(ratio) + ln_rmssd_ratio_sd * z'_i)``, both drawn
    once per subject), so subjects can differ in their true effect while
    :meth:`expected_shifts` stays the truth for the population.

    Examples
    --------
    >>> PlantedEffect.parse("hr_during_bpm=5").hr_during_bpm
    5.0
    >>> PlantedEffect.zero().expected_shifts()[("ln_rmssd", "post_0_20")]
    0.0
    """

    hr_during_bpm: float = Field(default=8.0, ge=-30.0, le=30.0, allow_inf_nan=False)
    rmssd_post_0_20_ratio: float = Field(default=1.2, gt=0.25, le=4.0, allow_inf_nan=False)
    hr_during_sd_bpm: float = Field(default=0.0, ge=0.0, le=10.0, allow_inf_nan=False)
    ln_rmssd_ratio_sd: float = Field(default=0.0, ge=0.0, le=1.0, allow_inf_nan=False)

    @classmethod
    def zero(cls) -> PlantedEffect:
        """No episode effect at all (HR +0 bpm, RMSSD ratio 1)."""
        return cls(hr_during_bpm=0.0, rmssd_post_0_20_ratio=1.0)

    @classmethod
    def parse(cls, text: str) -> PlantedEffect:
        """The effect described by CLI text ``"key=value,key=value"`` or ``"none"``.

        Keys left out keep their defaults. Raises ``ValueError`` with a one-line
        message on empty text, unknown or repeated keys, or non-numeric values.
        """
        cleaned = text.strip()
        if cleaned.lower() in {"none", "zero", "0"}:
            return cls.zero()
        allowed = ", ".join(cls.model_fields)
        values: dict[str, float] = {}
        for part in cleaned.split(","):
            key, sep, raw = (s.strip() for s in part.partition("="))
            if not sep or key not in cls.model_fields or key in values:
                raise ValueError(
                    f"bad effect {text!r}: expected 'none' or key=value pairs with keys {allowed}"
                )
            try:
                values[key] = float(raw)
            except ValueError:
                raise ValueError(
                    f"bad effect {text!r}: {key} needs a number, got {raw!r}"
                ) from None
        try:
            return cls(**values)
        except ValidationError as err:
            detail = "; ".join(f"{e['loc'][0]}: {e['msg']}" for e in err.errors())
            raise ValueError(f"bad effect {text!r}: {detail}") from None

    def expected_shifts(self) -> dict[tuple[str, str], float]:
        """Shift vs the ``baseline`` window that the pipeline should recover, by (metric, window).

        The RMSSD change is expected in the end-locked window of exactly its
        span, named as the analysis names it (``post_0_20`` for the default
        bins); an analysis whose post bins differ has no window it equals.
        """
        return {
            ("mean_hr_bpm", "during"): self.hr_during_bpm,
            ("ln_rmssd", post_window_name(0.0, POST_EFFECT_MIN)): math.log(
                self.rmssd_post_0_20_ratio
            ),
        }


class SynthConfig(_Frozen):
    """Size, seed and shape of a synthetic cohort.

    ``minute_hr_every = k`` makes subjects with index ``k-1, 2k-1, ...`` minute-HR only
    (``0`` means none). ``drift_bpm_per_h`` adds a circadian drift shared by every
    subject and day: heart rate changes linearly by that much per hour of the
    recording (centred on its middle, so the day's mean HR is unchanged) on top of
    each subject's own evening decline. Matched control days at the same clock
    time see the same drift; shifts from the episode's own baseline do not.
    """

    n_subjects: int = Field(default=6, ge=1, le=500)
    n_days: int = Field(default=28, ge=1, le=3660)
    seed: int = Field(default=0, ge=0)
    effect: PlantedEffect = PlantedEffect()
    start_date: date = date(2026, 1, 5)
    minute_hr_every: int = Field(default=4, ge=0)
    episodes_per_month: float = Field(default=4.0, ge=0.0, le=60.0)
    drift_bpm_per_h: float = Field(default=0.0, ge=-5.0, le=5.0, allow_inf_nan=False)
