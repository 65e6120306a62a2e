"""The ``tearsignals`` command line.

Each command checks its paths and options first and exits with a one-line
reason (status 1 for bad input, 2 for bad usage) before any flow starts.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any, NoReturn
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ValidationError

from tearsignals.config import (
    AnalysisConfig,
    Outcome,
    StatsConfig,
    WindowConfig,
    minutes_text,
    validation_summary,
)
from tearsignals.errors import InputError


class UsageError(Exception):
    """Bad input path or option value; the message is one line for the user."""


def _quiet_prefect_defaults() -> None:
    # Local-first: no telemetry, and an ephemeral server unless the user set one up. That
    # server gets 3 minutes to start: Prefect's 20 s is too short on a busy machine.
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
    # The project's own Prefect home (database, profiles): tearsignals' runs, which name
    # subjects, stay out of the user's ~/.prefect unless PREFECT_HOME says otherwise.
    os.environ.setdefault("PREFECT_HOME", str(Path.home() / ".tearsignals" / "prefect"))
    os.environ.setdefault("DO_NOT_TRACK", "1")


def _span(text: str) -> tuple[float, float]:
    try:
        lo, hi = (float(x) for x in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected START,END in minutes, got {text!r}") from None
    return lo, hi


def _outcome(text: str) -> Outcome:
    metric, sep, window = (part.strip() for part in text.partition(","))
    if not (sep and metric and window):
        raise argparse.ArgumentTypeError(f"expected METRIC,WINDOW, got {text!r}")
    return Outcome(metric=metric, window=window)


def _counts(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected whole numbers M,M,..., got {text!r}") from None


def _bins(text: str) -> tuple[tuple[float, float], ...]:
    return tuple(_span(part.replace(":", ",")) for part in text.split(";"))


def _bins_text(bins: Sequence[tuple[float, float]]) -> str:
    """Post bins as ``--post-bins`` takes them, bounds written as in their window names.

    >>> _bins_text([(0.0, 20.0), (20.0, 22.5)])
    '0:20;20:22.5'
    """
    return ";".join(f"{minutes_text(lo)}:{minutes_text(hi)}" for lo, hi in bins)


def _window_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("window options (minutes)")
    g.add_argument(
        "--baseline", type=_span, metavar="START,END", help="relative to onset (default -10,-5)"
    )
    g.add_argument(
        "--pre", type=_span, metavar="START,END", help="relative to onset (default -5,0)"
    )
    g.add_argument(
        "--acute", type=_span, metavar="START,END", help="relative to onset (default 0,4)"
    )
    g.add_argument(
        "--post-bins",
        type=_bins,
        metavar="A:B;C:D;...",
        help="one or more bins relative to the end, each named post_A_B (default "
        f"{_bins_text(WindowConfig().post_bins_min)})",
    )
    g.add_argument(
        "--controls", type=int, metavar="K", help="matched control days per episode (default 3)"
    )
    g.add_argument(
        "--control-search-days",
        type=int,
        metavar="D",
        help="how far to look for control days (default 14)",
    )
    primary = StatsConfig().primary
    p.add_argument(
        "--primary",
        type=_outcome,
        metavar="METRIC,WINDOW",
        help="the primary outcome: the adjusted shift of METRIC in WINDOW (default "
        f"{primary.metric},{primary.window})",
    )


def _key_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--pseudonymise-key-file",
        type=Path,
        metavar="PATH",
        dest="key_file",
        help="store subject ids as keyed HMAC pseudonyms (key: this file, or the environment "
        "variable TEARSIGNALS_PSEUDONYM_KEY); the key never enters the lake",
    )


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="tearsignals", description=__doc__.splitlines()[0] if __doc__ else None
    )
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("ingest", help="one nightly-ingest run over INBOX/<subject_id>/<files>")
    s.add_argument("inbox", type=Path)
    s.add_argument("--lake", type=Path, required=True)
    s.add_argument(
        "--no-analyze", action="store_true", help="skip re-analysing subjects that gained data"
    )
    _key_option(s)

    s = sub.add_parser("analyze", help="one analyze-episodes run")
    s.add_argument("--lake", type=Path, required=True)
    s.add_argument("--subject", action="append", dest="subjects", metavar="ID")
    s.add_argument("--since", type=date.fromisoformat, metavar="YYYY-MM-DD")
    s.add_argument("--until", type=date.fromisoformat, metavar="YYYY-MM-DD")
    s.add_argument(
        "--plan",
        type=Path,
        metavar="FILE",
        help="analysis plan (TOML: windows, cleaning, quality, primary outcome, families; "
        "see plans/default.toml); stored beside the run's parameters in the lake",
    )
    s.add_argument(
        "--sensitivity",
        action="store_true",
        help="also re-estimate the primary outcome over cleaning method x baseline x onset "
        "jitter (the plan's stats.sensitivity; the sensitivity table)",
    )
    _window_options(s)
    _key_option(s)

    s = sub.add_parser(
        "power", help="subjects x episodes needed to detect an effect on the primary outcome"
    )
    s.add_argument("--lake", type=Path, required=True)
    s.add_argument(
        "--params",
        metavar="HASH",
        help="parameter set whose fitted model to use (default: the one of the cohort tables)",
    )
    s.add_argument(
        "--effect",
        type=float,
        help="adjusted shift to detect, in the primary metric's unit (default: the plan's, "
        "or half the fitted SD of one episode's shift)",
    )
    s.add_argument("--power", type=float, dest="target_power", help="target power (default 0.8)")
    s.add_argument("--alpha", type=float, help="two-sided level (default 0.05)")
    s.add_argument(
        "--episodes",
        type=_counts,
        metavar="M,M,...",
        dest="episodes_per_subject",
        help="episodes per subject to size (default 1,2,3,4,6,8,12)",
    )

    s = sub.add_parser("synth", help="write a synthetic cohort as input files")
    s.add_argument("outdir", type=Path)
    _synth_options(s)

    s = sub.add_parser("demo", help="synthesise, ingest and analyse a cohort; print the result")
    s.add_argument("--lake", type=Path, default=Path("data/demo/lake"))
    _synth_options(s)

    s = sub.add_parser("report", help="write the HTML report of an analysis in the lake")
    s.add_argument("--lake", type=Path, required=True)
    s.add_argument(
        "--params",
        metavar="HASH",
        help="parameter set to report (default: the one of the lake's cohort tables)",
    )
    s.add_argument(
        "--out",
        type=Path,
        metavar="FILE",
        help="write here (default LAKE/reports/<HASH>/report.html, or episode-<ID>.html)",
    )
    s.add_argument("--episode", metavar="ID", help="add the panel of one analysed episode")

    s = sub.add_parser("status", help="what the lake holds: subjects, sources, files, analyses")
    s.add_argument("--lake", type=Path, required=True)

    s = sub.add_parser("inspect", help="show what ingest would make of FILE, writing nothing")
    s.add_argument("file", type=Path)

    s = sub.add_parser("serve", help="serve both flows as deployments on a local Prefect server")
    s.add_argument("--inbox", type=Path, required=True)
    s.add_argument("--lake", type=Path, required=True)
    s.add_argument("--cron", default="0 3 * * *", help="nightly-ingest schedule (default 03:00)")
    s.add_argument("--timezone", default="UTC", help="IANA time zone of the cron schedule")
    s.add_argument(
        "--port", type=int, default=4200, help="port of the local server if one is started"
    )
    _key_option(s)
    return p


def _synth_options(s: argparse.ArgumentParser) -> None:
    s.add_argument("--subjects", type=int, default=6)
    s.add_argument("--days", type=int, default=28)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument(
        "--effect",
        default="hr_during_bpm=8,rmssd_post_0_20_ratio=1.2",
        help="planted effect, e.g. 'hr_during_bpm=8,rmssd_post_0_20_ratio=1.2' or 'none'",
    )


def _planned_config(args: argparse.Namespace) -> AnalysisConfig:
    """The configuration of ``--plan FILE`` with the subject and date selection."""
    from tearsignals.plan import load_plan

    given = [f"--{k.replace('_', '-')}" for k in _PLAN_OPTIONS if getattr(args, k) is not None]
    if given:
        raise UsageError(f"--plan names the windows and outcomes: leave out {', '.join(given)}")
    if not args.plan.is_file():
        raise UsageError(f"plan {args.plan} is not a file")
    return load_plan(args.plan).model_copy(
        update={
            "subjects": tuple(args.subjects) if args.subjects else None,
            "since": args.since,
            "until": args.until,
        }
    )


_PLAN_OPTIONS = (
    "baseline",
    "pre",
    "acute",
    "post_bins",
    "controls",
    "control_search_days",
    "primary",
)


def _analysis_config(args: argparse.Namespace) -> AnalysisConfig:
    from tearsignals.plan import checked

    if args.plan is not None:
        return _planned_config(args)
    window_updates: dict[str, Any] = {
        k: v
        for k, v in {
            "baseline_min": args.baseline,
            "pre_min": args.pre,
            "acute_min": args.acute,
            "post_bins_min": args.post_bins,
            "n_controls": args.controls,
            "control_search_days": args.control_search_days,
        }.items()
        if v is not None
    }
    stats: dict[str, Any] = {"primary": args.primary} if args.primary else {}
    try:
        return checked(
            AnalysisConfig(
                windows=WindowConfig(**window_updates),
                stats=StatsConfig(**stats),
                subjects=tuple(args.subjects) if args.subjects else None,
                since=args.since,
                until=args.until,
            )
        )
    except ValidationError as err:
        raise UsageError(f"invalid option {validation_summary(err)}") from None
    except ValueError as err:
        raise UsageError(f"invalid option {err}") from None


def _existing_dir(path: Path, what: str) -> Path:
    if not path.is_dir():
        raise UsageError(f"{what} {path} is not a directory")
    return path.resolve()


def _check_timezone(name: str) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(
            f"unknown time zone {name!r} (use an IANA name such as Europe/Berlin)"
        ) from None


def _check_cron(expression: str, timezone: str) -> None:
    """A schedule Prefect accepts (checked with Prefect's own cron rule), else one line."""
    from prefect.client.schemas.schedules import CronSchedule
    from pydantic import ValidationError

    try:
        CronSchedule(cron=expression, timezone=timezone)
    except ValidationError:
        raise UsageError(
            f"--cron {expression!r} is not a cron schedule (five fields, e.g. '0 3 * * *')"
        ) from None


def _key_file(path: Path | None) -> Path | None:
    if path is None:
        return None
    if not path.is_file():
        raise UsageError(f"key file {path} is not a file")
    return path.resolve()


def _out_file(path: Path) -> Path:
    if path.is_dir() or not path.parent.is_dir():
        raise UsageError(f"--out {path} must be a file in an existing directory")
    return path.resolve()


def _lake_path(path: Path) -> Path:
    if path.exists() and not path.is_dir():
        raise UsageError(f"lake {path} exists and is not a directory")
    return path.resolve()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``tearsignals`` console script."""
    args = _parser().parse_args(argv)
    _quiet_prefect_defaults()
    try:
        return _dispatch(args)
    except (UsageError, InputError) as err:
        _fail(str(err))


def _fail(message: str) -> NoReturn:
    print(f"tearsignals: error: {message}", file=sys.stderr)
    raise SystemExit(1)


def _dispatch(args: argparse.Namespace) -> int:
    from tearsignals.cli import commands

    if args.command == "ingest":
        return commands.ingest(
            _existing_dir(args.inbox, "inbox"),
            _lake_path(args.lake),
            not args.no_analyze,
            _key_file(args.key_file),
        )
    if args.command == "analyze":
        lake = _existing_dir(args.lake, "lake")
        return commands.analyze(
            lake, _analysis_config(args), _key_file(args.key_file), args.sensitivity
        )
    if args.command == "power":
        options = {
            k: getattr(args, k)
            for k in ("effect", "target_power", "alpha", "episodes_per_subject")
            if getattr(args, k) is not None
        }
        return commands.power(_existing_dir(args.lake, "lake"), args.params, options)
    if args.command == "synth":
        return commands.synth(args.outdir, commands.synth_config(args))
    if args.command == "demo":
        return commands.demo(_lake_path(args.lake), commands.synth_config(args))
    if args.command == "report":
        lake = _existing_dir(args.lake, "lake")
        out = _out_file(args.out) if args.out is not None else None
        return commands.write_report(lake, args.params, out, args.episode)
    if args.command == "status":
        return commands.show_status(_existing_dir(args.lake, "lake"))
    if args.command == "inspect":
        if not args.file.is_file():
            raise UsageError(f"{args.file} is not a file")
        from tearsignals.ingest.inspect import inspect_file, summary_text

        print(summary_text(inspect_file(args.file)))
        return 0
    if args.command == "serve":
        inbox = _existing_dir(args.inbox, "inbox")
        _check_timezone(args.timezone)
        _check_cron(args.cron, args.timezone)
        return commands.serve(
            inbox,
            _lake_path(args.lake),
            args.cron,
            args.timezone,
            args.port,
            _key_file(args.key_file),
        )
    raise UsageError(f"unknown command {args.command}")


if __name__ == "__main__":
    sys.exit(main())
