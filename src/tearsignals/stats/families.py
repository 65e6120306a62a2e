"""The inferential families of the analysis plan and the FDR correction within each.

The estimand of every inferential row is the control-adjusted shift. A row
(metric x window) belongs to exactly one family:

- ``primary``: the plan's one primary outcome (``StatsConfig.primary``), a
  family of one row, so its q-value equals its p-value;
- a declared secondary family (``StatsConfig.families``, in declaration order);
- ``exploratory``: every other adjusted row of ``cohort_summary``.

Raw shifts (``shift_kind = "raw"``) are descriptive: they belong to no family
and carry no CI, p- or q-value. Within each family (and, in ``cohort_model``,
each model and term) p-values are adjusted by Benjamini-Hochberg: ``q_value``;
reject at FDR ``q`` where ``q_value <= q``. Rows without a p-value are not
counted.

Examples
--------
>>> bh_qvalues(np.array([0.01, 0.04, 0.03, np.nan])).round(3).tolist()
[0.03, 0.04, 0.04, nan]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from tearsignals.arrays import FloatArray
from tearsignals.config import AnalysisConfig

PRIMARY = "primary"
EXPLORATORY = "exploratory"


def bh_qvalues(p: FloatArray) -> FloatArray:
    """Benjamini-Hochberg adjusted p-values; NaN entries stay NaN and are not counted."""
    p = np.asarray(p, dtype=np.float64)
    q = np.full(p.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    if ok.size == 0:
        return q
    order = ok[np.argsort(p[ok], kind="stable")]
    scaled = p[order] * ok.size / np.arange(1, ok.size + 1)
    q[order] = np.minimum(np.minimum.accumulate(scaled[::-1])[::-1], 1.0)
    return q


def family_table(cfg: AnalysisConfig) -> pl.DataFrame:
    """``family, metric, window, family_order`` of every declared row (primary first)."""
    return pl.DataFrame(
        cfg.family_rows(), schema=["family", "metric", "window"], orient="row"
    ).with_row_index("family_order")


def with_families(table: pl.DataFrame, cfg: AnalysisConfig) -> pl.DataFrame:
    """``table`` (``metric``, ``window``, optional ``shift_kind``) with its ``family``:
    declared rows by the plan, other adjusted rows ``exploratory``, raw rows null."""
    declared = family_table(cfg).select("metric", "window", "family")
    out = table.join(declared, on=["metric", "window"], how="left", maintain_order="left")
    family = pl.col("family").fill_null(pl.lit(EXPLORATORY))
    if "shift_kind" in table.columns:
        family = pl.when(pl.col("shift_kind") == "adjusted").then(family)
    return out.with_columns(family.alias("family"))


def with_q_values(table: pl.DataFrame, by: Sequence[str] = ("family",)) -> pl.DataFrame:
    """``q_value``: Benjamini-Hochberg of ``p_value`` within each group of ``by``
    (rows with a null ``family`` get none)."""
    p = table["p_value"].fill_null(np.nan).to_numpy().copy()
    p[table["family"].is_null().to_numpy()] = np.nan
    q = np.full(p.shape, np.nan)
    groups = table.select(pl.struct(list(by)).rank("dense").alias("g"))["g"].to_numpy()
    for group in np.unique(groups):
        members = groups == group
        q[members] = bh_qvalues(p[members])
    return table.with_columns(q_value=pl.Series(q, dtype=pl.Float64).fill_nan(None))
