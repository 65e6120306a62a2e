"""Apple Health exports: heart rate, instantaneous-bpm beats and Apple's own SDNN.

Input
-----
The Health app's ``export.zip`` (holding ``apple_health_export/export.xml``),
a bare ``export.xml``, or the XML inside an unpacked ``apple_health_export/``
folder. Detection is by content: a zip signature plus an
``apple_health_export/`` member name (the XML inside is then chosen by its
content: the one member whose head holds ``<HealthData``), or an XML head
holding ``<HealthData`` or the ``HealthKit Export`` DTD comment. Zips are
read through :mod:`tearsignals.ingest.adapters.archive` (streamed, never extracted).

What is read (every other record type is skipped)
-------------------------------------------------
``HKQuantityTypeIdentifierHeartRate`` → ``heart_rate``
    ``hr_bpm`` from ``value``; the unit must be ``count/min``, ``count/s``
    is converted × 60 (declared in :data:`.records.HR_UNITS`), anything else is a
    reject naming the unit.
``HKQuantityTypeIdentifierHeartRateVariabilitySDNN`` → ``vendor_hrv`` and ``beats``
    Apple's SDNN (unit ``ms``) becomes a ``vendor_hrv`` row (``n_beats`` = the
    number of listed beats, null without a list). Each
    ``<InstantaneousBeatsPerMinute bpm=".." time=".."/>`` of the record becomes
    a ``beats`` row with ``origin = "ibpm"`` and ``rr_ms = 60000 / bpm``.
``HKDataTypeIdentifierHeartbeatSeries`` → ``beats``
    Read the same way wherever such a record lists beats.

``source`` is ``apple_health``; ``device`` is the record's ``sourceName``
(XML entities resolved, control characters dropped) plus the hardware model
from its ``device`` attribute when present, e.g. ``Anna's Apple Watch (Watch6,7)``.

Time basis
----------
* ``startDate``/``endDate`` are local wall times with a per-record UTC offset
  (``2017-10-01 08:12:00 +0200``); they are converted to UTC with that offset.
  ``heart_rate.t_utc`` and ``vendor_hrv.t_utc`` are the record's ``startDate``.
* A beat's ``time`` has no date and no offset: it is a wall clock written in
  the exporting phone's locale, 12-hour (``8:12:03.51 PM``, ``p.m.``, any
  case, narrow no-break spaces) or 24-hour (``20:12:03.51``), with ``.`` or
  ``,`` before the fraction, and in the phone's zone at export, which can
  differ from the record's offset by whole hours or :30/:45 (daylight saving,
  travel, an export made elsewhere). Each list is anchored to its record's
  span (``startDate`` .. ``endDate``, ±60 s; 5 min when ``endDate`` is
  unusable) by the 15-min multiple shift that places most of its beats inside
  (ties: the smallest); a list crossing midnight continues on the next day;
  beats the shift leaves outside are tried at the shift ± 1 h (a DST switch
  inside the list); the rest, and a beat not after the record's previous
  beat, are rejects. The shift and the residual are kept in
  ``vendor_hrv.beat_clock_offset_min`` / ``beat_clock_residual_s`` (see
  :mod:`.beats`).

Duplicates and source priority
------------------------------
Watch, iPhone and third-party apps often store the same samples. Of several
accepted rows of one table at the same ``t_utc``, the row of the best-ranked
source is kept and the others are counted in ``Parsed.duplicates``
(:func:`.sources.source_rank`): Apple Watch (measures HR and HRV itself) > any other
device or app (e.g. a chest strap through its app) > iPhone (which holds
copies and manual entries). Ties keep the first record in the file.

Row numbers
-----------
``heart_rate`` and ``vendor_hrv``: position of the record among the file's
records of that type. ``beats``: position of the beat in the file's beats
ordered by time (Apple does not sort records by time, beat time order is what
the beats table is checked against), unplaceable beats last. Numbers are the
same whatever the batch size.

Streaming, bounded memory, cross-check
--------------------------------------
The XML is read in blocks (:data:`.segments.BLOCK_BYTES`) and cut just before a
top-level element, so a segment never splits a record. A segment in which no
known type name occurs is skipped after two byte counts (Apple groups records
by type, so most segments are). Otherwise it takes the fast path when byte counts of the
type names prove that a fixed-layout regex found every heart-rate record and
literal searches every HRV record start (:mod:`.scan`; HRV records are
then parsed one by one). Otherwise the segment goes through the robust path, a
tolerant tag tokenizer (any attribute order, quoting or line breaks) applied to
every record whose start tag names a type read here. Rows are converted to
typed columns in batches of :data:`.collect.BATCH_ROWS` and spilled, by calendar
month, to a private folder (:mod:`.spill`; in ingest, inside the lake's scratch
folder); once the file is read, the months come back in time order as the
adapter's batches (:func:`read_batches`, about :data:`.frames.ROWS_PER_BATCH`
rows each, the rejects last), so memory holds a few blocks, one conversion
batch and one output batch, whatever the export's size (``bench/apple_xml.py``
measures 1 GB against 4 GB). :func:`parse_with_stats` reports which path each
segment took.

Known defects tolerated: stray control characters, a broken or missing DTD,
invalid UTF-8 in names (replaced), a truncated file (records parsed so far
are kept; the cut record of a known type is a reject ``truncated record``).

XML safety: no XML parser is used at all, so no DTD is read, no entity is
expanded and no external resource is fetched; only the five predefined
entities and character references are resolved in names. A billion-laughs
or external-entity file is just text. Comments, CDATA sections and processing
instructions in the body are removed before either path scans it
(:class:`.segments.MarkupFilter`): a record written inside one is not data.

Modules, in the order the data passes through them
--------------------------------------------------
``export`` (detection, the XML as a stream, file checks) → ``segments`` (blocks
cut before an element) → ``scan`` (the raw records of one segment) → ``rows``
(Binary frames per segment) → ``collect`` (batches) → ``quantities`` and
``beats`` (typed rows; ``beats`` holds the beat-list clock) → ``frames`` (row
numbers, source priority, table columns). ``records`` names the types read,
``sources`` the devices, ``typed`` the columns of typed rows.

Examples
--------
>>> import tempfile
>>> path = Path(tempfile.mkdtemp()) / "export.xml"
>>> _ = path.write_text(
...     '<HealthData locale="en_US">\\n <Record type="HKQuantityTypeIdentifierHeartRate" '
...     'sourceName="Watch" unit="count/min" startDate="2017-10-01 08:12:00 +0200" '
...     'endDate="2017-10-01 08:12:00 +0200" value="61"/>\\n</HealthData>\\n'
... )
>>> ADAPTER.sniff(path.read_bytes(), path)
True
>>> parse(path).frames["heart_rate"].select("t_utc", "hr_bpm").row(0)
(datetime.datetime(2017, 10, 1, 6, 12, tzinfo=zoneinfo.ZoneInfo(key='UTC')), 61.0)
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

from tearsignals.ingest.adapters.apple_health import frames
from tearsignals.ingest.adapters.apple_health.collect import Collected, ScanStats
from tearsignals.ingest.adapters.apple_health.export import export_stream, sniff
from tearsignals.ingest.adapters.apple_health.records import (
    HEART_RATE,
    HEARTBEAT_SERIES,
    NAME,
    SDNN,
)
from tearsignals.ingest.adapters.apple_health.scan import scanned
from tearsignals.ingest.adapters.apple_health.segments import BLOCK_BYTES, body_segments
from tearsignals.ingest.adapters.apple_health.spill import Spill
from tearsignals.ingest.adapters.base import NO_CONTEXT, Adapter, Context, Parsed, whole

__all__ = [
    "ADAPTER",
    "HEARTBEAT_SERIES",
    "HEART_RATE",
    "NAME",
    "SDNN",
    "ScanStats",
    "parse",
    "parse_with_stats",
    "read_batches",
    "sniff",
]


def read_batches(
    path: Path,
    context: Context = NO_CONTEXT,
    *,
    block_bytes: int = BLOCK_BYTES,
    force_robust: bool = False,
    rows_per_batch: int | None = None,
    stats: ScanStats | None = None,
) -> Iterator[Parsed]:
    """Read an export as batches of about ``rows_per_batch`` rows in time order, rejects last.

    ``rows_per_batch`` defaults to :data:`.frames.ROWS_PER_BATCH`.

    The whole file is read (and its typed rows spilled by month to a private
    folder in ``context.scratch``, removed when done) before the first batch,
    so a file-level problem raises before any batch. ``block_bytes`` sets the
    read size (memory per segment); ``force_robust`` sends every segment
    through the tolerant tokenizer (for cross-checks); ``stats``, if given,
    is filled with how the file was read. Every time in an export carries its
    offset: ``context.zones`` plays no part.

    Raises
    ------
    InputError
        Unreadable, empty, UTF-16 or non-UTF-8 file, no ``<HealthData>``
        element, an unsafe or unusable zip archive (see
        :mod:`tearsignals.ingest.adapters.archive`), no export XML in the zip.
    """
    with tempfile.TemporaryDirectory(prefix=".apple-health-", dir=context.scratch) as folder:
        collected = Collected(Spill(Path(folder)), stats if stats is not None else ScanStats())
        with export_stream(path) as stream:
            for segment, last in body_segments(path, stream, block_bytes):
                collected.add(scanned(segment, last, force_robust), len(segment))
        collected.flush()
        yield from frames.batches(collected, rows_per_batch or frames.ROWS_PER_BATCH)


def parse_with_stats(
    path: Path, *, block_bytes: int = BLOCK_BYTES, force_robust: bool = False
) -> tuple[Parsed, ScanStats]:
    """Read an export like :func:`parse`, and say how (fast/robust segments, counts)."""
    stats = ScanStats()
    batched = read_batches(path, block_bytes=block_bytes, force_robust=force_robust, stats=stats)
    return whole(batched), stats


def parse(path: Path, context: Context = NO_CONTEXT) -> Parsed:
    """The whole export as one :class:`Parsed` (:func:`read_batches` joined; InputError likewise)."""
    return whole(read_batches(path, context))


ADAPTER = Adapter(name=NAME, sniff=sniff, parse=parse, batches=read_batches)
