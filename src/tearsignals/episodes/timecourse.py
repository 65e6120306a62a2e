"""Event-locked time course: HR and ln RMSSD in short bins around onset and end.

:func:`episode_timecourse` gives the ``episode_timecourse`` table: for every
analysed episode, bins of ``TimecourseConfig.bin_min`` minutes (default 2)
from ``start_min`` to ``end_min`` (default -30 to +120) around the episode
onset (``anchor = "onset"``) and, separately, around its end (``anchor =
"end"``). :func:`cohort_timecourse` averages it into ``cohort_timecourse``.

Decisions:

- **Storage.** Per-episode rows are stored (partitioned by subject, like
  the other gold tables), so a notebook can redo any average; the cohort
  table holds the average over subjects. Subject means are not stored:
  :func:`subject_timecourse` computes them from the episode rows.
- **Vectorised.** All bins of all episodes go through one
  ``hrv.time_domain`` call over the subject-sorted beats, with the beat
  ordering, RR cleaning and window index ranges of ``tearsignals.episodes.window_metrics``
  (``sorted_unique_beats``, ``cleaned_beats``, ``window_index``) and its
  minute-HR statistics (``hr_window_stats``).
- **Basis and quality.** ``rr`` where the bin holds beats, else
  ``minute_hr`` (mean HR only, ln RMSSD null), else ``none``. A bin's values
  count when its coverage (as in ``episode_windows``) is at least
  ``min_coverage`` and, on ``rr``, its artifact rate is at most
  ``max_artifact`` and it has ``min_nn`` clean intervals; otherwise they are
  null and ``reason`` says why. A bin that meets another analysed episode's
  effect span (``[onset + pre start, end + last post-bin end)``, the span
  ``tearsignals.episodes.windows`` flags) is null with that reason.
- **Change from baseline.** ``hr_change_bpm`` / ``ln_rmssd_change`` are the
  bin value minus the episode's ``baseline`` window value from
  ``episode_windows`` (only a ``good`` or ``fair`` baseline), so the time
  course and the shifts share one baseline. Descriptive: the change includes
  the time-of-day drift between baseline and bin.
- **Control-adjusted change** (the estimand, as for the shifts): the same
  clock-time bins on the episode's matched control days (the control rows of
  ``episode_windows``: their ``during`` window gives the control's onset and
  end, their baseline its reference), each bin's change computed the same
  way; ``adjusted_hr_change_bpm`` / ``adjusted_ln_rmssd_change`` = the
  episode's change minus the mean change of the nearest ``n_controls``
  control days whose bin is usable (``n_controls_hr`` /
  ``n_controls_ln_rmssd`` of them; null without one), as the shifts do per
  window.
- **Cohort average and CI.** Each subject's mean over its usable episodes
  per bin, then the mean of subject means (subjects weigh equally); the 95%
  t-interval over subject means (df = subjects - 1; null with fewer than two
  subjects) is given for the control-adjusted change only - levels and raw
  changes are descriptive, like raw shifts.
"""

from __future__ import annotations

import polars as pl

from tearsignals.config import AnalysisConfig, TimecourseConfig, WindowConfig
from tearsignals.contract import schema
from tearsignals.episodes import window_metrics
from tearsignals.episodes.windows import OVERLAP_REASON, nearest_controls, overlapping_keys
from tearsignals.timebase import minutes_us

ANCHORS = ("onset", "end")
TIMECOURSE_SERIES = {
    "mean_hr_bpm": ("mean_hr_bpm", "value"),
    "ln_rmssd": ("ln_rmssd", "value"),
    "hr_change_bpm": ("mean_hr_bpm", "change"),
    "ln_rmssd_change": ("ln_rmssd", "change"),
    "adjusted_hr_change_bpm": ("mean_hr_bpm", "adjusted"),
    "adjusted_ln_rmssd_change": ("ln_rmssd", "adjusted"),
}
_DAY_KEY = ["subject_id", "episode_id", "role", "control_day_offset"]
_BIN_KEY = [*_DAY_KEY, "anchor", "bin_start_min"]
_ADJUSTED = {
    "hr_change_bpm": ("adjusted_hr_change_bpm", "n_controls_hr"),
    "ln_rmssd_change": ("adjusted_ln_rmssd_change", "n_controls_ln_rmssd"),
}


