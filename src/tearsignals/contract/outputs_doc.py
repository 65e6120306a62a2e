"""Generate ``docs/outputs.md`` from the schemas: ``python -m tearsignals.contract.outputs_doc``."""

from __future__ import annotations

from tearsignals.contract import schema

_INTRO = """# Outputs

Generated from `schemas/*.json` by `make docs` (`python -m tearsignals.contract.outputs_doc`); a test
checks that this file matches the schemas.

The lake is a folder of Parquet files, one folder per table, hive-partitioned by
subject: `LAKE/<table>/subject_id=<id>/*.parquet` (the `subject_id` column lives in
the folder name, not in the files). The cohort tables (`cohort_summary`, `cohort_model`, `cohort_timecourse`) are
not partitioned. Times are
UTC (`Datetime(us, UTC)`); units are in the column names. Files are zstd-compressed,
written atomically, readable by the owner only.

Reading in a notebook, no tearsignals needed:

```python
import polars as pl
windows = pl.read_parquet("LAKE/episode_windows/**/*.parquet",
                          hive_partitioning=True, hive_schema={"subject_id": pl.String})
```

```python
import pandas as pd
shifts = pd.read_parquet("LAKE/episode_shifts")   # pyarrow reads the hive folders
```

```sql
-- DuckDB
SELECT * FROM read_parquet('LAKE/cohort_summary/*.parquet');
SELECT * FROM read_parquet('LAKE/episode_windows/**/*.parquet', hive_partitioning = true,
                           hive_types = {'subject_id': VARCHAR});
```
"""


PARAMS_SECTION = """## `_analysis_params/<params_hash>.json` (parameters)

Every analysis run writes, before any row that carries its hash, the parameters behind it:
`LAKE/_analysis_params/<params_hash>.json`, one JSON object per parameter set, written
atomically and readable by the owner only like every lake file. The `params_hash` of any gold
row names the file that made it.

| key | meaning |
|---|---|
| `params_hash` | The hash: the first 16 hex digits of SHA-256 over `parameters` as `AnalysisConfig` serialises them. |
| `parameters` | The `AnalysisConfig` fields that enter the hash: `windows`, `cleaning`, `quality`, `frequency`, `stats` (the subject and date selection do not). |
| `window_names` | The run's windows in analysis order (`WindowConfig.names()`): `baseline`, `pre`, `acute`, `during`, then one `post_<start>_<end>` per post bin, its bounds in minutes after the episode end, a whole number without a fraction (`post_0_30`), any other as its shortest decimal (`post_0_22.5`), a negative one with its sign (`post_-5_0`). |
| `tearsignals_version` | The tearsignals version of the run that last wrote the file. |

```python
import json, tearsignals
doc = json.load(open(f"LAKE/_analysis_params/{params_hash}.json"))  # no tearsignals needed
doc = tearsignals.read_params("LAKE", params_hash)                  # the same, checked
cfg = tearsignals.AnalysisConfig.model_validate(doc["parameters"])   # cfg.params_hash() == params_hash
```
"""


def _dtype_text(c: schema.Column) -> str:
    text = str(c.dtype).replace("Datetime(time_unit='us', time_zone='UTC')", "Datetime(us, UTC)")
    return text + ("" if c.nullable else ", not null")


def _rules(c: schema.Column) -> str:
    parts = []
    if c.min is not None or c.max is not None:
        parts.append(
            f"range [{c.min if c.min is not None else ''}, {c.max if c.max is not None else ''}]"
        )
    if c.values:
        parts.append("one of " + ", ".join(f"`{v}`" for v in c.values))
    return "; ".join(parts)


def table_markdown(name: str) -> str:
    t = schema.table(name)
    lines = [
        f"## `{name}` ({t.layer})",
        "",
        t.description,
        "",
        f"Key: `{', '.join(t.key)}`. Partitioned by: `{', '.join(t.partition_by) or 'nothing'}`.",
        "",
        "| column | type | meaning | rules |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| `{c.name}` | {_dtype_text(c)} | {c.description} | {_rules(c)} |" for c in t.columns
    ]
    return "\n".join(lines)


def outputs_markdown() -> str:
    tables = "\n\n".join(table_markdown(n) for n in schema.TABLE_NAMES)
    return _INTRO + "\n" + tables + "\n\n" + PARAMS_SECTION


if __name__ == "__main__":
    print(outputs_markdown(), end="")
