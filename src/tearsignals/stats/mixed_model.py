"""Cohort shifts as a linear mixed model: episodes nested in subjects.

One model per declared row of the analysis plan (:meth:`AnalysisConfig.family_rows`:
the primary outcome and the secondary families; metrics absent from the
shifts are skipped), always of the estimand - the control-adjusted shift
(raw shifts are descriptive and never modelled) - with a random intercept
per subject fitted by REML::

    shift_ij = b0 + u_i + e_ij,   u_i ~ N(0, tau^2) per subject, e_ij ~ N(0, sigma^2)

Rows of the ``cohort_model`` table (one per group, ``model`` and ``term``):

- ``model = "base"``: ``intercept`` - ``b0``, the average shift (subjects
  weighted by their precision, between the pooled mean and the mean of
  subject means); ``sd_subject`` (``tau``) and ``sd_residual`` (``sigma``,
  the within-person SD of shifts around the subject's own mean): estimates only.
- ``model = "moderators"`` (``StatsConfig.moderators``), a second model per
  group so that the base intercept always stays the average shift:
  ``intercept`` (the shift at the subject's mean intensity and the reference
  context), ``intensity_within`` - the episode's intensity minus the
  subject's mean intensity (within-person slope, shift per intensity point);
  ``intensity_between`` - the subject's mean intensity centred over subjects;
  ``context[<level>]`` - treatment contrast against the most frequent
  context (named in ``note``); contexts with fewer than
  ``min_context_episodes`` episodes are pooled into ``other``, a missing
  context is the level ``(missing)``. Episodes without intensity are left
  out of the moderator model. A merged analysis unit takes the intensity and
  context of its first episode.

Decisions:

- **Estimation.** The model has one variance ratio ``tau^2 / sigma^2``;
  :func:`reml_variances` maximises the exact profile REML likelihood over it
  (log grid including the boundary 0, then bounded Brent) on the
  standardised outcome ``(y - mean) / sd`` and maps back (an exact
  reparametrisation). Fixed effects and SEs are GLS at those variances,
  ``(X' V^-1 X)^-1`` (the fixed-effect block of the inverse information).
  statsmodels' ``MixedLM.fit`` gives the same numbers where it converges
  inside the parameter space (``tests/unit/test_mixed.py``) but was not
  usable here: with few subjects and a common effect most fits sit at the
  boundary ``tau^2 = 0``, where it emits 4-6 ConvergenceWarnings per fit,
  raises ``LinAlgError`` from a singular Hessian in many moderator fits, has
  NaN standard errors, and - treating the singular covariance as infinite in
  its GLS step - returns the within-subject estimator (e.g. an
  ``intensity_between`` of exactly 0).
- **Degrees of freedom** (between-within rule): a term constant within every
  subject (``intercept``, ``intensity_between``) gets ``S - k_between``, a term
  that varies within subjects ``N - S - k_within`` (S subjects, N episodes, k
  the number of such terms). CI = estimate +/- t(0.975, df) x SE; two-sided
  t-test p-value. For the intercept-only model df = S - 1: with a balanced
  design and ``tau^2 > 0`` the interval equals the t-interval of subject means.
- **Fallbacks** (``method``): ``mixedlm`` normally, also at the boundary
  ``tau^2 = 0`` (then ``note`` says so); ``ols_cluster`` - OLS with
  cluster-robust (CR1) SE by subject and df S - 1 - when every subject has one
  episode (the random intercept is not identifiable) or the REML fit fails
  (non-finite likelihood, singular design); ``none`` - fewer than
  ``model_min_subjects`` subjects, no variation, collinear terms or too few
  degrees of freedom: numbers null, ``note`` says why. No exception and no
  warning leaves a fit: warnings raised while fitting (numpy, scipy,
  statsmodels) are caught and their messages recorded in ``note``.
- **Multiple comparisons.** Benjamini-Hochberg FDR within each family of the
  plan (``family``: ``primary`` - one row, so ``q_value = p_value`` - or a
  declared family; :mod:`tearsignals.stats.families`), separately per
  ``model`` and ``term``. ``p_value`` is the raw p, ``q_value`` the
  BH-adjusted one. Rows without a p-value are not counted.
- ``cohort_summary`` (t-interval over subject means) is the primary
  analysis of the same estimand; the model adds moderators and shrinkage.
  Calibration (``tests/integration/test_simulation.py``, 4 subjects): with
  subjects sharing one effect the intercept CI is conservative (coverage
  ~99 %, false positives ~0.3 %: df = S - 1 is small); with subjects whose
  effects differ it covers ~98 % (false positives ~2 %).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import TypeVar

import numpy as np
import numpy.typing as npt
import polars as pl

from tearsignals.arrays import FloatArray, IntArray
from tearsignals.config import AnalysisConfig, StatsConfig
from tearsignals.contract import schema
from tearsignals.stats import families, summaries

METHODS = ("mixedlm", "ols_cluster", "none")
_RATIO_MIN, _RATIO_MAX = 1e-6, 1e4  # search range of tau^2 / sigma^2 (z is standardised)
_NOTE_CHARS = 160
T = TypeVar("T")


@dataclass(frozen=True)
class Fit:
    """Fixed effects of one fitted model on the outcome's own scale."""

    method: str
    note: str | None
    terms: tuple[str, ...]
    estimate: FloatArray
    std_error: FloatArray
    df: FloatArray
    sd_subject: float | None = None
    sd_residual: float | None = None


