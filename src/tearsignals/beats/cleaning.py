"""RR cleaning before metrics: which intervals are NN and which differences count.

Two methods (``CleaningConfig.method``): ``median`` rejects intervals outside
the physiological limits or far from their local median; ``lipponen``
classifies beats (:mod:`tearsignals.beats.correction`), corrects those whose
interval is not sinus-like (:func:`sinus_like`), then applies the limits and a
residual gate. :func:`cleaned_beats` runs the chosen method per subject over
the beats of many subjects at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
import scipy
from scipy.ndimage import median_filter

from tearsignals import __version__
from tearsignals.arrays import BoolArray, FloatArray, IntArray, LabelArray
from tearsignals.beats import correction
from tearsignals.config import CleaningConfig
from tearsignals.timebase import epoch_us


@dataclass(frozen=True)
class CleanBeats:
    """Result of RR cleaning: which intervals are NN and which differences are usable."""

    nn_ok: BoolArray
    pair_ok: BoolArray


def clean_rr(t_ms: FloatArray, rr_ms: FloatArray, cfg: CleaningConfig) -> CleanBeats:
    """Flag NN intervals and usable successive differences for one subject's beats.

    ``t_ms`` are beat times (any origin, milliseconds, ascending) and ``rr_ms``
    the interval that ends at each beat. An interval is NN when it lies within
    the physiological limits and differs from the median of its neighbourhood
    (``median_window`` beats, centred) by at most ``max_successive_change``.
    Comparing with a local median rather than the previous interval flags an
    ectopic beat and its compensatory pause but not the normal beats around
    them. A difference is usable when both intervals are NN and succeed each
    other without a gap (``t[i] - t[i-1]`` equals ``rr[i]`` within
    ``gap_tolerance_ms``). A missing (NaN) interval is never NN and does not
    disturb the local median of its neighbours.

    Examples
    --------
    >>> import numpy as np
    >>> rr = np.array([800.0, 805, 795, 480, 1120, 800, 810, 790])
    >>> t = np.cumsum(rr)
    >>> clean_rr(t, rr, CleaningConfig()).nn_ok.tolist()
    [True, True, True, False, False, True, True, True]
    """
    rr = np.asarray(rr_ms, dtype=np.float64)
    nn_ok = in_limits(rr, cfg) & near_local_median(rr, cfg)
    successive = correction.successive_intervals(t_ms, rr, cfg.gap_tolerance_ms)
    return CleanBeats(nn_ok=nn_ok, pair_ok=usable_pairs(nn_ok, successive))


def in_limits(rr_ms: FloatArray, cfg: CleaningConfig) -> BoolArray:
    """Intervals within the physiological limits ``[rr_min_ms, rr_max_ms]`` (NaN: False)."""
    with np.errstate(invalid="ignore"):
        return (rr_ms >= cfg.rr_min_ms) & (rr_ms <= cfg.rr_max_ms)


def local_median(rr_ms: FloatArray, width: int) -> FloatArray:
    """Centred ``width``-beat median of every interval (NaN where no interval is finite).

    Missing intervals are bridged by interpolation for the median only: a NaN
    inside the filter would otherwise disturb its normal neighbours.
    """
    rr = np.asarray(rr_ms, dtype=np.float64)
    finite = np.isfinite(rr)
    if not finite.any():
        return np.full(rr.size, np.nan)
    idx = np.arange(rr.size)
    bridged = np.where(finite, rr, np.interp(idx, idx[finite], rr[finite]))
    out: FloatArray = median_filter(bridged, size=min(width, rr.size), mode="nearest")
    return out


def near_local_median(rr_ms: FloatArray, cfg: CleaningConfig) -> BoolArray:
    """Within ``max_successive_change`` of the centred ``median_window``-beat median.

    A missing interval is never near it (see :func:`local_median`).
    """
    rr = np.asarray(rr_ms, dtype=np.float64)
    local = local_median(rr, cfg.median_window)
    with np.errstate(invalid="ignore"):
        return np.abs(rr - local) <= cfg.max_successive_change * local


def sinus_like(rr_ms: FloatArray, successive: BoolArray, cfg: CleaningConfig) -> BoolArray:
    """Intervals consistent with sinus rhythm: ratio to the local median within
    ``sinus_range`` and not part of a premature pair (missing ones never are).

    A premature pair is an interval more than ``premature_change`` below its
    local median followed, without a gap (``successive``), by one more than
    ``premature_change`` above it: an ectopic beat and its compensatory pause.
    Sinus rhythm changes gradually or lengthens alone (a vagal pause of up to
    1.37 x the median at night in nsr001's all-N windows; accelerations to 0.73 x
    over two or three beats on the flirt Holter), while a PVC is early and then
    late (mitdb105's 41 V beats: 0.53-0.87 then 1.16-1.51).

    Examples
    --------
    >>> rr = np.array([800.0, 805, 795, 480, 1120, 800, 810, 1090, 802, 798, 650, 805])
    >>> np.flatnonzero(~sinus_like(rr, np.ones(rr.size, bool), CleaningConfig())).tolist()
    [3, 4]
    """
    rr = np.asarray(rr_ms, dtype=np.float64)
    lo, hi = cfg.sinus_range
    with np.errstate(invalid="ignore"):
        ratio = rr / local_median(rr, cfg.median_window)
        inside = (ratio >= lo) & (ratio <= hi)
        early = ratio < 1.0 - cfg.premature_change
        late = ratio > 1.0 + cfg.premature_change
    pair = early[:-1] & late[1:] & successive[1:]
    inside[:-1] &= ~pair
    inside[1:] &= ~pair
    return inside


def usable_pairs(nn_ok: BoolArray, successive: BoolArray) -> BoolArray:
    """A difference counts where both intervals are NN and the second follows without a gap."""
    pair_ok = np.zeros(nn_ok.size, dtype=bool)
    pair_ok[1:] = nn_ok[1:] & nn_ok[:-1] & successive[1:]
    return pair_ok


@dataclass(frozen=True)
class CleanSeries:
    """One recording after cleaning: the series metrics use, and the recorded beats' fate.

    ``t_ms``, ``rr_ms``, ``source``, ``nn_ok`` and ``pair_ok`` describe the
    cleaned series (for ``lipponen`` the corrected one, which may hold more or
    fewer beats than were recorded; ``source`` is the recorded beat behind each
    of its beats). ``labels`` (``artifacts.LABELS`` codes, ``None`` for the
    median rule, which does not classify) and ``flagged`` (corrected or
    rejected) have one entry per *recorded* beat.
    """

    t_ms: FloatArray
    rr_ms: FloatArray
    source: IntArray
    nn_ok: BoolArray
    pair_ok: BoolArray
    labels: LabelArray | None
    flagged: BoolArray


def clean_series(t_ms: FloatArray, rr_ms: FloatArray, cfg: CleaningConfig) -> CleanSeries:
    """Clean one recording (one subject) by ``cfg.method``; see :class:`CleanSeries`.

    ``median``: :func:`clean_rr` - flagged intervals are rejected, nothing is
    corrected. ``lipponen``: beats are classified (``tearsignals.beats.correction``);
    the sinus guard (``lipponen_sinus_guard``) clears the label of every beat
    whose recorded interval is :func:`sinus_like` - Lipponen's adaptive
    thresholds otherwise take normal sinus arrhythmia for ectopy and its
    correction flattens the very variability RMSSD measures - and the rest are
    corrected. A corrected interval is NN when it lies within the
    physiological limits and - the residual gate, unless
    ``lipponen_residual_gate`` is off - is sinus-like in the *corrected* series.
    The gate catches what the adaptive thresholds accept as normal: in
    sustained bigeminy or trigeminy the quartile deviation grows with the
    ectopic pattern and Lipponen flags only a few beats (see
    ``tests/golden/test_artifacts_real.py``). Corrected beats count as NN;
    a difference is usable when both intervals are NN and successive in the
    recorded times (so the halves of a split missed interval pair up).

    Examples
    --------
    >>> rr = np.array([800.0, 805, 795, 480, 1120, 800, 810, 790, 802, 798, 805, 800])
    >>> out = clean_series(np.cumsum(rr), rr, CleaningConfig())
    >>> out.flagged.tolist()[2:6], out.rr_ms[3:5].round().tolist(), bool(out.nn_ok.all())
    ([False, True, True, False], [797.0, 798.0], True)
    """
    t = np.asarray(t_ms, dtype=np.float64)
    rr = np.asarray(rr_ms, dtype=np.float64)
    if cfg.method == "median":
        clean = clean_rr(t, rr, cfg)
        source = np.arange(rr.size, dtype=np.int64)
        return CleanSeries(t, rr, source, clean.nn_ok, clean.pair_ok, None, ~clean.nn_ok)
    labels = correction.classify_beats(t, rr, cfg)
    if cfg.lipponen_sinus_guard:
        labels = sinus_guarded(labels, t, rr, cfg)
    fixed = correction.correct_beats(t, rr, labels, cfg)
    nn_ok = in_limits(fixed.rr_ms, cfg)
    if cfg.lipponen_residual_gate:
        nn_ok &= sinus_like(fixed.rr_ms, fixed.successive, cfg)
    rejected = np.bincount(fixed.source[~nn_ok], minlength=rr.size) > 0
    return CleanSeries(
        t_ms=fixed.t_ms,
        rr_ms=fixed.rr_ms,
        source=fixed.source,
        nn_ok=nn_ok,
        pair_ok=usable_pairs(nn_ok, fixed.successive),
        labels=labels,
        flagged=(labels != correction.NORMAL) | rejected,
    )


def sinus_guarded(
    labels: LabelArray, t_ms: FloatArray, rr_ms: FloatArray, cfg: CleaningConfig
) -> LabelArray:
    """``labels`` with every artifact label on a :func:`sinus_like` interval cleared.

    Invalid intervals keep their label; so does an extra beat's successor,
    which :func:`correction.classify_beats` already left normal.
    """
    successive = correction.successive_intervals(t_ms, rr_ms, cfg.gap_tolerance_ms)
    artifact = (labels != correction.NORMAL) & (labels != correction.INVALID)
    cleared = artifact & sinus_like(rr_ms, successive, cfg)
    return np.where(cleared, np.int8(correction.NORMAL), labels).astype(np.int8)


def cleaning_description(cfg: CleaningConfig) -> str:
    """Compact provenance of the cleaning: method, parameters, library versions.

    Examples
    --------
    >>> cleaning_description(CleaningConfig(method="median")).split("; ")[:2]
    ['median(window=11,max_change=0.2)', 'limits 300-2000 ms']
    """
    if cfg.method == "median":
        method = f"median(window={cfg.median_window},max_change={cfg.max_successive_change:g})"
    else:
        lo, hi = cfg.sinus_range
        sinus = f"sinus={lo:g}-{hi:g},premature={cfg.premature_change:g}"
        method = (
            f"lipponen2019(c1={cfg.lipponen_c1:g},c2={cfg.lipponen_c2:g},"
            f"alpha={cfg.lipponen_alpha:g},window={cfg.lipponen_window},"
            f"median={cfg.median_window},floor_ms={cfg.lipponen_floor_ms:g},{sinus},"
            f"guard={'on' if cfg.lipponen_sinus_guard else 'off'},"
            f"gate={'on' if cfg.lipponen_residual_gate else 'off'})"
        )
    return (
        f"{method}; limits {cfg.rr_min_ms:g}-{cfg.rr_max_ms:g} ms; "
        f"tearsignals {__version__}; numpy {np.__version__}; scipy {scipy.__version__}"
    )


def _in_order() -> pl.Expr:
    """True where a row sorts at or after the previous one by (subject_id, t_us)."""
    prev_subject = pl.col("subject_id").shift(1)
    later = (pl.col("subject_id") > prev_subject) | (
        (pl.col("subject_id") == prev_subject) & (pl.col("t_us") >= pl.col("t_us").shift(1))
    )
    return later.fill_null(True)


def sorted_unique_beats(beats: pl.DataFrame, subjects: pl.Series) -> pl.DataFrame:
    """``subject_id, t_us, rr_ms`` of ``subjects``, sorted, exact duplicate times dropped.

    Lake partitions are already sorted by time, so the sort is skipped when the
    rows are in order (a single pass instead of a multi-key sort).
    """
    selected = beats.filter(pl.col("subject_id").is_in(subjects.implode())).select(
        "subject_id", epoch_us("t_utc").alias("t_us"), pl.col("rr_ms").cast(pl.Float64)
    )
    if not selected.select(_in_order().all()).item():
        selected = selected.sort("t_us").sort("subject_id", maintain_order=True)
    repeat = (pl.col("subject_id") == pl.col("subject_id").shift(1)) & (
        pl.col("t_us") == pl.col("t_us").shift(1)
    )
    return selected.filter(~repeat.fill_null(False))


def subject_slices(subject_ids: pl.Series) -> dict[str, slice]:
    """Row range of each subject in a frame sorted by subject."""
    runs = subject_ids.to_frame("s").with_row_index("i").group_by("s", maintain_order=True)
    bounds = runs.agg(lo=pl.col("i").min(), hi=pl.col("i").max() + 1)
    return {s: slice(int(lo), int(hi)) for s, lo, hi in bounds.iter_rows()}


@dataclass(frozen=True)
class CleanedBeats:
    """All subjects' cleaned series (``t_us`` ... ``slices``) and, per *recorded*
    beat, its ``artifacts.LABELS`` code (``None`` for the median rule) and
    whether it was ``flagged`` (corrected or rejected)."""

    t_us: IntArray
    rr_ms: FloatArray
    nn_ok: BoolArray
    pair_ok: BoolArray
    slices: dict[str, slice]
    labels: LabelArray | None
    flagged: BoolArray


def _subject_clean(
    t_us: IntArray, rr_ms: FloatArray, cfg: CleaningConfig
) -> tuple[IntArray, CleanSeries]:
    """One subject's cleaned series and its beat times in integer microseconds.

    Times are cleaned relative to the first beat (full float precision); a
    cleaned beat keeps its recorded time unless it was inserted into a missed
    interval, which moves it back by the inserted half interval.
    """
    rel_ms = (t_us - t_us[0]) / 1000.0
    series = clean_series(rel_ms, rr_ms, cfg)
    moved_us = np.round((rel_ms[series.source] - series.t_ms) * 1000.0).astype(np.int64)
    return t_us[series.source] - moved_us, series


def cleaned_beats(
    t_us: IntArray,
    rr_ms: FloatArray,
    slices: dict[str, slice],
    cfg: CleaningConfig,
) -> CleanedBeats:
    """RR cleaning (``hrv.clean_series``) per subject, concatenated; a subject's
    first beat never pairs."""
    times, parts, new_slices, offset = [], [], {}, 0
    for subject, part in slices.items():
        t_clean, series = _subject_clean(t_us[part], rr_ms[part], cfg)
        series.pair_ok[:1] = False
        times.append(t_clean)
        parts.append(series)
        new_slices[subject] = slice(offset, offset + t_clean.size)
        offset += t_clean.size
    labels = [p.labels for p in parts]
    empty_f, empty_b = np.zeros(0), np.zeros(0, dtype=bool)
    return CleanedBeats(
        t_us=np.concatenate([np.zeros(0, dtype=np.int64), *times]),
        rr_ms=np.concatenate([empty_f, *(p.rr_ms for p in parts)]),
        nn_ok=np.concatenate([empty_b, *(p.nn_ok for p in parts)]),
        pair_ok=np.concatenate([empty_b, *(p.pair_ok for p in parts)]),
        slices=new_slices,
        labels=None if cfg.method == "median" else _concat_labels(labels),
        flagged=np.concatenate([empty_b, *(p.flagged for p in parts)]),
    )


def _concat_labels(labels: list[LabelArray | None]) -> LabelArray:
    return np.concatenate([np.zeros(0, dtype=np.int8), *(x for x in labels if x is not None)])
