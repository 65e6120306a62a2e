"""Clock offsets between the sources of one subject, estimated from their heart rate.

A watch and a chest strap worn at once record the same heart, each on its own
clock; a few minutes between them move beats across the minutes source
priority (:mod:`tearsignals.beats.source_priority`) chooses between, and move
every window of the watch's data. The offset is found from the data:

- the *reference* is the subject's highest-priority source (its best beat
  origin, ``rr > ecg > ppg > ibpm``, ties to the smaller name; a source with
  only ``heart_rate`` comes after every beat source);
- each source becomes one HR series on a grid of ``bin_s`` seconds: beats as
  ``60000 / rr_ms`` averaged over the ``hr_span_s`` seconds from each grid
  point on, ``heart_rate`` samples (when a source has no beats) at their own
  bin, each standing for the ``hr_span_s`` seconds from its stamp;
- the offset is the lag within ``± max_lag_min`` maximising the Pearson
  correlation of the two series where both have values (the correlation
  removes each one's mean), refined between grid steps by a parabola through
  the best lag and its neighbours.

``offset_s`` is what is *added* to the source's ``t_utc`` to put it on the
reference's clock. It is applied (:func:`clock_corrected`) only with status
``applied`` or ``from profile``; every other row says why not:
``too little overlap`` (fewer than ``min_overlap_min`` minutes in common),
``weak correlation`` (best correlation under ``min_correlation``),
``at lag limit`` (the best lag is the edge of the search: the true offset may
be larger), ``inconsistent`` (offsets estimated on each UTC day of the
overlap differ by more than ``max_day_spread_s``: the clocks drifted or were
reset, and no single offset fits), ``same device`` (the source and the
reference name the same single device, e.g. an Empatica's ``IBI.csv`` and the
beats detected in its ``BVP.csv``: one clock, whatever the estimate says).
A subject with one source has no rows.

Examples
--------
>>> from datetime import UTC, datetime
>>> from tearsignals.config import ClockConfig
>>> t = datetime(2026, 1, 5, tzinfo=UTC)
>>> beats = pl.DataFrame({"subject_id": ["S1"], "source": ["polar_h10"], "device": ["H10"],
...     "t_utc": [t], "rr_ms": [800.0], "origin": ["rr"]})
>>> hr = pl.DataFrame({"subject_id": ["S1"], "source": ["fitbit"], "device": ["Sense"],
...     "t_utc": [t], "hr_bpm": [75.0]})
>>> clock_offsets(beats, hr, ClockConfig(), "p")["status"].to_list()
['too little overlap']
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import polars as pl

from tearsignals.arrays import FloatArray
from tearsignals.beats.source_priority import ORIGIN_RANK
from tearsignals.config import ClockConfig
from tearsignals.contract import schema

APPLIED = ("applied", "from profile")
_US = 1_000_000
_DAY_US = 86_400 * _US


@dataclass(frozen=True)
class Series:
    """One source's HR on the grid: ``start_us`` of bin 0 and ``bpm`` per bin (NaN: none)."""

    start_us: int
    bpm: FloatArray


@dataclass(frozen=True)
class LagFit:
    """The best lag of one comparison: offset (s), its correlation and minutes in common."""

    offset_s: float | None
    correlation: float | None
    n_overlap_min: float
    at_limit: bool


def reference_order(beats: pl.DataFrame, heart_rate: pl.DataFrame) -> list[str]:
    """A subject's sources, highest priority first: beat sources by best origin then name,
    then sources with only ``heart_rate``, by name."""
    ranked = (
        beats.group_by("source")
        .agg(pl.col("origin").replace_strict(ORIGIN_RANK, default=len(ORIGIN_RANK)).min())
        .sort("origin", "source")
    )
    with_beats = ranked.get_column("source").to_list()
    hr_only = sorted(set(heart_rate.get_column("source").to_list()) - set(with_beats))
    return with_beats + hr_only


def _epoch_us(frame: pl.DataFrame) -> np.ndarray:
    return frame.get_column("t_utc").dt.epoch("us").to_numpy()


