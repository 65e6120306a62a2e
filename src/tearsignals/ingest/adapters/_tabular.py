"""Shared plumbing of the text-table adapters: read, sniff, split good rows from rejects.

A text table is read as a frame of *fields*: every column ``String`` (header
names stripped and lower-cased), plus ``row_number`` (Int64, 1-based among the
data records) and ``raw`` (the record as text). Adapters turn fields into
canonical columns, each producing a per-row ``reason`` that is null when the
value is fine; :func:`split_rejects` then separates accepted rows from rejects.

File-level decisions (documented here once):

* UTF-8 only, with or without BOM. Other encodings raise :class:`InputError`
  naming the first bad byte; a latin-1 fallback would silently garble text.
* The separator is whichever of ``,`` ``;`` TAB occurs most in the header line.
* Lines with no values at all (blank lines, or only separators) are not records.
* Rows with more fields than the header keep the header's fields; rows with
  fewer get nulls for the missing ones (then rejected as missing values).
"""

from __future__ import annotations

import codecs
import io
import json
from collections.abc import Iterable, Sequence
from pathlib import Path

import polars as pl

from tearsignals.contract import schema
from tearsignals.errors import InputError
from tearsignals.ingest.adapters.base import as_rejects
from tearsignals.ingest.timeparse import LocalZones, utc_from_epoch_ms, utc_from_iso

BOM = b"\xef\xbb\xbf"
SEPARATORS = (",", ";", "\t")
MAX_MESSAGE = 200


def input_error(path: Path, problem: str) -> InputError:
    """An :class:`InputError` whose single-line message starts with the file name."""
    one_line = " ".join(problem.split())
    if len(one_line) > MAX_MESSAGE:
        one_line = one_line[: MAX_MESSAGE - 3] + "..."
    return InputError(f"{path.name}: {one_line}")


def head_text(head: bytes) -> str | None:
    """The sniffed head decoded as UTF-8 (BOM removed), or ``None`` if it is not text.

    The head may end inside a multi-byte character, so the last incomplete
    sequence is tolerated. NUL bytes mean binary data.
    """
    if b"\x00" in head:
        return None
    try:
        return codecs.getincrementaldecoder("utf-8")().decode(head.removeprefix(BOM), final=False)
    except UnicodeDecodeError:
        return None


def separator_of(header_line: str) -> str:
    """The separator occurring most often in ``header_line`` (``,`` on ties)."""
    return max(SEPARATORS, key=lambda sep: (header_line.count(sep), sep == ","))


def normalised_name(name: str) -> str:
    """Header name as matched against adapter specs: stripped, lower-case."""
    return name.strip().strip('"').strip().lower()


def header_columns(head: bytes) -> tuple[str, ...]:
    """Normalised column names of the first line of a text head (empty if not text).

    Only the first line must be UTF-8, so that a file with a bad byte further
    down is still recognised and then rejected with a precise message.
    """
    if b"\x00" in head:
        return ()
    first = head.removeprefix(BOM).lstrip(b"\r\n").split(b"\n", 1)[0]
    line = head_text(first)
    if line is None:
        return ()
    line = line.rstrip("\r")
    return tuple(normalised_name(n) for n in line.split(separator_of(line)))


def has_any_column(head: bytes, names: Iterable[str]) -> bool:
    """Whether the head's header line names at least one of ``names``."""
    return not set(header_columns(head)).isdisjoint(names)


def text_bytes(path: Path) -> bytes:
    """The file's bytes without BOM, checked to be non-empty UTF-8 text."""
    try:
        data = path.read_bytes().removeprefix(BOM)
    except OSError as exc:
        raise input_error(path, f"cannot read file ({exc.strerror or exc})") from exc
    if not data.strip():
        raise input_error(path, "empty file")
    if b"\x00" in data:
        raise input_error(path, "binary data, not a text file")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = data[exc.start]
        raise input_error(
            path, f"not UTF-8 text (byte 0x{bad:02x} at offset {exc.start}); re-save as UTF-8"
        ) from exc
    return data


def _unique_names(path: Path, names: Sequence[str]) -> list[str]:
    """Normalised header names; InputError if two normalise to the same name."""
    normalised = [normalised_name(n) for n in names]
    seen: set[str] = set()
    for name in normalised:
        if name in seen:
            raise input_error(path, f"duplicate column {name!r}")
        seen.add(name)
    return normalised


