"""Analysis windows around each episode, and matched control windows on other days.

The output of :func:`episode_windows_spec` is the *window spec*: one row per
analysis unit x role x control day x window name, with the window's UTC bounds
``[window_start_utc, window_end_utc)`` and an optional ``flag_reason``. The
analysis (``tearsignals.episodes.window_metrics``) computes metrics for exactly these rows.

Decisions (DESIGN.md: "overlapping episodes are merged or flagged, never
double-counted"):

- **Merge.** Episodes of one subject whose ``[start, end)`` overlap or touch
  are one analysis unit: onset = earliest start, end = latest end, and the
  unit keeps the ``episode_id`` of its earliest-starting episode (ties: the
  smallest id). The others get no rows of their own; :func:`analysis_units`
  lists them in ``merged_episode_ids`` for reporting.
- **Flag.** After merging, a unit's window that intersects another unit's
  *effect span* ``[onset + pre start, end + latest post-bin end)`` (defaults:
  5 min before onset to 90 min after the end) carries
  ``flag_reason = OVERLAP_REASON``. The analysis downgrades such windows to
  ``poor`` so shifts and summaries exclude them.
- **Controls.** Day offsets ``d`` are tried nearest first (``-1, +1, -2, +2,
  ...``; ties go to the earlier day). The control onset is the episode onset
  moved by ``d`` *calendar* days in the episode's time zone (``tz`` when
  polars knows it, else UTC), so it has the same local clock time across DST
  switches; the control end keeps the episode's duration, so every control
  window has the duration of its episode window. A day is used when no
  episode of the subject lies within ``control_exclusion_h`` of the control's
  whole span. Usability is per compared window: with ``data_hours``, a day
  serves a window when every clock hour touched by its baseline and by that
  window holds data (a shift needs both), so a day with data before the
  episode's clock time but none after it never stands in for the post
  windows. Each compared window gets its ``n_controls`` nearest usable days;
  a day chosen for any window is in the spec with all its windows, and
  ``tearsignals.episodes.shifts`` keeps per window (and metric) the nearest
  ``n_controls`` days whose shift is usable (:func:`nearest_controls`), so
  ``n_controls`` there counts the days behind that window's adjusted shift. A
  local onset that does not exist on the control day (inside a spring-forward
  gap) skips that day; an ambiguous one takes the earlier instant.
- **Acute stays inside the episode.** ``acute`` ends at ``min(onset +
  acute end, episode end)``: in an episode shorter than 4 min it would
  otherwise read recovery as crying. Control days keep the episode's duration,
  so their ``acute`` is cut alike.

Examples
--------
>>> from datetime import datetime, timezone
>>> from tearsignals.config import WindowConfig
>>> episodes = pl.DataFrame(
...     {
...         "subject_id": ["s1"],
...         "episode_id": ["e1"],
...         "start_utc": [datetime(2024, 5, 2, 12, 0, tzinfo=timezone.utc)],
...         "end_utc": [datetime(2024, 5, 2, 12, 10, tzinfo=timezone.utc)],
...         "tz": ["Europe/Berlin"],
...     }
... )
>>> spec = episode_windows_spec(episodes, WindowConfig(n_controls=1))
>>> spec.filter(pl.col("window") == "baseline").select(
...     "role", "control_day_offset", "window_start_utc"
... ).rows()  # doctest: +NORMALIZE_WHITESPACE
[('episode', 0, datetime.datetime(2024, 5, 2, 11, 50, tzinfo=zoneinfo.ZoneInfo(key='UTC'))),
 ('control', -1, datetime.datetime(2024, 5, 1, 11, 50, tzinfo=zoneinfo.ZoneInfo(key='UTC')))]
"""

from __future__ import annotations

import polars as pl

from tearsignals.config import WindowConfig
from tearsignals.timebase import minutes_us

OVERLAP_REASON = "another episode within window"

