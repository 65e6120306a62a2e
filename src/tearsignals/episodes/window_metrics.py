"""HR/HRV per analysis window and shifts from baseline: the gold tables' numbers.

:func:`episode_window_metrics` turns beats, heart-rate samples and a window
spec (``tearsignals.episodes.windows.episode_windows_spec``) into the
``episode_windows`` table; :func:`episode_shifts` turns that into the
``episode_shifts`` table. Both are pure and vectorised: all subjects' beats
form one array set and ``hrv.time_domain`` runs once for all windows.

Decisions:

- **Basis** per window: ``rr`` when the window holds beats (HRV from cleaned
  RR), else ``minute_hr`` when it holds heart-rate samples (mean HR only, HRV
  null), else ``none``.
- **Cleaning** (``CleaningConfig``, ``beats.cleaning.clean_series``) runs per
  subject on all of its beats. Metrics use the *cleaned* series: with
  ``lipponen`` (the default) ectopic and long/short intervals are interpolated,
  missed beats split and extra beats merged (``tearsignals.beats.correction``)
  where the recorded interval is not sinus-like (the sinus guard); corrected
  intervals count as NN, and differences between successive NN intervals of
  the corrected series are used - including the two halves of a split missed
  interval and the intervals around an interpolated one (as Kubios does).
  ``median`` rejects instead of correcting. Either way intervals outside the
  limits are not NN, and a difference across a gap in the beat times is never
  used. Windows are located on the cleaned beat times.
- **Ledger** (``rr`` windows, counted on the *recorded* beats in the window):
  ``n_beats`` recorded beats; ``n_ectopic``, ``n_missed``, ``n_extra``,
  ``n_long_short`` their Lipponen classes (null for ``median``, which does
  not classify); ``pct_corrected = 100 * (sum of the four) / n_beats`` (0 for
  ``median``); ``artifact_rate`` = share of recorded beats *flagged*:
  corrected, or rejected (missing, outside the limits, or failing the median
  rule / residual gate) - so ``artifact_rate >= pct_corrected / 100``. It is
  no longer ``1 - n_nn / n_beats``: corrected beats are NN and a split missed
  beat adds one. ``pct_missing`` = share of the span not covered by recorded
  intervals ``[t - rr, t)`` (intervals over ``2 * rr_max_ms`` are gaps, not
  coverage). ``cleaning`` names method, parameters and library versions.
- **Coverage**: ``rr`` - summed RR of the window's cleaned beats / window
  span; ``minute_hr`` - distinct clock minutes with a sample x 60 s / span (so
  second-resolution or duplicate-source HR is not over-counted); capped at 1.
- **Quality** (``QualityConfig``): ``good`` needs coverage >= good_coverage,
  artifact rate <= good_max_artifact and >= min_beats NN intervals; ``fair``
  the same with the fair thresholds; anything else with data is ``poor``; no
  data is ``none``. ``minute_hr`` windows are graded on coverage alone. An
  ``rr`` window with ``pct_corrected > max_pct_corrected`` (20) or
  ``pct_missing > max_pct_missing`` (15) - the PhysioNet toolbox's rejection
  rules - is at most ``poor``, as is a window flagged by the spec (another
  episode in it); ``reason`` says which.
- **Nulls, not NaN**: undefined metrics are null; ``poor`` windows keep the
  values that are defined and ``reason`` says why they are poor.
- **LF/HF**: ``lf_ms2``, ``hf_ms2``, ``lf_hf`` from ``frequency.frequency_domain``
  (``AnalysisConfig.frequency``; default the PhysioNet toolbox's Lomb recipe
  in ms^2 density scaling) on ``rr`` windows, null elsewhere and where the
  window holds less than ``min_clean_s`` of NN intervals. ``reason`` says so
  only when nothing else explains the window (e.g. a short ``during`` window
  that is otherwise good), so poor windows keep their first cause.
  ``resp_rate_bpm`` (the HF-band peak of the same spectrum x 60, same
  gating) is the breathing rate: its shift is both a result and an optional
  covariate of the cohort model (``StatsConfig.covariates``).
- **Equal-length segments** (``WindowConfig.segment_min``, 5 min): SDNN, SD2
  and spectral power grow with the length of the record (slow drifts add
  variance), and the windows compared differ (baseline 5 min, post bins 20-40
  min), so a null cohort would show SDNN "rising" after crying. A window
  longer than one segment reads ``SEGMENT_METRICS`` (``sdnn_ms``, ``sd2_ms``,
  ``lf_ms2``, ``hf_ms2``, ``lf_hf``, ``resp_rate_bpm``; ``ln_hf`` follows
  ``hf_ms2``) as the mean over its consecutive segments from the window start
  (the Task Force 1996 SDNN index; a remainder shorter than a segment is not
  used), ``lf_hf`` as mean LF over mean HF. A segment counts when it holds
  ``FrequencyConfig.min_clean_s`` of NN intervals (the spectrum's gate), so all
  of a window's segment metrics rest on the same segments; ``n_segments``
  says how many (1 for a window read whole, 0 leaves them null). Metrics that
  do not grow with length (mean HR, RMSSD, pNN50, SD1) use the whole window.
- **RR-normalised RMSSD**: ``rmssd_over_nn_pct = 100 * rmssd_ms / mean NN``
  (``hrv.time_domain``), beside RMSSD: a faster heart alone lowers RMSSD, so
  its shift is read together with this one and with ``mean_hr_bpm``'s.
- **Shift metrics** (``SHIFT_METRICS``): the time-domain metrics plus
  ``lf_ms2``, ``hf_ms2``, ``ln_hf``, ``lf_hf`` and ``resp_rate_bpm``. ``ln_hf = ln(hf_ms2)`` is
  stored because HF power is strongly right-skewed between and within people;
  its shift is a log ratio (-0.69 = HF halved), the scale on which HF changes
  are usually averaged and tested. ``lf_ms2``/``hf_ms2`` stay raw for
  comparison with published tables, ``lf_hf`` raw as the commonly reported
  ratio (its shifts are skewed too: read them with medians and CIs).
- **Shift exclusions** use fixed categories (see :data:`SHIFT_EXCLUSIONS`) so
  summaries can count them.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import polars as pl

from tearsignals.arrays import BoolArray, FloatArray, IntArray
from tearsignals.beats import cleaning, correction
from tearsignals.beats.cleaning import (
    CleanedBeats,
    cleaned_beats,
    sorted_unique_beats,
    subject_slices,
)
from tearsignals.config import (
    AnalysisConfig,
    CleaningConfig,
    FrequencyConfig,
    QualityConfig,
)
from tearsignals.contract import schema
from tearsignals.hrv import frequency_domain, time_domain
from tearsignals.timebase import epoch_us, minutes_us

_FREQ_METRICS = ("lf_ms2", "hf_ms2", "lf_hf", "resp_rate_bpm")
SEGMENT_METRICS = ("sdnn_ms", "sd2_ms", *_FREQ_METRICS)
SHIFT_METRICS = (*time_domain.METRICS, "lf_ms2", "hf_ms2", "ln_hf", "lf_hf", "resp_rate_bpm")
LEDGER_COUNTS = {
    "n_ectopic": correction.ECTOPIC,
    "n_missed": correction.MISSED,
    "n_extra": correction.EXTRA,
    "n_long_short": correction.LONG_SHORT,
}


def _spec_groups(
    spec: pl.DataFrame,
) -> Iterator[tuple[str, IntArray, IntArray, IntArray]]:
    """Per subject: spec row positions and window start/end in epoch microseconds."""
    rows = spec.select(
        "subject_id",
        epoch_us("window_start_utc").alias("start_us"),
        epoch_us("window_end_utc").alias("end_us"),
    ).with_row_index("row")
    for (subject,), part in rows.partition_by("subject_id", as_dict=True).items():
        yield (
            str(subject),
            part["row"].to_numpy().astype(np.int64),
            part["start_us"].to_numpy(),
            part["end_us"].to_numpy(),
        )


def window_index(
    spec: pl.DataFrame, t_us: IntArray, slices: dict[str, slice]
) -> tuple[IntArray, IntArray]:
    """Global ``[lo, hi)`` beat index ranges of every spec row (empty without data)."""
    lo = np.zeros(spec.height, dtype=np.int64)
    hi = np.zeros(spec.height, dtype=np.int64)
    for subject, rows, start, end in _spec_groups(spec):
        part = slices.get(subject)
        if part is None:
            continue
        sub_lo, sub_hi = time_domain.window_bounds(t_us[part], start, end)
        lo[rows] = sub_lo + part.start
        hi[rows] = sub_hi + part.start
    return lo, hi


def _windowed_subset(lo: IntArray, hi: IntArray, n: int) -> tuple[IntArray, IntArray, IntArray]:
    """Positions of the beats inside any window, and ``lo``/``hi`` re-indexed to them.

    Each window stays one contiguous run of originally adjacent beats, so
    ``time_domain`` on the subset gives the same per-window numbers while its
    prefix sums skip the (often much larger) stretches between windows.
    """
    delta = np.zeros(n + 1, dtype=np.int64)
    np.add.at(delta, lo, 1)
    np.add.at(delta, hi, -1)
    keep = np.flatnonzero(np.cumsum(delta[:-1]) > 0)
    new_lo = np.searchsorted(keep, lo).astype(np.int64)
    new_hi = np.searchsorted(keep, hi).astype(np.int64)
    return keep, new_lo, new_hi


def _cleaned_metrics(
    clean: CleanedBeats,
    spec: pl.DataFrame,
    freq: FrequencyConfig,
    spectral: BoolArray | None = None,
) -> dict[str, FloatArray]:
    """Time- and frequency-domain metrics of every spec row over the cleaned series
    (spectra only of the rows where ``spectral`` is true; NaN elsewhere)."""
    lo_c, hi_c = window_index(spec, clean.t_us, clean.slices)
    keep, lo, hi = _windowed_subset(lo_c, hi_c, clean.rr_ms.size)
    rr, nn_ok = clean.rr_ms[keep], clean.nn_ok[keep]
    metrics = time_domain.time_domain(rr, nn_ok, clean.pair_ok[keep], lo, hi)
    t_us = clean.t_us[keep]
    t_ms = (t_us - (t_us[0] if keep.size else 0)) / 1000.0
    hi_f = hi if spectral is None else np.where(spectral, hi, lo)
    spectrum = frequency_domain.frequency_domain(t_ms, rr, nn_ok, lo, hi_f, freq)
    metrics.update({name: spectrum[name] for name in _FREQ_METRICS})
    return metrics


def segment_spec(spec: pl.DataFrame, segment_us: int) -> tuple[pl.DataFrame, IntArray]:
    """Consecutive ``segment_us`` segments, from its start, of every spec row longer than one.

    Returns the segments (``subject_id, window_start_utc, window_end_utc``) and
    the spec row each belongs to; a remainder shorter than a segment is left out.

    Examples
    --------
    >>> from datetime import UTC, datetime
    >>> t = [datetime(2024, 1, 1, 12, tzinfo=UTC), datetime(2024, 1, 1, 12, 12, tzinfo=UTC)]
    >>> spec = pl.DataFrame({"subject_id": ["s", "s"], "window_start_utc": [t[0], t[0]],
    ...                      "window_end_utc": [t[0], t[1]]})
    >>> segments, parent = segment_spec(spec, 300_000_000)
    >>> parent.tolist(), segments["window_end_utc"].dt.minute().to_list()
    ([1, 1], [5, 10])
    """
    start, end = _spec_bounds_us(spec)
    count = np.where(end - start > segment_us, (end - start) // max(segment_us, 1), 0)
    parent = np.repeat(np.arange(spec.height, dtype=np.int64), count)
    first = np.repeat(np.cumsum(count) - count, count)
    seg_start = start[parent] + (np.arange(parent.size) - first) * segment_us

    def utc(us: IntArray) -> pl.Series:
        return pl.Series(us, dtype=pl.Int64).cast(pl.Datetime("us")).dt.replace_time_zone("UTC")

    segments = pl.DataFrame(
        {
            "subject_id": spec["subject_id"].gather(parent),
            "window_start_utc": utc(seg_start),
            "window_end_utc": utc(seg_start + segment_us),
        }
    )
    return segments, parent


def _mean_by(parent: IntArray, values: FloatArray, usable: BoolArray, n: int) -> FloatArray:
    """Mean of the finite ``values`` of usable segments per parent row (NaN without one)."""
    ok = usable & np.isfinite(values)
    total = np.bincount(parent[ok], weights=values[ok], minlength=n)
    count = np.bincount(parent[ok], minlength=n).astype(np.float64)
    return np.divide(total, count, out=np.full(n, np.nan), where=count > 0)


def segment_means(
    clean: CleanedBeats, spec: pl.DataFrame, freq: FrequencyConfig, segment_us: int
) -> tuple[dict[str, FloatArray], FloatArray]:
    """``SEGMENT_METRICS`` of every spec row longer than one segment as the mean over its
    usable segments (see the module notes), and how many segments were usable.

    A segment is usable when its spectrum is defined (``freq.min_clean_s`` of NN
    intervals), so every segment metric of a window rests on the same segments.
    ``lf_hf`` is mean LF over mean HF (the ratio of the averaged spectrum).
    Rows not longer than a segment get NaN and a count of 0.
    """
    segments, parent = segment_spec(spec, segment_us)
    seg = _cleaned_metrics(clean, segments, freq)
    usable = np.isfinite(seg["lf_ms2"]) & np.isfinite(seg["sdnn_ms"])
    n = spec.height
    means = {m: _mean_by(parent, seg[m], usable, n) for m in SEGMENT_METRICS if m != "lf_hf"}
    lf_hf = np.full(n, np.nan)
    np.divide(means["lf_ms2"], means["hf_ms2"], out=lf_hf, where=means["hf_ms2"] > 0)
    means["lf_hf"] = lf_hf
    return means, np.bincount(parent[usable], minlength=n).astype(np.float64)


def _with_segments(
    clean: CleanedBeats, spec: pl.DataFrame, freq: FrequencyConfig, segment_min: float
) -> dict[str, FloatArray]:
    """:func:`_cleaned_metrics`, with ``SEGMENT_METRICS`` of windows longer than
    ``segment_min`` (when > 0) from :func:`segment_means`, and ``n_segments``
    (1 for a window read whole)."""
    segment_us = minutes_us(segment_min)
    start, end = _spec_bounds_us(spec)
    long = (end - start > segment_us) if segment_us > 0 else np.zeros(spec.height, dtype=bool)
    metrics = _cleaned_metrics(clean, spec, freq, spectral=~long)
    metrics["n_segments"] = np.ones(spec.height)
    if long.any():
        means, n_segments = segment_means(clean, spec, freq, segment_us)
        for name in SEGMENT_METRICS:
            metrics[name] = np.where(long, means[name], metrics[name])
        metrics["n_segments"] = np.where(long, n_segments, 1.0)
    return metrics


def beat_ledger(clean: CleanedBeats, lo: IntArray, hi: IntArray) -> dict[str, FloatArray]:
    """Per window of *recorded* beats ``[lo, hi)``: ``n_flagged`` and the count of
    each artifact class (``LEDGER_COUNTS``; NaN when the method does not classify)."""
    out = {"n_flagged": time_domain.window_sums(clean.flagged.astype(np.float64), lo, hi)}
    for name, code in LEDGER_COUNTS.items():
        if clean.labels is None:
            out[name] = np.full(lo.size, np.nan)
        else:
            out[name] = time_domain.window_sums((clean.labels == code).astype(np.float64), lo, hi)
    return out


def covered_ms(
    t_us: IntArray,
    rr_ms: FloatArray,
    bounds: tuple[IntArray, IntArray, IntArray],
    start_us: IntArray,
    end_us: IntArray,
) -> FloatArray:
    """Milliseconds of each window ``[start, end)`` covered by recorded intervals ``[t - rr, t)``.

    ``bounds`` = ``(lo, hi, stop)``: the window's beats and the end of its
    subject's beats. ``rr_ms`` is 0 where an interval does not count. The
    window's beats contribute their intervals, less the part of the first one
    before ``start``, plus the part of the next beat's interval inside the
    window; overlaps from timestamp jitter are not removed, the sum is clipped
    to the span.
    """
    lo, hi, stop = bounds
    span_ms = (end_us - start_us) / 1000.0
    if rr_ms.size == 0:
        return np.zeros(lo.size)
    has = hi > lo
    first = np.minimum(lo, rr_ms.size - 1)
    early = np.maximum(rr_ms[first] - (t_us[first] - start_us) / 1000.0, 0.0)
    after = np.minimum(hi, rr_ms.size - 1)
    tail_from = np.maximum(start_us, t_us[after] - rr_ms[after] * 1000.0)
    tail = np.where(hi < stop, np.maximum(end_us - tail_from, 0.0) / 1000.0, 0.0)
    inside = time_domain.window_sums(rr_ms, lo, hi) - early + tail
    return np.where(has, np.clip(inside, 0.0, span_ms), 0.0)


def _spec_bounds_us(spec: pl.DataFrame) -> tuple[IntArray, IntArray]:
    us = spec.select(epoch_us("window_start_utc").alias("a"), epoch_us("window_end_utc").alias("b"))
    return us["a"].to_numpy(), us["b"].to_numpy()


def rr_window_stats(
    beats: pl.DataFrame,
    spec: pl.DataFrame,
    cfg: CleaningConfig,
    freq: FrequencyConfig,
    segment_min: float = 0.0,
) -> pl.DataFrame:
    """Per spec row: metrics of the cleaned series (one ``time_domain`` call, and
    ``lf_ms2``, ``hf_ms2``, ``lf_hf``, ``resp_rate_bpm`` by ``frequency_domain``; NaN
    where undefined; ``SEGMENT_METRICS`` of rows longer than ``segment_min`` > 0 as
    segment means, with ``n_segments``),
    ``n_beats`` recorded, the artifact ledger and ``covered_ms`` of the span."""
    ordered = sorted_unique_beats(beats, spec["subject_id"].unique())
    t_us = ordered["t_us"].to_numpy()
    rr = ordered["rr_ms"].to_numpy()
    slices = subject_slices(ordered["subject_id"])
    clean = cleaned_beats(t_us, rr, slices, cfg)
    lo, hi = window_index(spec, t_us, slices)
    metrics = _with_segments(clean, spec, freq, segment_min)
    metrics.update(beat_ledger(clean, lo, hi))
    stops = {s: part.stop for s, part in slices.items()}
    stop = spec["subject_id"].replace_strict(stops, default=0, return_dtype=pl.Int64).to_numpy()
    countable = np.where(correction.valid_intervals(rr, cfg), rr, 0.0)
    metrics["covered_ms"] = covered_ms(t_us, countable, (lo, hi, stop), *_spec_bounds_us(spec))
    metrics["n_beats"] = (hi - lo).astype(np.float64)
    names = ("n_beats", "n_nn", "n_pairs", "sum_rr_ms", *time_domain.METRICS, *_FREQ_METRICS)
    extra = ("n_flagged", *LEDGER_COUNTS, "covered_ms", "n_segments")
    columns = {name: metrics[name] for name in (*names, *extra)}
    return pl.DataFrame(columns).with_columns(
        pl.col("n_beats", "n_nn", "n_pairs", "n_flagged", "n_segments").cast(pl.Int64)
    )


def hr_window_stats(heart_rate: pl.DataFrame, spec: pl.DataFrame) -> pl.DataFrame:
    """Per spec row: HR sample count ``n_hr``, ``hr_minutes`` with a sample, ``mean_hr``."""
    ordered = (
        heart_rate.filter(pl.col("subject_id").is_in(spec["subject_id"].unique().implode()))
        .select("subject_id", epoch_us("t_utc").alias("t_us"), pl.col("hr_bpm").cast(pl.Float64))
        .sort("subject_id", "t_us")
    )
    minute = pl.col("t_us") // 60_000_000
    new_minute = ~(
        (minute == minute.shift(1)) & (pl.col("subject_id") == pl.col("subject_id").shift(1))
    )
    first = ordered.select(new_minute.fill_null(True).alias("first"))["first"].to_numpy()
    first = first.astype(np.float64)
    t_us = ordered["t_us"].to_numpy()
    lo, hi = window_index(spec, t_us, subject_slices(ordered["subject_id"]))
    prefix_hr = np.concatenate(([0.0], np.cumsum(ordered["hr_bpm"].to_numpy())))
    prefix_min = np.concatenate(([0.0], np.cumsum(first)))
    n_hr = hi - lo
    sum_hr = prefix_hr[hi] - prefix_hr[lo]
    mean_hr = np.divide(sum_hr, n_hr, out=np.full(n_hr.shape, np.nan), where=n_hr > 0)
    return pl.DataFrame(
        {"n_hr": n_hr, "hr_minutes": prefix_min[hi] - prefix_min[lo], "mean_hr": mean_hr}
    )


def basis_and_coverage() -> list[pl.Expr]:
    """``basis`` (rr, minute_hr or none) and ``coverage`` of the window span, capped at 1."""
    span_ms = (pl.col("window_end_utc") - pl.col("window_start_utc")).dt.total_microseconds() / 1000
    rr_cov = pl.col("sum_rr_ms") / span_ms
    hr_cov = pl.col("hr_minutes") * 60_000 / span_ms
    basis = (
        pl.when(pl.col("n_beats") > 0)
        .then(pl.lit("rr"))
        .when(pl.col("n_hr") > 0)
        .then(pl.lit("minute_hr"))
        .otherwise(pl.lit("none"))
    )
    coverage = (
        pl.when(span_ms <= 0)
        .then(0.0)
        .when(pl.col("n_beats") > 0)
        .then(rr_cov)
        .when(pl.col("n_hr") > 0)
        .then(hr_cov)
        .otherwise(0.0)
    )
    return [basis.alias("basis"), coverage.clip(0.0, 1.0).alias("coverage")]


def _rejected(q: QualityConfig) -> pl.Expr:
    """The PhysioNet toolbox's rejection rules: too many beats corrected or too much missing."""
    return (pl.col("pct_corrected").fill_null(0.0) > q.max_pct_corrected) | (
        pl.col("pct_missing").fill_null(0.0) > q.max_pct_missing
    )


