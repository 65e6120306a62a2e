"""The cohort mixed model: REML against closed forms, statsmodels and a dense oracle;
fallbacks, moderators, FDR and the table contract."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from scipy import stats as sps
from scipy.optimize import minimize

from tearsignals.config import AnalysisConfig, Outcome, StatsConfig, WindowConfig
from tearsignals.contract import schema
from tearsignals.stats import mixed_model, model_terms, reml, summaries
from tearsignals.stats.families import bh_qvalues

CFG = StatsConfig(moderators=())
ANALYSIS = AnalysisConfig(stats=CFG)


def groups(sizes: list[int]) -> np.ndarray:
    return np.repeat(np.arange(len(sizes)), sizes)


def simulated(sizes: list[int], tau: float, sigma: float, seed: int) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    codes = groups(sizes)
    y = 1.5 + rng.normal(0.0, tau, len(sizes))[codes] + rng.normal(0.0, sigma, codes.size)
    return y, codes


def fit(y: np.ndarray, codes: np.ndarray, cfg: StatsConfig = CFG) -> mixed_model.Fit:
    return mixed_model.fit_model(y, np.ones((y.size, 1)), codes, ("intercept",), cfg)


def test_balanced_fit_equals_one_way_anova_and_the_t_interval_of_subject_means() -> None:
    y, codes = simulated([6] * 5, tau=2.0, sigma=1.0, seed=1)
    result = fit(y, codes)
    means = np.array([y[codes == i].mean() for i in range(5)])
    msw = sum(((y[codes == i] - means[i]) ** 2).sum() for i in range(5)) / (5 * 5)
    msb = 6 * means.var(ddof=1)
    assert result.method == "mixedlm"
    assert result.estimate[0] == pytest.approx(y.mean(), rel=1e-9)
    assert result.sd_residual == pytest.approx(np.sqrt(msw), rel=1e-4)
    assert result.sd_subject == pytest.approx(np.sqrt((msb - msw) / 6), rel=1e-3)
    lo, hi, _ = summaries.t_inference(result.estimate, result.std_error, result.df)
    half = sps.t.ppf(0.975, 4) * means.std(ddof=1) / np.sqrt(5)
    assert (lo[0], hi[0]) == pytest.approx((means.mean() - half, means.mean() + half), rel=1e-4)


def test_reml_matches_statsmodels_mixedlm_inside_the_parameter_space() -> None:
    from statsmodels.regression.mixed_linear_model import MixedLM

    y, codes = simulated([3, 9, 5, 12, 7, 4], tau=1.5, sigma=1.0, seed=2)
    reference = MixedLM(y, np.ones((y.size, 1)), groups=codes).fit(reml=True)
    assert reference.converged
    result = fit(y, codes)
    assert result.estimate[0] == pytest.approx(float(reference.fe_params[0]), rel=1e-4)
    assert result.sd_residual**2 == pytest.approx(reference.scale, rel=1e-3)
    tau2 = float(np.asarray(reference.cov_re)[0, 0])
    assert result.sd_subject**2 == pytest.approx(tau2, rel=1e-3)
    assert result.std_error[0] == pytest.approx(float(reference.bse_fe[0]), rel=1e-3)


def dense_reml(
    y: np.ndarray, x: np.ndarray, codes: np.ndarray, slope: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Brute-force REML over the log variances (intercept, [slope,] residual) with a dense V
    (small data only): the variances, the GLS estimates and their SEs."""
    same = (codes[:, None] == codes[None, :]).astype(float)
    blocks = [same] + ([same * np.outer(slope, slope)] if slope is not None else [])

    def v_of(theta: np.ndarray) -> np.ndarray:
        return sum(np.exp(t) * b for t, b in zip(theta, blocks, strict=False)) + np.exp(
            theta[-1]
        ) * np.eye(y.size)

    def neg(theta: np.ndarray) -> float:
        vi = np.linalg.inv(v_of(theta))
        xvx = x.T @ vi @ x
        beta = np.linalg.solve(xvx, x.T @ vi @ y)
        r = y - x @ beta
        return 0.5 * (np.linalg.slogdet(v_of(theta))[1] + np.linalg.slogdet(xvx)[1] + r @ vi @ r)

    options = {"xatol": 1e-10, "fatol": 1e-13, "maxiter": 20000}
    best = minimize(neg, np.zeros(len(blocks) + 1), method="Nelder-Mead", options=options)
    vi = np.linalg.inv(v_of(best.x))
    cov = np.linalg.inv(x.T @ vi @ x)
    return np.exp(best.x), cov @ x.T @ vi @ y, np.sqrt(np.diag(cov))


