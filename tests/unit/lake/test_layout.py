"""Every lake path comes from ``tearsignals.lake.layout``; no other module builds one."""

from __future__ import annotations

import ast
import re
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from tearsignals.contract import schema
from tearsignals.ingest import files
from tearsignals.lake import layout, lock, privacy, store

ROOT = Path(__file__).resolve().parents[3]
LAKE_PACKAGE = ROOT / "src" / "tearsignals" / "lake"
STATE_NAMES = {
    layout.VALIDATION_DIR,
    layout.PENDING_ANALYSIS_DIR,
    layout.ANALYSIS_PARAMS_DIR,
    layout.REPORT_FILE,
    layout.PSEUDONYM_MARKER,
    layout.LOCK_FILE,
    layout.SINGLE_PART,
}
# A string constant that spells a lake path: a hive folder or a Parquet part file.
_PATH_TEXT = re.compile(r"^[\w./*{}-]*(subject_id=|\.parquet$)")


def test_paths_are_functions_of_the_lake_root() -> None:
    lake = Path("LAKE")
    assert layout.table_dir(lake, "beats") == lake / "beats"
    assert layout.partition_dir(lake, "beats", "S01") == lake / "beats" / "subject_id=S01"
    assert layout.part_path(lake, "heart_rate", "S01", "f1") == (
        lake / "heart_rate" / "subject_id=S01" / "f1.parquet"
    )
    assert (
        layout.unpartitioned_path(lake, "cohort_model") == lake / "cohort_model" / "part-0.parquet"
    )
    assert layout.validation_path(lake, "f1") == lake / "validation" / "f1.json"
    assert layout.pending_analysis_path(lake, "S01") == lake / "_pending_analysis" / "S01"
    assert layout.analysis_params_path(lake, "ab12") == lake / "_analysis_params" / "ab12.json"
    assert layout.pseudonym_marker_path(lake) == lake / "_pseudonymisation.json"
    assert layout.lock_path(lake) == lake / ".lock"


def test_partition_names_round_trip_and_unknown_tables_are_refused() -> None:
    folder = layout.partition_dir(Path("LAKE"), "episodes", "007")
    assert layout.partition_subject(folder) == "007"
    assert layout.part_name(layout.part_path(Path("LAKE"), "beats", "S01", "a.b")) == "a.b"
    with pytest.raises(KeyError, match="unknown table"):
        layout.table_dir(Path("LAKE"), "nonsense")


@pytest.mark.parametrize("bad", ["", "../x", ".hidden", "a/b", "..", "x" * 129, "spaced name", "ä"])
def test_unsafe_subject_ids_are_no_path_segment(bad: str) -> None:
    assert not layout.is_subject_id(bad)
    with pytest.raises(ValueError, match="subject id"):
        layout.safe_subject_id(bad)
    with pytest.raises(ValueError, match="subject id"):
        layout.partition_dir(Path("LAKE"), "beats", bad)


def test_temp_names_are_hidden_unique_and_recognised() -> None:
    target = Path("LAKE") / "beats" / "x.parquet"
    first, second = layout.temp_path(target), layout.temp_path(target)
    assert first != second and first.parent == target.parent
    assert first.name.startswith(".") and layout.is_temp_path(first)
    assert not layout.is_temp_path(target)
    assert not layout.is_temp_path(target.parent / ".x.parquet.tmp")


def _known_path(lake: Path, path: Path) -> bool:
    """Whether ``path`` is one that the layout names (or a temp file beside one)."""
    rel = path.relative_to(lake)
    table = rel.parts[0]
    if table in schema.TABLE_NAMES:
        if schema.table(table).partition_by:
            subject = layout.partition_subject(path.parent)
            return path == layout.part_path(lake, table, subject, layout.part_name(path))
        return path == layout.unpartitioned_path(lake, table)
    if path.parent == layout.pending_analysis_dir(lake):
        return path == layout.pending_analysis_path(lake, path.name)
    return path in {
        layout.validation_path(lake, path.stem),
        layout.pseudonym_marker_path(lake),
        layout.lock_path(lake),
    }


