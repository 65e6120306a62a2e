"""What ingest may read of an inbox: the subject folders, their files, and nothing beyond.

``INBOX/<subject_id>/...``: every regular file below a subject folder (hidden
names ignored, nested folders walked) is an input. Nothing outside the inbox
is read: a symbolic link (to a file or a folder, inside a subject folder or as
the subject folder itself) is never followed, and neither is anything that is
not a regular file or folder (a FIFO would block the run). Such an entry is
a :class:`Refusal` with a one-line reason, as is a subject folder whose name is
not a valid subject id; the run reports refusals and ingests everything else.
The lake may not lie inside the inbox, nor the inbox inside the lake
(:func:`check_apart`): ingest would read its own output as input.

Examples
--------
>>> Refusal("S01", "export/rr.csv", "symbolic link, not followed").line()
'S01/export/rr.csv: symbolic link, not followed'
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tearsignals.errors import InputError
from tearsignals.lake import layout, privacy

LINK = "symbolic link, not followed"
NOT_REGULAR = "not a regular file or folder, not read"
BAD_NAME = "not a valid subject id (letters, digits, '_', '.', '-'); not read"


def printable(text: str) -> str:
    r"""``text`` safe for one terminal or log line: control and format characters escaped.

    Inbox names are chosen by whoever fills the inbox; a newline, carriage return,
    escape sequence or bidirectional override in one must not forge or hide lines.

    >>> printable("rr\n  S02/x.csv: ingested\x1b[2K\u202e.csv")
    'rr\\n  S02/x.csv: ingested\\x1b[2K\\u202e.csv'
    """
    if text.isprintable():
        return text
    return "".join(
        c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text
    )


@dataclass(frozen=True)
class Refusal:
    """An inbox entry ingest does not read, and why."""

    folder: str  # the subject folder's name as found
    entry: str  # the entry's path below that folder ("" for the folder itself)
    reason: str

    def line(self, key: bytes | None = None) -> str:
        """One line naming the entry; under ``key`` the folder only by its pseudonym."""
        text = f"{self.folder}/{self.entry}" if self.entry else self.folder
        if key is None:
            return f"{printable(text)}: {self.reason}"
        stored = privacy.pseudonym(self.folder, key)
        if not layout.is_subject_id(self.folder):
            return f"{stored} (folder name withheld): {self.reason}"
        return f"{printable(privacy.stored_path(text, self.folder, stored))}: {self.reason}"


def is_regular_file(path: Path) -> bool:
    """Whether ``path`` is a regular file itself, not a symbolic link to one."""
    try:
        return stat.S_ISREG(path.lstat().st_mode)
    except OSError:
        return False


def _visible(names: list[os.DirEntry[str]]) -> list[os.DirEntry[str]]:
    return sorted((e for e in names if not e.name.startswith(".")), key=lambda e: e.name)


def _walk(folder: Path, below: str = "") -> Iterator[tuple[Path, str | None]]:
    """(path, None) for each regular file under ``folder``, (path, reason) for each refused entry."""
    with os.scandir(folder) as entries:
        visible = _visible(list(entries))
    for entry in visible:
        path = Path(entry.path)
        if entry.is_symlink():
            yield path, LINK
        elif entry.is_dir(follow_symlinks=False):
            yield from _walk(path, f"{below}{entry.name}/")
        elif entry.is_file(follow_symlinks=False):
            yield path, None
        else:
            yield path, NOT_REGULAR


def _subject_folders(inbox: Path) -> Iterator[tuple[Path, str | None]]:
    """(folder, None) of each subject folder to read, (entry, reason) of each refused one."""
    with os.scandir(inbox) as entries:
        visible = _visible(list(entries))
    for entry in visible:
        if entry.is_symlink():
            yield Path(entry.path), LINK
        elif entry.is_dir(follow_symlinks=False):
            yield Path(entry.path), None if layout.is_subject_id(entry.name) else BAD_NAME


def scan(inbox: Path) -> tuple[list[tuple[str, Path]], list[Refusal]]:
    """The (subject_id, path) inputs of ``inbox``, sorted, and the entries refused."""
    found: list[tuple[str, Path]] = []
    refused: list[Refusal] = []
    for folder, reason in _subject_folders(inbox):
        if reason is not None:
            refused.append(Refusal(folder.name, "", reason))
            continue
        for path, problem in _walk(folder):
            if problem is None:
                found.append((folder.name, path))
            else:
                refused.append(Refusal(folder.name, str(path.relative_to(folder)), problem))
    return found, refused


def subject_files(folder: Path) -> Iterator[Path]:
    """The regular files under one subject folder, sorted (links and the like left out)."""
    return (path for path, problem in _walk(folder) if problem is None)


def check_apart(inbox: Path, lake: Path) -> None:
    """InputError (one line) when the lake lies inside the inbox or the inbox inside the lake."""
    inbox_at, lake_at = inbox.resolve(), lake.resolve()
    if lake_at.is_relative_to(inbox_at):
        raise InputError(f"lake {lake} lies inside inbox {inbox}: its files would be read as input")
    if inbox_at.is_relative_to(lake_at):
        raise InputError(f"inbox {inbox} lies inside lake {lake}: keep the two apart")
