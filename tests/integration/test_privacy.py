"""Private by default: owner-only files, no health data in logs, pseudonymous subject ids.

The main test runs both flows on a small synthetic cohort in the Prefect
harness, with sentinel values planted where a leak would show: an episode
context, a distinctive RR value, a broken row (its raw text goes to
quarantine) and a file no adapter reads. It captures every log record (caplog
at DEBUG for the prefect, tearsignals and great-expectations loggers, and the
flow and task run logs read back from the Prefect API) and greps them for the
sentinels. Subject folders carry distinctive names and the run pseudonymises
them; afterwards no byte and no path of the lake may contain an original
name or the key, while the sentinels must be in the lake (so the grep of the
logs could have found them).
"""

from __future__ import annotations

import json
import logging
import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from tearsignals.config import AnalysisConfig, FrequencyConfig
from tearsignals.errors import InputError
from tearsignals.lake import layout, privacy, store
from tearsignals.synth import SynthConfig, write_cohort
from tearsignals_flows.analyze_episodes import analyze_episodes
from tearsignals_flows.nightly_ingest import nightly_ingest

NAMES = {"S01": "Zelda-Quux-1987", "S02": "Yorick-Blom-1990"}
REFUSED_NAME = "Zoë Müller"  # not a valid subject id: refused, never shown in clear
CONTEXT = "SENTINEL-CONTEXT-1234"
CONTEXT_JSON = "SENTINEL-CONTEXT-5678"
RR = "987.6543"
RAW = "SENTINEL-RAW-4242"
FILE_TEXT = "SENTINEL-FILE-9999"
SENTINELS = (CONTEXT, CONTEXT_JSON, RR, RAW, FILE_TEXT)
GX_RESULT_KEYS = ("partial_unexpected_list", "unexpected_percent", '"success":')
KEY = "a-user-held-secret-0123456789abcdef"
FAST = AnalysisConfig(frequency=FrequencyConfig(method="welch"))


def _planted_inbox(root: Path) -> Path:
    """A two-subject cohort in folders named like people, with the sentinels planted."""
    synth = root / "synth"
    write_cohort(synth, SynthConfig(n_subjects=2, n_days=2, seed=0, episodes_per_month=45.0))
    inbox = root / "inbox"
    for sid, name in NAMES.items():
        (inbox / name).mkdir(parents=True)
        for path in (synth / sid).iterdir():
            path.rename(inbox / name / path.name.replace(sid, name))
    one, two = inbox / NAMES["S01"], inbox / NAMES["S02"]
    episodes = pl.read_csv(one / "episodes.csv", infer_schema=False)
    episodes.with_columns(pl.lit(CONTEXT).alias("context")).write_csv(one / "episodes.csv")
    logged = json.loads((two / "episodes.json").read_text())
    logged[0]["context"] = CONTEXT_JSON
    (two / "episodes.json").write_text(json.dumps(logged))
    rr_path = one / f"rr_{NAMES['S01']}.csv"
    lines = rr_path.read_text().splitlines()
    lines[500] = lines[500].split(",")[0] + "," + RR
    rr_path.write_text("\n".join([*lines, f"{RAW},900"]) + "\n")
    (one / "notes.txt").write_text(f"{FILE_TEXT} resting 61 bpm, cried at 20:15\n")
    (inbox / REFUSED_NAME).mkdir()
    (inbox / REFUSED_NAME / "rr.csv").write_text("timestamp,rr_ms\n2026-01-05T14:00:01Z,1000\n")
    return inbox


@pytest.fixture
def all_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """caplog at DEBUG on every logger a run writes to, including Prefect's non-propagating ones."""
    extra = [logging.getLogger(n) for n in ("prefect.extra", "prefect._internal")]
    for name in ("", "prefect", "tearsignals", "tearsignals_flows", "great_expectations"):
        caplog.set_level(logging.DEBUG, logger=name)
    for logger in extra:
        logger.addHandler(caplog.handler)
    yield caplog
    for logger in extra:
        logger.removeHandler(caplog.handler)


def _api_log_messages(since: datetime) -> list[str]:
    """Every flow and task run log the Prefect API stored since ``since``."""
    from prefect import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterTimestamp
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=10)
    after = LogFilter(timestamp=LogFilterTimestamp(after_=since))
    messages: list[str] = []
    with get_client(sync_client=True) as client:
        while batch := client.read_logs(log_filter=after, limit=200, offset=len(messages)):
            messages += [log.message for log in batch]
    return messages


def _run_names(since: datetime) -> list[str]:
    """Names of the flow and task runs the Prefect API stored since ``since``."""
    from prefect import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterStartTime,
        TaskRunFilter,
        TaskRunFilterStartTime,
    )

    with get_client(sync_client=True) as client:
        flows = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(start_time=FlowRunFilterStartTime(after_=since))
        )
        tasks = client.read_task_runs(
            task_run_filter=TaskRunFilter(start_time=TaskRunFilterStartTime(after_=since))
        )
    return [run.name for run in (*flows, *tasks)]


def _lake_bytes(lake: Path) -> list[tuple[str, bytes]]:
    """(relative path, content) of every file, hidden ones included."""
    return [(str(p.relative_to(lake)), p.read_bytes()) for p in lake.rglob("*") if p.is_file()]