class FitFailed(Exception):
    """A model could not be fitted; the message goes into ``note``."""


def _joined_notes(messages: list[str]) -> str | None:
    """Distinct first lines of ``messages`` in order, '; '-joined and shortened."""
    seen: list[str] = []
    for m in messages:
        line = m.strip().splitlines()[0][:_NOTE_CHARS] if m.strip() else ""
        if line and line not in seen:
            seen.append(line)
    return "; ".join(seen) or None


def gls(
    x: FloatArray, y: FloatArray, codes: IntArray, tau2: float, sigma2: float
) -> tuple[FloatArray, npt.NDArray[np.float64]]:
    """GLS fixed effects and their covariance ``(X' V^-1 X)^-1`` for a random-intercept
    model with ``V_i = sigma2 I + tau2 J``.

    Uses ``V_i^-1 = (I - g_i J) / sigma2`` with ``g_i = tau2 / (sigma2 + n_i tau2)``,
    so only per-subject sums are needed.
    """
    n_i = np.bincount(codes).astype(np.float64)
    g = tau2 / (sigma2 + n_i * tau2)
    x_sums = np.zeros((n_i.size, x.shape[1]))
    np.add.at(x_sums, codes, x)
    y_sums = np.bincount(codes, weights=y)
    info = (x.T @ x - (x_sums.T * g) @ x_sums) / sigma2
    rhs = (x.T @ y - (x_sums.T * g) @ y_sums) / sigma2
    cov = np.linalg.inv(info)
    return np.asarray(cov @ rhs, dtype=np.float64), np.asarray(cov, dtype=np.float64)


def between_within_df(x: FloatArray, codes: IntArray) -> FloatArray:
    """Per column: ``S - k_between`` if constant within every subject, else ``N - S - k_within``."""
    n_subjects = int(codes.max()) + 1
    lo = np.full((n_subjects, x.shape[1]), np.inf)
    hi = np.full((n_subjects, x.shape[1]), -np.inf)
    np.minimum.at(lo, codes, x)
    np.maximum.at(hi, codes, x)
    within = (hi - lo > 1e-12).any(axis=0)
    k_within = int(within.sum())
    df_between = n_subjects - (x.shape[1] - k_within)
    df_within = x.shape[0] - n_subjects - k_within
    return np.where(within, df_within, df_between).astype(np.float64)