def _grade(q: QualityConfig) -> pl.Expr:
    """Quality from basis, coverage, artifact rate and NN count (before overlap flags)."""
    enough = (pl.col("n_nn") >= q.min_beats) | (pl.col("basis") == "minute_hr")
    art = pl.col("artifact_rate").fill_null(0.0)
    good = (pl.col("coverage") >= q.good_coverage) & (art <= q.good_max_artifact) & enough
    fair = (pl.col("coverage") >= q.fair_coverage) & (art <= q.fair_max_artifact) & enough
    graded = (
        pl.when(good).then(pl.lit("good")).when(fair).then(pl.lit("fair")).otherwise(pl.lit("poor"))
    )
    quality = pl.when(pl.col("basis") == "none").then(pl.lit("none")).otherwise(graded)
    flagged = (pl.col("flag_reason").is_not_null() | _rejected(q)) & quality.is_in(["good", "fair"])
    return pl.when(flagged).then(pl.lit("poor")).otherwise(quality).alias("quality")


def _reason(q: QualityConfig, f: FrequencyConfig, segment_min: float) -> pl.Expr:
    """Why a window is below good or has null metrics; null when nothing to say."""
    rr = pl.col("basis") == "rr"
    parts = [
        pl.col("flag_reason"),
        pl.when(pl.col("basis") == "none").then(pl.lit("no data in window")),
        pl.when(pl.col("basis") == "minute_hr").then(pl.lit("no beat intervals: HRV needs RR")),
        pl.when((pl.col("basis") != "none") & (pl.col("coverage") < q.good_coverage)).then(
            pl.format("coverage {} < {}", pl.col("coverage").round(2), pl.lit(q.good_coverage))
        ),
        pl.when(rr & (pl.col("artifact_rate") > q.good_max_artifact)).then(
            pl.format(
                "artifact rate {} > {}",
                pl.col("artifact_rate").round(2),
                pl.lit(q.good_max_artifact),
            )
        ),
        pl.when(rr & (pl.col("pct_corrected") > q.max_pct_corrected)).then(
            pl.format(
                "{}% beats corrected > {}%",
                pl.col("pct_corrected").round(1),
                pl.lit(f"{q.max_pct_corrected:g}"),
            )
        ),
        pl.when(rr & (pl.col("pct_missing") > q.max_pct_missing)).then(
            pl.format(
                "{}% of span missing > {}%",
                pl.col("pct_missing").round(1),
                pl.lit(f"{q.max_pct_missing:g}"),
            )
        ),
        pl.when(rr & (pl.col("n_nn") < q.min_beats)).then(
            pl.format("{} clean beats < {}", pl.col("n_nn"), pl.lit(q.min_beats))
        ),
        pl.when(rr & (pl.col("n_nn") > 0) & (pl.col("n_pairs") == 0)).then(
            pl.lit("no successive clean pairs")
        ),
    ]
    joined = pl.concat_str(parts, separator="; ", ignore_nulls=True)
    # Said only when nothing else explains the window, to keep reasons short.
    no_lf = rr & (pl.col("n_nn") > 0) & pl.col("lf_ms2").is_nan()
    no_segment = pl.col("n_segments") == 0
    return (
        pl.when((joined == "") & no_lf & no_segment)
        .then(
            pl.lit(
                f"no {segment_min:g}-min segment with {f.min_clean_s:g} s clean RR: "
                "no SDNN, SD2, LF/HF"
            )
        )
        .when((joined == "") & no_lf)
        .then(pl.lit(f"under {f.min_clean_s:g} s clean RR: no LF/HF"))
        .when(joined == "")
        .then(pl.lit(None, pl.String))
        .otherwise(joined)
        .alias("reason")
    )