def with_row_number_and_raw(fields: pl.DataFrame) -> pl.DataFrame:
    """Drop valueless records, then add ``row_number`` and ``raw`` (fields joined by ``,``)."""
    if not fields.columns:
        return fields.with_columns(row_number=pl.lit(None, pl.Int64), raw=pl.lit(None, pl.String))
    non_empty = fields.filter(pl.any_horizontal(pl.all().is_not_null()))
    raw = pl.concat_str([pl.col(c).fill_null("") for c in fields.columns], separator=",")
    return non_empty.with_columns(row_number=pl.int_range(1, pl.len() + 1, dtype=pl.Int64), raw=raw)


def read_csv_fields(path: Path, *, preamble_lines: int = 0) -> pl.DataFrame:
    """All-String fields of a CSV file, with ``row_number`` and ``raw``.

    ``preamble_lines``: lines before the header that are not part of the table
    (e.g. Samsung Health's metadata line).

    Raises
    ------
    InputError
        Unreadable, empty, binary or non-UTF-8 file, duplicate or malformed header,
        malformed quoting.
    """
    data = text_bytes(path).lstrip(b"\r\n")
    for _ in range(preamble_lines):
        data = data.split(b"\n", 1)[1] if b"\n" in data else b""
    if not data.strip():
        raise input_error(path, "no header line")
    header_line = data.split(b"\n", 1)[0].decode("utf-8")
    try:
        frame = pl.read_csv(
            io.BytesIO(data),
            infer_schema=False,
            separator=separator_of(header_line),
            truncate_ragged_lines=True,
        )
    except pl.exceptions.PolarsError as exc:
        # polars quotes the offending field; logs carry no health values, so keep it out.
        raise input_error(path, "malformed CSV (broken quoting or record structure)") from exc
    renamed = frame.rename(
        dict(zip(frame.columns, _unique_names(path, frame.columns), strict=True))
    )
    return with_row_number_and_raw(renamed)


def _field_text(value: object) -> str | None:
    """A JSON value as field text: strings as is, scalars as JSON, containers as JSON."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def json_record_fields(path: Path, records: Sequence[object]) -> pl.DataFrame:
    """All-String fields of JSON records (objects); non-objects get a ``_not_object`` flag.

    ``raw`` is the record as compact JSON (more faithful than joined fields).
    """
    objects = [r if isinstance(r, dict) else {} for r in records]
    keys = list(dict.fromkeys(k for r in objects for k in r))
    names = _unique_names(path, keys)
    columns = {
        name: pl.Series([_field_text(r.get(key)) for r in objects], dtype=pl.String)
        for name, key in zip(names, keys, strict=True)
    }
    raw = [json.dumps(r, ensure_ascii=False, separators=(",", ":")) for r in records]
    flags = pl.Series("_not_object", [not isinstance(r, dict) for r in records], dtype=pl.Boolean)
    return flags.to_frame().with_columns(
        *[values.alias(name) for name, values in columns.items()],
        row_number=pl.int_range(1, pl.len() + 1, dtype=pl.Int64),
        raw=pl.Series(raw, dtype=pl.String),
    )


def require_columns(path: Path, columns: Sequence[str], groups: Sequence[Sequence[str]]) -> None:
    """Raise :class:`InputError` unless each group has at least one column present."""
    present = set(columns)
    missing = [" or ".join(g) for g in groups if present.isdisjoint(g)]
    if missing:
        raise input_error(path, f"missing required column: {'; '.join(missing)}")


def first_present(columns: Sequence[str], candidates: Sequence[str]) -> str | None:
    """The first of ``candidates`` that is among ``columns``."""
    return next((c for c in candidates if c in columns), None)


def float_and_reason(text: pl.Expr, name: str) -> tuple[pl.Expr, pl.Expr]:
    """A Float64 expression of numeric text and its reason (``missing``/``unparseable``).

    Non-finite values (``nan``, ``inf``) count as unparseable: no device reports them.
    """
    stripped = text.str.strip_chars()
    value = stripped.cast(pl.Float64, strict=False)
    reason = (
        pl.when(stripped.is_null() | (stripped == "")).then(pl.lit(f"missing {name}"))
        .when(value.is_null() | ~value.is_finite()).then(pl.lit(f"unparseable {name}"))
    )  # fmt: skip
    return pl.when(reason.is_null()).then(value), reason


def prefixed(reason: pl.Expr, prefix: str) -> pl.Expr:
    """``"<prefix>: <reason>"`` where the reason is set, else null."""
    return pl.when(reason.is_not_null()).then(pl.concat_str(pl.lit(f"{prefix}: "), reason))


def split_rejects(frame: pl.DataFrame, table: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Rows whose ``reason`` is null (as the table's adapter columns) and the others as rejects.

    ``frame`` needs ``reason`` and ``raw`` besides
    :func:`tearsignals.contract.schema.adapter_columns` of ``table`` (nullable
    ones the format never reports may be left out: ingest adds them as nulls).
    """
    bad = pl.col("reason").is_not_null()
    good = frame.filter(~bad).select(c for c in schema.adapter_columns(table) if c in frame.columns)
    return good, as_rejects(frame.filter(bad), table)


