"""great-expectations suites built from ``schemas/*.json``: the per-file batch gate.

Row rules run in polars (:mod:`tearsignals.ingest.validate`); great-expectations checks
each accepted batch once more as a gate and leaves a validation record. One
suite per canonical table, derived from the declared schema:

* the exact column set;
* not-null for every non-nullable column;
* between ``min`` and ``max`` where declared; in-set where ``values`` are declared;
* uniqueness of the natural key (compound when it has several columns).

Column dtypes are not expected here: ingest casts once, before the row rules
(:func:`tearsignals.ingest.plan.canonical_rows`), and passes the batch through
:func:`tearsignals.contract.schema.checked`.

great-expectations is imported lazily (it takes seconds) and one ephemeral
context is reused per process; progress bars are off. ``python -m
tearsignals.contract.expectations`` writes ``schemas/expectations/<table>.json``
(``--check`` only compares).

Examples
--------
>>> [e["type"] for e in suite_json("beats")["expectations"]][:2]
['expect_table_columns_to_match_set', 'expect_column_values_to_not_be_null']
"""

from __future__ import annotations

import argparse
import json
import threading
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Final

import polars as pl

from tearsignals.contract import schema

if TYPE_CHECKING:
    from great_expectations import ExpectationSuite
    from great_expectations.core.batch_definition import BatchDefinition
    from great_expectations.expectations import Expectation

SUITE_PREFIX = "tearsignals."
RESULT_FORMAT: Final = "BASIC"
_LOCK = threading.Lock()


@dataclass(frozen=True)
class GateResult:
    """Outcome of :func:`validate_batch`.

    ``failed`` describes each failed expectation as ``type(kwarg=value, ...)``;
    ``result_json`` is the great-expectations result as plain JSON types.
    """

    success: bool
    failed: tuple[str, ...]
    result_json: dict[str, Any]