def _run_quietly(fn: Callable[[], T]) -> tuple[T, list[str]]:
    """``fn()`` with every warning captured: (result, warning messages)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = fn()
    return out, [str(w.message) for w in caught]


def _gls_quadratic(
    x: FloatArray, z: FloatArray, codes: IntArray, ratio: float
) -> tuple[float, float]:
    """At ``tau^2 / sigma^2 = ratio``: ``r' W^-1 r`` of the GLS residuals and
    ``log |X' W^-1 X|``, with ``W_i = I + ratio J``."""
    beta, cov = gls(x, z, codes, ratio, 1.0)
    resid = z - x @ beta
    n_i = np.bincount(codes).astype(np.float64)
    sums = np.bincount(codes, weights=resid)
    quad = float(resid @ resid - (ratio / (1.0 + n_i * ratio)) @ (sums * sums))
    return quad, -float(np.linalg.slogdet(cov)[1])


def neg_profile_reml(x: FloatArray, z: FloatArray, codes: IntArray, ratio: float) -> float:
    """Minus the REML log-likelihood with ``beta`` and ``sigma^2`` profiled out
    (constants dropped): ``((N-p) log q + sum log(1 + n_i ratio) + log|X'W^-1X|) / 2``."""
    quad, logdet_info = _gls_quadratic(x, z, codes, ratio)
    n_i = np.bincount(codes).astype(np.float64)
    dof = z.size - x.shape[1]
    return 0.5 * (dof * np.log(quad) + float(np.log1p(n_i * ratio).sum()) + logdet_info)


def reml_variances(z: FloatArray, x: FloatArray, codes: IntArray) -> tuple[float, float]:
    """REML ``(tau^2, sigma^2)`` of the random-intercept model.

    The model has one variance ratio ``tau^2 / sigma^2``: the profile REML
    likelihood is searched on a log grid (plus the boundary 0), then refined
    by bounded Brent around the best grid point; ``sigma^2 = q / (N - p)``.
    """
    from scipy.optimize import minimize_scalar

    def objective(log_ratio: float) -> float:
        return neg_profile_reml(x, z, codes, float(np.exp(log_ratio)))

    grid = np.linspace(np.log(_RATIO_MIN), np.log(_RATIO_MAX), 21)
    values = np.array([objective(g) for g in grid])
    at_zero = neg_profile_reml(x, z, codes, 0.0)
    if not (np.isfinite(values).all() and np.isfinite(at_zero)):
        raise FitFailed("REML likelihood not finite")
    k = int(np.argmin(values))
    best = minimize_scalar(
        objective, bounds=(grid[max(k - 1, 0)], grid[min(k + 1, grid.size - 1)]), method="bounded"
    )
    ratio = float(np.exp(best.x)) if best.fun < values[k] else float(np.exp(grid[k]))
    if at_zero <= min(best.fun, values[k]):
        ratio = 0.0
    quad, _ = _gls_quadratic(x, z, codes, ratio)
    sigma2 = quad / (z.size - x.shape[1])
    if not sigma2 > 0:
        raise FitFailed("REML residual variance is not positive")
    return ratio * sigma2, sigma2


def fit_mixedlm(z: FloatArray, x: FloatArray, codes: IntArray) -> Fit:
    """Random-intercept REML fit of standardised ``z``: GLS estimates and SE, BW df."""
    try:
        (tau2, sigma2), messages = _run_quietly(lambda: reml_variances(z, x, codes))
    except FitFailed:
        raise
    except (np.linalg.LinAlgError, ValueError, FloatingPointError) as err:
        raise FitFailed(f"mixed model failed: {type(err).__name__}: {err}") from None
    if tau2 == 0.0:
        messages = ["random-intercept variance at the boundary 0", *messages]
    beta, cov = gls(x, z, codes, tau2, sigma2)
    return Fit(
        method="mixedlm",
        note=_joined_notes(messages),
        terms=(),
        estimate=beta,
        std_error=np.sqrt(np.diag(cov)),
        df=between_within_df(x, codes),
        sd_subject=float(np.sqrt(tau2)),
        sd_residual=float(np.sqrt(sigma2)),
    )


