"""Privacy: pseudonymous subject ids, and error messages that carry no data.

Pseudonymisation (optional): the subject id of every stored row is
``p-`` + the first 24 hex digits of HMAC-SHA256(key, inbox folder name). The
key stays with the user (a key file given with ``--pseudonymise-key-file`` or
the environment variable ``TEARSIGNALS_PSEUDONYM_KEY``); neither the key nor
the mapping is ever written to the lake. The same key always gives the same
pseudonym, so later exports join the same subject; without the key nobody can
tell which pseudonym belongs to whom. The inbox path stored in ``_ingest_log``
has the folder name, and any copy of it inside the file name, replaced by the
pseudonym as well.

The lake remembers whether it is pseudonymised (``LAKE/_pseudonymisation.json``
holds a check value, HMAC of a fixed text, that confirms the key without
revealing it), so a run with a missing or different key fails with a one-line
error instead of splitting subjects.

Examples
--------
>>> key = b"0123456789abcdef-example"
>>> pseudonym("S01", key)
'p-ad778d430084486af70271c7'
>>> stored_path("S01/rr_s01.csv", "S01", pseudonym("S01", key))
'p-ad778d430084486af70271c7/rr_p-ad778d430084486af70271c7.csv'
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tearsignals.errors import InputError
from tearsignals.lake import layout, store

KEY_ENV = "TEARSIGNALS_PSEUDONYM_KEY"
MIN_KEY_BYTES = 16
_CHECK_TEXT = b"tearsignals pseudonym key check v1"


def load_key(key_file: Path | None = None) -> bytes | None:
    """The pseudonymisation key: from ``key_file``, else ``TEARSIGNALS_PSEUDONYM_KEY``, else ``None``.

    Surrounding whitespace is ignored; a key shorter than 16 bytes is refused.
    """
    if key_file is not None:
        try:
            key = key_file.read_bytes().strip()
        except OSError as err:
            raise InputError(f"cannot read key file {key_file}: {err.strerror or err}") from None
        source = f"key file {key_file}"
    else:
        text = os.environ.get(KEY_ENV, "").strip()
        if not text:
            return None
        key, source = text.encode(), KEY_ENV
    if len(key) < MIN_KEY_BYTES:
        raise InputError(f"{source}: a pseudonymisation key needs at least {MIN_KEY_BYTES} bytes")
    return key


def pseudonym(subject_id: str, key: bytes) -> str:
    """The stored subject id for ``subject_id`` under ``key`` (a valid subject id itself)."""
    digest = hmac.new(key, subject_id.encode(), hashlib.sha256).hexdigest()
    return f"p-{digest[:24]}"


def stored_subject_id(subject_id: str, key: bytes | None) -> str:
    """``subject_id`` as written to the lake: its pseudonym when a key is given."""
    return subject_id if key is None else pseudonym(subject_id, key)


def stored_path(relative: str, subject_id: str, stored_id: str) -> str:
    """An inbox-relative path with every copy of ``subject_id`` (any case) replaced by ``stored_id``."""
    if subject_id == stored_id:
        return relative
    return re.sub(re.escape(subject_id), lambda _: stored_id, relative, flags=re.IGNORECASE)


def key_check(key: bytes) -> str:
    """A value that confirms a key without revealing it or any pseudonym."""
    return hmac.new(key, _CHECK_TEXT, hashlib.sha256).hexdigest()[:32]


def lake_is_pseudonymised(lake: Path) -> bool:
    """Whether the lake's recorded mode is pseudonymised (``False`` for a new lake)."""
    marker = layout.pseudonym_marker_path(lake)
    return marker.is_file() and bool(json.loads(marker.read_text()).get("pseudonymised"))


def _lake_has_data(lake: Path) -> bool:
    return bool(store.subjects_in(lake, "_ingest_log"))


def check_lake_mode(lake: Path, key: bytes | None) -> None:
    """Refuse to mix plain and pseudonymised (or differently keyed) subject ids in one lake.

    The first run that writes the lake records its mode; call this while
    holding the lake's writer lock.
    """
    wanted = {"pseudonymised": key is not None, "key_check": key_check(key) if key else None}
    marker = layout.pseudonym_marker_path(lake)
    if not marker.is_file():
        if _lake_has_data(lake) and key is not None:
            raise InputError(f"lake {lake} holds plain subject ids; it cannot be pseudonymised now")
        store.write_json_atomic(wanted, marker)
        return
    found = json.loads(marker.read_text())
    if found == wanted:
        return
    if not found.get("pseudonymised"):
        raise InputError(f"lake {lake} holds plain subject ids; it cannot be pseudonymised now")
    if key is None:
        raise InputError(
            f"lake {lake} holds pseudonymised subject ids: pass --pseudonymise-key-file "
            f"or set {KEY_ENV}"
        )
    raise InputError(f"lake {lake} was pseudonymised with a different key")


class WithheldError(RuntimeError):
    """An unexpected error whose message was withheld because it may quote input data."""


@contextmanager
def withheld_errors(context: str) -> Iterator[None]:
    """Re-raise unexpected exceptions without their message (it may quote file contents).

    ``OSError`` (names a path, worth retrying) and :class:`InputError` (one
    line written to carry no data) pass unchanged; anything else becomes
    :class:`WithheldError` naming ``context`` and the exception type only, so
    logs and the orchestrator's database never receive health values.
    """
    try:
        yield
    except (OSError, InputError):
        raise
    except Exception as err:
        raise WithheldError(
            f"{context}: {type(err).__name__} (message withheld: it may quote input data)"
        ) from None