@cache
def _gx() -> ModuleType:
    """great_expectations, imported once.

    Python 3.11 deprecates ``sre_constants``/``sre_parse``, which great-expectations 1.x
    imports; those warnings are silenced here so ``-W error`` runs still work.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=r"module 'sre_\w+' is deprecated", category=DeprecationWarning
        )
        import great_expectations as gx
    return gx


def _column_expectations(column: schema.Column) -> list[Expectation]:
    """Expectations declared by one column: not-null, between, in-set."""
    exp = _gx().expectations
    found: list[Expectation] = []
    if not column.nullable:
        found.append(exp.ExpectColumnValuesToNotBeNull(column=column.name))
    if column.min is not None or column.max is not None:
        found.append(
            exp.ExpectColumnValuesToBeBetween(
                column=column.name, min_value=column.min, max_value=column.max
            )
        )
    if column.values is not None:
        found.append(
            exp.ExpectColumnValuesToBeInSet(column=column.name, value_set=list(column.values))
        )
    return found


def _key_expectation(key: Sequence[str]) -> Expectation:
    """Uniqueness of the natural key: per column if it has one column, else compound."""
    exp = _gx().expectations
    if len(key) == 1:
        return exp.ExpectColumnValuesToBeUnique(column=key[0])
    return exp.ExpectCompoundColumnsToBeUnique(column_list=list(key))


@cache
def suite(table: str) -> ExpectationSuite:
    """The expectation suite of ``table``, built from its schema (cached; do not modify)."""
    declared = schema.table(table)
    expectations = [
        _gx().expectations.ExpectTableColumnsToMatchSet(
            column_set=declared.column_names, exact_match=True
        ),
        *[e for c in declared.columns for e in _column_expectations(c)],
        _key_expectation(declared.key),
    ]
    return _gx().ExpectationSuite(name=SUITE_PREFIX + table, expectations=expectations)


def _plain_config(expectation: Expectation) -> dict[str, Any]:
    """``{"type", "kwargs"}`` of an expectation as GX will run it (no ids, no batch)."""
    config = expectation.configuration
    kwargs = _json_safe({k: v for k, v in config.kwargs.items() if k != "batch_id"})
    return {"type": config.type, "kwargs": kwargs}


def suite_json(table: str) -> dict[str, Any]:
    """A stable, JSON-serialisable form of :func:`suite` (no generated ids)."""
    built = suite(table)
    return {
        "name": built.name,
        "table": table,
        "expectations": [_plain_config(e) for e in built.expectations],
    }


def describe(expectation_type: str, kwargs: dict[str, Any]) -> str:
    """``type(key=value, ...)`` of an expectation, without the batch id.

    >>> describe("expect_column_values_to_not_be_null", {"column": "t_utc", "batch_id": "x"})
    'expect_column_values_to_not_be_null(column=t_utc)'
    """
    shown = ", ".join(
        f"{k}={','.join(map(str, v)) if isinstance(v, list) else v}"
        for k, v in kwargs.items()
        if k != "batch_id" and v is not None
    )
    return f"{expectation_type}({shown})"


@cache
def _batch_definition() -> BatchDefinition:
    """The whole-dataframe batch definition of the one ephemeral context of this process."""
    gx = _gx()
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    asset = context.data_sources.add_pandas("tearsignals").add_dataframe_asset("frame")
    return asset.add_batch_definition_whole_dataframe("whole_frame")


def _json_safe(value: Any) -> Any:
    """``value`` round-tripped through JSON (non-JSON leaves such as timestamps become text)."""
    return json.loads(json.dumps(value, default=str))


def validate_batch(table: str, df: pl.DataFrame) -> GateResult:
    """Validate a conformed frame of ``table`` against its suite.

    Parameters
    ----------
    table
        Canonical table name.
    df
        The batch, with exactly the table's columns in their declared dtypes
        (see :func:`tearsignals.contract.schema.checked`).

    Returns
    -------
    GateResult
        Whether every expectation held, the failed ones, and the full result.
    """
    expectation_suite = suite(table)
    frame = df.to_pandas()
    with _LOCK:
        batch = _batch_definition().get_batch(batch_parameters={"dataframe": frame})
        result = batch.validate(expectation_suite, result_format=RESULT_FORMAT)
    configs = [r.expectation_config for r in result.results if not r.success]
    failed = tuple(
        describe(c.type, dict(c.kwargs)) if c is not None else "unknown expectation"
        for c in configs
    )
    return GateResult(
        success=bool(result.success), failed=failed, result_json=_json_safe(result.to_json_dict())
    )


def suite_file_text(table: str) -> str:
    """The committed text of ``schemas/expectations/<table>.json``."""
    return json.dumps(suite_json(table), indent=2, sort_keys=False) + "\n"


def suites_dir() -> Path:
    """Where the suite files live (beside the schemas)."""
    return schema.schemas_dir() / "expectations"


def write_suite_files(directory: Path | None = None) -> list[Path]:
    """Write one suite file per canonical table; returns the paths written."""
    target = directory if directory is not None else suites_dir()
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for table in schema.TABLE_NAMES:
        path = target / f"{table}.json"
        path.write_text(suite_file_text(table))
        written.append(path)
    return written


def stale_suite_files(directory: Path | None = None) -> list[str]:
    """Tables whose suite file is missing or differs from the built suite."""
    target = directory if directory is not None else suites_dir()
    return [
        t
        for t in schema.TABLE_NAMES
        if not (target / f"{t}.json").is_file()
        or (target / f"{t}.json").read_text() != suite_file_text(t)
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """Write (or with ``--check``, compare) ``schemas/expectations/*.json``."""
    parser = argparse.ArgumentParser(prog="python -m tearsignals.contract.expectations")
    parser.add_argument("--check", action="store_true", help="only report stale files")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_suite_files()
        print("stale: " + ", ".join(stale) if stale else "suite files up to date")
        return 1 if stale else 0
    for path in write_suite_files():
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