@pytest.mark.integration
@pytest.mark.usefixtures("prefect_harness")
def test_flows_log_no_health_data_and_the_lake_holds_no_real_subject_id(
    tmp_path: Path, all_logs: pytest.LogCaptureFixture
) -> None:
    inbox, lake, key_file = _planted_inbox(tmp_path), tmp_path / "lake", tmp_path / "key"
    key_file.write_text(KEY + "\n")
    since = datetime.now(UTC)
    result = nightly_ingest(
        inbox=str(inbox), lake=str(lake), config=FAST, pseudonymise_key_file=str(key_file)
    )
    assert result["files"] == 5 and "analysis" in result
    (refused,) = result["refused"]  # type: ignore[misc]
    assert "folder name withheld" in str(refused)
    analyze_episodes(lake=str(lake), config=FAST)

    records = [r.getMessage() + (r.exc_text or "") for r in all_logs.records]
    assert any("rows in" in r for r in records)  # the task logs were captured at all
    api_messages = _api_log_messages(since)
    assert any("rows in" in m for m in api_messages)  # the task logs did reach the API
    for text in records + api_messages:
        for needle in (*SENTINELS, *GX_RESULT_KEYS, *NAMES.values(), *REFUSED_NAME.split()):
            assert needle not in text, (needle, text)
    # Runs are named after what they do, with subjects as the lake names them.
    names = _run_names(since)
    pseudonyms = {privacy.pseudonym(n, KEY.encode()) for n in NAMES.values()}
    assert {f"ingest {p}" for p in pseudonyms} | {f"analyze {p}" for p in pseudonyms} <= set(names)
    assert f"nightly-ingest {since.date().isoformat()}" in names
    assert not [n for n in names for name in NAMES.values() if name in n]

    # The sentinels are in the lake (so the logs could have shown them) ...
    assert CONTEXT in store.read_table(lake, "episodes")["context"].to_list()
    assert float(RR) in store.read_table(lake, "beats")["rr_ms"].to_list()
    assert any(RAW in raw for raw in store.read_table(lake, "quarantine")["raw"].to_list())
    assert list(layout.validation_dir(lake).glob("*.json"))
    # ... but no original subject name, and not the key, anywhere in it.
    for rel, data in _lake_bytes(lake):
        lowered_path, lowered = rel.lower(), data.lower()
        for name in (*NAMES.values(), *REFUSED_NAME.split()):
            assert name.lower() not in lowered_path and name.lower().encode() not in lowered, rel
        assert KEY.encode() not in data and KEY.encode().hex().encode() not in lowered, rel
    assert set(store.subjects_in(lake, "beats")) == pseudonyms


@pytest.mark.integration
@pytest.mark.usefixtures("prefect_harness")
def test_lake_and_validation_files_are_owner_only(tmp_path: Path) -> None:
    inbox = _planted_inbox(tmp_path)
    nightly_ingest(inbox=str(inbox), lake=str(tmp_path / "lake"), analyze=False)
    lake = tmp_path / "lake"
    for path in [lake, *lake.rglob("*")]:
        expected = 0o700 if path.is_dir() else 0o600
        assert stat.S_IMODE(path.stat().st_mode) == expected, path


def test_file_mode_is_configurable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(store.FILE_MODE_ENV, "640")
    path = store.write_json_atomic({"ok": True}, layout.validation_path(tmp_path / "lake", "x"))
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o750
    for bad in ("777", "0o200", "rw-r-----", "1600"):
        monkeypatch.setenv(store.FILE_MODE_ENV, bad)
        with pytest.raises(InputError, match=store.FILE_MODE_ENV):
            store.file_mode()


def test_a_lake_refuses_to_mix_plain_and_pseudonymised_ids(tmp_path: Path) -> None:
    key = KEY.encode()
    privacy.check_lake_mode(tmp_path, key)
    privacy.check_lake_mode(tmp_path, key)  # the same key again is fine
    with pytest.raises(InputError, match="pass --pseudonymise-key-file"):
        privacy.check_lake_mode(tmp_path, None)
    with pytest.raises(InputError, match="different key"):
        privacy.check_lake_mode(tmp_path, b"another-secret-key-0123456789")
    assert privacy.lake_is_pseudonymised(tmp_path)


def test_keys_come_from_a_file_or_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(privacy.KEY_ENV, raising=False)
    assert privacy.load_key(None) is None
    monkeypatch.setenv(privacy.KEY_ENV, KEY)
    assert privacy.load_key(None) == KEY.encode()
    (tmp_path / "k").write_text(f"  {KEY}\n")
    assert privacy.load_key(tmp_path / "k") == KEY.encode()
    (tmp_path / "short").write_text("too-short")
    with pytest.raises(InputError, match="at least 16 bytes"):
        privacy.load_key(tmp_path / "short")
    assert privacy.pseudonym("S01", b"x" * 16) != privacy.pseudonym("S01", b"y" * 16)


def test_unexpected_errors_lose_their_message_but_not_their_type() -> None:
    with pytest.raises(privacy.WithheldError) as caught, privacy.withheld_errors("ingest of S01"):
        raise ValueError(f"could not parse {CONTEXT}")
    assert CONTEXT not in str(caught.value) and "ValueError" in str(caught.value)
    assert caught.value.__suppress_context__
    with pytest.raises(OSError, match="disk"), privacy.withheld_errors("ingest"):
        raise OSError("disk on fire")


def test_cli_chooses_subjects_of_a_pseudonymised_lake_only_with_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tearsignals import cli

    monkeypatch.delenv(privacy.KEY_ENV, raising=False)
    lake, key_file = tmp_path / "lake", tmp_path / "key"
    lake.mkdir()
    key_file.write_text(KEY)
    privacy.check_lake_mode(lake, KEY.encode())
    argv = ["analyze", "--lake", str(lake), "--subject", NAMES["S01"]]
    for extra, needle in (([], "holds pseudonymised subject ids"),
                          (["--pseudonymise-key-file", str(key_file)], NAMES["S01"])):  # fmt: skip
        with pytest.raises(SystemExit) as exc:
            cli.main(argv + extra)
        err = capsys.readouterr().err
        assert exc.value.code == 1 and err.count("\n") == 1 and needle in err, err
