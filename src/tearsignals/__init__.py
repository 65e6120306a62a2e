"""tearsignals: heart-rate and HRV shifts around logged crying episodes.

The public surface: the analysis parameters (the same frozen models the flows
take), and reading what a run left in the lake. Running the pipeline is the
``tearsignals`` command (``ingest``, ``analyze``) or its Prefect flows; the
rest of the package (``tearsignals.ingest``, ``.episodes``, ``.stats``, ...)
is importable for those who build on the parts.

Examples
--------
>>> import tempfile
>>> import tearsignals
>>> cfg = tearsignals.AnalysisConfig(
...     windows=tearsignals.WindowConfig(post_bins_min=((0, 30), (30, 60), (60, 120))),
...     stats=tearsignals.StatsConfig(
...         primary=tearsignals.Outcome(metric="ln_rmssd", window="post_60_120")
...     ),
... )
>>> cfg.windows.names()[4:]
('post_0_30', 'post_30_60', 'post_60_120')
>>> lake = tempfile.mkdtemp()
>>> tearsignals.read_table(lake, "cohort_summary").height
0
"""

from importlib.metadata import version

from tearsignals.config import (
    AnalysisConfig,
    CleaningConfig,
    Family,
    FrequencyConfig,
    Outcome,
    QualityConfig,
    StatsConfig,
    TimecourseConfig,
    WindowConfig,
)
from tearsignals.errors import InputError
from tearsignals.lake.store import read_params, read_table, scan_table

__version__ = version("tearsignals")

__all__ = [
    "AnalysisConfig",
    "CleaningConfig",
    "Family",
    "FrequencyConfig",
    "InputError",
    "Outcome",
    "QualityConfig",
    "StatsConfig",
    "TimecourseConfig",
    "WindowConfig",
    "__version__",
    "read_params",
    "read_table",
    "scan_table",
]