def episode_anchors(window_rows: pl.DataFrame) -> pl.DataFrame:
    """Per analysed episode and each of its control days (``role``,
    ``control_day_offset``): ``onset_utc``, ``end_utc`` (the ``during`` window) and
    the usable (good/fair) ``baseline`` values ``base_hr_bpm``, ``base_ln_rmssd``."""
    during = window_rows.filter(pl.col("window") == "during").select(
        *_DAY_KEY, onset_utc="window_start_utc", end_utc="window_end_utc"
    )
    base = window_rows.filter(
        (pl.col("window") == "baseline") & pl.col("quality").is_in(["good", "fair"])
    ).select(*_DAY_KEY, base_hr_bpm="mean_hr_bpm", base_ln_rmssd="ln_rmssd")
    return during.join(base, on=_DAY_KEY, how="left")


def bin_offsets(cfg: TimecourseConfig) -> pl.DataFrame:
    """Every (anchor, bin) with ``bin_start_min`` and ``bin_end_min`` relative to the anchor."""
    n = round((cfg.end_min - cfg.start_min) / cfg.bin_min)
    starts = [cfg.start_min + k * cfg.bin_min for k in range(n)]
    return pl.DataFrame(
        {
            "anchor": [a for a in ANCHORS for _ in starts],
            "bin_start_min": starts * len(ANCHORS),
        },
        schema={"anchor": pl.String, "bin_start_min": pl.Float64},
    ).with_columns(bin_end_min=pl.col("bin_start_min") + cfg.bin_min)


def timecourse_bins(anchors: pl.DataFrame, cfg: TimecourseConfig) -> pl.DataFrame:
    """Every bin of every episode with ``window_start_utc``/``window_end_utc`` (UTC)."""
    at = pl.when(pl.col("anchor") == "onset").then("onset_utc").otherwise("end_utc")
    start = at + pl.duration(microseconds=(pl.col("bin_start_min") * 60_000_000).round())
    return (
        anchors.join(bin_offsets(cfg), how="cross")
        .with_columns(window_start_utc=start)
        .with_columns(
            window_end_utc=pl.col("window_start_utc")
            + pl.duration(microseconds=minutes_us(cfg.bin_min))
        )
        .sort(_BIN_KEY)
    )


def overlap_flags(bins: pl.DataFrame, units: pl.DataFrame, cfg: WindowConfig) -> pl.Series:
    """True for bins meeting another episode's effect span (see the module docstring);
    ``units`` are the episodes' own anchors."""
    hits = overlapping_keys(bins, list(_BIN_KEY), units, cfg).with_columns(flagged=pl.lit(True))
    joined = bins.select(_BIN_KEY).join(hits, on=_BIN_KEY, how="left", maintain_order="left")
    return joined["flagged"].fill_null(False)


def rr_bin_stats(beats: pl.DataFrame, bins: pl.DataFrame, cfg: AnalysisConfig) -> pl.DataFrame:
    """Per bin: ``analysis.rr_window_stats`` (cleaning, index ranges and one
    ``hrv.time_domain`` call for all bins) without spectra.

    LF/HF is not part of the time course: bins of at most 2 minutes are below
    what a spectrum needs, so the frequency gate is set beyond any bin's span.
    """
    no_spectra = cfg.frequency.model_copy(
        update={"min_clean_s": cfg.stats.timecourse.bin_min * 60.0 + 10.0}
    )
    return window_metrics.rr_window_stats(beats, bins, cfg.cleaning, no_spectra)


def _basis_coverage() -> list[pl.Expr]:
    """``basis`` and ``coverage`` as in ``episode_windows``, plus ``artifact_rate``
    (share of the bin's recorded beats the cleaning flagged)."""
    artifact = pl.when(pl.col("n_beats") > 0).then(pl.col("n_flagged") / pl.col("n_beats"))
    return [*window_metrics.basis_and_coverage(), artifact.alias("artifact_rate")]