def test_every_file_an_ingest_leaves_is_at_a_layout_path(tmp_path: Path) -> None:
    inbox, lake = tmp_path / "inbox", tmp_path / "lake"
    (inbox / "S01").mkdir(parents=True)
    rows = "\n".join(f"2026-01-05T15:00:{s:02d}+01:00,{800 + s}" for s in range(1, 9))
    (inbox / "S01" / "rr.csv").write_text(
        f"timestamp,rr_ms\n{rows}\n2026-01-05T15:01:00+01:00,-3\n"
    )
    key = b"0123456789abcdef-layout-test"
    with lock.lake_writer(lake, "test"):
        privacy.check_lake_mode(lake, key)
        for subject_id, path in files.inbox_files(inbox):
            files.ingest_file(lake, inbox, subject_id, path, key=key)
    store.write_unpartitioned(lake, "cohort_summary", schema.empty("cohort_summary"))
    stored = [p for p in lake.rglob("*") if p.is_file()]
    tables = {p.relative_to(lake).parts[0] for p in stored}
    assert {"beats", "quarantine", "_ingest_log", "cohort_summary"} <= tables
    assert {layout.VALIDATION_DIR, layout.PENDING_ANALYSIS_DIR} <= tables
    assert {layout.lock_path(lake), layout.pseudonym_marker_path(lake)} <= set(stored)
    assert [p for p in stored if not _known_path(lake, p)] == []


def test_writes_and_state_marks_use_the_layout(tmp_path: Path) -> None:
    t0 = datetime(2026, 1, 5, 15, tzinfo=UTC)
    beats = pl.DataFrame(
        {"subject_id": ["S01"], "source": ["csv_beats"], "device": [None], "file_id": ["f1"],
         "t_utc": [t0], "rr_ms": [900.0], "origin": ["rr"]}
    ).pipe(schema.conform, "beats")  # fmt: skip
    written = store.write_part(tmp_path, "beats", beats, "S01", "f1")
    assert written == layout.part_path(tmp_path, "beats", "S01", "f1")
    store.mark_pending_analysis(tmp_path, "S01")
    assert layout.pending_analysis_path(tmp_path, "S01").is_file()
    assert store.pending_analysis(tmp_path) == ["S01"]
    store.clear_pending_analysis(tmp_path, ["S01"])
    assert not layout.pending_analysis_path(tmp_path, "S01").exists()


def _names_lake(node: ast.expr) -> bool:
    """Whether an expression is a lake root: ``lake``, ``args.lake``, ``Path(lake)``, ..."""
    if isinstance(node, ast.Name):
        return "lake" in node.id.lower()
    if isinstance(node, ast.Attribute):
        return "lake" in node.attr.lower()
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "Path":
        return len(node.args) == 1 and _names_lake(node.args[0])
    return False


def _lake_path_builders(source: str) -> list[str]:
    """Code that joins a path onto a lake root or spells a lake path, as ``line: text``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        joined = (
            isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div) and _names_lake(node.left)
        )
        called = (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in {"joinpath", "join"}
            and any(_names_lake(a) for a in [node.func.value, *node.args])
        )
        formatted = isinstance(node, ast.JoinedStr) and any(
            isinstance(v, ast.FormattedValue)
            and _names_lake(v.value)
            and isinstance(after, ast.Constant)
            and str(after.value).startswith("/")
            for v, after in zip(node.values, node.values[1:], strict=False)
        )
        named = (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and (node.value in STATE_NAMES or bool(_PATH_TEXT.match(node.value)))
        )
        if joined or called or formatted or named:
            found.append(f"{getattr(node, 'lineno', '?')}: {ast.unparse(node)}")
    return found


@pytest.mark.parametrize(
    "snippet",
    [
        'out = lake / "validation" / name',
        "target = Path(lake) / table",
        "target = args.lake / table",
        "folder = lake_dir.joinpath('beats')",
        "where = os.path.join(lake, 'beats')",
        "text = f'{lake}/cohort_summary/*.parquet'",
        "marker = root / '_pseudonymisation.json'",
        "part = folder / 'subject_id=S01'",
    ],
)
def test_the_detector_finds_lake_paths(snippet: str) -> None:
    assert _lake_path_builders(snippet)


@pytest.mark.parametrize(
    "snippet",
    [
        'inbox = lake.parent / "inbox"',
        "path = layout.validation_path(lake, file_id)",
        'print(f"lake: {lake}")',
        'rel = path.relative_to(inbox) / "x"',
    ],
)
def test_the_detector_leaves_other_paths_alone(snippet: str) -> None:
    assert _lake_path_builders(snippet) == []


def test_no_module_outside_the_lake_package_builds_a_lake_path() -> None:
    modules = [
        p
        for folder in (ROOT / "src" / "tearsignals", ROOT / "flows")
        for p in sorted(folder.rglob("*.py"))
        if LAKE_PACKAGE not in p.parents
    ]
    assert len(modules) > 20
    found = {
        str(p.relative_to(ROOT)): hits
        for p in modules
        if (hits := _lake_path_builders(p.read_text()))
    }
    assert found == {}, "use tearsignals.lake.layout for these lake paths"