def _binned(
    t_us: np.ndarray, bpm: FloatArray, start_us: int, n: int, bin_us: int, nearest: bool
) -> FloatArray:
    """Mean of ``bpm`` per grid bin, each value in the bin it falls in or, with ``nearest``,
    the bin whose start is nearest (NaN where a bin has none)."""
    index = (t_us - start_us + (bin_us // 2 if nearest else 0)) // bin_us
    inside = (index >= 0) & (index < n)
    sums = np.bincount(index[inside], weights=bpm[inside], minlength=n)
    counts = np.bincount(index[inside], minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / counts, np.nan)


def _forward_mean(values: FloatArray, width: int) -> FloatArray:
    """Mean of the finite values in bins ``[i, i + width)`` (NaN where there are none)."""
    finite = np.isfinite(values)
    sums = np.concatenate([[0.0], np.cumsum(np.where(finite, values, 0.0))])
    counts = np.concatenate([[0], np.cumsum(finite)])
    n = values.size
    hi = np.minimum(np.arange(n) + width, n)
    total, count = sums[hi] - sums[:n], counts[hi] - counts[:n]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / count, np.nan)


def grid_phase_us(
    beats: pl.DataFrame, heart_rate: pl.DataFrame, source: str, cfg: ClockConfig
) -> int:
    """Where in a ``bin_s`` step the grid compared with ``source`` starts (µs since the epoch,
    modulo the step): the most common phase of its stamps when it has only ``heart_rate``,
    so samples stamped at, say, 23 s past each minute sit on grid points, not 3 s off them."""
    if beats.filter(pl.col("source") == source).height:
        return 0
    bin_us = round(cfg.bin_s * _US)
    t_us = _epoch_us(heart_rate.filter(pl.col("source") == source))
    if t_us.size == 0:
        return 0
    phases, counts = np.unique(t_us % bin_us // 100_000 * 100_000, return_counts=True)
    return int(phases[np.argmax(counts)])


def source_series(
    beats: pl.DataFrame,
    heart_rate: pl.DataFrame,
    source: str,
    cfg: ClockConfig,
    phase_us: int = 0,
) -> Series:
    """The HR series of ``source`` on a grid of ``bin_s`` steps from ``phase_us`` past the epoch."""
    bin_us = round(cfg.bin_s * _US)
    own = beats.filter(pl.col("source") == source)
    if own.height:
        rr = own.get_column("rr_ms").to_numpy().astype(np.float64)
        t_us, bpm, width = _epoch_us(own), 60_000.0 / rr, max(1, round(cfg.hr_span_s / cfg.bin_s))
    else:
        own = heart_rate.filter(pl.col("source") == source)
        t_us, width = _epoch_us(own), 1
        bpm = own.get_column("hr_bpm").to_numpy().astype(np.float64)
    keep = np.isfinite(bpm) & (bpm >= 20.0) & (bpm <= 250.0)
    t_us, bpm = t_us[keep], bpm[keep]
    if t_us.size == 0:
        return Series(0, np.empty(0))
    start_us = (int(t_us.min()) - phase_us) // bin_us * bin_us + phase_us
    n = int((t_us.max() - start_us) // bin_us) + 2
    # A heart_rate sample goes to the nearest grid point (its stamp is where its span
    # starts); beats to the bin they fall in, so a forward mean spans whole bins.
    values = _binned(t_us, bpm, start_us, n, bin_us, nearest=width == 1)
    return Series(start_us, _forward_mean(values, width) if width > 1 else values)


def _on_grid(series: Series, start_us: int, n: int, bin_us: int) -> FloatArray:
    """``series`` placed on the grid of ``n`` bins from ``start_us`` (NaN outside it)."""
    out = np.full(n, np.nan)
    shift = (series.start_us - start_us) // bin_us
    lo, hi = max(0, shift), min(n, shift + series.bpm.size)
    if lo < hi:
        out[lo:hi] = series.bpm[lo - shift : hi - shift]
    return out


def _correlation(x: FloatArray, y: FloatArray, min_pairs: int) -> tuple[float, int]:
    """Pearson correlation of the pairs where both are finite, and how many there are."""
    both = np.isfinite(x) & np.isfinite(y)
    count = int(both.sum())
    if count < max(min_pairs, 3):
        return math.nan, count
    dx, dy = x[both] - x[both].mean(), y[both] - y[both].mean()
    denominator = math.sqrt(float(dx @ dx) * float(dy @ dy))
    return (float(dx @ dy) / denominator if denominator > 0 else math.nan), count


def _minutes_paired(minute_id: np.ndarray, both: np.ndarray) -> int:
    """Distinct minutes among the paired bins."""
    ids = minute_id[both]
    return int(np.count_nonzero(np.bincount(ids - ids.min()))) if ids.size else 0


def _parabola_step(left: float, mid: float, right: float) -> float:
    """Where a parabola through three equally spaced scores peaks, in steps from the middle."""
    curvature = left - 2.0 * mid + right
    if not (math.isfinite(left) and math.isfinite(right)) or curvature >= 0:
        return 0.0
    return float(np.clip(0.5 * (left - right) / curvature, -0.5, 0.5))


def best_lag(
    reference: FloatArray, other: FloatArray, minute_id: np.ndarray, span: slice, cfg: ClockConfig
) -> LagFit:
    """The offset maximising the correlation of ``reference[i]`` with ``other[i - lag]``
    over the reference bins ``span`` (both series on one grid; ``minute_id`` per bin)."""
    max_lag = round(cfg.max_lag_min * 60.0 / cfg.bin_s)
    lags = np.arange(-max_lag, max_lag + 1)
    scores, minutes = np.full(lags.size, np.nan), np.zeros(lags.size, dtype=np.int64)
    # Only the other series' filled bins can pair: a watch's minute HR fills 1 bin in 12.
    near = slice(max(0, span.start - max_lag), min(other.size, span.stop + max_lag))
    have = np.flatnonzero(np.isfinite(other[near])) + near.start
    values = other[have]
    for j, lag in enumerate(lags):
        at = have + lag
        inside = (at >= span.start) & (at < span.stop)
        x, y = reference[at[inside]], values[inside]
        both = np.isfinite(x)
        minutes[j] = _minutes_paired(minute_id[at[inside]], both)
        if minutes[j] >= cfg.min_overlap_min:
            scores[j] = _correlation(x, y, 3)[0]
    if not np.isfinite(scores).any():
        return LagFit(None, None, float(minutes.max(initial=0)), False)
    best = int(np.nanargmax(scores))
    inner = 0 < best < lags.size - 1
    step = _parabola_step(scores[best - 1], scores[best], scores[best + 1]) if inner else 0.0
    offset_s = (float(lags[best]) + step) * cfg.bin_s
    return LagFit(offset_s, float(scores[best]), float(minutes[best]), not inner)


def _day_spans(start_us: int, n: int, bin_us: int) -> list[slice]:
    """The grid's bins split at UTC midnights."""
    first_day = start_us // _DAY_US
    day = (start_us + np.arange(n) * bin_us) // _DAY_US - first_day
    edges = np.flatnonzero(np.diff(day)) + 1
    bounds = [0, *edges.tolist(), n]
    return [slice(a, b) for a, b in pairwise(bounds)]


def _good(fit: LagFit, cfg: ClockConfig) -> bool:
    return fit.correlation is not None and fit.correlation >= cfg.min_correlation


def _status(whole: LagFit, days: list[LagFit], cfg: ClockConfig) -> tuple[str, float | None]:
    """The status of an estimate and the spread of its daily offsets (s)."""
    good_days = [
        d.offset_s for d in days if d.offset_s is not None and _good(d, cfg) and not d.at_limit
    ]
    spread = max(good_days) - min(good_days) if len(good_days) > 1 else None
    if whole.offset_s is None:
        return "too little overlap", spread
    if not _good(whole, cfg):
        return "weak correlation", spread
    if whole.at_limit:
        return "at lag limit", spread
    if spread is not None and spread > cfg.max_day_spread_s:
        return "inconsistent", spread
    return "applied", spread


def compared(reference: Series, other: Series, cfg: ClockConfig) -> tuple[LagFit, list[LagFit]]:
    """The fit of ``other`` against ``reference`` over their whole overlap and on each UTC day."""
    bin_us, reach = round(cfg.bin_s * _US), round(cfg.max_lag_min * 60.0 / cfg.bin_s)
    if reference.bpm.size == 0 or other.bpm.size == 0:
        return LagFit(None, None, 0.0, False), []
    # The grid spans the reference where the other source can reach it within the lag range.
    start_us = max(reference.start_us, other.start_us - reach * bin_us)
    stop_us = min(
        reference.start_us + reference.bpm.size * bin_us,
        other.start_us + (other.bpm.size + reach) * bin_us,
    )
    if stop_us <= start_us:
        return LagFit(None, None, 0.0, False), []
    start_us -= reach * bin_us
    n = (stop_us - start_us) // bin_us + reach
    ref, oth = _on_grid(reference, start_us, n, bin_us), _on_grid(other, start_us, n, bin_us)
    minute_id = (start_us + np.arange(n) * bin_us) // (60 * _US)
    whole = best_lag(ref, oth, minute_id, slice(0, n), cfg)
    days = [best_lag(ref, oth, minute_id, day, cfg) for day in _day_spans(start_us, n, bin_us)]
    return whole, days


def _row(
    subject_id: str, source: str, reference: str, fit: LagFit, days: list[LagFit], cfg: ClockConfig
) -> dict[str, object]:
    status, spread = _status(fit, days, cfg)
    return {
        "subject_id": subject_id,
        "source": source,
        "reference_source": reference,
        "offset_s": fit.offset_s,
        "correlation": fit.correlation,
        "n_overlap_min": fit.n_overlap_min,
        "n_days": sum(_good(d, cfg) and not d.at_limit for d in days),
        "day_spread_s": spread,
        "status": status,
    }


def _devices(beats: pl.DataFrame, heart_rate: pl.DataFrame, source: str) -> set[str]:
    """The devices a source names (empty when it names none)."""
    named = pl.concat(
        [f.filter(pl.col("source") == source).select("device") for f in (beats, heart_rate)]
    )
    return set(named.get_column("device").drop_nulls().to_list())


def _subject_rows(
    beats: pl.DataFrame,
    heart_rate: pl.DataFrame,
    subject_id: str,
    cfg: ClockConfig,
    fixed: Mapping[str, float],
) -> list[dict[str, object]]:
    order = reference_order(beats, heart_rate)
    if len(order) < 2:
        return []
    reference, rows = order[0], []
    ref_devices = _devices(beats, heart_rate, reference)
    for source in order[1:]:
        if source in fixed:
            rows.append(_fixed_row(subject_id, source, reference, fixed[source]))
        elif cfg.enabled:
            phase_us = grid_phase_us(beats, heart_rate, source, cfg)
            whole, days = compared(
                source_series(beats, heart_rate, reference, cfg, phase_us),
                source_series(beats, heart_rate, source, cfg, phase_us),
                cfg,
            )
            row = _row(subject_id, source, reference, whole, days, cfg)
            one_clock = len(ref_devices) == 1 and _devices(beats, heart_rate, source) == ref_devices
            rows.append({**row, "status": "same device"} if one_clock else row)
    return rows


def _fixed_row(subject_id: str, source: str, reference: str, offset_s: float) -> dict[str, object]:
    return {
        "subject_id": subject_id,
        "source": source,
        "reference_source": reference,
        "offset_s": float(offset_s),
        "correlation": None,
        "n_overlap_min": None,
        "n_days": 0,
        "day_spread_s": None,
        "status": "from profile",
    }


def clock_offsets(
    beats: pl.DataFrame,
    heart_rate: pl.DataFrame,
    cfg: ClockConfig,
    params_hash: str,
    fixed: Mapping[tuple[str, str], float] | None = None,
) -> pl.DataFrame:
    """One ``clock_offsets`` row per subject and source other than the subject's reference.

    Parameters
    ----------
    beats, heart_rate
        Canonical ``beats`` (``subject_id, source, t_utc, rr_ms, origin``) and
        ``heart_rate`` (``subject_id, source, t_utc, hr_bpm``), every source.
    cfg
        The search (:class:`~tearsignals.config.ClockConfig`).
    params_hash
        Stored with every row.
    fixed
        Offsets known beforehand, by ``(subject_id, source)`` (seconds added to
        the source's ``t_utc``): used as given, status ``from profile``.
    """
    known = fixed or {}
    subjects = sorted(
        set(beats.get_column("subject_id").to_list())
        | set(heart_rate.get_column("subject_id").to_list())
    )
    rows = [
        row
        for s in subjects
        for row in _subject_rows(
            beats.filter(pl.col("subject_id") == s),
            heart_rate.filter(pl.col("subject_id") == s),
            s,
            cfg,
            {src: v for (subject, src), v in known.items() if subject == s},
        )
    ]
    declared = schema.polars_schema("clock_offsets")
    body = pl.DataFrame(rows, schema={c: t for c, t in declared.items() if c != "params_hash"})
    return schema.conform(body.with_columns(params_hash=pl.lit(params_hash)), "clock_offsets")


def clock_corrected(frame: pl.DataFrame, offsets: pl.DataFrame) -> pl.DataFrame:
    """``frame`` (beats or heart_rate) with ``t_utc`` of each source moved by its applied offset.

    Rows of sources without an applied offset (the reference, and every status
    but ``applied`` and ``from profile``) are unchanged; row order is kept.
    """
    shifts = offsets.filter(pl.col("status").is_in(APPLIED)).select(
        "subject_id", "source", _shift_us=(pl.col("offset_s") * _US).round().cast(pl.Int64)
    )
    if shifts.is_empty():
        return frame
    moved = frame.join(shifts, on=["subject_id", "source"], how="left", maintain_order="left")
    by = pl.duration(microseconds=pl.col("_shift_us").fill_null(0))
    return moved.with_columns(pl.col("t_utc") + by).drop("_shift_us")