def fit_ols_cluster(z: FloatArray, x: FloatArray, codes: IntArray, why: str) -> Fit:
    """OLS with cluster-robust (CR1) SE by subject, df = S - 1."""
    import statsmodels.api as sm

    def fit() -> tuple[FloatArray, FloatArray]:
        res = sm.OLS(z, x).fit(cov_type="cluster", cov_kwds={"groups": codes}, use_t=True)
        return np.asarray(res.params, dtype=np.float64), np.asarray(res.bse, dtype=np.float64)

    (params, se), messages = _run_quietly(fit)
    if not (np.isfinite(params).all() and np.isfinite(se).all()):
        raise FitFailed(f"{why}; OLS fallback gave non-finite estimates")
    df = np.full(params.size, float(codes.max()))
    return Fit("ols_cluster", _joined_notes([why, *messages]), (), params, se, df)


def _within_sd(z: FloatArray, codes: IntArray) -> float | None:
    """Pooled within-subject SD of ``z`` (person-mean-centred, df N - S)."""
    frame = summaries.person_mean_centred(pl.DataFrame({"subject_id": codes, "value": z}))
    dof = z.size - (int(codes.max()) + 1)
    if dof < 1:
        return None
    return float(np.sqrt((frame["within"].to_numpy() ** 2).sum() / dof))


def none_fit(terms: tuple[str, ...], why: str) -> Fit:
    nan = np.full(len(terms), np.nan)
    return Fit("none", why, terms, nan, nan, nan)


def _fit_standardised(z: FloatArray, x: FloatArray, codes: IntArray) -> Fit:
    """``mixedlm``, or ``ols_cluster`` when it cannot be fitted (reason in ``note``)."""
    if z.size == int(codes.max()) + 1:
        why = "one episode per subject: random intercept not identifiable"
    else:
        try:
            return fit_mixedlm(z, x, codes)
        except FitFailed as err:
            why = str(err)
    fit = fit_ols_cluster(z, x, codes, why)
    return replace(fit, sd_residual=_within_sd(z, codes))


def fit_model(
    y: FloatArray, x: FloatArray, codes: IntArray, names: tuple[str, ...], cfg: StatsConfig
) -> Fit:
    """Fit ``y ~ X`` (column 0 the intercept) with a random intercept per subject code.

    Handles every failure as data: the result's ``method`` and ``note`` say what
    was done; estimates are on the scale of ``y``.
    """
    n_subjects = int(codes.max()) + 1 if codes.size else 0
    if n_subjects < cfg.model_min_subjects:
        return none_fit(
            names, f"{n_subjects} subject(s) < model_min_subjects {cfg.model_min_subjects}"
        )
    centre, scale = float(y.mean()), float(y.std(ddof=1))
    if not scale > 0:
        return none_fit(names, "no variation in shifts")
    if np.linalg.matrix_rank(x) < x.shape[1]:
        return none_fit(names, "collinear terms: not estimable")
    try:
        fit = _fit_standardised((y - centre) / scale, x, codes)
    except FitFailed as err:
        return none_fit(names, str(err))
    if (fit.df < 1).any():
        return none_fit(names, f"too few episodes for {len(names)} terms (df < 1)")
    estimate = fit.estimate * scale
    estimate[0] += centre
    return replace(
        fit,
        terms=names,
        estimate=estimate,
        std_error=fit.std_error * scale,
        sd_subject=None if fit.sd_subject is None else fit.sd_subject * scale,
        sd_residual=None if fit.sd_residual is None else fit.sd_residual * scale,
    )


def subject_codes(subject_ids: pl.Series) -> IntArray:
    """Subject ids as codes ``0 .. S-1`` (sorted id order)."""
    _, codes = np.unique(subject_ids.cast(pl.String).to_numpy(), return_inverse=True)
    return np.asarray(codes, dtype=np.int64)


