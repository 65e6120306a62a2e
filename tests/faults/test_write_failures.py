"""A full disk or a failing rename leaves the previous lake intact and no temp litter.

The disk-full runs are forked children with ``RLIMIT_FSIZE`` (SIGXFSZ
ignored), so the kernel refuses writes past the limit with EFBIG exactly as on
a full file system. The failing rename patches ``Path.replace`` in-process.
"""

from __future__ import annotations

import errno
import shutil
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import polars as pl
import pytest

from tearsignals.ingest import files
from tearsignals.lake import store


def _with_new_export(fault_inbox: Path, root: Path) -> tuple[Path, int]:
    """A copy of the inbox plus ``S02/rr_S02_next.csv``: S02's beats two days later (all new)."""
    inbox = root / "inbox"
    shutil.copytree(fault_inbox, inbox)
    rr = pl.read_csv(inbox / "S02" / "rr_S02.csv")
    later = rr.with_columns(pl.col("timestamp_ms") + 2 * 86_400_000)
    later.write_csv(inbox / "S02" / "rr_S02_next.csv")
    return inbox, later.height


def _copy_of(lake: Path, root: Path) -> Path:
    copy = root / "lake"
    shutil.copytree(lake, copy)
    return copy


def _assert_untouched(lake: Path, clean_run: SimpleNamespace, tools: SimpleNamespace) -> None:
    assert tools.digest(lake) == clean_run.digest
    assert store.temp_litter(lake) == []
    assert tools.unreadable(lake)[1] == []


def test_disk_full_during_ingest_keeps_the_previous_lake(
    tmp_path: Path,
    forker: Any,
    tools: SimpleNamespace,
    fault_inbox: Path,
    clean_run: SimpleNamespace,
    fault_figures: list[dict[str, Any]],
) -> None:
    inbox, n_new = _with_new_export(fault_inbox, tmp_path)
    lake = _copy_of(clean_run.lake, tmp_path)
    errors = tmp_path / "errors.txt"
    # 64 KiB: the new file's validation record fits, its beats Parquet (~n_new rows) does not
    assert forker.run(tools.job(lake, inbox, fsize=65536, errors=str(errors))) == [1]
    assert errors.read_text().startswith("OSError: [Errno 27] File too large")
    _assert_untouched(lake, clean_run, tools)
    tools.rerun(lake, inbox)  # space is back: the next run ingests the file
    assert store.read_table(lake, "beats").height == (
        store.read_table(clean_run.lake, "beats").height + n_new
    )
    assert tools.duplicate_keys(lake) == 0 and store.uncommitted_files(lake) == []
    fault_figures.append({"suite": "quick", "kind": "disk full (RLIMIT_FSIZE) in ingest",
                          "previous_state_intact": True, "temp_files_left": 0})  # fmt: skip


def test_disk_full_during_analysis_keeps_the_previous_gold(
    tmp_path: Path,
    forker: Any,
    tools: SimpleNamespace,
    fault_inbox: Path,
    clean_run: SimpleNamespace,
    fault_figures: list[dict[str, Any]],
) -> None:
    lake = _copy_of(clean_run.lake, tmp_path)
    errors = tmp_path / "errors.txt"
    assert forker.run(tools.job(lake, fault_inbox, "analyze", fsize=1024, errors=str(errors))) == [
        1
    ]
    assert errors.read_text().startswith("OSError: [Errno 27] File too large")
    _assert_untouched(lake, clean_run, tools)
    fault_figures.append({"suite": "quick", "kind": "disk full (RLIMIT_FSIZE) in analysis",
                          "previous_state_intact": True, "temp_files_left": 0})  # fmt: skip


def test_failing_rename_keeps_the_previous_lake(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    tools: SimpleNamespace,
    fault_inbox: Path,
    clean_run: SimpleNamespace,
    fault_figures: list[dict[str, Any]],
) -> None:
    inbox, n_new = _with_new_export(fault_inbox, tmp_path)
    lake = _copy_of(clean_run.lake, tmp_path)
    real_replace = Path.replace

    def failing_replace(self: Path, target: Any) -> Path:
        if "beats" in Path(target).parts:
            raise OSError(errno.EIO, "simulated rename failure", str(target))
        return real_replace(self, target)

    monkeypatch.setattr(Path, "replace", failing_replace)
    path = inbox / "S02" / "rr_S02_next.csv"
    with pytest.raises(OSError, match="simulated rename failure"):
        files.ingest_file(lake, inbox, "S02", path)
    _assert_untouched(lake, clean_run, tools)
    monkeypatch.setattr(Path, "replace", real_replace)
    report = files.ingest_file(lake, inbox, "S02", path)
    assert report is not None and report.rows_ok == n_new
    fault_figures.append({"suite": "quick", "kind": "failing rename",
                          "previous_state_intact": True, "temp_files_left": 0})  # fmt: skip


def test_failing_rename_of_a_part_keeps_its_old_bytes(tmp_path: Path) -> None:
    """The same at the lowest level: a replaced part keeps its old content when rename fails."""
    frame = pl.DataFrame({"a": [1, 2, 3]})
    target = store.write_parquet_atomic(frame, tmp_path / "t" / "part.parquet")
    before = target.read_bytes()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Path, "replace", lambda self, t: (_ for _ in ()).throw(OSError("no rename")))
        with pytest.raises(OSError, match="no rename"):
            store.write_parquet_atomic(frame.head(1), target)
    assert target.read_bytes() == before
    assert sorted(p.name for p in target.parent.iterdir()) == ["part.parquet"]