def test_reml_variances_match_a_dense_oracle_with_a_covariate() -> None:
    rng = np.random.default_rng(3)
    codes = groups([4, 6, 3, 8, 5])
    x = np.column_stack([np.ones(codes.size), rng.normal(size=codes.size)])
    y = x @ [0.5, 0.8] + rng.normal(0, 0.9, 5)[codes] + rng.normal(0, 1.0, codes.size)
    found = reml.reml_fit(y, x, np.ones((y.size, 1)), codes)
    variances, beta, se = dense_reml(y, x, codes)
    assert found.ratios[0] * found.sigma2 == pytest.approx(variances[0], rel=2e-3)
    assert found.sigma2 == pytest.approx(variances[1], rel=2e-3)
    assert found.beta == pytest.approx(beta, rel=1e-4)
    assert np.sqrt(np.diag(found.cov)) == pytest.approx(se, rel=1e-3)


def slope_data(seed: int, n_subjects: int, slope_sd: float) -> tuple[np.ndarray, ...]:
    """Shifts with a within-person intensity slope that differs between subjects."""
    rng = np.random.default_rng(seed)
    codes = groups(list(rng.integers(5, 10, n_subjects)))
    within = rng.normal(0.0, 2.0, codes.size)
    within -= (np.bincount(codes, weights=within) / np.bincount(codes))[codes]
    slopes = 0.3 + rng.normal(0.0, slope_sd, n_subjects)
    y = 1.0 + rng.normal(0, 0.8, n_subjects)[codes] + slopes[codes] * within
    return y + rng.normal(0, 0.5, codes.size), np.column_stack([np.ones(codes.size), within]), codes


def test_random_slope_reml_matches_a_dense_oracle_and_statsmodels_blups() -> None:
    from statsmodels.regression.mixed_linear_model import MixedLM, MixedLMParams

    y, x, codes = slope_data(11, 7, slope_sd=0.4)
    found = reml.reml_fit(y, x, x, codes)
    variances, beta, se = dense_reml(y, x, codes, slope=x[:, 1])
    assert found.ratios * found.sigma2 == pytest.approx(variances[:2], rel=2e-3)
    assert found.sigma2 == pytest.approx(variances[2], rel=2e-3)
    assert found.beta == pytest.approx(beta, rel=1e-4)
    assert np.sqrt(np.diag(found.cov)) == pytest.approx(se, rel=1e-3)
    free = MixedLMParams.from_components(np.ones(2), np.eye(2))  # independent effects
    reference = MixedLM(y, x, groups=codes, exog_re=x).fit(reml=True, free=free)
    blups = np.array([np.asarray(reference.random_effects[i]) for i in range(7)])
    assert found.blup == pytest.approx(blups, abs=2e-3)


def moderated_shifts(seed: int, n_subjects: int, slope_sd: float) -> tuple[pl.DataFrame, ...]:
    """``episode_shifts`` and ``episodes`` whose intensity slope differs between subjects."""
    y, x, codes = slope_data(seed, n_subjects, slope_sd)
    subjects = [f"s{c}" for c in codes]
    shifts = shifts_frame({}).vstack(
        shifts_frame(
            {
                s: [float(v) for v, c in zip(y, subjects, strict=True) if c == s]
                for s in set(subjects)
            }
        )
    )
    intensity = {
        (f"s{c}", i): 5.0 + w for c in np.unique(codes) for i, w in enumerate(x[codes == c, 1])
    }
    episodes = shifts.select("subject_id", "episode_id").with_columns(
        intensity=pl.struct("subject_id", "episode_id").map_elements(
            lambda r: intensity[(r["subject_id"], int(r["episode_id"].split("e")[-1]))],
            return_dtype=pl.Float64,
        ),
        context=pl.lit(None, pl.String),
    )
    return shifts, episodes


