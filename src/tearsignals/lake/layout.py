"""Every path of the lake, as functions of the lake root: the only place that names them.

::

    LAKE/
      <table>/subject_id=<id>/<part>.parquet   subject-partitioned tables (hive folders;
                                               silver parts are named by file_id, a
                                               file's later batches <file_id>.<00001>,
                                               gold partitions hold one part-0)
      <table>/part-0.parquet                   unpartitioned tables (the cohort tables)
      validation/<file_id>.json                great-expectations result of each input file
      _pending_analysis/<subject_id>           subjects whose gold tables need a rebuild
      _analysis_params/<params_hash>.json      the analysis parameters behind a params_hash
      _analysis_params/<params_hash>.toml      the same as an analysis plan (tearsignals.plan)
      reports/<params_hash>/report.html        the cohort report of a parameter set
      reports/<params_hash>/episode-<id>.html  a report with one episode's panel
      _pseudonymisation.json                   whether subject ids are pseudonymised
      _scratch/                                what a batching adapter spills while reading
      .lock                                    the writers' lock file
      **/.<name>.<32 hex>.tmp                  an atomic write in progress (or killed)

Nothing here touches the file system: :mod:`tearsignals.lake.store` reads,
writes and lists files by these names and patterns, :mod:`tearsignals.lake.lock`
and :mod:`tearsignals.lake.privacy` keep their state files at the paths given
here.

Examples
--------
>>> lake = Path("LAKE")
>>> str(part_path(lake, "beats", "S01", "ab12"))
'LAKE/beats/subject_id=S01/ab12.parquet'
>>> str(unpartitioned_path(lake, "cohort_summary"))
'LAKE/cohort_summary/part-0.parquet'
>>> str(validation_path(lake, "ab12"))
'LAKE/validation/ab12.json'
>>> str(report_path(lake, "0123abcd"))
'LAKE/reports/0123abcd/report.html'
>>> is_temp_path(temp_path(lake / "beats" / "x.parquet"))
True
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path

from tearsignals.contract import schema

PARTITION_COLUMN = "subject_id"
SINGLE_PART = "part-0"
PART_SUFFIX = ".parquet"
VALIDATION_DIR = "validation"
PENDING_ANALYSIS_DIR = "_pending_analysis"
ANALYSIS_PARAMS_DIR = "_analysis_params"
PARAMS_SUFFIX = ".json"
PARAMS_GLOB = f"*{PARAMS_SUFFIX}"
REPORTS_DIR = "reports"
REPORT_FILE = "report.html"
PSEUDONYM_MARKER = "_pseudonymisation.json"
SCRATCH_DIR = "_scratch"
LOCK_FILE = ".lock"
PART_GLOB = f"*{PART_SUFFIX}"
PARTITION_GLOB = f"{PARTITION_COLUMN}=*"
PARTITIONED_PART_GLOB = f"{PARTITION_GLOB}/{PART_GLOB}"
VALIDATION_GLOB = "*.json"
TEMP_GLOB = ".*.tmp"
_SUBJECT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_TEMP_RE = re.compile(r"^\..+\.[0-9a-f]{32}\.tmp$")
_BATCH_RE = re.compile(r"\.[0-9]{5}$")
BATCH_DIGITS = 5


def safe_subject_id(name: str) -> str:
    """Return ``name`` if it is usable as a subject id and a path segment, else raise ValueError.

    >>> safe_subject_id("S01")
    'S01'
    """
    if not _SUBJECT_RE.match(name):
        raise ValueError(
            f"subject id {name!r} must be 1-128 characters of letters, digits, '_', '.', '-'"
        )
    return name


def is_subject_id(name: str) -> bool:
    """Whether ``name`` passes :func:`safe_subject_id` (hidden and temp names do not)."""
    return bool(_SUBJECT_RE.match(name))


def table_dir(lake: Path, table: str) -> Path:
    """The folder of ``table``."""
    return lake / schema.table(table).name


def partition_dir(lake: Path, table: str, subject_id: str) -> Path:
    """The hive partition of one subject: ``<table>/subject_id=<id>``."""
    return table_dir(lake, table) / f"{PARTITION_COLUMN}={safe_subject_id(subject_id)}"


def part_path(lake: Path, table: str, subject_id: str, part: str) -> Path:
    """Where part ``part`` of a subject-partitioned table lives."""
    return partition_dir(lake, table, subject_id) / f"{part}{PART_SUFFIX}"


def unpartitioned_path(lake: Path, table: str) -> Path:
    """The one part file of an unpartitioned table (e.g. ``cohort_summary``)."""
    return table_dir(lake, table) / f"{SINGLE_PART}{PART_SUFFIX}"


def partition_subject(partition: Path) -> str:
    """The subject id of a partition folder (the inverse of :func:`partition_dir`)."""
    return partition.name.removeprefix(f"{PARTITION_COLUMN}=")


def part_name(path: Path) -> str:
    """The part name of a part file (a silver part's name is its input file's ``file_id``)."""
    return path.name.removesuffix(PART_SUFFIX)


def batch_part(file_id: str, batch: int) -> str:
    """The part name of batch ``batch`` (0-based) of an input file: its ``file_id``, then ``.00001``...

    >>> batch_part("ab12", 0), batch_part("ab12", 3)
    ('ab12', 'ab12.00003')
    """
    return file_id if batch == 0 else f"{file_id}.{batch:0{BATCH_DIGITS}d}"


def part_file_id(path: Path) -> str:
    """The ``file_id`` of the input file a silver part file holds rows of.

    >>> part_file_id(Path("ab12.00003.parquet")), part_file_id(Path("ab12.parquet"))
    ('ab12', 'ab12')
    """
    return _BATCH_RE.sub("", part_name(path))


def file_part_globs(file_id: str) -> tuple[str, str]:
    """Glob patterns of every part file of input file ``file_id`` in a partition."""
    return f"{file_id}{PART_SUFFIX}", f"{file_id}.{'[0-9]' * BATCH_DIGITS}{PART_SUFFIX}"


def scratch_dir(lake: Path) -> Path:
    """Where batching adapters spill while reading a file (emptied by the next writer)."""
    return lake / SCRATCH_DIR


def validation_dir(lake: Path) -> Path:
    """The folder of the per-file great-expectations results."""
    return lake / VALIDATION_DIR


def validation_path(lake: Path, file_id: str) -> Path:
    """The great-expectations result of the input file ``file_id``."""
    return validation_dir(lake) / f"{file_id}.json"


def pending_analysis_dir(lake: Path) -> Path:
    """The folder of pending-analysis marks, one empty file per subject."""
    return lake / PENDING_ANALYSIS_DIR


def pending_analysis_path(lake: Path, subject_id: str) -> Path:
    """The mark saying that ``subject_id``'s gold tables need a rebuild."""
    return pending_analysis_dir(lake) / safe_subject_id(subject_id)


