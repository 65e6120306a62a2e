"""Bad-input corpus: crafted inputs built in code, never committed as files.

Each :class:`Case` names the files to write into ``INBOX/S01/`` (in ingest order) and
the outcome expected for each of them:

``accepted``
    ingested, every row stored or counted as a duplicate (0 quarantined);
``quarantined``
    ingested, at least one row quarantined with a reason;
``rejected``
    the whole file refused: a one-line error naming the file (status ``rejected``);
``unknown_format``
    no adapter recognises the file (status ``unknown_format``);
``skipped``
    ``ingest_file`` returned ``None``: the same bytes were already committed;
``refused``
    an inbox entry ingest does not read (a link, a bad subject folder name:
    :func:`tearsignals.ingest.files.inbox_refusals`), or the whole run refused
    at its start (a lake inside the inbox); nothing logged for it.

A case's outcome (the one in the table of ``docs/reliability.md``) is the outcome
of its last file; earlier files set the scene (e.g. the original of a duplicate).
``analyze`` runs :func:`tearsignals.pipeline.analyze_subject` after ingest, and
``check`` inspects the lake afterwards (it gets the lake path). ``entries``
adds inbox entries beside the files (it gets the inbox and a folder outside
it); they are reported, in name order, after the files. ``lake`` is the lake's
path relative to the case's root folder.
"""

from __future__ import annotations

import io
import json
import random
import struct
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl

KINDS = ("accepted", "quarantined", "rejected", "unknown_format", "skipped", "refused")