SPEC_KEY = ["subject_id", "episode_id", "role", "control_day_offset"]
SPEC_COLUMNS = (
    *SPEC_KEY,
    "window",
    "window_start_utc",
    "window_end_utc",
    "flag_reason",
)


def window_definitions(cfg: WindowConfig) -> pl.DataFrame:
    """One row per window of :meth:`WindowConfig.spans`, in order: each bound's anchor and offset.

    Offsets are integer microseconds; ``during`` runs from the onset to the end;
    ``within_episode`` windows (``acute``) end at the episode end at the latest.
    """
    rows = [
        (
            s.name,
            s.start_anchor,
            minutes_us(s.start_min),
            s.end_anchor,
            minutes_us(s.end_min),
            s.within_episode,
        )
        for s in cfg.spans()
    ]
    return pl.DataFrame(
        rows,
        schema={
            "window": pl.String,
            "start_anchor": pl.String,
            "start_offset_us": pl.Int64,
            "end_anchor": pl.String,
            "end_offset_us": pl.Int64,
            "within_episode": pl.Boolean,
        },
        orient="row",
    ).with_row_index("window_order")


def analysis_units(episodes: pl.DataFrame) -> pl.DataFrame:
    """Merge each subject's overlapping or touching episodes into analysis units.

    Returns ``subject_id, episode_id, onset_utc, end_utc, tz, merged_episode_ids``
    sorted by subject and onset; ``episode_id`` is the earliest episode's id and
    ``merged_episode_ids`` lists every episode of the unit (itself included).
    An end before the start is treated as a zero-length episode.
    """
    has_tz = "tz" in episodes.columns
    tz_column = (pl.col("tz") if has_tz else pl.lit(None)).cast(pl.String).alias("tz")
    ordered = episodes.select(
        "subject_id",
        "episode_id",
        pl.col("start_utc").alias("onset_utc"),
        pl.max_horizontal("start_utc", "end_utc").alias("end_utc"),
        tz_column,
    ).sort("subject_id", "onset_utc", "end_utc", "episode_id")
    prev_end = pl.col("end_utc").cum_max().shift(1).over("subject_id")
    starts_unit = prev_end.is_null() | (pl.col("onset_utc") > prev_end)
    return (
        ordered.with_columns(unit=starts_unit.cast(pl.Int64).cum_sum().over("subject_id"))
        .group_by("subject_id", "unit", maintain_order=True)
        .agg(
            pl.col("episode_id").first(),
            pl.col("onset_utc").first(),
            pl.col("end_utc").max(),
            pl.col("tz").first(),
            pl.col("episode_id").alias("merged_episode_ids"),
        )
        .drop("unit")
    )


def windows_from_anchors(anchors: pl.DataFrame, cfg: WindowConfig) -> pl.DataFrame:
    """Every window of every anchor row (``onset_utc``, ``end_utc`` plus key columns).

    Keeps the anchor's columns except the anchors themselves and adds ``window``,
    ``window_order``, ``window_start_utc`` and ``window_end_utc``.
    """
    defs = window_definitions(cfg)

    def bound(anchor: str, offset: str) -> pl.Expr:
        base = pl.when(pl.col(anchor) == "onset").then("onset_utc").otherwise("end_utc")
        return base + pl.duration(microseconds=pl.col(offset))

    start = bound("start_anchor", "start_offset_us")
    end = bound("end_anchor", "end_offset_us")
    # Cut at the episode end, never before the window's own start (then it is empty).
    inside = pl.min_horizontal(end, pl.max_horizontal("end_utc", start))
    return (
        anchors.join(defs, how="cross")
        .with_columns(
            window_start_utc=start,
            window_end_utc=pl.when("within_episode").then(inside).otherwise(end),
        )
        .drop("start_anchor", "start_offset_us", "end_anchor", "end_offset_us", "within_episode")
    )