def analysis_params_path(lake: Path, params_hash: str) -> Path:
    """The JSON document of the analysis parameters whose hash is ``params_hash``.

    >>> str(analysis_params_path(Path("LAKE"), "0123abcd"))
    'LAKE/_analysis_params/0123abcd.json'
    """
    return analysis_params_dir(lake) / f"{params_hash}{PARAMS_SUFFIX}"


def analysis_params_dir(lake: Path) -> Path:
    """The folder of the analysis parameter files, one per ``params_hash``."""
    return lake / ANALYSIS_PARAMS_DIR


def params_hash_of(path: Path) -> str:
    """The ``params_hash`` a parameter file is named after (inverse of :func:`analysis_params_path`)."""
    return path.name.removesuffix(PARAMS_SUFFIX)


def report_dir(lake: Path, params_hash: str) -> Path:
    """The folder of the reports made from the gold rows of one parameter set."""
    return lake / REPORTS_DIR / params_hash


def report_path(lake: Path, params_hash: str) -> Path:
    """The cohort report that every analysis run writes for its ``params_hash``."""
    return report_dir(lake, params_hash) / REPORT_FILE


def episode_report_path(lake: Path, params_hash: str, episode_id: str) -> Path:
    """The report with the panel of one episode (``tearsignals report --episode ID``).

    >>> str(episode_report_path(Path("LAKE"), "0123abcd", "e1"))
    'LAKE/reports/0123abcd/episode-e1.html'
    """
    if not _SUBJECT_RE.match(episode_id):
        raise ValueError(f"episode id {episode_id[:40]!r} is no file-name segment")
    return report_dir(lake, params_hash) / f"episode-{episode_id}.html"


def analysis_plan_path(lake: Path, params_hash: str) -> Path:
    """The analysis plan (TOML) of the parameters whose hash is ``params_hash``.

    >>> str(analysis_plan_path(Path("LAKE"), "0123abcd"))
    'LAKE/_analysis_params/0123abcd.toml'
    """
    return lake / ANALYSIS_PARAMS_DIR / f"{params_hash}.toml"


def pseudonym_marker_path(lake: Path) -> Path:
    """The record of whether (and with which key check) the lake is pseudonymised."""
    return lake / PSEUDONYM_MARKER


def lock_path(lake: Path) -> Path:
    """The file the writers' lock is taken on."""
    return lake / LOCK_FILE


def temp_path(target: Path) -> Path:
    """A fresh hidden temporary name beside ``target``: ``.<name>.<32 hex>.tmp``."""
    return target.parent / f".{target.name}.{uuid.uuid4().hex}.tmp"


def is_temp_path(path: Path) -> bool:
    """Whether ``path`` is named like :func:`temp_path` names temporary files."""
    return bool(_TEMP_RE.match(path.name))