T0 = datetime(2026, 1, 5, 14, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Case:
    name: str
    klass: str
    files: Callable[[], list[tuple[str, bytes]]]
    expect: tuple[str, ...]
    analyze: bool = False
    check: Callable[[Path], None] | None = field(default=None, compare=False)
    note: str = ""
    known_bug: str = ""  # non-empty: the case fails today for this reason (xfail, strict)
    entries: Callable[[Path, Path], None] | None = field(default=None, compare=False)
    lake: str = "lake"

    @property
    def outcome(self) -> str:
        return self.expect[-1]


# --------------------------------------------------------------------------- builders


def _iso(t: datetime) -> str:
    return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def beats_csv(
    start: datetime = T0, n: int = 60, rr_ms: float = 1000.0, header: str = "timestamp,rr_ms"
) -> str:
    """A ``csv_beats`` file: ``n`` beats ``rr_ms`` apart from ``start`` (UTC offsets)."""
    rows = [f"{_iso(start + timedelta(milliseconds=rr_ms * (k + 1)))},{rr_ms}" for k in range(n)]
    return header + "\n" + "\n".join(rows) + "\n"


def beats_rows(times_rr: Sequence[tuple[datetime, float]]) -> str:
    return "timestamp,rr_ms\n" + "".join(f"{_iso(t)},{rr}\n" for t, rr in times_rr)


def episodes_csv(rows: Sequence[Sequence[str]], header: str = "start,end,tz,intensity") -> str:
    return header + "\n" + "".join(",".join(r) + "\n" for r in rows)


def _zip(members: Sequence[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members:
            zf.writestr(name, data)
    return buffer.getvalue()


def _zip_of_zeros(name: str, size: int) -> bytes:
    """A zip whose one member inflates to ``size`` zero bytes (written in 1 MiB chunks)."""
    buffer = io.BytesIO()
    chunk = bytes(1 << 20)
    with (
        zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf,
        zf.open(name, "w", force_zip64=True) as member,
    ):
        for _ in range(size // len(chunk)):
            member.write(chunk)
    return buffer.getvalue()


HR_RECORD = (
    '<Record type="HKQuantityTypeIdentifierHeartRate" sourceName="Watch" unit="{unit}" '
    'startDate="2026-01-05 15:{m:02d}:00 +0100" endDate="2026-01-05 15:{m:02d}:00 +0100" '
    'value="{v}"/>\n'
)


def health_xml(unit: str = "count/min", value: float = 61, n: int = 5, prolog: str = "") -> str:
    records = "".join(HR_RECORD.format(unit=unit, m=m, v=value) for m in range(n))
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        + prolog
        + '<HealthData locale="en_US">\n'
        + records
        + "</HealthData>\n"
    )


BILLION_LAUGHS = (
    '<!DOCTYPE HealthData [\n <!ENTITY lol "lol">\n'
    + "".join(
        f' <!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">\n'
        for i in range(1, 10)
    )
    + "]>\n"
)


# FIT (14-byte header, both CRCs): file_id, record (timestamp, heart_rate), hrv (time[5]).
FIT_EPOCH_S = 631_065_600
_FIT_DEFS = {
    0: (0, [(0, 1, 0x00), (1, 2, 0x84), (4, 4, 0x86)]),
    1: (20, [(253, 4, 0x86), (3, 1, 0x02)]),
    2: (78, [(0, 10, 0x84)]),
}


def _fit_crc(data: bytes) -> int:
    from fitdecode.utils import compute_crc

    return int(compute_crc(data))


def fit_bytes(seconds: int = 20) -> bytes:
    def ts(k: int) -> int:
        return int((T0 + timedelta(seconds=k)).timestamp()) - FIT_EPOCH_S

    body = b"".join(
        struct.pack("<BBBHB", 0x40 | local, 0, 0, number, len(fields))
        + b"".join(struct.pack("<BBB", *f) for f in fields)
        for local, (number, fields) in _FIT_DEFS.items()
    )
    body += struct.pack("<BBHI", 0, 4, 1, ts(0))
    for k in range(seconds):
        body += struct.pack("<BIB", 1, ts(k), 60)
        body += struct.pack("<B5H", 2, 1000, 0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF)
    header = struct.pack("<BBHI4s", 14, 0x10, 2132, len(body), b".FIT")
    data = header + struct.pack("<H", _fit_crc(header)) + body
    return data + struct.pack("<H", _fit_crc(data))


def _ppg(values: Sequence[float], fs: int = 64) -> str:
    return f"# fs={fs}; start=2026-01-05T14:00:00Z\nppg\n" + "".join(f"{v}\n" for v in values)


def _ectopic_rr() -> str:
    """3 h of RR (ms) from 13:00 UTC with a premature beat + compensatory pause every 5th beat."""
    rng = random.Random(7)
    values: list[int] = []
    while sum(values) < 3 * 3600 * 1000:
        k = len(values)
        base = 800 + rng.randint(-25, 25)
        values.append(base if k % 5 else 480)
        if k % 5 == 0:
            values.append(1120)
    return "# start: 2026-01-05T13:00:00+00:00\n# unit: ms\n" + "\n".join(map(str, values)) + "\n"


# --------------------------------------------------------------------------- checks


def _read(lake: Path, table: str) -> pl.DataFrame:
    from tearsignals.lake import store

    if table in ("beats", "heart_rate", "episodes", "vendor_hrv", "quarantine"):
        return store.scan_committed(lake, table).collect()
    return store.read_table(lake, table)


def _check_tags_vs_local(lake: Path) -> None:
    # Same instant from both sources: one stored episode (the local log's, smaller values),
    # the UTC tag pair quarantined as a key conflict carrying the same UTC times.
    episodes = _read(lake, "episodes")
    assert episodes.select("start_utc", "end_utc", "tz").rows() == [
        (T0, T0 + timedelta(minutes=5), "Europe/Berlin")
    ]
    (raw,) = _read(lake, "quarantine").filter(pl.col("table") == "episodes")["raw"].to_list()
    assert "2026-01-05T14:00:00Z,2026-01-05T14:05:00Z,UTC" in raw


def _check_no_heart_data(lake: Path) -> None:
    windows = _read(lake, "episode_windows").filter(pl.col("role") == "episode")
    assert windows.height > 0
    assert windows["quality"].unique().to_list() == ["none"], windows["quality"].unique()
    assert windows["reason"].is_not_null().all() and (windows["reason"].str.len_chars() > 0).all()


def _check_ectopics_flagged(lake: Path) -> None:
    windows = _read(lake, "episode_windows").filter(
        (pl.col("role") == "episode") & (pl.col("n_beats") > 0)
    )
    assert windows.height > 0
    assert (windows["artifact_rate"] > 0).all(), windows.select("window", "artifact_rate")


def _check_no_beats(lake: Path) -> None:
    assert _read(lake, "beats").height == 0, "beats detected in a flat line"


def _check_overlap_stored_once(lake: Path) -> None:
    beats = _read(lake, "beats")
    assert beats.height == 90 and beats["t_utc"].is_unique().all()


def _check_count_per_s(lake: Path) -> None:
    assert _read(lake, "heart_rate")["hr_bpm"].to_list() == [72.0] * 10


def _check_apple_count_per_s(lake: Path) -> None:
    assert set(_read(lake, "heart_rate")["hr_bpm"].to_list()) == {72.0}


# --------------------------------------------------------------------------- cases


def _one(name: str, data: str | bytes) -> Callable[[], list[tuple[str, bytes]]]:
    def files() -> list[tuple[str, bytes]]:
        return [(name, data.encode() if isinstance(data, str) else data)]

    return files


def _many(*pairs: tuple[str, str | bytes]) -> Callable[[], list[tuple[str, bytes]]]:
    def files() -> list[tuple[str, bytes]]:
        return [(n, d.encode() if isinstance(d, str) else d) for n, d in pairs]

    return files


_BEATS = beats_csv()
_EPISODE_ROW = ("2026-01-05T15:00:30+01:00", "2026-01-05T15:05:00+01:00", "", "4")


def _long_line() -> list[tuple[str, bytes]]:
    line = "2026-01-05T14:00:01.000Z," + "9" * (5 * 2**20) + "\n"
    return [("rr.csv", (beats_csv(n=10) + line).encode())]


def _flat_ppg() -> list[tuple[str, bytes]]:
    return [("ppg.csv", _ppg([0.5] * 64 * 60).encode())]


def _saturated_ppg() -> list[tuple[str, bytes]]:
    # A pulse wave clipped at the ADC rail for most of every cycle.
    import math

    wave = [min(1023.0, 700 + 600 * math.sin(2 * math.pi * 1.2 * k / 64)) for k in range(64 * 60)]
    return [("ppg.csv", _ppg([round(v, 1) for v in wave]).encode())]


def _zip_bomb() -> list[tuple[str, bytes]]:
    return [("export.zip", _zip_of_zeros("apple_health_export/export.xml", 100 * 2**20))]


def _fit(kind: str) -> Callable[[], list[tuple[str, bytes]]]:
    def files() -> list[tuple[str, bytes]]:
        data = fit_bytes()
        if kind == "crc":
            data = data[:-2] + bytes([data[-2] ^ 0xFF, data[-1]])
        elif kind == "truncated":
            data = data[: len(data) * 2 // 3]
        return [("activity.fit", data)]

    return files


def _logger_measures() -> list[tuple[str, bytes]]:
    """A Garmin phone-logger file that is mostly measures no table takes (steps, stress)."""
    lines = []
    for k in range(30):
        stamp = (T0 + timedelta(seconds=k)).isoformat(timespec="milliseconds")
        lines += [f"{stamp};HEART_RATE_VARIABILITY;1000.0", f"{stamp};STEPS;{k}"]
        lines += [f"{stamp};STRESS;25"] if k % 3 == 0 else []
    return [("data.csv", ("\n".join(lines) + "\n").encode())]


def _only_skipped(expected: int) -> Callable[[Path], None]:
    """A check: the last file's log row counts ``expected`` skipped rows, none quarantined."""

    def check(lake: Path) -> None:
        from tearsignals.lake import store

        log = store.read_table(lake, "_ingest_log").row(-1, named=True)
        assert (log["rows_skipped"], log["rows_quarantined"]) == (expected, 0), log
        assert store.read_table(lake, "quarantine").is_empty()

    return check


_JUNK = random.Random(5).randbytes(4096)


def _subject_folder(name: str) -> Callable[[Path, Path], None]:
    """Entries: a subject folder ``name`` holding a beats file of its own."""

    def entries(inbox: Path, outside: Path) -> None:
        (inbox / name).mkdir()
        (inbox / name / "rr.csv").write_text(beats_csv(start=T0 + timedelta(hours=1)))

    return entries


def _link(rel: str, target: Callable[[Path], Path]) -> Callable[[Path, Path], None]:
    """Entries: ``rel`` in the inbox, a symbolic link to ``target(outside)``; beside it outside,
    a beats file and a folder holding one (neither may reach the lake)."""

    def entries(inbox: Path, outside: Path) -> None:
        (outside / "rr.csv").write_text(beats_csv(start=T0 + timedelta(hours=2)))
        (outside / "export").mkdir()
        (outside / "export" / "rr.csv").write_text(beats_csv(start=T0 + timedelta(hours=3)))
        (inbox / rel).symlink_to(target(outside))

    return entries


def _raw_capped(lake: Path) -> None:
    """A check: the long row's text is stored cut to 4,096 characters, its length kept."""
    longest = _read(lake, "quarantine").sort("raw_chars").row(-1, named=True)
    assert len(longest["raw"]) == 4096 < 2**21 <= longest["raw_chars"], longest["raw_chars"]


def _only_time_range_reasons(expected: int) -> Callable[[Path], None]:
    """A check: ``expected`` rows quarantined, all as out of the plausible time range."""

    def check(lake: Path) -> None:
        reasons = _read(lake, "quarantine")["reason"].to_list()
        assert len(reasons) == expected and all("_utc out of range" in r for r in reasons), reasons

    return check


_PLANTED_HR = HR_RECORD.format(unit="count/min", m=30, v=199)


def _hidden_in_body(hidden: str) -> str:
    """An export of five genuine 61 bpm records with ``hidden`` between them."""
    xml = health_xml()
    return xml.replace("<Record", hidden + "<Record", 1).replace(
        "</HealthData>", hidden + "</HealthData>"
    )


def _only_genuine_hr(lake: Path) -> None:
    assert _read(lake, "heart_rate")["hr_bpm"].to_list() == [61.0] * 5


def _only_the_inbox_beats(lake: Path) -> None:
    from tearsignals.lake import store

    assert store.scan_committed(lake, "beats").collect().height == 60


_MARK = 271828182845  # stands for a 5,000-digit integer literal in the written JSON
_EPISODE_JSON = {"start": _EPISODE_ROW[0], "end": _EPISODE_ROW[1]}


def _with_huge_numbers(text: str) -> str:
    return text.replace(str(_MARK), "9" * 5000)


CASES: tuple[Case, ...] = (
    # --- empty / truncated
    Case("empty_file", "empty/truncated", _one("rr.csv", b""), ("rejected",)),
    Case("whitespace_only", "empty/truncated", _one("rr.csv", "\n  \n\r\n"), ("rejected",)),
    Case("header_only", "empty/truncated", _one("rr.csv", "timestamp,rr_ms\n"), ("accepted",)),
    Case(
        "truncated_mid_row",
        "empty/truncated",
        _one("rr.csv", _BEATS[: _BEATS.rindex("\n", 0, -1) + 15]),
        ("quarantined",),
    ),
    Case("truncated_header", "empty/truncated", _one("rr.csv", "timest"), ("unknown_format",)),
    Case(
        "truncated_health_xml",
        "empty/truncated",
        _one("export.xml", health_xml()[:-60]),
        ("quarantined",),
    ),
    Case("empty_e4_tags", "empty/truncated", _one("tags.csv", b""), ("rejected",)),
    # --- encoding
    Case(
        "utf8_bom",
        "encoding",
        _one("rr.csv", b"\xef\xbb\xbf" + _BEATS.encode()),
        ("accepted",),
    ),
    Case(
        "utf16_bom_csv",
        "encoding",
        _one("rr.csv", _BEATS.encode("utf-16")),
        ("unknown_format",),
    ),
    Case(
        "latin1_episode_context",
        "encoding",
        _one(
            "episodes.csv",
            episodes_csv([(*_EPISODE_ROW, "café, pleurs")], "start,end,tz,intensity,context")
            .replace("café, pleurs", '"café pleurs"')
            .encode("latin-1"),
        ),
        ("rejected",),
    ),
    Case(
        "utf16_health_xml",
        "encoding",
        _one("export.xml", health_xml().encode("utf-16")),
        ("rejected",),
        note="detected by its UTF-16 head, refused by the UTF-8 reader",
    ),
    # --- binary junk
    Case("binary_junk_csv_name", "binary junk", _one("rr.csv", _JUNK), ("unknown_format",)),
    Case(
        "nul_bytes_in_csv",
        "binary junk",
        _one("rr.csv", _BEATS.replace("1000.0\n", "10\x0000.0\n", 3)),
        ("unknown_format",),
    ),
    # --- columns
    Case(
        "missing_rr_column",
        "columns",
        _one("rr.csv", "timestamp\n2026-01-05T14:00:01Z\n"),
        ("unknown_format",),
    ),
    Case(
        "extra_columns",
        "columns",
        _one("rr.csv", beats_csv(header="timestamp,rr_ms,foo").replace(".0\n", ".0,x\n")),
        ("accepted",),
    ),
    Case(
        "ragged_rows",
        "columns",
        _one("rr.csv", _BEATS.replace(",1000.0\n", "\n", 2)),
        ("quarantined",),
    ),
    # --- values and units
    Case(
        "out_of_range_rr",
        "values",
        _one("rr.csv", _BEATS.replace(",1000.0\n", ",50\n", 1).replace(",1000.0\n", ",9000\n", 1)),
        ("quarantined",),
    ),
    Case(
        "negative_hr",
        "values",
        _one("hr.csv", "epoch_ms,hr_bpm\n1767621600000,-1\n1767621601000,400\n1767621602000,60\n"),
        ("quarantined",),
    ),
    Case(
        "negative_rr_text",
        "values",
        _one("rr.txt", "# start: 2026-01-05T14:00:00Z\n800\n-800\n810\n"),
        ("quarantined",),
    ),
    Case(
        "hr_count_per_s",
        "units",
        _one(
            "hr.csv",
            "epoch_ms,hr_count_per_s\n"
            + "".join(f"{1767621600000 + 1000 * k},1.2\n" for k in range(10)),
        ),
        ("accepted",),
        check=_check_count_per_s,
    ),
    Case(
        "apple_count_per_s",
        "units",
        _one("export.xml", health_xml(unit="count/s", value=1.2)),
        ("accepted",),
        check=_check_apple_count_per_s,
    ),
    Case(
        "apple_unknown_unit",
        "units",
        _one("export.xml", health_xml(unit="beats/fortnight")),
        ("quarantined",),
    ),
    # --- time zones
    Case(
        "naive_timestamps",
        "time zones",
        _one("rr.csv", _BEATS.replace("Z,", ",")),
        ("quarantined",),
    ),
    Case(
        "naive_episode_no_tz",
        "time zones",
        _one(
            "episodes.csv", episodes_csv([("2026-01-05T15:00:00", "2026-01-05T15:05:00", "", "")])
        ),
        ("quarantined",),
    ),
    Case(
        "dst_nonexistent_spring_forward",
        "time zones",
        _one(
            "episodes.csv",
            episodes_csv([("2026-03-29T02:30:00", "2026-03-29T03:30:00", "Europe/Berlin", "5")]),
        ),
        ("quarantined",),
    ),
    Case(
        "dst_ambiguous_fall_back",
        "time zones",
        _one(
            "episodes.csv",
            episodes_csv([("2026-10-25T02:30:00", "2026-10-25T02:50:00", "Europe/Berlin", "5")]),
        ),
        ("quarantined",),
    ),
    Case(
        "tags_utc_vs_local_log",
        "time zones",
        _many(
            (
                "episodes.csv",
                episodes_csv([("2026-01-05T15:00:00", "2026-01-05T15:05:00", "Europe/Berlin", "")]),
            ),
            ("tags.csv", f"{int(T0.timestamp())}\n{int(T0.timestamp()) + 300}\n"),
        ),
        ("accepted", "quarantined"),
        check=_check_tags_vs_local,
    ),
    # --- time plausibility: [1990, 2100] for every time column, whatever the notation
    Case(
        "beats_in_1970_2100_9999",
        "time range",
        _one(
            "rr.csv",
            "timestamp,rr_ms\n1970-01-01T00:00:01Z,1000\n2100-01-01T00:00:01Z,1000\n"
            "9999-12-31T23:59:59Z,1000\n" + _BEATS.split("\n", 1)[1],
        ),
        ("quarantined",),
        check=_only_time_range_reasons(3),
    ),
    Case(
        "episode_in_1970",
        "time range",
        _one(
            "episodes.csv",
            episodes_csv([("1970-01-01T00:00:00Z", "1970-01-01T00:05:00Z", "", "4"), _EPISODE_ROW]),
        ),
        ("quarantined",),
        check=_only_time_range_reasons(1),
    ),
    Case(
        "apple_record_in_9999",
        "time range",
        _one("export.xml", health_xml().replace("2026-01-05 15:00", "9999-01-05 15:00")),
        ("quarantined",),
        check=_only_time_range_reasons(1),
    ),
    # --- episodes
    Case(
        "overlapping_episodes",
        "episodes",
        _one(
            "episodes.csv",
            episodes_csv(
                [
                    ("2026-01-05T15:00:00+01:00", "2026-01-05T15:20:00+01:00", "", "4"),
                    ("2026-01-05T15:10:00+01:00", "2026-01-05T15:30:00+01:00", "", "6"),
                ]
            ),
        ),
        ("accepted",),
    ),
    Case(
        "end_before_start",
        "episodes",
        _one(
            "episodes.csv",
            episodes_csv([("2026-01-05T15:10:00+01:00", "2026-01-05T15:00:00+01:00", "", "4")]),
        ),
        ("quarantined",),
    ),
    Case(
        "intensity_out_of_range",
        "episodes",
        _one(
            "episodes.json",
            json.dumps([{"start": _EPISODE_ROW[0], "end": _EPISODE_ROW[1], "intensity": 42}]),
        ),
        ("quarantined",),
    ),
    Case("invalid_json", "episodes", _one("episodes.json", '[{"start": "2026-'), ("rejected",)),
    Case(
        "episode_without_heart_data",
        "episodes",
        _many(
            ("rr.csv", beats_csv(start=T0 + timedelta(days=3), n=120)),
            ("episodes.csv", episodes_csv([_EPISODE_ROW])),
        ),
        ("accepted", "accepted"),
        analyze=True,
        check=_check_no_heart_data,
    ),
    # --- duplicates / overlaps
    Case(
        "duplicate_export_renamed",
        "duplicates",
        _many(("rr.csv", _BEATS), ("rr (1).csv", _BEATS)),
        ("accepted", "skipped"),
    ),
    Case(
        "overlapping_exports",
        "duplicates",
        _many(("a.csv", _BEATS), ("b.csv", beats_csv(start=T0 + timedelta(seconds=30)))),
        ("accepted", "accepted"),
        check=_check_overlap_stored_once,
    ),
    Case(
        "repeated_rows",
        "duplicates",
        _one("rr.csv", _BEATS + _BEATS.split("\n", 1)[1]),
        ("accepted",),
    ),
    # --- clocks
    Case(
        "clock_jump_backwards",
        "clock",
        _one(
            "rr.csv",
            beats_rows(
                [(T0 + timedelta(seconds=k), 1000.0) for k in range(1, 31)]
                + [(T0 - timedelta(hours=1) + timedelta(seconds=k), 1000.0) for k in range(30)]
            ),
        ),
        ("quarantined",),
    ),
    Case(
        "clock_jump_forward",
        "clock",
        _one(
            "rr.csv",
            beats_rows(
                [(T0 + timedelta(seconds=k), 1000.0) for k in range(1, 31)]
                + [(T0 + timedelta(hours=2, seconds=k), 1000.0) for k in range(30)]
            ),
        ),
        ("accepted",),
    ),
    Case(
        "non_monotonic_swap",
        "clock",
        _one(
            "rr.csv",
            beats_rows([(T0 + timedelta(seconds=k), 1000.0) for k in (1, 2, 4, 3, 5, 6, 7)]),
        ),
        ("quarantined",),
    ),
    # --- waveforms and ectopy
    Case(
        "flat_line_ppg",
        "waveform",
        _flat_ppg,
        ("accepted",),
        check=_check_no_beats,
    ),
    Case("saturated_ppg", "waveform", _saturated_ppg, ("accepted",)),
    Case(
        "rr_full_of_ectopics",
        "waveform",
        _many(
            ("rr.txt", _ectopic_rr()),
            (
                "episodes.csv",
                episodes_csv([("2026-01-05T14:30:00Z", "2026-01-05T14:40:00Z", "", "5")]),
            ),
        ),
        ("accepted", "accepted"),
        analyze=True,
        check=_check_ectopics_flagged,
    ),
    # --- archives and XML
    Case(
        "zip_path_traversal",
        "archive",
        _one("export.zip", _zip([("../apple_health_export/export.xml", health_xml().encode())])),
        ("rejected",),
    ),
    Case("zip_bomb", "archive", _zip_bomb, ("rejected",)),
    Case(
        "nested_zip",
        "archive",
        _one(
            "export.zip",
            _zip([("apple_health_export/export.zip", _zip([("export.xml", b"<HealthData/>")]))]),
        ),
        ("rejected",),
    ),
    Case(
        "truncated_zip",
        "archive",
        _one("export.zip", _zip([("apple_health_export/export.xml", health_xml().encode())])[:-40]),
        ("unknown_format",),
    ),
    Case(
        "billion_laughs_xml",
        "archive",
        _one("export.xml", health_xml(prolog=BILLION_LAUGHS)),
        ("accepted",),
    ),
    Case(
        "xml_record_in_comment",
        "XML markup",
        _one("export.xml", _hidden_in_body(f"<!-- {_PLANTED_HR} -->\n")),
        ("accepted",),
        check=_only_genuine_hr,
    ),
    Case(
        "xml_records_in_multi_line_comment",
        "XML markup",
        _one("export.xml", _hidden_in_body(f"<!--\n{_PLANTED_HR}{_PLANTED_HR}-->\n")),
        ("accepted",),
        check=_only_genuine_hr,
    ),
    Case(
        "xml_record_in_cdata",
        "XML markup",
        _one("export.xml", _hidden_in_body(f"<![CDATA[\n{_PLANTED_HR}]]>\n")),
        ("accepted",),
        check=_only_genuine_hr,
    ),
    Case(
        "xml_record_in_processing_instruction",
        "XML markup",
        _one("export.xml", _hidden_in_body(f"<?note {_PLANTED_HR}?>\n")),
        ("accepted",),
        check=_only_genuine_hr,
    ),
    Case("very_long_line", "size", _long_line, ("quarantined",), check=_raw_capped),
    Case(
        "very_long_json_field",
        "size",
        _one("episodes.json", json.dumps([{"start": _EPISODE_ROW[0], "end": "x" * 2**21}])),
        ("quarantined",),
        check=_raw_capped,
    ),
    Case(
        "very_long_rr_text_line",
        "size",
        _one("rr.txt", "# start: 2026-01-05T14:00:00Z\n800\n8" + "0" * 2**21 + "\n810\n"),
        ("quarantined",),
        check=_raw_capped,
    ),
    # --- measures no table takes: skipped, counted, never quarantined
    Case(
        "logger_steps_and_stress",
        "not ingested",
        _logger_measures,
        ("accepted",),
        check=_only_skipped(30 + 10),
    ),
    Case(
        "app_event_tags",
        "not ingested",
        _one("s_Events.csv", "timestamp, annotation\n1767621600000,walk\n1767621700000,sit\n"),
        ("accepted",),
        check=_only_skipped(2),
    ),
    # --- JSON numbers beyond Python's int-conversion limit (4,300 digits)
    Case(
        "json_huge_intensity",
        "JSON numbers",
        _one(
            "episodes.json", _with_huge_numbers(json.dumps([{**_EPISODE_JSON, "intensity": _MARK}]))
        ),
        ("quarantined",),
    ),
    Case(
        "json_huge_negative_start",
        "JSON numbers",
        _one("episodes.json", _with_huge_numbers(json.dumps([{**_EPISODE_JSON, "start": -_MARK}]))),
        ("quarantined",),
    ),
    Case(
        "json_huge_fitbit_bpm",
        "JSON numbers",
        _one(
            "heart_rate-2026-01-05.json",
            _with_huge_numbers(
                json.dumps(
                    [
                        {"dateTime": "01/05/26 14:00:00", "value": {"bpm": 61, "confidence": 2}},
                        {"dateTime": "01/05/26 14:00:05", "value": {"bpm": _MARK, "confidence": 2}},
                    ]
                )
            ),
        ),
        ("quarantined",),
    ),
    # --- subject folders: an invalid name is refused, the other subjects ingested
    Case(
        "subject_folder_real_name",
        "subject folders",
        _one("rr.csv", _BEATS),
        ("accepted", "refused"),
        entries=_subject_folder("Zoë Müller"),
        check=_only_the_inbox_beats,
    ),
    Case(
        "subject_folder_shell_characters",
        "subject folders",
        _one("rr.csv", _BEATS),
        ("accepted", "refused"),
        entries=_subject_folder("$(id);x"),
        check=_only_the_inbox_beats,
    ),
    Case(
        "subject_folder_name_too_long",
        "subject folders",
        _one("rr.csv", _BEATS),
        ("accepted", "refused"),
        entries=_subject_folder("S" * 200),
        check=_only_the_inbox_beats,
    ),
    # --- confinement: nothing outside the inbox is read
    Case(
        "link_to_a_csv_outside",
        "confinement",
        _one("rr.csv", _BEATS),
        ("accepted", "refused"),
        entries=_link("S01/other.csv", lambda outside: outside / "rr.csv"),
        check=_only_the_inbox_beats,
    ),
    Case(
        "link_to_etc_passwd",
        "confinement",
        _one("rr.csv", _BEATS),
        ("accepted", "refused"),
        entries=_link("S01/passwd.csv", lambda outside: Path("/etc/passwd")),
        check=_only_the_inbox_beats,
    ),
    Case(
        "subject_folder_is_a_link",
        "confinement",
        _one("rr.csv", _BEATS),
        ("accepted", "refused"),
        entries=_link("S02", lambda outside: outside / "export"),
        check=_only_the_inbox_beats,
    ),
    Case(
        "nested_folder_is_a_link",
        "confinement",
        _one("rr.csv", _BEATS),
        ("accepted", "refused"),
        entries=_link("S01/export", lambda outside: outside / "export"),
        check=_only_the_inbox_beats,
    ),
    Case(
        "lake_inside_the_inbox",
        "confinement",
        _one("rr.csv", _BEATS),
        ("refused",),
        lake="inbox/lake",
    ),
    Case(
        "lake_inside_a_subject",
        "confinement",
        _one("rr.csv", _BEATS),
        ("refused",),
        lake="inbox/S01/lake",
    ),
    Case("inbox_inside_the_lake", "confinement", _one("rr.csv", _BEATS), ("refused",), lake="."),
    # --- FIT
    Case("fit_valid", "fit", _fit("valid"), ("accepted",)),
    Case("fit_bad_crc", "fit", _fit("crc"), ("rejected",)),
    Case("fit_truncated", "fit", _fit("truncated"), ("rejected",)),
)


# --------------------------------------------------------------------------- runner


@dataclass
class FileResult:
    name: str
    outcome: str
    report: object | None  # a FileReport's log row, a Refusal, or the refusal's message


@dataclass
class CaseResult:
    case: Case
    files: list[FileResult]
    lake: Path
    seconds: float = 0.0

    @property
    def outcome(self) -> str:
        return self.files[-1].outcome


class _LogRow:
    def __init__(self, **row: object) -> None:
        self.__dict__.update(row)

    def __repr__(self) -> str:
        return f"LogRow({self.__dict__})"


def outcome_of(report: object | None) -> str:
    """The outcome kind of one ``ingest_file`` result."""
    if report is None:
        return "skipped"
    status = report.status  # type: ignore[attr-defined]
    if status in ("rejected", "unknown_format"):
        return str(status)
    if status != "ingested":
        return f"status {status}"
    return "quarantined" if report.rows_quarantined else "accepted"  # type: ignore[attr-defined]


def run_case(case: Case, root: Path) -> CaseResult:
    """Write the case's files into ``root/inbox/S01/``, ingest them in order, maybe analyse.

    Only the documented outcomes are caught (as reports); any exception propagates.
    """
    import time

    from tearsignals import pipeline
    from tearsignals.config import AnalysisConfig
    from tearsignals.errors import InputError
    from tearsignals.ingest import files
    from tearsignals.lake import store

    started = time.monotonic()
    inbox, lake, outside = root / "inbox", root / case.lake, root / "outside"
    folder = inbox / "S01"
    folder.mkdir(parents=True)
    outside.mkdir()
    written = []
    for name, data in case.files():
        path = folder / name
        path.write_bytes(data)
        written.append(path)
    if case.entries is not None:
        case.entries(inbox, outside)
    try:
        files.check_apart(inbox, lake)
    except InputError as err:
        return CaseResult(case, [FileResult("lake", "refused", str(err))], lake)
    listed = {p for _, p in files.inbox_files(inbox)}
    reports = [files.ingest_file(lake, inbox, "S01", path) for path in written if path in listed]
    # A later file can withdraw and re-ingest an earlier one (key conflict), so the
    # outcome of a committed file is read from its final ingest-log entry.
    log = {r["file_id"]: r for r in store.read_table(lake, "_ingest_log").iter_rows(named=True)}
    results = []
    for path, report in zip([p for p in written if p in listed], reports, strict=True):
        final = None if report is None else _LogRow(**log[report.file_id])
        results.append(FileResult(path.name, outcome_of(final), final))
    results += [FileResult(r.line(), "refused", r) for r in files.inbox_refusals(inbox)]
    if case.analyze:
        pipeline.analyze_subject(lake, "S01", AnalysisConfig())
    if case.check is not None:
        case.check(lake)
    return CaseResult(case, results, lake, time.monotonic() - started)
