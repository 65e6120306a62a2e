"""Cohort shifts as linear mixed models: episodes nested in subjects.

One set of models per declared row of the analysis plan
(:meth:`AnalysisConfig.family_rows`: the primary outcome and the secondary
families; metrics absent from the shifts are skipped), always of the
estimand - the control-adjusted shift (raw shifts are descriptive and never
modelled) - fitted by REML (:mod:`tearsignals.stats.reml`)::

    shift_ij = x_ij' beta + u_i + v_i w_ij + e_ij,
    u_i ~ N(0, tau^2), v_i ~ N(0, tau_slope^2) (moderator model only), e_ij ~ N(0, sigma^2)

Rows of the ``cohort_model`` table (one per group, ``model`` and ``term``):

- ``model = "base"``: ``intercept`` - the average shift (subjects weighted
  by their precision, between the pooled mean and the mean of subject
  means); ``sd_subject`` (``tau``) and ``sd_residual`` (``sigma``, the
  within-person SD of shifts around the subject's own mean): estimates only.
- ``model = "moderators"`` (``StatsConfig.moderators``; terms in
  :mod:`tearsignals.stats.model_terms`), a second model so that the base
  intercept always stays the average shift: ``intercept`` (the shift at the
  subject's mean intensity and the reference context, named in ``note``),
  ``intensity_within``, ``intensity_between``, ``context[<level>]``; and
  ``sd_slope`` when the within-person slope is random.
- ``model = "covariates"`` (``StatsConfig.covariates``, off by default): the
  adjusted shifts of mean HR and/or breathing rate in the same window as
  uncentred covariates (``mean_hr_bpm_shift``, ``resp_rate_bpm_shift``), so
  its ``intercept`` is the outcome's shift at no HR or breathing change.

The per-subject estimates of every mixed model (BLUPs) go to the
``subject_effects`` table: for each subject and random term, the fixed
coefficient plus the subject's predicted random effect (what lme4's
``coef()`` gives), the random effect itself, its conditional SD given the
fixed effects, and the subject's observed mean shift beside the intercept.

Decisions:

- **Estimation.** Profile REML on the standardised outcome ``(y - mean) /
  sd``, mapped back (an exact reparametrisation), independent random
  effects (:mod:`tearsignals.stats.reml`). Fixed effects and SEs are GLS at
  the REML variances, ``(X' V^-1 X)^-1``. statsmodels' ``MixedLM.fit``
  gives the same variances, estimates and BLUPs where it converges inside
  the parameter space (``tests/unit/stats/test_mixed_model.py``) but was not
  usable here: with few subjects and a common effect most fits sit at the
  boundary ``tau^2 = 0``, where it emits 4-6 ConvergenceWarnings per fit,
  raises ``LinAlgError`` from a singular Hessian in many moderator fits, has
  NaN standard errors, and - treating the singular covariance as infinite in
  its GLS step - returns the within-subject estimator.
- **Random slope** (``random_effects``): the moderator model gives
  ``intensity_within`` a random slope per subject (``intercept+slope``)
  when at least ``random_slope_min_subjects`` subjects have >= 3 episodes of
  differing intensity - a fixed slope is anti-conservative when people
  differ. Otherwise it falls back to a random intercept with a fixed slope
  (``intercept``) and ``note`` says why. A slope variance estimated at 0
  keeps ``intercept+slope`` and says so in ``note``.
- **Degrees of freedom** (between-within rule): a term constant within every
  subject (``intercept``, ``intensity_between``) gets ``S - k_between``, a term
  that varies within subjects ``N - S - k_within`` (S subjects, N episodes, k
  the number of such terms), a term with a random slope ``S - 1`` (its error
  is the spread of the subjects' slopes). CI = estimate +/- t(0.975, df) x
  SE; two-sided t-test p-value. For the base model df = S - 1: with a
  balanced design and ``tau^2 > 0`` the interval equals the t-interval of
  subject means.
- **Fallbacks** (``method``): ``mixedlm`` normally, also at the boundary
  ``tau^2 = 0`` (then ``note`` says so); ``ols_cluster`` - OLS with
  cluster-robust (CR1) SE by subject and df S - 1, no BLUPs - when every
  subject has one episode (the random intercept is not identifiable) or the
  REML fit fails (non-finite likelihood, singular design); ``none`` - fewer
  than ``model_min_subjects`` subjects, no variation, collinear terms or too
  few degrees of freedom: numbers null, ``note`` says why. No exception and
  no warning leaves a fit: warnings raised while fitting are caught and
  their messages recorded in ``note``.
- **Multiple comparisons.** Benjamini-Hochberg FDR within each family of the
  plan (``family``: ``primary`` - one row, so ``q_value = p_value`` - or a
  declared family; :mod:`tearsignals.stats.families`), separately per
  ``model`` and ``term``. ``p_value`` is the raw p, ``q_value`` the
  BH-adjusted one. Rows without a p-value are not counted.
- ``cohort_summary`` (t-interval over subject means) is the primary
  analysis of the same estimand; the model adds moderators and shrinkage.
  Calibration (``docs/validation.md``, sections 8 and 9): with 4 subjects
  whose effects differ the base intercept CI covers ~98 %; in null cohorts
  of 8 subjects ~0.3 % of declared rows have q < 0.05 (df = S - 1 is
  conservative when subjects are alike).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import NamedTuple, TypeVar

import numpy as np
import numpy.typing as npt
import polars as pl

from tearsignals.arrays import FloatArray, IntArray
from tearsignals.config import AnalysisConfig, StatsConfig
from tearsignals.contract import schema
from tearsignals.stats import families, model_terms, reml, summaries

METHODS = ("mixedlm", "ols_cluster", "none")
INTERCEPT_ONLY, WITH_SLOPE = "intercept", "intercept+slope"
SLOPE_TERM = "intensity_within"
_NOTE_CHARS = 160
T = TypeVar("T")
Matrix = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Fit:
    """One fitted model on the outcome's own scale.

    ``random_columns`` are the columns of the design (the terms) with a random
    effect per subject - the columns of ``blup``/``blup_sd``, one row per
    subject code; empty unless the method is ``mixedlm``.
    """

    method: str
    note: str | None
    terms: tuple[str, ...]
    estimate: FloatArray
    std_error: FloatArray
    df: FloatArray
    sd_subject: float | None = None
    sd_residual: float | None = None
    sd_slope: float | None = None
    random_columns: tuple[int, ...] = ()
    blup: Matrix | None = None
    blup_sd: Matrix | None = None

    @property
    def random_terms(self) -> tuple[str, ...]:
        """The terms with a random effect per subject."""
        return tuple(self.terms[c] for c in self.random_columns)

    @property
    def random_effects(self) -> str | None:
        """``intercept`` or ``intercept+slope`` for a mixed model, else null."""
        if self.method != "mixedlm":
            return None
        return WITH_SLOPE if len(self.random_columns) > 1 else INTERCEPT_ONLY


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


def fit_mixedlm(z: FloatArray, x: FloatArray, codes: IntArray, slope: int | None = None) -> Fit:
    """REML fit of standardised ``z`` with a random intercept (and a random slope of
    column ``slope`` of ``x``): GLS estimates and SE, BW df, BLUPs."""
    columns = [np.ones(z.size)] + ([x[:, slope]] if slope is not None else [])
    try:
        fit, messages = _run_quietly(lambda: reml.reml_fit(z, x, np.column_stack(columns), codes))
    except reml.RemlFailed as err:
        raise FitFailed(str(err)) from None
    except (np.linalg.LinAlgError, ValueError, FloatingPointError) as err:
        raise FitFailed(f"mixed model failed: {type(err).__name__}: {err}") from None
    variances = fit.ratios * fit.sigma2
    boundary = ["random-intercept", "random-slope"]
    messages = [
        f"{boundary[j]} variance at the boundary 0" for j in np.flatnonzero(variances == 0)
    ] + messages
    df = between_within_df(x, codes)
    if slope is not None:
        df[slope] = float(codes.max())  # S - 1
    return Fit(
        method="mixedlm",
        note=_joined_notes(messages),
        terms=(),
        estimate=fit.beta,
        std_error=np.sqrt(np.diag(fit.cov)),
        df=df,
        sd_subject=float(np.sqrt(variances[0])),
        sd_residual=float(np.sqrt(fit.sigma2)),
        sd_slope=float(np.sqrt(variances[1])) if slope is not None else None,
        random_columns=(0,) if slope is None else (0, slope),
        blup=fit.blup,
        blup_sd=fit.blup_sd,
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


def _fit_standardised(z: FloatArray, x: FloatArray, codes: IntArray, slope: int | None) -> Fit:
    """``mixedlm``, or ``ols_cluster`` when it cannot be fitted (reason in ``note``)."""
    if z.size == int(codes.max()) + 1:
        why = "one episode per subject: random intercept not identifiable"
    else:
        try:
            return fit_mixedlm(z, x, codes, slope)
        except FitFailed as err:
            why = str(err)
    fit = fit_ols_cluster(z, x, codes, why)
    return replace(fit, sd_residual=_within_sd(z, codes))


def _scaled(value: float | None, scale: float) -> float | None:
    return None if value is None else value * scale


def fit_model(
    y: FloatArray,
    x: FloatArray,
    codes: IntArray,
    names: tuple[str, ...],
    cfg: StatsConfig,
    slope: int | None = None,
) -> Fit:
    """Fit ``y ~ X`` (column 0 the intercept) with a random intercept per subject code,
    and a random slope of column ``slope`` when given.

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
        fit = _fit_standardised((y - centre) / scale, x, codes, slope)
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
        sd_subject=_scaled(fit.sd_subject, scale),
        sd_residual=_scaled(fit.sd_residual, scale),
        sd_slope=_scaled(fit.sd_slope, scale),
        blup=None if fit.blup is None else fit.blup * scale,
        blup_sd=None if fit.blup_sd is None else fit.blup_sd * scale,
    )