def test_the_intensity_slope_is_random_where_enough_subjects_vary_and_fixed_otherwise() -> None:
    cfg = AnalysisConfig(stats=StatsConfig(moderators=("intensity",)))
    shifts, episodes = moderated_shifts(12, 8, slope_sd=0.5)
    tables = mixed_model.cohort_models(shifts, episodes, cfg, "h")
    moderators = tables.cohort_model.filter(pl.col("model") == "moderators")
    slope = moderators.filter(pl.col("term") == "intensity_within").row(0, named=True)
    assert slope["random_effects"] == "intercept+slope"
    assert slope["df"] == 7.0  # S - 1
    assert "sd_slope" in moderators["term"].to_list()
    fixed_cfg = AnalysisConfig(
        stats=StatsConfig(moderators=("intensity",), random_slope_min_subjects=9)
    )
    fixed = model_table(shifts, episodes, fixed_cfg, "h").filter(pl.col("model") == "moderators")
    fixed_slope = fixed.filter(pl.col("term") == "intensity_within").row(0, named=True)
    assert fixed_slope["random_effects"] == "intercept"
    assert "fixed intensity_within slope: 8 subject(s)" in fixed_slope["note"]
    assert "sd_slope" not in fixed["term"].to_list()
    # People differ in their slope: the fixed slope's SE understates the uncertainty.
    assert slope["std_error"] > 1.5 * fixed_slope["std_error"]
    per_subject = tables.subject_effects.filter(pl.col("model") == "moderators")
    assert per_subject.filter(pl.col("term") == "intensity_within").height == 8
    assert tables.subject_effects.equals(schema.conform(tables.subject_effects, "subject_effects"))


def test_subject_effects_shrink_each_subject_mean_towards_the_cohort() -> None:
    y, codes = simulated([3, 9, 5, 12, 7, 4], tau=1.0, sigma=1.5, seed=13)
    shifts = shifts_frame({f"s{c}": [float(v) for v in y[codes == c]] for c in range(6)})
    tables = mixed_model.cohort_models(shifts, None, ANALYSIS, "h")
    fixed = intercept_row(tables.cohort_model)["estimate"]
    effects = tables.subject_effects.sort("subject_id")
    assert effects["n_episodes"].to_list() == [3, 9, 5, 12, 7, 4]
    observed, own = effects["observed_mean"].to_numpy(), effects["estimate"].to_numpy()
    assert np.all(np.abs(own - fixed) <= np.abs(observed - fixed) + 1e-12)
    assert own - fixed == pytest.approx(effects["random_effect"].to_numpy())
    from statsmodels.regression.mixed_linear_model import MixedLM

    reference = MixedLM(y, np.ones((y.size, 1)), groups=codes).fit(reml=True)
    expected = [float(np.asarray(reference.random_effects[i])[0]) for i in range(6)]
    assert effects["random_effect"].to_numpy() == pytest.approx(expected, abs=1e-3)