def _metric_columns() -> list[pl.Expr]:
    """HRV metrics null unless rr basis; mean HR from samples on the minute_hr basis."""
    rr = pl.col("basis") == "rr"
    hrv_only = [
        pl.when(rr).then(pl.col(m).fill_nan(None)).alias(m)
        for m in time_domain.METRICS
        if m != "mean_hr_bpm"
    ]
    mean_hr = (
        pl.when(rr)
        .then(pl.col("mean_hr_bpm").fill_nan(None))
        .when(pl.col("basis") == "minute_hr")
        .then(pl.col("mean_hr").fill_nan(None))
        .alias("mean_hr_bpm")
    )
    freq = [pl.when(rr).then(pl.col(m).fill_nan(None)).alias(m) for m in _FREQ_METRICS]
    hf = pl.when(rr).then(pl.col("hf_ms2").fill_nan(None))
    ln_hf = pl.when(hf > 0).then(hf.log()).alias("ln_hf")
    n_segments = pl.when(rr).then(pl.col("n_segments")).alias("n_segments")
    return [mean_hr, *hrv_only, *freq, ln_hf, n_segments]


def _ledger_columns(cleaning: str) -> list[pl.Expr]:
    """Artifact ledger of ``rr`` windows (null elsewhere); see the module notes."""
    rr = pl.col("basis") == "rr"
    span_ms = (pl.col("window_end_utc") - pl.col("window_start_utc")).dt.total_microseconds() / 1000
    counts = [
        pl.when(rr).then(pl.col(c).fill_nan(None).cast(pl.Int64)).alias(c) for c in LEDGER_COUNTS
    ]
    corrected = pl.sum_horizontal(pl.col(c).fill_nan(None) for c in LEDGER_COUNTS)
    missing = (1.0 - pl.col("covered_ms") / span_ms).clip(0.0, 1.0)
    return [
        *counts,
        pl.when(rr).then(100.0 * corrected / pl.col("n_beats")).alias("pct_corrected"),
        pl.when(rr & (span_ms > 0)).then(100.0 * missing).alias("pct_missing"),
        pl.when(rr).then(pl.col("n_flagged") / pl.col("n_beats")).alias("artifact_rate"),
        pl.when(rr).then(pl.lit(cleaning)).alias("cleaning"),
    ]


