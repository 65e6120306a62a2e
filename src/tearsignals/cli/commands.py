"""What the CLI commands do: the one library module that starts Prefect flows.

Kept apart from ``cli`` so that argument checking stays fast and Prefect is
imported only when a flow actually runs.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import cast

from tearsignals import pipeline, report
from tearsignals.config import AnalysisConfig
from tearsignals.contract import schema
from tearsignals.errors import InputError
from tearsignals.ingest import files
from tearsignals.ingest.inbox import printable
from tearsignals.lake import layout, privacy, store
from tearsignals.report import status as lake_status
from tearsignals.synth import PlantedEffect, SynthConfig, write_cohort


def synth_config(args: argparse.Namespace) -> SynthConfig:
    """SynthConfig from CLI options; a bad value is an InputError with one line."""
    if args.subjects < 1 or args.days < 2:
        raise InputError("--subjects must be >= 1 and --days >= 2")
    try:
        effect = PlantedEffect.parse(args.effect)
    except ValueError as err:
        raise InputError(f"--effect: {err}") from None
    return SynthConfig(n_subjects=args.subjects, n_days=args.days, seed=args.seed, effect=effect)


NOT_INGESTED = ("rejected", "unknown_format", files.STATUS_FAILED)


def _print_ingest(result: dict[str, object]) -> int:
    """Print the ingest summary; the exit status: 1 when a file failed or an entry was refused."""
    reports = cast("list[files.FileReport]", result["reports"])
    refused = cast("list[str]", result.get("refused", []))
    totals = {
        k: sum(getattr(r, k) for r in reports)
        for k in ("rows_in", "rows_ok", "rows_quarantined", "rows_duplicate", "rows_skipped")
    }
    print(
        f"ingested {len(reports)} new files: rows in {totals['rows_in']:,} = ok {totals['rows_ok']:,}"
        f" + quarantined {totals['rows_quarantined']:,} + duplicate {totals['rows_duplicate']:,}"
        f" + skipped {totals['rows_skipped']:,}"
    )
    for r in (r for r in reports if r.status in NOT_INGESTED):  # names escaped: one line each
        print(f"  {printable(r.path)}: {r.status}: {printable(str(r.detail))}")
    failed = sum(r.status == files.STATUS_FAILED for r in reports)
    if failed:
        print(f"failed {failed} files: read again by the next run")
    if refused:
        print(f"refused {len(refused)} inbox entries:")
    for line in refused:
        print(f"  {printable(line)}")
    return 1 if failed or refused else 0


def ingest(inbox: Path, lake: Path, analyze: bool, key_file: Path | None = None) -> int:
    from tearsignals_flows.nightly_ingest import nightly_ingest

    privacy.load_key(key_file)  # a bad key file fails here, in one line, before any flow starts
    files.check_apart(inbox, lake)  # likewise a lake inside the inbox (or the reverse)
    store.ensure_dir(lake)
    result = nightly_ingest(
        inbox=str(inbox),
        lake=str(lake),
        analyze=analyze,
        pseudonymise_key_file=str(key_file) if key_file else None,
    )
    status = _print_ingest(result)
    print(f"lake: {lake}")
    return status


def stored_subjects(lake: Path, config: AnalysisConfig, key: bytes | None) -> AnalysisConfig:
    """``config`` with the chosen subjects as the lake names them (pseudonyms under a key)."""
    if not config.subjects:
        return config
    if key is None and privacy.lake_is_pseudonymised(lake):
        raise InputError(
            f"lake {lake} holds pseudonymised subject ids: pass --pseudonymise-key-file "
            f"(or set {privacy.KEY_ENV}) to choose subjects"
        )
    chosen = tuple(privacy.stored_subject_id(s, key) for s in config.subjects)
    return config.model_copy(update={"subjects": chosen})


def analyze(
    lake: Path, config: AnalysisConfig, key_file: Path | None = None, sensitivity: bool = False
) -> int:
    from tearsignals_flows.analyze_episodes import analyze_episodes

    wanted = config.subjects or ()
    config = stored_subjects(lake, config, privacy.load_key(key_file))
    if config.subjects:
        have = set(store.subjects_in(lake, "episodes"))
        unknown = sorted(w for w, s in zip(wanted, config.subjects, strict=True) if s not in have)
        if unknown:
            raise InputError(f"no episodes in the lake for subject(s): {', '.join(unknown)}")
    analyze_episodes(lake=str(lake), config=config, sensitivity=sensitivity)
    print(report.cohort_text(pipeline.read_cohort_summary(lake), config.windows.names()))
    if sensitivity:
        print()
        print(report.sensitivity_text(pipeline.read_sensitivity(lake, config.params_hash())))
    print(f"lake: {lake}")
    return 0


def power(lake: Path, params_hash: str | None, options: dict[str, object]) -> int:
    """Print the power table of the lake's fitted primary model, with ``options`` over
    the plan's ``stats.power`` (effect, target power, alpha, designs); writes nothing."""
    chosen = params_hash or report.latest_params_hash(lake)
    print(report.power_text(pipeline.power_of_lake(lake, chosen, options)))
    return 0