def test_the_hr_covariate_separates_an_rmssd_fall_from_a_heart_rate_rise() -> None:
    # HR rises ~6 bpm in the window; RMSSD falls 0.33 ms per bpm and for no other reason.
    rng = np.random.default_rng(14)
    rows = []
    for s in range(8):
        for i in range(8):
            hr = 6.0 + rng.normal(0.0, 2.5)
            rmssd = -0.33 * hr + rng.normal(0.0, 0.5)
            rows += [
                ("mean_hr_bpm", f"s{s}", f"s{s}e{i}", hr),
                ("rmssd_ms", f"s{s}", f"s{s}e{i}", rmssd),
            ]
    frame = pl.DataFrame(rows, schema=["metric", "subject_id", "episode_id", "v"], orient="row")
    shifts = shifts_frame({}).vstack(
        schema.conform(
            frame.with_columns(
                window=pl.lit("during"),
                value=None,
                baseline_value=None,
                shift="v",
                n_controls=pl.lit(1, pl.Int64),
                control_shift_mean=pl.lit(0.0),
                adjusted_shift="v",
                excluded_reason=pl.lit(None, pl.String),
                params_hash=pl.lit("h"),
            ),
            "episode_shifts",
        )
    )
    cfg = AnalysisConfig(stats=StatsConfig(moderators=(), covariates=("mean_hr_bpm",)))
    table = model_table(shifts, None, cfg, "h").filter(pl.col("metric") == "rmssd_ms")
    base = intercept_row(table)
    assert base["estimate"] == pytest.approx(-2.0, abs=0.3) and base["q_value"] < 1e-3
    adjusted = intercept_row(table, "covariates")
    assert adjusted["ci_low"] < 0.0 < adjusted["ci_high"]
    slope = table.filter(pl.col("term") == "mean_hr_bpm_shift").row(0, named=True)
    assert slope["estimate"] == pytest.approx(-0.33, abs=0.05)
    hr_rows = model_table(shifts, None, cfg, "h").filter(pl.col("metric") == "mean_hr_bpm")
    assert set(hr_rows["model"]) == {"base"}  # no covariate model of the covariate itself


def test_boundary_fit_is_pooled_ols_and_says_so() -> None:
    y, codes = simulated([8] * 4, tau=0.0, sigma=1.0, seed=4)
    # Remove all between-subject variation: every subject has the same mean.
    y = y - np.array([y[codes == i].mean() for i in range(4)])[codes] + 2.0
    result = fit(y, codes)
    assert result.method == "mixedlm"
    assert result.sd_subject == 0.0
    assert result.note is not None and "boundary" in result.note
    assert result.estimate[0] == pytest.approx(2.0)
    assert result.std_error[0] == pytest.approx(y.std(ddof=1) / np.sqrt(y.size), rel=1e-9)
    assert result.df[0] == 3.0


def test_moderator_slopes_are_recovered_within_and_between_subjects() -> None:
    rng = np.random.default_rng(5)
    codes = groups([10] * 8)
    subject_level = rng.uniform(2, 8, 8)
    intensity = np.clip(np.round(subject_level[codes] + rng.normal(0, 2, codes.size)), 0, 10)
    frame = pl.DataFrame(
        {"subject_id": [f"s{c}" for c in codes], "intensity": intensity, "context": None}
    )
    _, x, names, _ = model_terms.moderator_design(frame, StatsConfig(moderators=("intensity",)))
    assert names == ("intercept", "intensity_within", "intensity_between")
    within = x[:, 1]
    assert np.allclose(np.bincount(codes, weights=within), 0.0)
    y = 1.0 + 0.5 * within - 0.3 * x[:, 2] + rng.normal(0, 0.3, codes.size)
    result = mixed_model.fit_model(y, x, codes, names, CFG)
    assert result.estimate[1] == pytest.approx(0.5, abs=0.05)
    assert result.estimate[2] == pytest.approx(-0.3, abs=0.15)
    assert result.df[1] == codes.size - 8 - 1  # varies within subjects
    assert result.df[2] == 8 - 2  # constant within subjects: intercept and between


def test_context_levels_pool_rare_ones_and_put_the_most_frequent_first() -> None:
    context = pl.Series("context", ["a"] * 6 + ["b"] * 5 + ["c"] * 2 + [None] * 1 + ["d"])
    pooled, levels = model_terms.context_levels(context, min_episodes=5)
    assert levels == ["a", "b", "other"]
    assert pooled.to_list().count("other") == 4


