"""Frequency-domain HRV (VLF, LF, HF, total power, LF/HF) over many windows.

Windows are index ranges ``[lo, hi)`` into one sorted beat array, as in
``hrv.time_domain``. A spectrum needs a loop over windows (about 0.5 ms for
a 5-min window with either method, linear in its beat count; 3,000 such
windows take ~1.5 s against ~0.1 s for the time domain). Windows without
enough clean NN are skipped before any spectral work. Welch's grid and band
weights are built once per segment length; Lomb's follow each window's span.

Two recipes (``FrequencyConfig.method``), each reproducing a reference
implementation (``tests/golden/test_reference_frequency.py``):

``lomb`` - PhysioNet Cardiovascular Signal Toolbox (``CalcLomb`` +
    ``CalcLfHfParams``): the NN intervals of the window minus their mean, at
    their beat times (no resampling); the classic unnormalised Lomb-Scargle
    periodogram ``P(f) = (sum y cos)^2 / sum cos^2 + (sum y sin)^2 / sum sin^2``
    (phases ``2 pi f (t - tau)``) on the grid ``f = k * df``, ``k = 1, 2, ...``
    up to the HF edge; a band's power is the sum of ``P`` over its grid points
    times the grid step. The step follows the window (:func:`lomb_step_hz`):
    ``df = 1 / (lomb_oversampling * T)`` with ``T`` the span of the window's NN
    beats. A tone's peak is ``1/T`` wide, so a fixed step (the toolbox's
    ``1/1024`` Hz, still available as ``lomb_df_hz``) samples it too coarsely
    once ``T`` exceeds ~17 min and the band sum then depends on where the tone
    falls between grid points (a 450 ms^2 HF tone read 581 or 1,096 ms^2 at
    20 or 40 min); with 4 points per ``1/T`` the sum is within 2 % at any
    length (``tests/unit/episodes/test_window_lengths.py``). That sum
    approximates ``variance / mean sampling interval``, i.e. it grows with the
    heart rate, so the default ``lomb_scaling="density"`` multiplies it by the
    mean sampling interval ``(t_last - t_first) / (N - 1)`` (s), which makes
    it a one-sided PSD integral in ms^2 (total ~ NN variance, comparable with
    Welch) at every window length: the peak height grows with ``N`` and its
    width shrinks with ``1/T``, so the sum is ``~ N var / T`` and the factor
    ``T / (N - 1)`` leaves the variance. ``lomb_scaling="toolbox"`` keeps the
    toolbox's numbers.
``welch`` - the ``hrv`` package (rhenanbartels/hrv): beat times relative to
    the window's first NN beat, a not-a-knot cubic spline through the NN
    intervals sampled at ``welch_fs_hz`` from ``t = 0`` to the last beat,
    ``scipy.signal.welch`` with a Hann window, ``welch_nperseg`` /
    ``welch_noverlap``, constant detrend per segment and one-sided density;
    a band's power is the trapezoid over the grid points inside the band.

Bands are half-open ``[lo, hi)``. ``tp_ms2`` is the power of all grid points
below ``hf_hz[1]``: ``[0, vlf_lo) + VLF + LF + HF`` (the toolbox's ULF + VLF
+ LF + HF; with ``vlf_hz=(0, 0.04)`` the ``hrv`` package's total). ``lf_hf``
is not rounded (the toolbox rounds it to 2 decimals).

``detrend="smoothness_priors"`` first subtracts from each window's NN series
(indexed by beat, as in Tarvainen et al. 2002) the smoothness-priors trend
``(I + lambda^2 D2' D2)^-1 rr`` (``D2`` the second-difference matrix; with
lambda = 500 and ~1 beat/s a high-pass near 0.04 Hz), by a sparse banded
solve (about a millisecond for a 5-min window), then adds the mean back.

``resp_rate_bpm`` is the breathing rate read off the same spectrum: the
frequency of maximum power among the grid points inside the HF band (the
respiratory sinus arrhythmia peak) times 60. It is a covariate: breathing
changes HF power on its own, and crying changes breathing.

Examples
--------
>>> import numpy as np
>>> from tearsignals.config import FrequencyConfig
>>> t_s = np.cumsum(np.full(400, 0.8))
>>> rr = 800.0 + 40.0 * np.sin(2 * np.pi * 0.25 * t_s)
>>> out = frequency_domain(
...     t_s * 1000, rr, np.ones(400, bool), np.array([0]), np.array([400]), FrequencyConfig()
... )
>>> bool(out["hf_ms2"][0] > 50 * out["lf_ms2"][0])
True
>>> round(float(out["tp_ms2"][0] / np.var(rr, ddof=1)), 2)
1.0
>>> round(float(out["resp_rate_bpm"][0]), 1)
15.0
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt
from scipy import sparse
from scipy.interpolate import CubicSpline
from scipy.signal import welch
from scipy.sparse.linalg import spsolve

from tearsignals.arrays import BoolArray, FloatArray, IntArray
from tearsignals.config import FrequencyConfig

METRICS = ("vlf_ms2", "lf_ms2", "hf_ms2", "tp_ms2", "lf_hf", "resp_rate_bpm")
_MIN_NN = 4  # a cubic spline and a meaningful periodogram need a few points
_BLOCK_ENTRIES = 1 << 20  # complex phasors per Lomb block (16 MiB)
# Rows of the band-weight matrices: below VLF, VLF, LF, HF.
_ROWS = 4
# Band powers (``_ROWS`` values) and the HF peak frequency (Hz) of one window.
BandPowers = Callable[[FloatArray, FloatArray], tuple[FloatArray, float]]


def trapezoid_weights(freqs_hz: FloatArray) -> FloatArray:
    """Weights ``w`` with ``w @ y == trapezoid(y, freqs_hz)`` (zero for < 2 points).

    Examples
    --------
    >>> trapezoid_weights(np.array([0.0, 1.0, 3.0])).tolist()
    [0.5, 1.5, 1.0]
    """
    w = np.zeros(freqs_hz.size)
    if freqs_hz.size < 2:
        return w
    step = np.diff(freqs_hz) / 2.0
    w[:-1] += step
    w[1:] += step
    return w


def band_weights(freqs_hz: FloatArray, cfg: FrequencyConfig, rule: str) -> FloatArray:
    """``(4, n_freqs)`` matrix: row @ PSD = power below VLF, in VLF, LF and HF.

    ``rule`` is ``"rectangle"`` (sum times the grid step, the toolbox) or
    ``"trapezoid"`` (over the band's own grid points, the ``hrv`` package).
    """
    edges = [(0.0, cfg.vlf_hz[0]), cfg.vlf_hz, cfg.lf_hz, cfg.hf_hz]
    weights = np.zeros((_ROWS, freqs_hz.size))
    step = float(freqs_hz[1] - freqs_hz[0]) if freqs_hz.size > 1 else 0.0
    for row, (lo_hz, hi_hz) in enumerate(edges):
        inside = (freqs_hz >= lo_hz) & (freqs_hz < hi_hz)
        if rule == "rectangle":
            weights[row, inside] = step
        else:
            weights[row, inside] = trapezoid_weights(freqs_hz[inside])
    return weights


def _unit_phasors(t_s: FloatArray, df_hz: float, n_freqs: int) -> npt.NDArray[np.complex128]:
    """``exp(2 pi i k df t)`` for ``k = 1..n_freqs`` (rows) and every time (columns).

    Built by doubling: rows ``m+1..2m`` are rows ``1..m`` times ``exp(2 pi i m
    df t)``, so each entry is a product of at most ~log2(n_freqs) exactly
    evaluated exponentials (no drift as in a running product) and the cost is
    one complex multiply per entry instead of one complex exponential.
    """
    z = np.empty((n_freqs, t_s.size), dtype=np.complex128)
    z[0] = np.exp(2j * np.pi * df_hz * t_s)
    filled = 1
    while filled < n_freqs:
        m = min(filled, n_freqs - filled)
        np.multiply(z[:m], np.exp(2j * np.pi * filled * df_hz * t_s), out=z[filled : filled + m])
        filled += m
    return z


def lomb_periodogram(t_s: FloatArray, y: FloatArray, df_hz: float, n_freqs: int) -> FloatArray:
    """Unnormalised Lomb-Scargle periodogram of ``y`` at ``f = k * df_hz``, ``k = 1..n_freqs``.

    The toolbox's ``CalcLomb`` (without its optional normalisation) in closed
    form: with ``Z = sum exp(2 i w t)`` the offset ``tau`` satisfies
    ``2 w tau = angle(Z)``, ``sum cos^2(w (t - tau)) = (N + |Z|) / 2`` and
    ``sum sin^2 = (N - |Z|) / 2``. ``y`` should have zero mean. Frequencies
    are taken in blocks of at most ``_BLOCK_ENTRIES`` phasors, so a long
    window (a fine grid times many beats) needs bounded memory.
    """
    t = t_s - t_s[0]  # the periodogram is shift invariant; small phases stay exact
    rows = max(_BLOCK_ENTRIES // max(t.size, 1), 1)
    blocks = [
        _lomb_block(t, y, df_hz, first, min(rows, n_freqs - first))
        for first in range(0, n_freqs, rows)
    ]
    return np.concatenate([np.zeros(0), *blocks])


def _lomb_block(t: FloatArray, y: FloatArray, df_hz: float, first: int, count: int) -> FloatArray:
    """:func:`lomb_periodogram` at ``k = first + 1 .. first + count``."""
    z = _unit_phasors(t, df_hz, count)
    if first:
        z *= np.exp(2j * np.pi * first * df_hz * t)
    y_sum = z @ y
    two_sum = np.einsum("kn,kn->k", z, z)
    half_n = 0.5 * y.size
    half_abs = 0.5 * np.abs(two_sum)
    rotated = y_sum * np.exp(-0.5j * np.angle(two_sum))
    cos_part = rotated.real**2 / (half_n + half_abs)
    sin_den = half_n - half_abs
    sin_part = np.zeros(count)
    np.divide(rotated.imag**2, sin_den, out=sin_part, where=sin_den > 1e-9 * half_n)
    out: FloatArray = cos_part + sin_part
    return out


def smoothness_priors_detrend(rr: FloatArray, lam: float) -> FloatArray:
    """``rr`` minus its smoothness-priors trend, plus its mean (Tarvainen et al. 2002).

    Examples
    --------
    >>> x = np.arange(200.0)
    >>> rr = 800.0 + 0.5 * x + np.sin(2 * np.pi * 0.25 * x)
    >>> out = smoothness_priors_detrend(rr, 500.0)
    >>> bool(np.ptp(out - np.sin(2 * np.pi * 0.25 * x)) < 0.1 * np.ptp(rr))
    True
    """
    n = rr.size
    if n < 3:
        return rr.copy()
    d2 = sparse.diags([1.0, -2.0, 1.0], [0, 1, 2], shape=(n - 2, n), format="csc")
    system = sparse.identity(n, format="csc") + lam**2 * (d2.T @ d2)
    trend = np.asarray(spsolve(system.tocsc(), rr), dtype=np.float64)
    out: FloatArray = rr - trend + rr.mean()
    return out


def hf_peak_hz(freqs_hz: FloatArray, psd: FloatArray, cfg: FrequencyConfig) -> float:
    """Frequency of maximum power among grid points in ``[hf_lo, hf_hi)``; NaN if none.

    Examples
    --------
    >>> cfg = FrequencyConfig()
    >>> hf_peak_hz(np.array([0.1, 0.2, 0.3, 0.5]), np.array([9.0, 1.0, 2.0, 5.0]), cfg)
    0.3
    """
    inside = np.flatnonzero((freqs_hz >= cfg.hf_hz[0]) & (freqs_hz < cfg.hf_hz[1]))
    if inside.size == 0 or not np.any(psd[inside] > 0):
        return float("nan")
    return float(freqs_hz[inside[np.argmax(psd[inside])]])


def lomb_step_hz(span_s: float, cfg: FrequencyConfig) -> float:
    """Lomb grid step for NN beats spanning ``span_s`` seconds: ``cfg.lomb_df_hz`` when
    fixed, else ``1 / (cfg.lomb_oversampling * span_s)``.

    Examples
    --------
    >>> lomb_step_hz(300.0, FrequencyConfig()) == 1 / 1200
    True
    >>> lomb_step_hz(2400.0, FrequencyConfig(lomb_df_hz=1 / 1024)) == 1 / 1024
    True
    """
    if cfg.lomb_df_hz is not None:
        return cfg.lomb_df_hz
    return 1.0 / (cfg.lomb_oversampling * span_s)


def _lomb_estimator(cfg: FrequencyConfig) -> BandPowers:
    """Band powers of one window by the toolbox's Lomb recipe, on the window's own grid."""

    def powers(t_s: FloatArray, rr: FloatArray) -> tuple[FloatArray, float]:
        df_hz = lomb_step_hz(float(t_s[-1] - t_s[0]), cfg)
        n_freqs = max(int(np.floor(cfg.hf_hz[1] / df_hz)), 1)
        freqs = df_hz * np.arange(1, n_freqs + 1, dtype=np.float64)
        psd = lomb_periodogram(t_s, rr - rr.mean(), df_hz, n_freqs)
        bands: FloatArray = band_weights(freqs, cfg, "rectangle") @ psd
        if cfg.lomb_scaling == "density":
            bands = bands * (t_s[-1] - t_s[0]) / (t_s.size - 1)
        return bands, hf_peak_hz(freqs, psd, cfg)

    return powers


def _welch_estimator(cfg: FrequencyConfig) -> BandPowers:
    """Band powers of one window by the ``hrv`` package's Welch recipe."""
    # segment length -> (grid, band weights on it)
    cache: dict[int, tuple[FloatArray, FloatArray]] = {}

    def powers(t_s: FloatArray, rr: FloatArray) -> tuple[FloatArray, float]:
        later = np.concatenate(([True], np.diff(t_s) > 0))  # a spline needs rising times
        t, rr = t_s[later] - t_s[0], rr[later]
        samples = CubicSpline(t, rr)(np.arange(0.0, t[-1], 1.0 / cfg.welch_fs_hz))
        nperseg = min(cfg.welch_nperseg, samples.size)
        noverlap = cfg.welch_noverlap * nperseg // cfg.welch_nperseg  # same share if shorter
        if nperseg not in cache:
            freqs = np.fft.rfftfreq(nperseg, 1.0 / cfg.welch_fs_hz).astype(np.float64)
            cache[nperseg] = (freqs, band_weights(freqs, cfg, "trapezoid"))
        _, psd = welch(
            samples,
            fs=cfg.welch_fs_hz,
            window="hann",
            nperseg=nperseg,
            noverlap=noverlap,
            detrend="constant",
        )
        freqs, weights = cache[nperseg]
        bands: FloatArray = weights @ psd
        return bands, hf_peak_hz(freqs, psd, cfg)

    return powers


def clean_seconds(rr_ms: FloatArray, usable: BoolArray, lo: IntArray, hi: IntArray) -> FloatArray:
    """Summed NN interval length (s) of every window, by prefix sums."""
    prefix = np.concatenate(([0.0], np.cumsum(np.where(usable, rr_ms, 0.0))))
    return (prefix[hi] - prefix[lo]) / 1000.0


def frequency_domain(
    t_ms: FloatArray,
    rr_ms: FloatArray,
    nn_ok: BoolArray,
    lo: IntArray,
    hi: IntArray,
    cfg: FrequencyConfig,
) -> dict[str, FloatArray]:
    """VLF, LF, HF, total power (ms^2), LF/HF and breathing rate for every window.

    Parameters
    ----------
    t_ms, rr_ms
        Beat times (ms, ascending, any origin) and the interval ending at each beat.
    nn_ok
        Which intervals are NN; non-finite or non-positive intervals never are.
    lo, hi
        Window index ranges into the beat arrays.
    cfg
        Method, bands, gating (``min_clean_s``) and method settings.

    Returns
    -------
    dict[str, numpy.ndarray]
        One array per name in ``METRICS``, one value per window; NaN where the
        window's NN intervals sum to less than ``cfg.min_clean_s`` (or there
        are fewer than 4), ``lf_hf`` also where HF is zero and
        ``resp_rate_bpm`` where the HF band has no positive power.
    """
    rr = np.asarray(rr_ms, dtype=np.float64)
    t = np.asarray(t_ms, dtype=np.float64)
    lo = np.asarray(lo, dtype=np.int64)
    hi = np.maximum(np.asarray(hi, dtype=np.int64), lo)
    usable = np.asarray(nn_ok, dtype=bool) & np.isfinite(rr) & (rr > 0) & np.isfinite(t)
    estimate = _lomb_estimator(cfg) if cfg.method == "lomb" else _welch_estimator(cfg)
    bands = np.full((lo.size, _ROWS), np.nan)
    resp_hz = np.full(lo.size, np.nan)
    for k in np.flatnonzero(clean_seconds(rr, usable, lo, hi) >= cfg.min_clean_s):
        idx = lo[k] + np.flatnonzero(usable[lo[k] : hi[k]])
        if idx.size >= _MIN_NN:
            nn = rr[idx]
            if cfg.detrend == "smoothness_priors":
                nn = smoothness_priors_detrend(nn, cfg.detrend_lambda)
            bands[k], resp_hz[k] = estimate((t[idx] - t[idx[0]]) / 1000.0, nn)
    lf, hf = bands[:, 2], bands[:, 3]
    lf_hf = np.full(lo.size, np.nan)
    np.divide(lf, hf, out=lf_hf, where=hf > 0)
    return {
        "vlf_ms2": bands[:, 1],
        "lf_ms2": lf,
        "hf_ms2": hf,
        "tp_ms2": bands.sum(axis=1),
        "lf_hf": lf_hf,
        "resp_rate_bpm": resp_hz * 60.0,
    }