def overlapping_keys(
    frame: pl.DataFrame, key: list[str], units: pl.DataFrame, cfg: WindowConfig
) -> pl.DataFrame:
    """Distinct ``key`` rows of ``frame`` (windows or bins with ``subject_id``,
    ``episode_id``, ``window_start_utc``, ``window_end_utc``) that meet another
    unit's effect span ``[onset + pre start, end + latest post-bin end)``."""
    effect = units.select(
        "subject_id",
        pl.col("episode_id").alias("other_id"),
        (pl.col("onset_utc") + pl.duration(microseconds=minutes_us(cfg.pre_min[0]))).alias(
            "eff_start"
        ),
        (pl.col("end_utc") + pl.duration(microseconds=minutes_us(cfg.effect_end_min()))).alias(
            "eff_end"
        ),
    )
    # Equi-join on subject then filter: O(rows x episodes per subject), small here.
    return (
        frame.select(*key, "window_start_utc", "window_end_utc")
        .join(effect, on="subject_id")
        .filter(
            (pl.col("other_id") != pl.col("episode_id"))
            & (pl.col("eff_start") < pl.col("window_end_utc"))
            & (pl.col("eff_end") > pl.col("window_start_utc"))
        )
        .select(key)
        .unique()
    )


def _overlap_flagged(windows: pl.DataFrame, units: pl.DataFrame, cfg: WindowConfig) -> pl.DataFrame:
    """``windows`` with ``flag_reason`` set where a window meets another unit's effect span."""
    key = ["subject_id", "episode_id", "window"]
    hits = overlapping_keys(windows, key, units, cfg).with_columns(
        flag_reason=pl.lit(OVERLAP_REASON)
    )
    return windows.join(hits, on=key, how="left")


def _effective_tz(tz: str | None) -> str:
    """``tz`` when polars knows it as a time zone, else ``"UTC"``."""
    if tz is None:
        return "UTC"
    try:
        pl.Series([0], dtype=pl.Datetime("us")).dt.replace_time_zone(tz)
    except pl.exceptions.ComputeError:
        return "UTC"
    return tz


def _shifted_onsets(candidates: pl.DataFrame) -> pl.DataFrame:
    """``candidates`` with ``control_onset_utc``: onset moved by ``control_day_offset``
    calendar days in local time (null when that local time does not exist)."""
    parts = []
    for (tz,), part in candidates.partition_by("tz_eff", as_dict=True).items():
        local = pl.col("onset_utc").dt.convert_time_zone(str(tz)).dt.replace_time_zone(None)
        moved = local + pl.duration(days=pl.col("control_day_offset"))
        shifted = moved.dt.replace_time_zone(str(tz), ambiguous="earliest", non_existent="null")
        parts.append(part.with_columns(control_onset_utc=shifted.dt.convert_time_zone("UTC")))
    if not parts:
        return candidates.with_columns(control_onset_utc=pl.lit(None, pl.Datetime("us", "UTC")))
    return pl.concat(parts)


def _day_offsets(cfg: WindowConfig) -> pl.DataFrame:
    """Candidate day offsets in preference order: nearest first, earlier day on ties."""
    offsets = [s * k for k in range(1, cfg.control_search_days + 1) for s in (-1, 1)]
    return pl.DataFrame(
        {"control_day_offset": offsets, "preference": range(len(offsets))},
        schema={"control_day_offset": pl.Int32, "preference": pl.Int64},
    )


def _control_candidates(units: pl.DataFrame, cfg: WindowConfig) -> pl.DataFrame:
    """Every (unit, day offset) with its control anchors ``onset_utc``/``end_utc``."""
    tz_map = {tz: _effective_tz(tz) for tz in units["tz"].drop_nulls().unique().to_list()}
    with_tz = units.with_columns(
        tz_eff=pl.col("tz").replace_strict(tz_map, default="UTC", return_dtype=pl.String)
    )
    shifted = _shifted_onsets(with_tz.join(_day_offsets(cfg), how="cross"))
    duration = pl.col("end_utc") - pl.col("onset_utc")
    return shifted.filter(pl.col("control_onset_utc").is_not_null()).select(
        "subject_id",
        "episode_id",
        "control_day_offset",
        "preference",
        pl.col("control_onset_utc").alias("onset_utc"),
        (pl.col("control_onset_utc") + duration).alias("end_utc"),
    )