def shifts_frame(values: dict[str, list[float]], window: str = "pre") -> pl.DataFrame:
    rows = [
        {
            "subject_id": subject,
            "episode_id": f"{subject}e{i}",
            "window": window,
            "metric": "mean_hr_bpm",
            "value": None,
            "baseline_value": None,
            "shift": v,
            "n_controls": 1,
            "control_shift_mean": 0.0,
            "adjusted_shift": v,
            "excluded_reason": None,
            "params_hash": "h",
        }
        for subject, vs in values.items()
        for i, v in enumerate(vs)
    ]
    return schema.conform(
        pl.DataFrame(rows, schema=schema.polars_schema("episode_shifts")), "episode_shifts"
    )


def model_table(
    shifts: pl.DataFrame, episodes: pl.DataFrame | None, cfg: AnalysisConfig, params_hash: str
) -> pl.DataFrame:
    return mixed_model.cohort_models(shifts, episodes, cfg, params_hash).cohort_model


def intercept_row(table: pl.DataFrame, model: str = "base") -> dict[str, object]:
    cond = (pl.col("term") == "intercept") & (pl.col("model") == model)
    return table.filter(cond).row(0, named=True)


def test_one_episode_per_subject_falls_back_to_cluster_robust_ols() -> None:
    table = model_table(
        shifts_frame({"a": [1.0], "b": [2.5], "c": [0.5], "d": [2.0]}), None, ANALYSIS, "h"
    )
    row = intercept_row(table)
    assert row["method"] == "ols_cluster"
    assert "one episode per subject" in str(row["note"])
    assert row["estimate"] == pytest.approx(1.5)
    assert row["ci_low"] < 1.5 < row["ci_high"]


def test_too_few_subjects_or_no_variation_give_null_rows_with_a_reason() -> None:
    few = model_table(shifts_frame({"a": [1.0, 2.0], "b": [2.0, 3.0]}), None, ANALYSIS, "h")
    row = intercept_row(few)
    assert (row["method"], row["estimate"], row["p_value"]) == ("none", None, None)
    assert "model_min_subjects" in str(row["note"])
    flat = model_table(shifts_frame({s: [1.0, 1.0] for s in "abc"}), None, ANALYSIS, "h")
    assert intercept_row(flat)["note"] == "no variation in shifts"


def test_all_excluded_group_keeps_its_rows() -> None:
    shifts = shifts_frame({"a": [1.0, 2.0], "b": [0.0, 1.0], "c": [2.0, 2.5]}).with_columns(
        shift=None, adjusted_shift=None, excluded_reason=pl.lit("no data in window")
    )
    table = model_table(shifts, None, ANALYSIS, "h")
    assert table.height == 3  # intercept, sd_subject, sd_residual of the adjusted shift
    row = intercept_row(table)
    assert (row["method"], row["n_episodes"], row["note"]) == ("none", 0, "no usable shifts")


def test_table_conforms_and_q_values_are_bh_within_family_and_term() -> None:
    rng = np.random.default_rng(6)
    parts = [
        shifts_frame({s: list(rng.normal(mu, 1.0, 6)) for s in "abcd"}, window)
        for window, mu in (("pre", 0.0), ("acute", 2.0), ("during", 0.3))
    ]
    primary = StatsConfig(moderators=(), primary=Outcome(metric="mean_hr_bpm", window="acute"))
    table = model_table(pl.concat(parts), None, AnalysisConfig(stats=primary), "h")
    assert table.equals(schema.conform(table, "cohort_model"))
    assert set(table["term"]) == {"intercept", "sd_subject", "sd_residual"}
    intercepts = table.filter(pl.col("term") == "intercept")
    assert intercepts["family"].to_list() == ["primary", "heart_rate", "heart_rate"]
    assert intercepts["window"].to_list() == ["acute", "pre", "during"]  # plan order
    first = intercepts.row(0, named=True)
    assert first["q_value"] == first["p_value"]  # a family of one row
    family = intercepts.filter(pl.col("family") == "heart_rate")
    q = bh_qvalues(family["p_value"].to_numpy())
    assert np.allclose(family["q_value"].to_numpy(), q)
    assert (intercepts["std_error"] > 0).all() and (intercepts["df"] == 3.0).all()
    ci_half = sps.t.ppf(0.975, 3) * intercepts["std_error"]
    assert np.allclose((intercepts["ci_high"] - intercepts["estimate"]).to_numpy(), ci_half)
    sd_rows = table.filter(pl.col("term") != "intercept")
    assert sd_rows.height == 6  # 3 windows x 2 SD terms
    assert sd_rows["q_value"].null_count() == sd_rows["p_value"].null_count() == 6


