"""Inbox confinement: links are refused, never followed; lake and inbox are kept apart."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tearsignals.errors import InputError
from tearsignals.ingest import files
from tearsignals.ingest import inbox as inbox_rules
from tearsignals.lake import store
from tests.support.ingest import ingest_every_file

BEATS = "timestamp,rr_ms\n" + "".join(
    f"2026-01-05T15:00:{s:02d}.000+01:00,1000.0\n" for s in range(1, 31)
)
ELSEWHERE = BEATS.replace("15:00:", "16:00:")  # beats that must never reach the lake


@pytest.fixture
def layout(tmp_path: Path) -> tuple[Path, Path]:
    """An inbox with one genuine file in S01, and a folder outside it with a beats file."""
    inbox, outside = tmp_path / "inbox", tmp_path / "outside"
    (inbox / "S01").mkdir(parents=True)
    (inbox / "S01" / "rr.csv").write_text(BEATS)
    outside.mkdir()
    (outside / "rr.csv").write_text(ELSEWHERE)
    return inbox, outside


def _link(link: Path, target: Path) -> None:
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(target)


LINKS = {
    "file_to_outside_csv": ("S01/other.csv", lambda inbox, out: out / "rr.csv"),
    "file_to_etc_passwd": ("S01/passwd.csv", lambda inbox, out: Path("/etc/passwd")),
    "file_to_a_file_in_the_inbox": ("S01/again.csv", lambda inbox, out: inbox / "S01" / "rr.csv"),
    "nested_folder_to_outside": ("S01/export", lambda inbox, out: out),
    "subject_folder_to_outside": ("S02", lambda inbox, out: out),
    "dangling": ("S01/gone.csv", lambda inbox, out: out / "missing.csv"),
}


@pytest.mark.parametrize("case", sorted(LINKS))
def test_a_link_is_refused_and_never_followed(layout: tuple[Path, Path], case: str) -> None:
    inbox, outside = layout
    rel, target = LINKS[case]
    _link(inbox / rel, target(inbox, outside))
    assert [(s, p.name) for s, p in files.inbox_files(inbox)] == [("S01", "rr.csv")]
    (refusal,) = files.inbox_refusals(inbox)
    assert refusal.reason == inbox_rules.LINK
    assert refusal.line() == f"{rel}: {inbox_rules.LINK}"
    lake = inbox.parent / "lake"
    reports = ingest_every_file(lake, inbox)
    assert [(r.path, r.rows_ok) for r in reports] == [("S01/rr.csv", 30)]


def test_linked_sidecar_and_profile_are_not_read(layout: tuple[Path, Path]) -> None:
    inbox, outside = layout
    (outside / "zone").write_text("Europe/Berlin\n")
    (outside / "subject.toml").write_text('timezone = "Europe/Berlin"\n')
    (inbox / "S01" / "rest.txt").write_text("# start: 2026-01-05T15:00:00\n800\n810\n")
    _link(inbox / "S01" / "rest.txt.tz", outside / "zone")
    _link(inbox / "S01" / "subject.toml", outside / "subject.toml")
    refused = sorted(r.entry for r in files.inbox_refusals(inbox))
    assert refused == ["rest.txt.tz", "subject.toml"]
    reports = {r.path: r for r in ingest_every_file(inbox.parent / "lake", inbox)}
    # Without the linked zone the local start time has none: refused, not read at Berlin time.
    assert reports["S01/rest.txt"].status == "rejected"
    assert reports["S01/rest.txt"].context_sha256 is None


def test_a_fifo_is_refused_not_opened(layout: tuple[Path, Path]) -> None:
    inbox, _ = layout
    os.mkfifo(inbox / "S01" / "pipe.csv")
    (refusal,) = files.inbox_refusals(inbox)
    assert (refusal.entry, refusal.reason) == ("pipe.csv", inbox_rules.NOT_REGULAR)
    assert [p.name for _, p in files.inbox_files(inbox)] == ["rr.csv"]


def test_a_refused_link_names_its_subject_by_pseudonym_under_a_key(
    layout: tuple[Path, Path],
) -> None:
    inbox, outside = layout
    _link(inbox / "S01" / "S01-copy.csv", outside / "rr.csv")
    (refusal,) = files.inbox_refusals(inbox)
    line = refusal.line(b"k" * 32)
    assert "S01" not in line and line.endswith(f"-copy.csv: {inbox_rules.LINK}")


@pytest.mark.parametrize(
    ("inbox_rel", "lake_rel", "needle"),
    [
        ("inbox", "inbox/lake", "lake .* lies inside inbox"),
        ("inbox", "inbox/S01/../lake", "lake .* lies inside inbox"),
        ("inbox", "inbox", "lake .* lies inside inbox"),
        ("lake/inbox", "lake", "inbox .* lies inside lake"),
    ],
)
def test_lake_and_inbox_one_inside_the_other_is_one_line_input_error(
    tmp_path: Path, inbox_rel: str, lake_rel: str, needle: str
) -> None:
    inbox = tmp_path / inbox_rel
    (inbox / "S01").mkdir(parents=True)
    (inbox / "S01" / "rr.csv").write_text(BEATS)
    lake = tmp_path / lake_rel
    with pytest.raises(InputError, match=needle) as caught:
        ingest_every_file(lake, inbox)
    assert "\n" not in str(caught.value)
    assert not (lake / "_ingest_log").exists() or store.read_table(lake, "_ingest_log").is_empty()


def test_a_lake_inside_the_inbox_through_a_link_is_refused(tmp_path: Path) -> None:
    inbox, elsewhere = tmp_path / "inbox", tmp_path / "elsewhere"
    inbox.mkdir()
    elsewhere.symlink_to(inbox)
    with pytest.raises(InputError, match="lies inside inbox"):
        files.check_apart(inbox, elsewhere / "lake")


def test_a_lake_beside_the_inbox_is_fine(tmp_path: Path) -> None:
    files.check_apart(tmp_path / "inbox", tmp_path / "inbox-lake")


@pytest.mark.parametrize("name", ["bad\nS01: ingested", "x\r\x1b[2K", "tab\tname"])
def test_a_refused_name_is_printed_on_one_line(tmp_path: Path, name: str) -> None:
    (tmp_path / "inbox" / name).mkdir(parents=True)
    (refusal,) = files.inbox_refusals(tmp_path / "inbox")
    line = refusal.line()
    assert line.isprintable() and line.endswith(inbox_rules.BAD_NAME)