def _reason(cfg: TimecourseConfig) -> pl.Expr:
    """First reason a bin's values are null (or ln RMSSD on minute HR); null when usable."""
    rr = pl.col("basis") == "rr"
    tests = [
        (pl.col("flagged"), OVERLAP_REASON),
        (pl.col("basis") == "none", "no data in bin"),
        (pl.col("coverage") < cfg.min_coverage, f"coverage < {cfg.min_coverage:g}"),
        (
            rr & (pl.col("artifact_rate") > cfg.max_artifact),
            f"artifact rate > {cfg.max_artifact:g}",
        ),
        (rr & (pl.col("n_nn") < cfg.min_nn), f"fewer than {cfg.min_nn} clean beats"),
        (pl.col("basis") == "minute_hr", "minute HR only: no ln RMSSD"),
    ]
    expr: pl.Expr = pl.lit(None, pl.String)
    for cond, label in reversed(tests):
        expr = pl.when(cond).then(pl.lit(label)).otherwise(expr)
    return expr.alias("reason")


def _values() -> list[pl.Expr]:
    """HR / ln RMSSD where the bin is usable, and their change from the baseline window."""
    usable = pl.col("reason").is_null() | (pl.col("reason") == "minute HR only: no ln RMSSD")
    rr_hr = pl.col("mean_hr_bpm").fill_nan(None)
    hr = pl.when(pl.col("basis") == "rr").then(rr_hr).otherwise(pl.col("mean_hr").fill_nan(None))
    hr = pl.when(usable).then(hr)
    ln = pl.when(pl.col("reason").is_null()).then(pl.col("ln_rmssd").fill_nan(None))
    return [
        hr.alias("mean_hr_bpm"),
        ln.alias("ln_rmssd"),
        (hr - pl.col("base_hr_bpm")).alias("hr_change_bpm"),
        (ln - pl.col("base_ln_rmssd")).alias("ln_rmssd_change"),
    ]


def control_adjusted(rows: pl.DataFrame, max_controls: int) -> pl.DataFrame:
    """The episode rows of ``rows`` (every bin of episodes and control days) with each
    change's control-adjusted value and the number of control days behind it: per bin
    and change, the nearest ``max_controls`` days whose change is usable."""
    key = ["subject_id", "episode_id", "anchor", "bin_start_min"]
    out = rows.filter(pl.col("role") == "episode")
    for change, (adjusted, count) in _ADJUSTED.items():
        controls = (
            nearest_controls(rows, key, change, max_controls)
            .group_by(key)
            .agg(
                pl.col(change).mean().alias(f"control_{change}"),
                pl.col(change).count().cast(pl.Int64).alias(count),
            )
        )
        out = (
            out.join(controls, on=key, how="left", maintain_order="left")
            .with_columns(
                (pl.col(change) - pl.col(f"control_{change}")).alias(adjusted),
                pl.col(count).fill_null(0),
            )
            .drop(f"control_{change}")
        )
    return out


def episode_timecourse(
    beats: pl.DataFrame,
    heart_rate: pl.DataFrame,
    window_rows: pl.DataFrame,
    cfg: AnalysisConfig,
    params_hash: str,
) -> pl.DataFrame:
    """The ``episode_timecourse`` table: HR and ln RMSSD per bin around onset and end.

    Parameters
    ----------
    beats, heart_rate
        Canonical ``beats`` and ``heart_rate`` rows of the subjects (all of a
        subject's beats: cleaning looks at each beat's neighbours).
    window_rows
        The ``episode_windows`` rows of the same analysis: the episodes to
        follow and their control days (their ``during`` windows) and their
        baseline values.
    cfg
        Bins from ``cfg.stats.timecourse``, cleaning from ``cfg.cleaning``,
        the overlap span from ``cfg.windows``.
    params_hash
        Stored on every row.

    Returns
    -------
    pl.DataFrame
        One row per episode x anchor x bin, conformed to ``episode_timecourse``.
    """
    tc = cfg.stats.timecourse
    anchors = episode_anchors(window_rows)
    units = anchors.filter(pl.col("role") == "episode")
    bins = timecourse_bins(anchors, tc)
    stats = pl.concat(
        [
            bins.with_columns(flagged=overlap_flags(bins, units, cfg.windows)),
            rr_bin_stats(beats, bins, cfg),
            window_metrics.hr_window_stats(heart_rate, bins),
        ],
        how="horizontal",
    )
    rows = (
        stats.with_columns(_basis_coverage())
        .with_columns(_reason(tc))
        .with_columns(_values())
        .with_columns(
            bin_start_utc="window_start_utc",
            n_beats=pl.when(pl.col("basis") == "minute_hr").then("n_hr").otherwise("n_beats"),
            params_hash=pl.lit(params_hash),
        )
    )
    return schema.conform(control_adjusted(rows, cfg.windows.n_controls), "episode_timecourse")