def subject_codes(subject_ids: pl.Series) -> IntArray:
    """Subject ids as codes ``0 .. S-1`` (sorted id order)."""
    _, codes = np.unique(subject_ids.cast(pl.String).to_numpy(), return_inverse=True)
    return np.asarray(codes, dtype=np.int64)


class Fitted(NamedTuple):
    """One model of a group: its fit and the rows it was fitted on."""

    model: str
    fit: Fit
    rows: pl.DataFrame


def _fit_rows(fitted: Fitted) -> list[dict[str, object]]:
    """``cohort_model`` rows of one fit: its terms, then its variance components."""
    fit, codes = fitted.fit, subject_codes(fitted.rows["subject_id"])

    def row(term: str, est: float | None, se: float | None, df: float | None) -> dict[str, object]:
        return {
            "model": fitted.model,
            "term": term,
            "estimate": est,
            "std_error": se,
            "df": df,
            "method": fit.method,
            "random_effects": fit.random_effects,
            "note": fit.note,
            "n_subjects": int(codes.max()) + 1 if codes.size else 0,
            "n_episodes": fitted.rows.height,
        }

    terms = zip(fit.terms, fit.estimate, fit.std_error, fit.df, strict=True)
    slope = [row("sd_slope", fit.sd_slope, None, None)] if fit.sd_slope is not None else []
    return [
        *(row(t, e, s, d) for t, e, s, d in terms),
        row("sd_subject", fit.sd_subject, None, None),
        *slope,
        row("sd_residual", fit.sd_residual, None, None),
    ]


