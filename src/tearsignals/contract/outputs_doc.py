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
row names the file that made it. Beside it, `LAKE/_analysis_params/<params_hash>.toml` holds the
same parameters as an analysis plan (`tearsignals.plan`): `tearsignals analyze --plan` on that
file runs the same analysis again.

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


REPORTS_SECTION = """## `reports/<params_hash>/` (HTML reports)

Every `analyze-episodes` run writes `LAKE/reports/<params_hash>/report.html` for its parameter
set and links it from its Prefect artifact (`cohort-summary`). `tearsignals report --lake LAKE
[--params HASH] [--out FILE] [--episode ID]` writes it again (default: the parameter set of the
cohort tables), or with one episode's panel first as
`LAKE/reports/<params_hash>/episode-<episode_id>.html`; `--out` writes elsewhere.

One self-contained HTML file: figures are SVG (matplotlib, text as paths) embedded as `data:`
URIs, styles are inline, there is no script, and a content-security policy lets the page load
nothing from outside, so it opens offline and prints (A4 landscape, figures and tables kept
whole). Written atomically and readable by the owner only, like every lake file. It shows
aggregates, plus, with `--episode`, that episode's beats as a figure; never an episode's context
text. Elements carry `data-figure`, `data-table` and `data-column` attributes for scripts.

| section | what it shows | from |
|---|---|---|
| Episode (with `--episode`) | RR tachogram (minute heart rate where there are no beats) of the episode and of each matched control day at the same clock time, each day's windows shaded (hatched: graded poor or none); the windows' metrics and the episode's shifts | `episode_windows`, `episode_shifts`, `beats`, `heart_rate` |
| Event-locked time course | for each metric of the time course, the change from baseline around onset and around end: mean of subject means per bin (descriptive: the control-adjusted change and its 95% CI are in `cohort_timecourse`, measure `adjusted`); the matched control days' shift per window (mean of subject means, 95% t-interval) as a grey band over the window; the windows shaded | `cohort_timecourse`, `episode_shifts` |
| Control-adjusted shifts | forest plot of the estimand for HR and ln RMSSD in every window: each subject (mean over its episodes, t-interval over them) and the cohort (mean of subject means, t-interval over subjects), with the number of episodes | `subject_summary`, `cohort_summary` |
| Data yield | subjects x UTC days coloured by hours with data (clock minutes holding a beat or heart-rate sample), days with analysed episodes marked; days, hours and episodes per subject | `beats`, `heart_rate`, `episodes` |
| Quality ledger | episode and control windows by grade and reason; beats corrected per window name (Lipponen classes, share of beats) | `episode_windows` |
| Cohort table | the control-adjusted rows of the cohort summary with their family and q-value; the base mixed model's average control-adjusted shift with q-values | `cohort_summary`, `cohort_model` |
| (further cohort tables) | every other unpartitioned gold table with rows for the parameter set (e.g. per-subject estimates, sensitivity runs, power), as a table headed by its schema description; absent when the lake holds none | its table |
| Methods and parameters | a methods paragraph generated from the stored parameters (windows, cleaning, quality, spectrum, estimand and controls, statistics, power and sensitivity design, software versions) and every stored parameter | `_analysis_params/<params_hash>.json` |
"""


def _dtype_text(c: schema.Column) -> str:
    text = str(c.dtype).replace("Datetime(time_unit='us', time_zone='UTC')", "Datetime(us, UTC)")
    return text + ("" if c.nullable else ", not null")


def _rules(c: schema.Column) -> str:
    parts = []
    if c.min is not None or c.max is not None:
        parts.append(
            f"range [{schema.bound_text(c.min) if c.min is not None else ''}, "
            f"{schema.bound_text(c.max) if c.max is not None else ''}]"
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
    return _INTRO + "\n" + tables + "\n\n" + PARAMS_SECTION + "\n" + REPORTS_SECTION


if __name__ == "__main__":
    print(outputs_markdown(), end="")
