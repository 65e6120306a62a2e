"""REML for linear mixed models with independent random effects per subject.

The model, for subject ``i`` with ``n_i`` rows::

    y_i = X_i beta + Z_i b_i + e_i,   b_i ~ N(0, sigma^2 diag(ratios)),   e_i ~ N(0, sigma^2 I)

``Z`` holds the random-effect columns (the intercept, optionally a within-person
slope); the random effects are independent (a diagonal covariance: with the few
subjects of a typical cohort their correlation is not estimable). With
``W_i = I + Z_i L Z_i'`` (``L = diag(ratios)``) and ``A_i = (I + L Z_i'Z_i)^-1 L``,
Woodbury gives ``W_i^-1 = I - Z_i A_i Z_i'`` and ``|W_i| = |I + L Z_i'Z_i|``, so
every quantity needs only the per-subject cross products ``Z_i'Z_i``, ``Z_i'X_i``,
``Z_i'y_i`` (:func:`cross_products`, computed once per fit) and small ``k x k``
matrices - valid at the boundary ``ratio = 0`` too.

- Profile REML (``beta`` and ``sigma^2`` profiled out, constants dropped)::

      -2 l = (N - p) log q + sum_i log|I + L Z_i'Z_i| + log|X'W^-1 X|,   q = r'W^-1 r

- :func:`reml_ratios` searches every *active set* of components (each subset
  allowed a positive variance, the others fixed at the boundary 0): a log grid
  over ``[1e-6, 1e4]`` per active component, then bounded Brent (one
  component) or Nelder-Mead (two) from the best grid point; the best value
  over all sets wins, so a boundary solution is found exactly.
- Fixed effects are GLS at those ratios, ``cov(beta) = sigma^2 (X'W^-1X)^-1``
  with ``sigma^2 = q / (N - p)``.
- Per-subject random effects (BLUPs) ``b_i = A_i Z_i'(y_i - X_i beta)`` with the
  conditional covariance ``sigma^2 A_i`` given ``beta``.

Examples
--------
>>> rng = np.random.default_rng(0)
>>> codes = np.repeat(np.arange(6), 8)
>>> y = 1.0 + rng.normal(0, 1.0, 6)[codes] + rng.normal(0, 0.5, codes.size)
>>> fit = reml_fit(y, np.ones((y.size, 1)), np.ones((y.size, 1)), codes)
>>> bool(abs(fit.beta[0] - 1.0) < 1.0), fit.blup.shape
(True, (6, 1))
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.optimize import minimize, minimize_scalar

from tearsignals.arrays import FloatArray, IntArray

Matrix = npt.NDArray[np.float64]
RATIO_MIN, RATIO_MAX = 1e-6, 1e4  # search range of each variance ratio (y standardised)


class RemlFailed(Exception):
    """The REML likelihood could not be evaluated; the message says why."""


@dataclass(frozen=True)
class CrossProducts:
    """Sums a fit needs, computed once: ``X'X, X'y, y'y`` and per subject
    ``Z_i'Z_i (S,k,k)``, ``Z_i'X_i (S,k,p)``, ``Z_i'y_i (S,k)``."""

    xx: Matrix
    xy: FloatArray
    yy: float
    zz: Matrix
    zx: Matrix
    zy: Matrix
    n_obs: int


def cross_products(y: FloatArray, x: FloatArray, z: FloatArray, codes: IntArray) -> CrossProducts:
    """The :class:`CrossProducts` of ``y`` (N), ``x`` (N, p), ``z`` (N, k), subject ``codes``."""
    n_subjects = int(codes.max()) + 1
    outer_zz = z[:, :, None] * z[:, None, :]
    outer_zx = z[:, :, None] * x[:, None, :]
    zz = np.zeros((n_subjects, z.shape[1], z.shape[1]))
    zx = np.zeros((n_subjects, z.shape[1], x.shape[1]))
    zy = np.zeros((n_subjects, z.shape[1]))
    np.add.at(zz, codes, outer_zz)
    np.add.at(zx, codes, outer_zx)
    np.add.at(zy, codes, z * y[:, None])
    return CrossProducts(x.T @ x, x.T @ y, float(y @ y), zz, zx, zy, y.size)


@dataclass(frozen=True)
class Evaluation:
    """The GLS solution at one set of ratios."""

    beta: FloatArray
    xwx: Matrix  # X'W^-1X
    quad: float  # r'W^-1r
    logdet_w: float  # sum_i log|W_i|
    a: Matrix  # (S, k, k): A_i