def synth(outdir: Path, cfg: SynthConfig) -> int:
    subjects = write_cohort(outdir, cfg)
    n_episodes = sum(s.episodes.height for s in subjects)
    print(f"wrote {len(subjects)} subjects, {n_episodes} episodes to {outdir}")
    return 0


def demo(lake: Path, cfg: SynthConfig) -> int:
    """Synthesise a cohort beside the lake, run both flows, print the cohort table."""
    from tearsignals_flows.analyze_episodes import analyze_episodes
    from tearsignals_flows.nightly_ingest import nightly_ingest

    inbox = lake.parent / "inbox"
    started = time.perf_counter()
    print(
        f"[1/3] writing a synthetic cohort ({cfg.n_subjects} subjects × {cfg.n_days} days) to {inbox}"
    )
    synth(inbox, cfg)
    store.ensure_dir(lake)
    print("[2/3] nightly-ingest flow")
    _print_ingest(nightly_ingest(inbox=str(inbox), lake=str(lake), analyze=False))
    print("[3/3] analyze-episodes flow")
    analysis = AnalysisConfig()
    analyze_episodes(lake=str(lake), config=analysis)
    cohort = pipeline.read_cohort_summary(lake)
    print("\nCohort shifts vs baseline, control-adjusted (95% t-interval over subject means):")
    print(report.cohort_text(cohort, analysis.windows.names(), cfg.effect.expected_shifts()))
    print(f"\nfinished in {time.perf_counter() - started:.0f} s")
    print(f"inputs:  {inbox}")
    print(f"lake:    {lake}")
    gold = [t for t in schema.TABLE_NAMES if schema.table(t).layer == "gold"]
    for table in gold:
        print(f"  {table:<16} {layout.table_dir(lake, table)}")
    print(f"read with: polars.read_parquet('{layout.unpartitioned_path(lake, 'cohort_summary')}')")
    _print_report_path(store.report_target(lake, analysis.params_hash()))
    return 0


def open_command(path: Path) -> str:
    """The shell command that opens ``path`` in the desktop's browser."""
    opener = {"darwin": "open", "win32": "start"}.get(sys.platform, "xdg-open")
    return f"{opener} {path}"


def _print_report_path(path: Path) -> None:
    print(f"report:  {path}")
    print(f"open it: {open_command(path)}")


def write_report(
    lake: Path, params_hash: str | None, out: Path | None, episode_id: str | None
) -> int:
    """Write the HTML report of ``params_hash`` (default: the cohort tables' parameter set)."""
    chosen = params_hash or report.latest_params_hash(lake)
    if out is None:
        path = report.write_report(lake, chosen, episode_id)
    else:
        page = report.report_html(lake, chosen, episode_id)
        path = store.write_bytes_atomic(page.encode(), out)
    _print_report_path(path)
    return 0


def show_status(lake: Path) -> int:
    """Print what the lake holds (``tearsignals.report.status``)."""
    print(lake_status.status_text(lake, lake_status.read_status(lake)))
    return 0


def _api_up(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=1) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False


def start_local_server(port: int) -> tuple[subprocess.Popen[bytes], str]:
    """Start ``prefect server start`` bound to 127.0.0.1 and wait until it answers."""
    url = f"http://127.0.0.1:{port}/api"
    cmd = [
        sys.executable,
        "-m",
        "prefect",
        "server",
        "start",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if _api_up(url):
            return proc, url
        if proc.poll() is not None:
            raise InputError(f"the Prefect server did not start (port {port} in use?)")
        time.sleep(0.5)
    proc.terminate()
    raise InputError("the Prefect server did not answer within 60 s")


def serve(
    inbox: Path, lake: Path, cron: str, timezone: str, port: int, key_file: Path | None = None
) -> int:
    """Register both deployments and serve them until interrupted."""
    privacy.load_key(key_file)
    files.check_apart(inbox, lake)
    server = None
    if not os.environ.get("PREFECT_API_URL"):
        server, url = start_local_server(port)
        os.environ["PREFECT_API_URL"] = url
        print(f"started a local Prefect server at {url} (UI: http://127.0.0.1:{port})")
    from tearsignals_flows.deployments import serve_deployments

    store.ensure_dir(lake)
    try:
        serve_deployments(inbox, lake, cron, timezone, key_file)
    finally:
        if server is not None:
            server.terminate()
    return 0