def episode_window_metrics(
    beats: pl.DataFrame,
    heart_rate: pl.DataFrame,
    spec: pl.DataFrame,
    cfg: AnalysisConfig,
    params_hash: str,
) -> pl.DataFrame:
    """The ``episode_windows`` table: HR/HRV, coverage and quality for every spec row.

    Parameters
    ----------
    beats, heart_rate
        Canonical ``beats`` (``subject_id, t_utc, rr_ms``) and ``heart_rate``
        (``subject_id, t_utc, hr_bpm``) rows of the spec's subjects, any order.
        Pass all of a subject's beats, not only those in windows: cleaning
        looks at each beat's neighbours.
    spec
        Output of ``windows.episode_windows_spec`` (``flag_reason`` optional).
    cfg
        Cleaning, quality and frequency settings are used.
    params_hash
        Stored on every row.

    Returns
    -------
    pl.DataFrame
        One row per spec row, conformed to the ``episode_windows`` schema.
    """
    if "flag_reason" not in spec.columns:
        spec = spec.with_columns(flag_reason=pl.lit(None, pl.String))
    rr_stats = rr_window_stats(
        beats, spec, cfg.cleaning, cfg.frequency, segment_min=cfg.windows.segment_min
    )
    stats = pl.concat([spec, rr_stats, hr_window_stats(heart_rate, spec)], how="horizontal")
    with_basis = stats.with_columns(basis_and_coverage()).with_columns(
        _ledger_columns(cleaning.cleaning_description(cfg.cleaning))
    )
    rows = with_basis.with_columns(
        _grade(cfg.quality),
        _reason(cfg.quality, cfg.frequency, cfg.windows.segment_min),
        *_metric_columns(),
        n_beats=pl.when(pl.col("basis") == "minute_hr").then("n_hr").otherwise("n_beats"),
        params_hash=pl.lit(params_hash),
    )
    return schema.conform(rows, "episode_windows")