def _spans(windows: pl.DataFrame, names: tuple[str, ...] | None = None) -> pl.DataFrame:
    """Per (subject, episode, day offset): earliest window start and latest window end."""
    chosen = windows if names is None else windows.filter(pl.col("window").is_in(names))
    return chosen.group_by("subject_id", "episode_id", "control_day_offset").agg(
        span_start=pl.col("window_start_utc").min(), span_end=pl.col("window_end_utc").max()
    )


def _free_of_episodes(spans: pl.DataFrame, units: pl.DataFrame, hours: float) -> pl.DataFrame:
    """The ``spans`` with no unit within ``hours`` of them.

    Units of a subject are disjoint and sorted, so only the last unit starting
    before the padded span end can reach into it (an as-of join, not a cross join).
    """
    pad = pl.duration(microseconds=round(hours * 3600 * 1_000_000))
    padded = spans.with_columns(lo=pl.col("span_start") - pad, hi=pl.col("span_end") + pad).sort(
        "hi"
    )
    starts = units.select("subject_id", pl.col("onset_utc").alias("u_start"), "end_utc").sort(
        "u_start"
    )
    nearest = padded.join_asof(
        starts,
        left_on="hi",
        right_on="u_start",
        by="subject_id",
        strategy="backward",
        allow_exact_matches=False,
        check_sortedness=False,
    )
    clash = pl.col("end_utc").is_not_null() & (pl.col("end_utc") > pl.col("lo"))
    return nearest.filter(~clash).select(spans.columns)


def _with_data(spans: pl.DataFrame, data_hours: pl.DataFrame) -> pl.DataFrame:
    """The ``spans`` whose every touched clock hour (UTC) holds data in ``data_hours``."""
    key = ["subject_id", "episode_id", "control_day_offset"]
    hours = (
        spans.with_columns(
            hour_utc=pl.datetime_ranges(
                pl.col("span_start").dt.truncate("1h"),
                (pl.col("span_end") - pl.duration(microseconds=1)).dt.truncate("1h"),
                interval="1h",
            )
        )
        .explode("hour_utc")
        .join(
            data_hours.select("subject_id", "hour_utc").unique().with_columns(has=pl.lit(True)),
            on=["subject_id", "hour_utc"],
            how="left",
        )
    )
    covered = hours.group_by(key).agg(pl.col("has").fill_null(False).all().alias("ok"))
    return spans.join(covered.filter("ok").select(key), on=key, how="semi")


def _usable_for_windows(
    windows: pl.DataFrame,
    units: pl.DataFrame,
    cfg: WindowConfig,
    data_hours: pl.DataFrame | None,
) -> pl.DataFrame:
    """``subject_id, episode_id, control_day_offset, window`` of every candidate day free
    of episodes and, with ``data_hours``, holding data in every clock hour of the baseline
    and of that compared window (a shift needs both)."""
    key = ["subject_id", "episode_id", "control_day_offset"]
    free = _free_of_episodes(_spans(windows), units, cfg.control_exclusion_h).select(key)
    compared = pl.DataFrame({"window": list(cfg.names()[1:])})
    if data_hours is None:
        return free.join(compared, how="cross")
    per_window = [
        _with_data(_spans(windows, (cfg.names()[0], name)), data_hours)
        .join(free, on=key, how="semi")
        .select(key)
        .with_columns(window=pl.lit(name))
        for name in compared["window"]
    ]
    return pl.concat(per_window)