def evaluate(c: CrossProducts, ratios: FloatArray) -> Evaluation:
    """GLS fixed effects, ``X'W^-1X``, ``r'W^-1r``, ``sum log|W_i|`` and ``A_i`` at ``ratios``."""
    k = c.zz.shape[1]
    lam = np.diag(ratios)
    m = np.eye(k) + lam @ c.zz  # (S, k, k): I + L Z'Z
    a = np.asarray(np.linalg.solve(m, np.broadcast_to(lam, m.shape)), dtype=np.float64)
    xwx = c.xx - np.einsum("skp,skl,slq->pq", c.zx, a, c.zx)
    xwy = c.xy - np.einsum("skp,skl,sl->p", c.zx, a, c.zy)
    ywy = c.yy - float(np.einsum("sk,skl,sl->", c.zy, a, c.zy))
    beta = np.linalg.solve(xwx, xwy)
    sign, logdet = np.linalg.slogdet(m)
    if not (sign > 0).all():
        raise RemlFailed("REML: a subject's covariance is not positive definite")
    return Evaluation(beta, xwx, ywy - float(beta @ xwy), float(logdet.sum()), a)


def neg_profile_reml(c: CrossProducts, ratios: FloatArray) -> float:
    """Minus the profile REML log-likelihood at ``ratios`` (constants dropped)."""
    e = evaluate(c, ratios)
    dof = c.n_obs - c.xx.shape[0]
    sign, logdet_xwx = np.linalg.slogdet(e.xwx)
    if not (e.quad > 0 and sign > 0):
        return float("inf")
    return 0.5 * (dof * np.log(e.quad) + e.logdet_w + logdet_xwx)


def _search(c: CrossProducts, active: tuple[int, ...], k: int) -> tuple[float, FloatArray]:
    """Best value and ratios with the components ``active`` free and the rest 0."""
    lo, hi = np.log(RATIO_MIN), np.log(RATIO_MAX)

    def ratios(logs: FloatArray) -> FloatArray:
        out = np.zeros(k)
        out[list(active)] = np.exp(np.clip(logs, lo, hi))
        return out

    def objective(logs: FloatArray) -> float:
        return neg_profile_reml(c, ratios(np.atleast_1d(logs)))

    if not active:
        return objective(np.zeros(0)), np.zeros(k)
    axis = np.linspace(lo, hi, 21 if len(active) == 1 else 11)
    grid = [np.array(p) for p in itertools.product(axis, repeat=len(active))]
    values = np.array([objective(g) for g in grid])
    if not np.isfinite(values).any():
        raise RemlFailed("REML likelihood not finite")
    start = grid[int(np.argmin(values))]
    step = axis[1] - axis[0]
    if len(active) == 1:
        found = minimize_scalar(
            lambda v: objective(np.array([v])),
            bounds=(max(start[0] - step, lo), min(start[0] + step, hi)),
            method="bounded",
        )
        best_logs, best = np.array([found.x]), float(found.fun)
    else:
        simplex = np.vstack([start, start + np.diag(np.full(len(active), step / 2))])
        options = {"initial_simplex": simplex, "xatol": 1e-7, "fatol": 1e-10, "maxiter": 2000}
        found = minimize(objective, start, method="Nelder-Mead", options=options)
        best_logs, best = np.asarray(found.x), float(found.fun)
    if not best < float(values.min()):
        best_logs, best = start, float(values.min())
    return best, ratios(best_logs)


def reml_ratios(c: CrossProducts) -> FloatArray:
    """REML variance ratios ``tau_j^2 / sigma^2``, searched over every active set."""
    k = c.zz.shape[1]
    subsets = [s for r in range(k + 1) for s in itertools.combinations(range(k), r)]
    results = [_search(c, s, k) for s in subsets]
    finite = [r for r in results if np.isfinite(r[0])]
    if not finite:
        raise RemlFailed("REML likelihood not finite")
    # Fewer free components first among ties: the boundary is preferred when no better.
    return min(finite, key=lambda r: r[0])[1]


@dataclass(frozen=True)
class RemlFit:
    """REML estimates: fixed effects and their covariance, ``sigma^2``, the variance
    ratios, and per subject the random effects and their conditional SDs."""

    beta: FloatArray
    cov: Matrix
    sigma2: float
    ratios: FloatArray
    blup: Matrix  # (S, k)
    blup_sd: Matrix  # (S, k)


def reml_fit(y: FloatArray, x: FloatArray, z: FloatArray, codes: IntArray) -> RemlFit:
    """Fit the model of the module docstring by REML (``RemlFailed`` when impossible)."""
    c = cross_products(y, x, z, codes)
    ratios = reml_ratios(c)
    e = evaluate(c, ratios)
    sigma2 = e.quad / (c.n_obs - x.shape[1])
    if not sigma2 > 0:
        raise RemlFailed("REML residual variance is not positive")
    resid = c.zy - np.einsum("skp,p->sk", c.zx, e.beta)
    blup = np.einsum("skl,sl->sk", e.a, resid)
    blup_sd = np.sqrt(np.maximum(sigma2 * np.einsum("skk->sk", e.a), 0.0))
    return RemlFit(e.beta, sigma2 * np.linalg.inv(e.xwx), sigma2, ratios, blup, blup_sd)