def _intensity_columns(frame: pl.DataFrame) -> dict[str, FloatArray]:
    """Person-mean-centred intensity and the subject's mean intensity centred over subjects."""
    centred = summaries.person_mean_centred(frame, "intensity")
    subject_means = centred.select("subject_id", "subject_mean").unique()["subject_mean"]
    between = (centred["subject_mean"] - subject_means.mean()).to_numpy()
    columns = {"intensity_within": centred["within"].to_numpy(), "intensity_between": between}
    return {k: v.astype(np.float64) for k, v in columns.items() if np.ptp(v) > 1e-12}


def context_levels(context: pl.Series, min_episodes: int) -> tuple[pl.Series, list[str]]:
    """Contexts with rare ones pooled to ``other`` and nulls as ``(missing)``;
    levels ordered most frequent first (the first is the reference), ties by name."""
    filled = context.cast(pl.String).fill_null("(missing)")
    counts = filled.value_counts(name="n")
    rare = counts.filter(pl.col("n") < min_episodes)[context.name or ""].to_list()
    pooled = filled.replace(dict.fromkeys(rare, "other"))
    ordered = pooled.value_counts(name="n").sort(["n", pooled.name], descending=[True, False])
    return pooled, ordered[pooled.name].to_list()


def moderator_design(
    frame: pl.DataFrame, cfg: StatsConfig
) -> tuple[pl.DataFrame, FloatArray, tuple[str, ...], str | None]:
    """Rows, design matrix (intercept first), term names and a note for the moderator model."""
    notes = []
    rows = frame
    if "intensity" in cfg.moderators:
        rows = frame.filter(pl.col("intensity").is_not_null())
        if rows.height < frame.height:
            notes.append(f"{frame.height - rows.height} episode(s) without intensity left out")
    columns = _intensity_columns(rows) if "intensity" in cfg.moderators and rows.height else {}
    if "context" in cfg.moderators and rows.height:
        pooled, levels = context_levels(rows["context"].alias("context"), cfg.min_context_episodes)
        for level in levels[1:]:
            columns[f"context[{level}]"] = (pooled == level).cast(pl.Float64).to_numpy()
        if len(levels) > 1:
            notes.append(f"reference context: {levels[0]}")
    names = ("intercept", *columns)
    x = (
        np.column_stack([np.ones(rows.height), *columns.values()])
        if rows.height
        else np.ones((0, 1))
    )
    return rows, x, names, "; ".join(notes) or None


def _fit_rows(fit: Fit, model: str, n_subjects: int, n_episodes: int) -> list[dict[str, object]]:
    """Table rows of one fit: its terms, then its variance components (estimates only)."""

    def row(term: str, est: float | None, se: float | None, df: float | None) -> dict[str, object]:
        return {
            "model": model,
            "term": term,
            "estimate": est,
            "std_error": se,
            "df": df,
            "method": fit.method,
            "note": fit.note,
            "n_subjects": n_subjects,
            "n_episodes": n_episodes,
        }

    terms = zip(fit.terms, fit.estimate, fit.std_error, fit.df, strict=True)
    return [
        *(row(t, e, s, d) for t, e, s, d in terms),
        row("sd_subject", fit.sd_subject, None, None),
        row("sd_residual", fit.sd_residual, None, None),
    ]


def _with_note(fit: Fit, extra: str | None) -> Fit:
    return replace(fit, note=_joined_notes([n for n in (extra, fit.note) if n]))


def group_rows(frame: pl.DataFrame, cfg: StatsConfig) -> list[dict[str, object]]:
    """All rows of one declared metric x window (``subject_id, value`` plus
    ``intensity``/``context`` when moderators are on; nulls in ``value`` ignored)."""
    usable = frame.filter(pl.col("value").is_not_null())
    codes = subject_codes(usable["subject_id"])
    y = usable["value"].to_numpy().astype(np.float64)
    n_subjects = int(codes.max()) + 1 if codes.size else 0
    base = fit_model(y, np.ones((y.size, 1)), codes, ("intercept",), cfg)
    if not usable.height:
        base = replace(base, note="no usable shifts")
    rows = _fit_rows(base, "base", n_subjects, usable.height)
    if not cfg.moderators or base.method == "none":
        return rows
    kept, x, names, note = moderator_design(usable, cfg)
    if len(names) == 1:
        return rows
    kept_codes = subject_codes(kept["subject_id"])
    fit = _with_note(
        fit_model(kept["value"].to_numpy().astype(np.float64), x, kept_codes, names, cfg), note
    )
    n_kept = int(kept_codes.max()) + 1 if kept_codes.size else 0
    return rows + _fit_rows(fit, "moderators", n_kept, kept.height)