def control_anchors(
    units: pl.DataFrame, cfg: WindowConfig, data_hours: pl.DataFrame | None = None
) -> pl.DataFrame:
    """Control days per unit as anchor rows (role ``control``): for every compared window,
    its ``cfg.n_controls`` nearest usable days (:func:`_usable_for_windows`); a day chosen
    for any window gets all of its windows (the shifts then keep, per window, the nearest
    ``n_controls`` days with a usable shift)."""
    key = ["subject_id", "episode_id", "control_day_offset"]
    candidates = _control_candidates(units, cfg)
    usable = _usable_for_windows(windows_from_anchors(candidates, cfg), units, cfg, data_hours)
    chosen = (
        candidates.join(usable, on=key)
        .sort("subject_id", "episode_id", "window", "preference")
        .filter(pl.int_range(pl.len()).over("subject_id", "episode_id", "window") < cfg.n_controls)
        .select(key)
        .unique()
    )
    return (
        candidates.join(chosen, on=key, how="semi")
        .sort("subject_id", "episode_id", "preference")
        .with_columns(role=pl.lit("control"))
        .select(*SPEC_KEY, "onset_utc", "end_utc")
    )


def nearest_controls(rows: pl.DataFrame, key: list[str], value: str, k: int) -> pl.DataFrame:
    """The control rows of ``rows`` with a non-null ``value``: per ``key``, the ``k``
    nearest days (nearest first, the earlier day on ties - the order days are tried in).

    Examples
    --------
    >>> rows = pl.DataFrame({"role": ["control"] * 4, "w": ["a"] * 4,
    ...                      "control_day_offset": [2, -1, 1, -2], "v": [1.0, None, 3.0, 4.0]})
    >>> nearest_controls(rows, ["w"], "v", 2)["control_day_offset"].to_list()
    [1, -2]
    """
    return (
        rows.filter((pl.col("role") == "control") & pl.col(value).is_not_null())
        .sort(pl.col("control_day_offset").abs(), "control_day_offset")
        .filter(pl.int_range(pl.len()).over(key) < k)
    )


def data_hours(*frames: pl.DataFrame) -> pl.DataFrame:
    """Clock hours (UTC) with any sample, per subject, from frames with ``subject_id, t_utc``.

    Pass the beats and heart-rate frames; the result feeds :func:`episode_windows_spec`.
    """
    parts = [
        f.select("subject_id", pl.col("t_utc").dt.truncate("1h").alias("hour_utc")) for f in frames
    ]
    if not parts:
        return pl.DataFrame(schema={"subject_id": pl.String, "hour_utc": pl.Datetime("us", "UTC")})
    return pl.concat(parts).unique().sort("subject_id", "hour_utc")


def episode_windows_spec(
    episodes: pl.DataFrame, cfg: WindowConfig, data_hours: pl.DataFrame | None = None
) -> pl.DataFrame:
    """The window spec: every window of every analysis unit and its matched control days.

    Parameters
    ----------
    episodes
        Rows of the canonical ``episodes`` table (needs ``subject_id, episode_id,
        start_utc, end_utc``; ``tz`` optional).
    cfg
        Window bounds and control-day rules.
    data_hours
        Optional ``subject_id, hour_utc`` frame (see :func:`data_hours`); when
        given, control days need data in the hours of their onset-locked windows.

    Returns
    -------
    pl.DataFrame
        ``subject_id, episode_id, role, control_day_offset (Int32), window,
        window_start_utc, window_end_utc, flag_reason`` sorted by subject,
        episode, role (episode first), day offset and window order.
    """
    units = analysis_units(episodes)
    own = units.select(
        "subject_id",
        "episode_id",
        role=pl.lit("episode"),
        control_day_offset=pl.lit(0, pl.Int32),
        onset_utc="onset_utc",
        end_utc="end_utc",
    )
    own_windows = _overlap_flagged(windows_from_anchors(own, cfg), units, cfg)
    controls = windows_from_anchors(control_anchors(units, cfg, data_hours), cfg).with_columns(
        flag_reason=pl.lit(None, pl.String)
    )
    return (
        pl.concat([own_windows, controls], how="diagonal_relaxed")
        .sort(
            "subject_id",
            "episode_id",
            pl.col("role") != "episode",
            "control_day_offset",
            "window_order",
        )
        .select(SPEC_COLUMNS)
    )