def _subject_rows(fitted: Fitted) -> list[dict[str, object]]:
    """``subject_effects`` rows of one mixed-model fit (none for other methods)."""
    fit = fitted.fit
    if fit.blup is None or fit.blup_sd is None:
        return []
    per_subject = (
        fitted.rows.group_by("subject_id")
        .agg(n_episodes=pl.len().cast(pl.Int64), observed=pl.col("value").mean())
        .sort("subject_id")
    )
    rows = []
    for j, term in enumerate(fit.random_terms):
        fixed = float(fit.estimate[fit.terms.index(term)])
        for i, (subject, n, observed) in enumerate(per_subject.iter_rows()):
            rows.append(
                {
                    "model": fitted.model,
                    "term": term,
                    "subject_id": subject,
                    "n_episodes": n,
                    "estimate": fixed + float(fit.blup[i, j]),
                    "random_effect": float(fit.blup[i, j]),
                    "std_error": float(fit.blup_sd[i, j]),
                    "observed_mean": observed if term == "intercept" else None,
                }
            )
    return rows


def _with_note(fit: Fit, extra: str | None) -> Fit:
    return replace(fit, note=_joined_notes([n for n in (extra, fit.note) if n]))


def _slope_column(
    names: tuple[str, ...], x: FloatArray, rows: pl.DataFrame, cfg: StatsConfig
) -> tuple[int | None, str | None]:
    """The column of ``intensity_within`` when its random slope is estimable, else a note."""
    if SLOPE_TERM not in names:
        return None, None
    column = names.index(SLOPE_TERM)
    found = model_terms.slope_subjects(rows, x[:, column])
    if found < cfg.random_slope_min_subjects:
        return None, (
            f"fixed {SLOPE_TERM} slope: {found} subject(s) with >= "
            f"{model_terms.SLOPE_MIN_EPISODES} episodes of differing intensity < "
            f"random_slope_min_subjects {cfg.random_slope_min_subjects}"
        )
    return column, None


