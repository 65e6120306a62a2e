"""Apple Health beat lists: Apple's own SDNN per reading reproduced from our beats.

A realistic synthetic export (:func:`tests.support.apple_exports.realistic_readings`:
397 HRV readings over two years, a subject living in Berlin who also records
in New York, Delhi, Kathmandu and Adelaide and exports from New York in summer,
so most beat lists are written on another clock than their record's; 6 % of
the lists cross midnight, 3 % hold a stray beat, 6 % an artefact interval
Apple's SDNN left out) is written in several phone locales and read by the
adapter. A reading is *reproduced* when the SDNN (N − 1) of the beats stored
within [start − 60 s, start + 5 min) is within 15 % of Apple's value
(:func:`tests.support.apple_exports.sdnn_reproduction`).

Baseline, in the same run: the record-offset clock (each beat placed at
``startDate`` plus its clock difference to ``startDate``'s, wrapped into ±12 h,
and kept only inside the record span ± 60 s), computed here from the readings
themselves.

Run: ``PYTHONPATH=. .venv/bin/python bench/apple_beat_clock.py [--readings 397] [--seed 13]``
"""

from __future__ import annotations

import argparse
import tempfile
from collections import Counter
from datetime import timedelta
from pathlib import Path

import numpy as np

from tearsignals.ingest.adapters import apple_health
from tests.support import apple_exports as ax

LOCALES = ("en_US", "de_DE", "es_US", "en_GB")
MARGIN = timedelta(seconds=60)


def record_clock_reproduced(reading: ax.Reading) -> bool:
    """Whether the record-offset clock keeps enough of the list to reproduce Apple's SDNN."""
    span = reading.end_local - reading.start_local
    kept = []
    for i, (bpm, after) in enumerate(
        zip(ax.listed_beats(reading), reading.beat_offsets, strict=True)
    ):
        jump = 60 if reading.dst_jump_at is not None and i >= reading.dst_jump_at else 0
        shift = timedelta(
            minutes=reading.clock_offset_min + jump + (7 if i in reading.stray else 0)
        )
        placed = (after + shift + timedelta(hours=12)) % timedelta(days=1) - timedelta(hours=12)
        if -MARGIN <= placed <= span + MARGIN:
            kept.append(60_000 / bpm[0])
    if len(kept) < 2:
        return False
    ours = float(np.std(kept, ddof=1))
    return abs(ours - reading.apple_sdnn_ms) <= ax.REPRODUCED_WITHIN * reading.apple_sdnn_ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readings", type=int, default=397)
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    print(
        f"{'locale':<8}{'readings':>10}{'beats':>8}{'rejects':>9}{'ours %':>9}{'record clock %':>16}"
    )
    with tempfile.TemporaryDirectory(prefix="apple-clock-") as tmp:
        for locale in LOCALES:
            readings = ax.realistic_readings(args.readings, args.seed, locale)
            path = Path(tmp) / f"export-{locale}.xml"
            path.write_text(ax.export_xml(readings, locale), encoding="utf-8")
            parsed = apple_health.parse(path)
            vendor, beats = parsed.frames["vendor_hrv"], parsed.frames["beats"]
            ours = ax.sdnn_reproduction(vendor, beats)["reproduced"].mean()
            baseline = np.mean([record_clock_reproduced(r) for r in readings])
            print(
                f"{locale:<8}{vendor.height:>10}{beats.height:>8}{parsed.rejects.height:>9}"
                f"{100 * ours:>9.1f}{100 * baseline:>16.1f}"
            )
    shifts = Counter(r.clock_offset_min for r in readings)
    print("beat clock minus record clock (min) → readings:", dict(shifts.most_common()))


if __name__ == "__main__":
    main()