def test_raw_shifts_are_never_modelled() -> None:
    shifts = shifts_frame({s: [1.0, 2.0, 3.0] for s in "abcd"}).with_columns(
        adjusted_shift=pl.col("shift") - 1.0
    )
    row = intercept_row(model_table(shifts, None, ANALYSIS, "h"))
    assert row["estimate"] == pytest.approx(1.0)  # the adjusted mean, not the raw 2.0


def test_bh_qvalues_known_example_and_monotone() -> None:
    p = np.array([0.001, 0.008, 0.039, 0.041, 0.042, 0.06, 0.074, 0.205, 0.212, 0.216])
    q = bh_qvalues(p)
    assert q[0] == pytest.approx(0.01)
    assert q[4] == pytest.approx(0.084)
    assert np.all(np.diff(q) >= 0)
    assert np.all(q >= p)


def test_moderator_rows_come_from_a_second_model_with_the_episodes_joined() -> None:
    rng = np.random.default_rng(7)
    shifts = shifts_frame({s: list(rng.normal(1.0, 1.0, 8)) for s in "abcde"})
    episodes = shifts.select(
        "subject_id",
        "episode_id",
        intensity=pl.Series(rng.integers(1, 11, shifts.height)),
        context=pl.Series(["sad film", "argument"] * (shifts.height // 2)),
    )
    cfg = StatsConfig(moderators=("intensity", "context"), min_context_episodes=3)
    table = model_table(shifts, episodes, AnalysisConfig(stats=cfg), "h")
    assert list(zip(table["model"], table["term"], strict=True)) == [
        ("base", "intercept"),
        ("base", "sd_subject"),
        ("base", "sd_residual"),
        ("moderators", "intercept"),
        ("moderators", "intensity_within"),
        ("moderators", "intensity_between"),
        ("moderators", "context[sad film]"),
        ("moderators", "sd_subject"),
        ("moderators", "sd_slope"),  # 5 subjects with varying intensity: a random slope
        ("moderators", "sd_residual"),
    ]
    context = table.filter(pl.col("term") == "context[sad film]").row(0, named=True)
    assert "reference context: argument" in str(context["note"])
    base = model_table(shifts, None, ANALYSIS, "h")
    assert intercept_row(table)["estimate"] == intercept_row(base)["estimate"]


def test_the_models_cover_the_declared_rows_of_the_run() -> None:
    renamed = AnalysisConfig(
        windows=WindowConfig(post_bins_min=((0.0, 30.0), (30.0, 60.0))),
        stats=StatsConfig(moderators=(), primary=Outcome(metric="ln_rmssd", window="post_30_60")),
    )
    parts = [
        shifts_frame({s: [1.0, 2.0, 0.5] for s in "abc"}, window)
        for window in ("pre", "post_0_30", "post_30_60")
    ]
    table = model_table(pl.concat(parts), None, renamed, "h")
    assert table.filter(pl.col("term") == "intercept")["window"].to_list() == [
        "pre",
        "post_0_30",
        "post_30_60",
    ]


def test_empty_shifts_give_an_empty_conforming_table() -> None:
    table = model_table(schema.empty("episode_shifts"), None, AnalysisConfig(), "h")
    assert table.equals(schema.empty("cohort_model"))
