"""Ectopic, missed and extra beats: detection and correction after Lipponen & Tarvainen (2019).

Lipponen, J. A. & Tarvainen, M. P. (2019), "A robust algorithm for heart rate
variability time series artefact correction using novel beat classification",
J Med Eng Technol 43(3), 173-181 - the method behind Kubios' automatic
correction. Everything is vectorised over the beats; the only loop is over the
(few, <= 90) beats at the two ends of a series whose rolling windows are short.

Detection, per interval ``RR[j]`` (the interval ending at beat ``j``):

- ``dRR[j] = RR[j] - RR[j-1]``, divided by ``Th1 = alpha * QD`` of ``|dRR|``
  over ``lipponen_window`` (91) beats centred on ``j`` (``QD`` = half the
  inter-quartile range, quartiles linearly interpolated; the window shrinks at
  the ends as in a pandas ``rolling(center=True, min_periods=1)``).
- ``mRR[j] = RR[j] - median(RR)`` over ``median_window`` (11) beats, negative
  values doubled, divided by ``Th2 = alpha * QD(|mRR|)`` in the same way.
- Subspaces: ``S11 = dRR[j]``; ``S12 = max(dRR[j-1], dRR[j+1])`` if
  ``dRR[j] > 0`` else ``min(...)``; ``S21 = dRR[j]``; ``S22 = min(dRR[j+1],
  dRR[j+2])`` if ``dRR[j] >= 0`` else ``max(...)``.
- A beat with ``|dRR| > 1`` is **ectopic** when ``S11 > 1 and S12 < -c1 S11 - c2``
  or ``S11 < -1 and S12 > -c1 S11 + c2`` (the centre of a +/-/+ or -/+/- dRR
  pattern: for a premature beat, the compensatory interval; the premature
  interval itself then lands in "short"). Otherwise it (and the next beat,
  when ``|dRR[j+1]| < |dRR[j+2]|``) is **long/short** when ``S21 > 1 and
  S22 < -1`` (long), ``S21 < -1 and S22 > 1`` (short) or ``|mRR| > 3``; a
  short one is **extra** when ``|RR[j] + RR[j+1] - median| < Th2``, a long one
  **missed** when ``|RR[j] / 2 - median| < Th2``.

Correction (one pass, in the paper's order): an extra beat is merged
with the next interval (its detection removed); a missed beat's interval is
split into two equal halves (a beat inserted in its middle); ectopic and
long/short intervals are replaced by linear interpolation (over beat index)
between the nearest normal intervals within the physiological limits. Beat
times of interpolated intervals are kept as recorded, so whether an interval
follows its predecessor without a gap is decided on the *recorded* times and
intervals (``successive_intervals``) and carried through the correction.
NeuroKit2 repeats detection on the corrected series until the count stops
falling; here one pass is followed by ``beats.cleaning.clean_series``'
residual gate, which rejects (does not correct) what is still not sinus-like.
Which labels are acted on at all is decided there too (its sinus guard):
this module classifies as the paper does.

Decisions beyond the paper:

- Intervals that are missing, non-positive or longer than ``2 * rr_max_ms``
  (not even a missed beat: a gap) are **invalid**: left out of detection, never
  corrected, never NN. Differences across a gap (``successive`` false) are set
  to 0 before thresholds, so a dropout is not read as an artifact.
- Thresholds are at least ``lipponen_floor_ms`` (default 50 ms, Kubios'
  strictest fixed threshold; 0 reproduces the paper and NeuroKit2 exactly).
  Without it, RR quantised at 128 Hz (7.8 ms steps, PhysioNet nsr001) has a
  quartile deviation of half a step, ``Th1`` drops to ~20 ms and ~7 % of
  normal sinus intervals are flagged (NeuroKit2 agrees: 800 of 11,941 in 2 h,
  714 of them "ectopic"); with it, 0.1 %. Real artifacts change RR by far more
  than 50 ms.
- An extra beat needs a valid successor to merge with; the successor's own
  label is cleared (it is consumed), and of a run of extra beats every second
  one is kept as extra.

Examples
--------
>>> import numpy as np
>>> from tearsignals.config import CleaningConfig
>>> rng = np.random.default_rng(0)
>>> rr = 800 + 25 * np.sin(np.arange(300) / 3) + rng.normal(0, 3, 300)
>>> rr[100], rr[101] = 480.0, rr[100] + rr[101] - 480.0  # premature beat + pause
>>> rr[200] = rr[200] + rr[201]  # a missed beat
>>> rr = np.delete(rr, 201)
>>> t = np.cumsum(rr)
>>> labels = classify_beats(t, rr, CleaningConfig())
>>> [LABELS[k] for k in labels[99:103]], LABELS[labels[200]]
(['normal', 'long_short', 'ectopic', 'normal'], 'missed')
>>> fixed = correct_beats(t, rr, labels, CleaningConfig())
>>> fixed.rr_ms.size - rr.size, bool(np.abs(fixed.rr_ms - 800).max() < 60)
(1, True)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import rank_filter

from tearsignals.arrays import BoolArray, FloatArray, IntArray, LabelArray
from tearsignals.config import CleaningConfig

NORMAL, ECTOPIC, MISSED, EXTRA, LONG_SHORT, INVALID = range(6)
LABELS = ("normal", "ectopic", "missed", "extra", "long_short", "invalid")
_MRR_LIMIT = 3.0  # |mRR| / Th2 above this is long or short (the paper's constant)


@dataclass(frozen=True)
class CorrectedBeats:
    """A corrected beat series and where each of its beats comes from.

    ``correction`` holds the label of the artifact that changed a beat
    (``NORMAL`` where unchanged): ``MISSED`` on both halves of a split interval,
    ``EXTRA`` on the interval an extra beat was merged into, ``ECTOPIC`` or
    ``LONG_SHORT`` on interpolated intervals. ``source`` is the input beat each
    output beat derives from; ``successive`` says whether the interval follows
    the previous output beat without a gap.
    """

    t_ms: FloatArray
    rr_ms: FloatArray
    correction: LabelArray
    source: IntArray
    successive: BoolArray


def successive_intervals(t_ms: FloatArray, rr_ms: FloatArray, tolerance_ms: float) -> BoolArray:
    """True where ``t[i] - t[i-1]`` equals ``rr[i]`` within ``tolerance_ms`` (never at 0).

    Examples
    --------
    >>> successive_intervals(np.array([0.0, 800, 1600, 9000]), np.full(4, 800.0), 250).tolist()
    [False, True, True, False]
    """
    out = np.zeros(np.asarray(rr_ms).size, dtype=bool)
    out[1:] = np.abs(np.diff(np.asarray(t_ms, dtype=np.float64)) - rr_ms[1:]) <= tolerance_ms
    return out


def rolling_quantile(x: FloatArray, q: float, width: int) -> FloatArray:
    """Centred rolling quantile (linear interpolation) over ``width`` values.

    Equals pandas ``Series.rolling(width, center=True, min_periods=1).quantile(q)``:
    the interior uses two rank filters (the order statistics around the
    quantile's position), the ends shrink the window.

    Examples
    --------
    >>> rolling_quantile(np.array([1.0, 5, 2, 8, 3]), 0.5, 3).tolist()
    [3.0, 2.0, 5.0, 3.0, 5.5]
    """
    n = x.size
    before, after = width // 2, width - 1 - width // 2
    pos = q * (width - 1)
    rank = int(np.floor(pos))
    out = np.empty(n)
    if n >= width:
        out = rank_filter(x, rank, size=width, mode="nearest")
        if pos > rank:  # between two order statistics
            hi = rank_filter(x, rank + 1, size=width, mode="nearest")
            out = out + (pos - rank) * (hi - out)
    short = [*range(min(before, n)), *range(max(n - after, before), n)] if n >= width else range(n)
    for i in short:
        out[i] = np.quantile(x[max(i - before, 0) : i + after + 1], q)
    return out


def quartile_threshold(x: FloatArray, alpha: float, width: int, floor: float) -> FloatArray:
    """``alpha`` times the rolling quartile deviation of ``|x|``, at least ``floor``."""
    a = np.abs(x)
    qd = (rolling_quantile(a, 0.75, width) - rolling_quantile(a, 0.25, width)) / 2.0
    return np.maximum(alpha * qd, floor)


def _shifted(x: FloatArray, k: int) -> FloatArray:
    """``x[i + k]`` at ``i``, zero beyond the ends."""
    out = np.zeros_like(x)
    if k > 0:
        out[:-k] = x[k:]
    else:
        out[-k:] = x[: x.size + k]
    return out


def subspaces(d: FloatArray) -> tuple[FloatArray, FloatArray]:
    """``S12`` and ``S22`` of the normalised differences ``d`` (zero outside the series)."""
    prev, next1, next2 = _shifted(d, -1), _shifted(d, 1), _shifted(d, 2)
    s12 = np.where(d > 0, np.maximum(prev, next1), np.where(d < 0, np.minimum(prev, next1), 0.0))
    s22 = np.where(d >= 0, np.minimum(next1, next2), np.maximum(next1, next2))
    return s12, s22


def _decide(
    rr: FloatArray,
    d: FloatArray,
    m: FloatArray,
    med: FloatArray,
    th2: FloatArray,
    c1: float,
    c2: float,
) -> LabelArray:
    """Labels from the normalised series (the decision flow of the paper's Figure 1)."""
    s12, s22 = subspaces(d)
    candidate = np.abs(d) > 1.0
    candidate[max(d.size - 2, 0) :] = False  # S22 needs two more beats
    ectopic = candidate & (((d > 1) & (s12 < -c1 * d - c2)) | ((d < -1) & (s12 > -c1 * d + c2)))
    lead = candidate & ~ectopic
    considered = lead | (_shifted(lead.astype(np.float64), -1) > 0) & (
        np.abs(d) < np.abs(_shifted(d, 1))
    )
    long_beat = (d > 1) & (s22 < -1)
    short_beat = (d < -1) & (s22 > 1)
    flagged = considered & ~ectopic & (long_beat | short_beat | (np.abs(m) > _MRR_LIMIT))
    next_rr = np.append(rr[1:], np.nan)
    extra = flagged & short_beat & (np.abs(rr + next_rr - med) < th2)
    missed = flagged & ~extra & long_beat & (np.abs(rr / 2.0 - med) < th2)
    labels = np.full(rr.size, NORMAL, dtype=np.int8)
    labels[flagged] = LONG_SHORT
    labels[missed] = MISSED
    labels[extra] = EXTRA
    labels[ectopic] = ECTOPIC
    return labels


def _classify_valid(rr: FloatArray, successive: BoolArray, cfg: CleaningConfig) -> LabelArray:
    """Labels of a gap-free-indexed series of valid intervals (``successive`` per interval)."""
    drr = np.zeros(rr.size)
    drr[1:] = np.diff(rr)
    drr[~successive] = 0.0  # a difference across a gap is not a beat-to-beat change
    width, floor = cfg.lipponen_window, cfg.lipponen_floor_ms
    with np.errstate(divide="ignore", invalid="ignore"):  # floor 0: as NeuroKit2 does
        d = drr / quartile_threshold(drr, cfg.lipponen_alpha, width, floor)
    med = rolling_quantile(rr, 0.5, cfg.median_window)
    mrr = rr - med
    mrr = np.where(mrr < 0, 2.0 * mrr, mrr)
    th2 = quartile_threshold(mrr, cfg.lipponen_alpha, width, floor)
    with np.errstate(divide="ignore", invalid="ignore"):
        m = mrr / th2
    return _decide(rr, d, m, med, th2, cfg.lipponen_c1, cfg.lipponen_c2)


def valid_intervals(rr_ms: FloatArray, cfg: CleaningConfig) -> BoolArray:
    """Intervals that take part in detection: finite, positive, at most ``2 * rr_max_ms``."""
    rr = np.asarray(rr_ms, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return np.isfinite(rr) & (rr > 0) & (rr <= 2.0 * cfg.rr_max_ms)


def classify_beats(t_ms: FloatArray, rr_ms: FloatArray, cfg: CleaningConfig) -> LabelArray:
    """Label every beat of one continuous recording (one subject): a code in ``LABELS``.

    ``t_ms`` are beat times (ascending, ms, any origin) and ``rr_ms`` the
    interval ending at each beat. Labels follow :func:`_resolve` (extra beats
    always have a successor to merge with).
    """
    rr = np.asarray(rr_ms, dtype=np.float64)
    valid = valid_intervals(rr, cfg)
    idx = np.flatnonzero(valid)
    succ = successive_intervals(t_ms, rr, cfg.gap_tolerance_ms)[idx]
    succ[1:] &= np.diff(idx) == 1  # an invalid interval in between breaks succession too
    labels = np.full(rr.size, INVALID, dtype=np.int8)
    labels[idx] = _classify_valid(rr[idx], succ, cfg)
    return _resolve(labels)


def _resolve(labels: LabelArray) -> LabelArray:
    """Make extra beats mergeable: one per run, a valid successor, successor label cleared."""
    out = labels.copy()
    extra = out == EXTRA
    run_pos = np.arange(out.size) - np.maximum.accumulate(np.where(~extra, np.arange(out.size), -1))
    extra &= run_pos % 2 == 1  # 1st, 3rd, ... of a run stay extra
    out[(labels == EXTRA) & ~extra] = NORMAL
    successor_ok = np.append(out[1:] != INVALID, False)
    out[extra & ~successor_ok] = LONG_SHORT
    extra &= successor_ok
    consumed = np.append(False, extra[:-1])
    out[consumed] = NORMAL
    return out


def _interpolated(rr: FloatArray, labels: LabelArray, cfg: CleaningConfig) -> FloatArray:
    """``rr`` with ectopic and long/short intervals interpolated from normal in-range ones."""
    out = rr.copy()
    fix = np.flatnonzero((labels == ECTOPIC) | (labels == LONG_SHORT))
    with np.errstate(invalid="ignore"):
        anchor = (labels == NORMAL) & (rr >= cfg.rr_min_ms) & (rr <= cfg.rr_max_ms)
    good = np.flatnonzero(anchor)
    if fix.size:
        out[fix] = np.interp(fix, good, rr[good]) if good.size else np.nan
    return out


def _merge_extra(
    t_ms: FloatArray, rr: FloatArray, labels: LabelArray, succ: BoolArray
) -> CorrectedBeats:
    """Drop extra beats; the next interval absorbs each (``_resolve`` guarantees one)."""
    kept = np.flatnonzero(labels != EXTRA)
    if kept.size == 0:
        return CorrectedBeats(t_ms[:0], rr[:0], labels[:0], kept, succ[:0])
    starts = np.concatenate(([0], kept[:-1] + 1))
    merged = np.add.reduceat(rr, starts)
    interpolated = np.isin(labels[kept], (ECTOPIC, LONG_SHORT))
    correction = np.where(starts < kept, EXTRA, np.where(interpolated, labels[kept], NORMAL))
    successive = np.logical_and.reduceat(succ, starts)
    return CorrectedBeats(t_ms[kept], merged, correction.astype(np.int8), kept, successive)


def _split_missed(beats: CorrectedBeats, labels: LabelArray) -> CorrectedBeats:
    """Insert a beat in the middle of every missed interval; both halves count as corrected."""
    at = np.flatnonzero(labels[beats.source] == MISSED)
    half = beats.rr_ms[at] / 2.0
    prev_t = np.where(at > 0, beats.t_ms[np.maximum(at - 1, 0)], -np.inf)
    t_new = np.maximum(beats.t_ms[at] - half, prev_t)  # stay sorted if times disagree
    rr = beats.rr_ms.copy()
    rr[at] = half
    succ = beats.successive.copy()
    succ_new = succ[at]
    succ[at] = True  # the second half follows the inserted beat
    correction = beats.correction.copy()
    correction[at] = MISSED
    return CorrectedBeats(
        t_ms=np.insert(beats.t_ms, at, t_new),
        rr_ms=np.insert(rr, at, half),
        correction=np.insert(correction, at, np.int8(MISSED)),
        source=np.insert(beats.source, at, beats.source[at]),
        successive=np.insert(succ, at, succ_new),
    )


def correct_beats(
    t_ms: FloatArray, rr_ms: FloatArray, labels: LabelArray, cfg: CleaningConfig
) -> CorrectedBeats:
    """Corrected series of one recording from its labels (:func:`classify_beats`).

    Extra beats are merged into the next interval, missed intervals split in
    two, ectopic and long/short intervals interpolated; normal and invalid
    beats pass unchanged. Physiological limits are *not* applied here: the
    caller decides which corrected intervals are NN.
    """
    t = np.asarray(t_ms, dtype=np.float64)
    rr = np.asarray(rr_ms, dtype=np.float64)
    succ = successive_intervals(t, rr, cfg.gap_tolerance_ms)
    merged = _merge_extra(t, _interpolated(rr, labels, cfg), labels, succ)
    return _split_missed(merged, labels)
