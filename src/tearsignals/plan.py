"""The analysis plan: every parameter that changes numbers, as a TOML file.

A plan is the hashed part of :class:`~tearsignals.config.AnalysisConfig` -
``[windows]``, ``[cleaning]``, ``[quality]``, ``[frequency]``, ``[stats]``
(with ``[stats.primary]``, ``[[stats.families]]`` and ``[stats.timecourse]``)
and ``[clock]`` (clock offsets between a subject's sources) -
written down before the data are looked at: the primary outcome, the
secondary families, windows, cleaning and quality thresholds. Sections or
keys left out keep their defaults; the subject and date selection is not part
of a plan (it does not change what a number means).

:func:`load_plan` reads and validates a plan (one-line :class:`InputError`
naming the file and the first problem); :func:`plan_toml` writes the plan of
a configuration, which ``tearsignals analyze`` stores beside the parameters
of its run (``LAKE/_analysis_params/<params_hash>.toml``), so
``tearsignals analyze --plan`` on that file reproduces the hash.
``plans/default.toml`` is the default plan, spelled out.

Examples
--------
>>> from tearsignals.config import AnalysisConfig
>>> text = plan_toml(AnalysisConfig())
>>> print(text.split("[stats.primary]")[1].strip().splitlines()[:2])
['metric = "ln_rmssd"', 'window = "post_60_90"']
>>> plan_from_text(text) == AnalysisConfig()
True
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from tearsignals.config import HASHED_SECTIONS, AnalysisConfig, validation_summary
from tearsignals.episodes.window_metrics import SHIFT_METRICS
from tearsignals.errors import InputError


def checked(cfg: AnalysisConfig) -> AnalysisConfig:
    """``cfg`` after checking that every outcome names a shift metric (``ValueError``)."""
    stats = cfg.stats
    named = [("stats.primary", stats.primary.metric)] + [
        (f"stats.families.{f.name}", m) for f in stats.families for m in f.metrics
    ]
    for where, metric in named:
        if metric not in SHIFT_METRICS:
            raise ValueError(
                f"{where}: unknown metric {metric!r} (one of {', '.join(SHIFT_METRICS)})"
            )
    return cfg


def plan_from_text(text: str) -> AnalysisConfig:
    """The configuration a plan's TOML text describes; ``ValueError`` with one line."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ValueError(f"not TOML: {err}") from None
    unknown = sorted(set(raw) - set(HASHED_SECTIONS))
    if unknown:
        raise ValueError(
            f"unknown section [{unknown[0]}] (a plan has {', '.join(HASHED_SECTIONS)})"
        )
    try:
        return checked(AnalysisConfig.model_validate(raw))
    except ValidationError as err:
        raise ValueError(validation_summary(err)) from None


def load_plan(path: Path) -> AnalysisConfig:
    """The configuration of the plan file ``path``; :class:`InputError` with one line."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"plan {path}: cannot be read ({type(err).__name__})") from None
    try:
        return plan_from_text(text)
    except ValueError as err:
        raise InputError(f"plan {path}: {err}") from None


def _value(v: Any) -> str:
    """One TOML value: strings quoted, floats exact, lists inline."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, float):
        return repr(v) if math.isfinite(v) else ("inf" if v > 0 else "-inf")
    if isinstance(v, int):
        return str(v)
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    raise TypeError(f"no TOML form for {type(v).__name__}")


def _table(name: str, body: Mapping[str, Any], array: bool = False) -> list[str]:
    """``[name]`` (or ``[[name]]``) with its scalar keys, then its sub-tables."""
    lines = [f"[[{name}]]" if array else f"[{name}]"]
    nested: list[str] = []
    for key, v in body.items():
        if v is None:
            continue  # absent = the default (None)
        if isinstance(v, Mapping):
            nested += ["", *_table(f"{name}.{key}", v)]
        elif isinstance(v, list) and v and all(isinstance(x, Mapping) for x in v):
            for item in v:
                nested += ["", *_table(f"{name}.{key}", item, array=True)]
        else:
            lines.append(f"{key} = {_value(v)}")
    return lines + nested


def plan_toml(cfg: AnalysisConfig) -> str:
    """The plan of ``cfg`` as TOML (every hashed parameter, defaults included)."""
    sections = cfg.hashed_parameters()
    lines = ["# tearsignals analysis plan (tearsignals.plan)"]
    for name in HASHED_SECTIONS:
        lines += ["", *_table(name, sections[name])]
    return "\n".join(lines) + "\n"