def first_reason(reasons: Sequence[pl.Expr]) -> pl.Expr:
    """The first non-null reason of a row (checks are listed in priority order)."""
    return pl.coalesce(*reasons) if reasons else pl.lit(None, pl.String)


# Time columns of sample tables, in priority order, and how each is read.
# ``iso``: ISO 8601 needing an offset (or a ``tz`` column, or the subject's zone from
# the profile); ``iso_utc``: ISO whose
# header declares UTC, so a value without offset is UTC; ``epoch_ms``: epoch ms.
TIME_COLUMNS: tuple[tuple[str, str], ...] = (
    ("timestamp", "iso"),
    ("time_utc", "iso_utc"),
    ("t_utc", "iso_utc"),
    ("timestamp_ms", "epoch_ms"),
    ("epoch_ms", "epoch_ms"),
)
TIME_COLUMN_NAMES = tuple(name for name, _ in TIME_COLUMNS)


def sample_times(fields: pl.DataFrame, zones: LocalZones | None = None) -> pl.DataFrame:
    """``utc`` and ``reason`` (prefixed with the column name) from the best time column.

    ``fields`` must contain one of :data:`TIME_COLUMN_NAMES` (checked by the
    caller). A local ``timestamp`` without a ``tz`` value is read in ``zones``
    (the subject's zone), if given.
    """
    name, kind = next((n, k) for n, k in TIME_COLUMNS if n in fields.columns)
    if kind == "epoch_ms":
        parsed = utc_from_epoch_ms(fields[name])
    else:
        tz = fields["tz"] if "tz" in fields.columns else None
        parsed = utc_from_iso(fields[name], tz, default_tz="UTC" if kind == "iso_utc" else zones)
    return parsed.select("utc", reason=prefixed(pl.col("reason"), name))


MAX_JSON_BYTES = 64 * 1024 * 1024
# An integer literal longer than this is beyond every field's range (a float holds at most
# 309 integer digits) and is read as a float (sign kept, infinite when that large), as
# ``1e400`` is; Python refuses to convert integers of more than 4,300 digits at all.
MAX_JSON_INT_DIGITS = 300


def json_int(literal: str) -> int | float:
    """An integer literal of a JSON document: exact when short, else a (maybe infinite) float.

    >>> json_int("-12"), json_int("9" * 5000), json_int("-" + "9" * 5000)
    (-12, inf, -inf)
    """
    return int(literal) if len(literal) <= MAX_JSON_INT_DIGITS else float(literal)


def loads_json(text: str | bytes) -> object:
    """``json.loads`` whose integers of any size are read (see :func:`json_int`)."""
    return json.loads(text, parse_int=json_int)


def load_json(path: Path) -> object:
    """The parsed JSON document of ``path`` (UTF-8, at most MAX_JSON_BYTES).

    Raises
    ------
    InputError
        Too large, unreadable, empty, not UTF-8, invalid or too deeply nested JSON.
    """
    if path.is_file() and path.stat().st_size > MAX_JSON_BYTES:
        raise input_error(path, f"JSON file larger than {MAX_JSON_BYTES} bytes")
    data = text_bytes(path)
    try:
        return loads_json(data)
    except json.JSONDecodeError as exc:
        raise input_error(path, f"invalid JSON ({exc.msg} at line {exc.lineno})") from exc
    except RecursionError as exc:
        raise input_error(path, "invalid JSON (nested too deeply)") from exc
