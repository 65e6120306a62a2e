"""The subject profile ``INBOX/<subject>/subject.toml``: the zone of the subject's local times.

Many exports write local wall times without an offset (Polar ``.hrm``, episode
journals, plain RR text with a local ``# start:``); people have one zone, and a
few trips. The profile says which, once per subject::

    timezone = "Europe/Berlin"

    [[timezone_changes]]          # optional, in increasing order
    from = 2026-03-01             # a local date (or date-time, 2026-03-01T14:30:00)
    timezone = "America/New_York"

    [[timezone_changes]]
    from = 2026-03-15
    timezone = "Europe/Berlin"

``timezone`` is an IANA zone name (``UTC`` allowed). From each change's ``from``
on (on the new zone's wall clock) local times are in its zone. The profile is
typed (:class:`SubjectProfile`, pydantic): an unknown key, an unknown zone or
changes out of order make it invalid, with a one-line message
(:func:`read_profile`). Nothing in it is a health value; it is never logged.

Who uses it: every format whose times may lack an offset reads them in the
profile's zone where the data (an inline offset, a ``tz`` column, a ``.tz``
sidecar) say nothing, and an episode's ``tz`` (the zone control days are
matched in) is then the profile's zone. Data with their own offsets keep them.
See ``docs/formats.md`` (*Subject profile*).

Examples
--------
>>> profile = profile_from_text('timezone = "Europe/Berlin"')
>>> profile.local_zones()
LocalZones(first='Europe/Berlin', changes=())
>>> profile_from_text('timezone = "Mars/Olympus"')
Traceback (most recent call last):
...
tearsignals.errors.InputError: subject.toml: timezone: unknown IANA time zone
"""

from __future__ import annotations

import hashlib
import itertools
import tomllib
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from tearsignals.errors import InputError
from tearsignals.ingest.inbox import is_regular_file
from tearsignals.ingest.timeparse import LocalZones, is_known_time_zone

PROFILE_NAME = "subject.toml"
MAX_PROFILE_BYTES = 64 * 1024


def _known_zone(name: str) -> str:
    if not is_known_time_zone(name) or name.startswith(("+", "-")):
        raise ValueError("unknown IANA time zone")
    return name


class TimezoneChange(BaseModel):
    """From ``from`` (a local date or date-time) on, local times are in ``timezone``."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    since: date | datetime = Field(alias="from")
    timezone: str

    _zone = field_validator("timezone")(_known_zone)

    @field_validator("since")
    @classmethod
    def _local(cls, value: date | datetime) -> date | datetime:
        if isinstance(value, datetime) and value.tzinfo is not None:
            raise ValueError("give a local date or date-time, without offset")
        return value

    @property
    def since_local(self) -> datetime:
        """``from`` as a local wall time (a date means its midnight)."""
        if isinstance(self.since, datetime):
            return self.since
        return datetime.combine(self.since, time())


class SubjectProfile(BaseModel):
    """What ``subject.toml`` declares about a subject: the zone of their local times."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    timezone: str
    timezone_changes: tuple[TimezoneChange, ...] = ()

    _zone = field_validator("timezone")(_known_zone)

    @model_validator(mode="after")
    def _in_order(self) -> SubjectProfile:
        starts = [c.since_local for c in self.timezone_changes]
        if any(b <= a for a, b in itertools.pairwise(starts)):
            raise ValueError("timezone_changes must be in increasing order of 'from'")
        return self

    def local_zones(self) -> LocalZones:
        """The zone over time, as :func:`tearsignals.ingest.timeparse.utc_from_iso` takes it."""
        changes = tuple((c.since_local, c.timezone) for c in self.timezone_changes)
        return LocalZones(self.timezone, changes)


def _one_line(err: ValidationError) -> str:
    """The first validation error as ``field: message`` (values are not echoed)."""
    first = err.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(part) for part in first["loc"]) or "profile"
    message = first["msg"].removeprefix("Value error, ")
    return f"{where}: {message}"


def profile_from_text(text: str) -> SubjectProfile:
    """The profile a ``subject.toml`` text declares (InputError with one line if invalid)."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise InputError(f"{PROFILE_NAME}: not valid TOML ({err})") from None
    try:
        return SubjectProfile.model_validate(document)
    except ValidationError as err:
        raise InputError(f"{PROFILE_NAME}: {_one_line(err)}") from None


@dataclass(frozen=True)
class ProfileFile:
    """A subject folder's ``subject.toml``: its bytes' sha256, and the profile or the problem."""

    sha256: str
    profile: SubjectProfile | None
    problem: str | None


def read_profile(folder: Path) -> ProfileFile | None:
    """The profile of a subject folder (``None`` when it has no ``subject.toml``).

    An unreadable or invalid file is returned with its one-line ``problem``
    (ingest logs it, and refuses the files that needed a zone from it).
    """
    path = folder / PROFILE_NAME
    if not is_regular_file(path):  # a link is not followed (it is refused in the inbox)
        return None
    try:
        data = path.read_bytes()[: MAX_PROFILE_BYTES + 1]
    except OSError as err:
        return ProfileFile("", None, f"{PROFILE_NAME}: cannot read file ({err.strerror or err})")
    sha256 = hashlib.sha256(data).hexdigest()
    if len(data) > MAX_PROFILE_BYTES:
        return ProfileFile(sha256, None, f"{PROFILE_NAME}: larger than {MAX_PROFILE_BYTES} bytes")
    try:
        return ProfileFile(sha256, profile_from_text(data.decode("utf-8")), None)
    except UnicodeDecodeError:
        return ProfileFile(sha256, None, f"{PROFILE_NAME}: not UTF-8 text")
    except InputError as err:
        return ProfileFile(sha256, None, str(err))