def _model_groups(
    shifts: pl.DataFrame, episodes: pl.DataFrame | None, cfg: AnalysisConfig
) -> Iterator[tuple[tuple[str, str, str], pl.DataFrame]]:
    """Each declared row's adjusted shifts (plan order) with the episode covariates joined:
    ``(family, metric, window)`` and the frame."""
    long = summaries.kind_long(shifts).filter(pl.col("shift_kind") == "adjusted")
    covariates = ["intensity", "context"]
    if episodes is not None and cfg.stats.moderators:
        chosen = episodes.select("subject_id", "episode_id", *covariates).unique(
            ["subject_id", "episode_id"]
        )
        long = long.join(chosen, on=["subject_id", "episode_id"], how="left")
    else:
        long = long.with_columns(
            intensity=pl.lit(None, pl.Float64), context=pl.lit(None, pl.String)
        )
    long = long.with_columns(
        pl.col("intensity").cast(pl.Float64), pl.col("context").cast(pl.String)
    )
    parts = long.partition_by(["metric", "window"], as_dict=True)
    for family, metric, window in cfg.family_rows():
        part = parts.get((metric, window))
        if part is not None:
            yield (family, metric, window), part.sort("subject_id", "episode_id")


def cohort_model(
    shifts: pl.DataFrame, episodes: pl.DataFrame | None, cfg: AnalysisConfig, params_hash: str
) -> pl.DataFrame:
    """The ``cohort_model`` table from ``episode_shifts`` (all subjects) and ``episodes``.

    Parameters
    ----------
    shifts
        ``episode_shifts`` rows of every subject made with one parameter set.
    episodes
        Canonical ``episodes`` rows (``subject_id, episode_id, intensity,
        context``) for the moderator model; ``None`` fits no moderators.
    cfg
        The declared rows (:meth:`AnalysisConfig.family_rows`), moderators and
        limits (``cfg.stats``).
    params_hash
        Stored on every row.

    Returns
    -------
    pl.DataFrame
        Conformed to ``cohort_model``, in plan order; see the module docstring.
    """
    rows = [
        {"family": f, "metric": m, "window": w, **r}
        for (f, m, w), frame in _model_groups(shifts, episodes, cfg)
        for r in group_rows(frame, cfg.stats)
    ]
    table = pl.DataFrame(rows, schema=_ROW_SCHEMA)
    numbers = [table[c].fill_null(np.nan).to_numpy() for c in ("estimate", "std_error", "df")]
    ci_low, ci_high, p = summaries.t_inference(*numbers)
    table = table.with_columns(
        ci_low=pl.Series(ci_low), ci_high=pl.Series(ci_high), p_value=pl.Series(p)
    ).with_columns(pl.col("estimate", "ci_low", "ci_high", "p_value").fill_nan(None))
    table = families.with_q_values(table, by=("family", "model", "term"))
    return schema.conform(table.with_columns(params_hash=pl.lit(params_hash)), "cohort_model")


_ROW_SCHEMA = {
    "family": pl.String,
    "metric": pl.String,
    "window": pl.String,
    "model": pl.String,
    "term": pl.String,
    "estimate": pl.Float64,
    "std_error": pl.Float64,
    "df": pl.Float64,
    "method": pl.String,
    "note": pl.String,
    "n_subjects": pl.Int64,
    "n_episodes": pl.Int64,
}