def _fit_design(model: str, design: model_terms.Design, cfg: StatsConfig) -> Fitted | None:
    """The fit of one extra model (``None`` when its design has no term but the intercept)."""
    rows, x, names, note = design
    if len(names) == 1:
        return None
    slope, slope_note = (
        _slope_column(names, x, rows, cfg) if model == "moderators" else (None, None)
    )
    codes = subject_codes(rows["subject_id"])
    y = rows["value"].to_numpy().astype(np.float64)
    fit = fit_model(y, x, codes, names, cfg, slope)
    notes = "; ".join(n for n in (note, slope_note) if n) or None
    return Fitted(model, _with_note(fit, notes), rows)


def group_fits(frame: pl.DataFrame, metric: str, cfg: StatsConfig) -> list[Fitted]:
    """Every model of one declared metric x window (``subject_id, value`` plus
    ``intensity``/``context`` and covariate shifts; nulls in ``value`` ignored)."""
    usable = frame.filter(pl.col("value").is_not_null())
    codes = subject_codes(usable["subject_id"])
    y = usable["value"].to_numpy().astype(np.float64)
    base = fit_model(y, np.ones((y.size, 1)), codes, ("intercept",), cfg)
    if not usable.height:
        base = replace(base, note="no usable shifts")
    fits = [Fitted("base", base, usable)]
    if base.method == "none":
        return fits
    extra = []
    if cfg.moderators:
        extra.append(_fit_design("moderators", model_terms.moderator_design(usable, cfg), cfg))
    if cfg.covariates:
        design = model_terms.covariate_design(usable, metric, cfg.covariates)
        extra.append(_fit_design("covariates", design, cfg))
    return fits + [f for f in extra if f is not None]


