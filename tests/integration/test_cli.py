"""The tearsignals command: clear one-line errors, real runs, a local-only server."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from tearsignals import cli
from tearsignals.cli import commands
from tearsignals.config import AnalysisConfig
from tearsignals.lake import layout, store
from tests.support.lakes import planted_effect_in_view

pytestmark = pytest.mark.integration


def _run_main(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    return int(exc.value.code or 0), capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (
            ["ingest", "/no/such/inbox", "--lake", "/tmp/x"],
            "inbox /no/such/inbox is not a directory",
        ),
        (["analyze", "--lake", "/no/such/lake"], "lake /no/such/lake is not a directory"),
        (["synth", "/tmp/x", "--effect", "hr=oops"], "--effect"),
        (["demo", "--subjects", "0"], "--subjects"),
        (
            ["serve", "--inbox", ".", "--lake", "/tmp/x", "--timezone", "Mars/Base"],
            "unknown time zone",
        ),
        (["serve", "--inbox", ".", "--lake", "/tmp/x", "--cron", "61 3 * * *"], "not a cron"),
        (["serve", "--inbox", ".", "--lake", "/tmp/x", "--cron", "nightly"], "not a cron"),
        (["analyze", "--lake", ".", "--baseline=-5,-10"], "start < end"),
        (["analyze", "--lake", ".", "--post-bins", "30:60;0:30"], "ordered by start"),
        (["analyze", "--lake", ".", "--post-bins", "0:30"], "stats.primary"),
        (["analyze", "--lake", ".", "--primary", "rmssd,pre"], "unknown metric 'rmssd'"),
        (["analyze", "--lake", ".", "--plan", "/no/such/plan.toml"], "is not a file"),
        (
            ["analyze", "--lake", ".", "--plan", "plans/default.toml", "--primary", "ln_rmssd,pre"],
            "leave out --primary",
        ),
    ],
)
def test_bad_input_exits_1_with_one_line(
    argv: list[str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = _run_main(argv, capsys)
    assert code == 1
    assert err.count("\n") == 1 and needle in err and "Traceback" not in err


def test_bad_usage_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _run_main(["analyze"], capsys)
    assert code == 2 and "--lake" in err
    code, err = _run_main(["analyze", "--lake", ".", "--primary", "ln_rmssd"], capsys)
    assert code == 2 and "METRIC,WINDOW" in err


def test_analyze_unknown_subject_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = _run_main(["analyze", "--lake", str(tmp_path), "--subject", "S99"], capsys)
    assert code == 1 and "S99" in err


def test_synth_writes_an_inbox(tmp_path: Path) -> None:
    assert cli.main(["synth", str(tmp_path / "in"), "--subjects", "2", "--days", "3"]) == 0
    names = sorted(
        p.relative_to(tmp_path / "in").as_posix() for p in (tmp_path / "in").rglob("*.*")
    )
    assert names == ["S01/episodes.csv", "S01/rr_S01.csv", "S02/episodes.json", "S02/rr_S02.csv"]


def test_demo_runs_end_to_end_in_a_fresh_process(tmp_path: Path) -> None:
    lake = tmp_path / "demo" / "lake"
    cmd = [
        sys.executable,
        "-m",
        "tearsignals.cli",
        "demo",
        "--lake",
        str(lake),
        "--subjects",
        "4",
        "--days",
        "14",
        "--seed",
        "3",
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "mean_hr_bpm  during" in done.stdout and "planted" in done.stdout
    assert f"lake:    {lake}" in done.stdout
    cohort = pl.read_parquet(lake / "cohort_summary" / "*.parquet")
    assert cohort.height > 0
    assert set(store.subjects_in(lake, "episode_windows")) == {"S01", "S02", "S03", "S04"}
    page = layout.report_path(lake, AnalysisConfig().params_hash())
    assert done.stdout.rstrip().endswith(f"report:  {page}\nopen it: {commands.open_command(page)}")
    assert page.is_file()
    seen = planted_effect_in_view(lake)
    assert seen["curve_min"] > seen["band_high"], seen  # ln RMSSD above the control band
    assert seen["ln_rmssd_ci_low"] > 0 and seen["hr_during_ci_low"] > 0, seen  # forest: right of 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _listening_addresses(port: int) -> set[str]:
    """Local addresses with a socket listening on ``port``, read from /proc/net/tcp{,6}."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            addr, port_hex = local.rsplit(":", 1)
            if state == "0A" and int(port_hex, 16) == port:  # 0A = LISTEN
                found.add(addr)
    return found


def test_local_server_listens_on_loopback_only() -> None:
    port = _free_port()
    proc, url = commands.start_local_server(port)
    try:
        assert url == f"http://127.0.0.1:{port}/api"
        assert commands._api_up(url)
        # 0100007F is 127.0.0.1 in /proc's little-endian hex; 00000000 would be 0.0.0.0.
        assert _listening_addresses(port) == {"0100007F"}
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_deployments_carry_schedule_timezone_and_parameters(tmp_path: Path) -> None:
    from tearsignals_flows.deployments import build_deployments

    nightly, manual = build_deployments(
        tmp_path / "in", tmp_path / "lake", "30 2 * * *", "Europe/Berlin"
    )
    assert nightly.name == "nightly" and manual.name == "manual"
    (schedule,) = nightly.schedules
    assert schedule.schedule.cron == "30 2 * * *"
    assert schedule.schedule.timezone == "Europe/Berlin"
    assert nightly.parameters == {"inbox": str(tmp_path / "in"), "lake": str(tmp_path / "lake")}
    assert not manual.schedules
    assert "config" in manual._parameter_openapi_schema.properties


def test_inspect_reports_format_counts_and_problems_without_writing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "rr.csv"
    path.write_text(
        "timestamp,rr_ms\n2026-01-05T15:00:01+01:00,1000\n2026-01-05T15:00:02+01:00,-3\nbad,900\n"
    )
    before = sorted(tmp_path.iterdir())
    assert cli.main(["inspect", str(path)]) == 0
    shown_path, report = capsys.readouterr().out.split("\n", 1)
    assert shown_path == str(path)
    assert "format:  csv_beats" in report
    assert "records: 3 (1 ok, 2 would be quarantined, 0 duplicate, 0 skipped)" in report
    assert "beats: 1 ok, 2 would be quarantined" in report
    assert "rr_ms out of range" in report and "-3" not in report
    assert sorted(tmp_path.iterdir()) == before


def test_inspect_of_an_unknown_file_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    junk = tmp_path / "x.csv"
    junk.write_bytes(b"\x00\x01junk" * 10)
    code, err = _run_main(["inspect", str(junk)], capsys)
    assert code == 1 and err.count("\n") == 1 and "x.csv" in err


def test_commands_give_prefect_minutes_to_start_and_a_home_of_their_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", raising=False)
    monkeypatch.delenv("PREFECT_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cli.main(["status", "--lake", str(tmp_path)]) in (0, 2)
    assert os.environ["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] == "180"
    assert os.environ["PREFECT_HOME"] == str(tmp_path / "home" / ".tearsignals" / "prefect")