def _model_groups(
    shifts: pl.DataFrame, episodes: pl.DataFrame | None, cfg: AnalysisConfig
) -> Iterator[tuple[tuple[str, str, str], pl.DataFrame]]:
    """Each declared row's adjusted shifts (plan order) with the episode moderators and the
    covariate shifts joined: ``(family, metric, window)`` and the frame."""
    long = summaries.kind_long(shifts).filter(pl.col("shift_kind") == "adjusted")
    moderators = ["intensity", "context"]
    if episodes is not None and cfg.stats.moderators:
        chosen = episodes.select("subject_id", "episode_id", *moderators).unique(
            ["subject_id", "episode_id"]
        )
        long = long.join(chosen, on=["subject_id", "episode_id"], how="left")
    else:
        long = long.with_columns(
            intensity=pl.lit(None, pl.Float64), context=pl.lit(None, pl.String)
        )
    key = ["subject_id", "episode_id", "window"]
    for covariate in cfg.stats.covariates:
        values = long.filter(pl.col("metric") == covariate).select(
            *key, pl.col("value").alias(model_terms.covariate_column(covariate))
        )
        long = long.join(values, on=key, how="left")
    long = long.with_columns(
        pl.col("intensity").cast(pl.Float64), pl.col("context").cast(pl.String)
    )
    parts = long.partition_by(["metric", "window"], as_dict=True)
    for family, metric, window in cfg.family_rows():
        part = parts.get((metric, window))
        if part is not None:
            yield (family, metric, window), part.sort("subject_id", "episode_id")


class ModelTables(NamedTuple):
    """The two tables of the cohort models."""

    cohort_model: pl.DataFrame
    subject_effects: pl.DataFrame


def cohort_models(
    shifts: pl.DataFrame, episodes: pl.DataFrame | None, cfg: AnalysisConfig, params_hash: str
) -> ModelTables:
    """The ``cohort_model`` and ``subject_effects`` tables from ``episode_shifts`` (all
    subjects) and ``episodes``.

    Parameters
    ----------
    shifts
        ``episode_shifts`` rows of every subject made with one parameter set.
    episodes
        Canonical ``episodes`` rows (``subject_id, episode_id, intensity,
        context``) for the moderator model; ``None`` fits no moderators.
    cfg
        The declared rows (:meth:`AnalysisConfig.family_rows`), moderators,
        covariates and limits (``cfg.stats``).
    params_hash
        Stored on every row.

    Returns
    -------
    ModelTables
        Both conformed to their schemas, in plan order; see the module docstring.
    """
    model_rows, subject_rows = [], []
    for (f, m, w), frame in _model_groups(shifts, episodes, cfg):
        for fitted in group_fits(frame, m, cfg.stats):
            model_rows += [{"family": f, "metric": m, "window": w, **r} for r in _fit_rows(fitted)]
            subject_rows += [
                {"family": f, "metric": m, "window": w, **r} for r in _subject_rows(fitted)
            ]
    table = pl.DataFrame(model_rows, schema=_ROW_SCHEMA)
    numbers = [table[c].fill_null(np.nan).to_numpy() for c in ("estimate", "std_error", "df")]
    ci_low, ci_high, p = summaries.t_inference(*numbers)
    table = table.with_columns(
        ci_low=pl.Series(ci_low), ci_high=pl.Series(ci_high), p_value=pl.Series(p)
    ).with_columns(pl.col("estimate", "ci_low", "ci_high", "p_value").fill_nan(None))
    table = families.with_q_values(table, by=("family", "model", "term"))
    subjects = pl.DataFrame(subject_rows, schema=_SUBJECT_SCHEMA)
    stamp = pl.lit(params_hash).alias("params_hash")
    return ModelTables(
        schema.conform(table.with_columns(stamp), "cohort_model"),
        schema.conform(subjects.with_columns(stamp), "subject_effects"),
    )


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
    "random_effects": pl.String,
    "note": pl.String,
    "n_subjects": pl.Int64,
    "n_episodes": pl.Int64,
}
_SUBJECT_SCHEMA = {
    "family": pl.String,
    "metric": pl.String,
    "window": pl.String,
    "model": pl.String,
    "term": pl.String,
    "subject_id": pl.String,
    "n_episodes": pl.Int64,
    "estimate": pl.Float64,
    "random_effect": pl.Float64,
    "std_error": pl.Float64,
    "observed_mean": pl.Float64,
}
