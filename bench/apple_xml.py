"""Apple Health ``export.xml``: tearsignals' adapter vs an ElementTree ``iterparse`` baseline.

A synthetic export of the chosen size is generated into a temporary folder
(default ~200 MB; ``--size-mb 1024`` for 1 GB), laid out like the Health app
writes it: the HealthKit DTD, one record per line, ``device`` attributes with
per-record object addresses, records grouped by type (as in real exports, e.g.
``apple_health_hkimport``: 11,101 records in 199 runs of one type), and a
realistic mix of types:

* ~30 % ``HeartRate`` from an Apple Watch (with a motion-context metadata entry);
  every 50th sample is also stored by the iPhone (a duplicate to drop);
* ~0.25 % ``HeartRateVariabilitySDNN`` with 60 ``InstantaneousBeatsPerMinute`` (12-hour clock);
* step counts, energy and distance from the iPhone; a workout now and then.

``--interleaved`` writes the records in time order instead, every type mixed
with every other: the adapter's worst case (no block can be skipped).

Each method runs in fresh child processes (``--repeats``, fastest kept: the
machine may be shared), so imports and allocator state do not leak between
them. A child reports its parse time (interpreter start and imports
excluded), its CPU time for the parse, its RSS right after the
imports and its peak RSS (``VmHWM`` from ``/proc/self/status``):

``read``
    raw read of the file in 4 MiB blocks, from the page cache (the ceiling);
``etree``
    ``xml.etree.ElementTree.iterparse`` collecting heart-rate ``startDate`` and
    ``value``, clearing the root after every top-level element (the usual idiom;
    ``elem.clear()`` alone leaks);
``tearsignals``
    ``apple_health.parse`` (skips blocks without heart data, fast path elsewhere);
``robust``
    ``apple_health.parse_with_stats(force_robust=True)``: every segment through
    the tolerant tokenizer.

Targets: tearsignals ≥ 3x the etree throughput, peak RSS < 300 MB at any size.
"RSS after import" shows what the imports alone hold: ``tearsignals.ingest.adapters``
imports every adapter, some of which pull in heartpy/scipy/matplotlib.

``--memory-sizes-mb 1024 4096`` measures instead how peak RSS grows with the
export: an export of each size is generated in turn (the previous one deleted)
and read by

``batches``
    ``apple_health.read_batches``, each batch counted and let go (the adapter's
    streaming contract);
``ingest``
    ``tearsignals.ingest.files.ingest_file`` into an empty lake (batches planned,
    validated and written one at a time, as ``tearsignals ingest`` does);

and the table gives each peak RSS against the smallest size's (the baseline
of the same run; target: within 10 %).

Run: ``.venv/bin/python bench/apple_xml.py [--size-mb 200] [--interleaved] [--zip] [--keep DIR]``
or ``.venv/bin/python bench/apple_xml.py --memory-sizes-mb 1024 4096 --repeats 1``
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from datetime import datetime, timedelta
from pathlib import Path

HEADER = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE HealthData [
<!-- HealthKit Export Version: 11 -->
<!ELEMENT HealthData (ExportDate,Me,(Record|Correlation|Workout|ActivitySummary)*)>
<!ATTLIST HealthData
  locale CDATA #REQUIRED
>
<!ELEMENT Record ((MetadataEntry|HeartRateVariabilityMetadataList)*)>
<!ATTLIST Record
  type          CDATA #REQUIRED
  unit          CDATA #IMPLIED
  value         CDATA #IMPLIED
  sourceName    CDATA #REQUIRED
  sourceVersion CDATA #IMPLIED
  device        CDATA #IMPLIED
  creationDate  CDATA #IMPLIED
  startDate     CDATA #REQUIRED
  endDate       CDATA #REQUIRED
>
]>
<HealthData locale="en_US">
 <ExportDate value="2024-11-07 10:05:13 +0100"/>
 <Me HKCharacteristicTypeIdentifierDateOfBirth="1990-05-20" HKCharacteristicTypeIdentifierBiologicalSex="HKBiologicalSexFemale"/>
"""
WATCH = "Anna’s Apple Watch"
PHONE = "Anna’s iPhone"
HR_SHARE = 0.30
HRV_SHARE = 0.0025
WORKOUT_SHARE = 0.0005
DUPLICATE_EVERY = 50
BLOCK = 4 * 2**20


def _device(model: str, hardware: str, rng: random.Random) -> str:
    address = f"0x{rng.getrandbits(36):09x}"
    return (
        f'device="&lt;&lt;HKDevice: {address}&gt;, name:{model}, manufacturer:Apple Inc., '
        f'model:{model}, hardware:{hardware}, software:17.2&gt;"'
    )


def _date(t: datetime) -> str:
    return t.strftime("%Y-%m-%d %H:%M:%S +0100")


def _heart_rate(t: datetime, source: str, device: str, bpm: int) -> str:
    stamp = _date(t)
    return (
        f' <Record type="HKQuantityTypeIdentifierHeartRate" sourceName="{source}" '
        f'sourceVersion="10.2" {device} unit="count/min" creationDate="{stamp}" '
        f'startDate="{stamp}" endDate="{stamp}" value="{bpm}">\n'
        '  <MetadataEntry key="HKMetadataKeyHeartRateMotionContext" value="0"/>\n'
        " </Record>\n"
    )


def _clock_12h(t: datetime) -> str:
    hour = t.hour % 12 or 12
    return f"{hour}:{t:%M:%S}.{t.microsecond // 10_000:02d} {'AM' if t.hour < 12 else 'PM'}"


def _sdnn(t: datetime, device: str, rng: random.Random) -> str:
    beats, beat = [], t + timedelta(seconds=0.5)
    for _ in range(60):
        bpm = rng.randint(55, 75)
        beats.append(f'   <InstantaneousBeatsPerMinute bpm="{bpm}" time="{_clock_12h(beat)}"/>\n')
        beat += timedelta(seconds=60 / bpm)
    return (
        f' <Record type="HKQuantityTypeIdentifierHeartRateVariabilitySDNN" sourceName="{WATCH}" '
        f'sourceVersion="10.2" {device} unit="ms" creationDate="{_date(beat)}" '
        f'startDate="{_date(t)}" endDate="{_date(beat)}" value="{rng.uniform(20, 90):.4f}">\n'
        "  <HeartRateVariabilityMetadataList>\n"
        + "".join(beats)
        + "  </HeartRateVariabilityMetadataList>\n </Record>\n"
    )


def _other(t: datetime, device: str, rng: random.Random) -> str:
    kind, unit = rng.choice(
        [("StepCount", "count"), ("ActiveEnergyBurned", "kcal"), ("BasalEnergyBurned", "kcal"),
         ("DistanceWalkingRunning", "km")]
    )  # fmt: skip
    return (
        f' <Record type="HKQuantityTypeIdentifier{kind}" sourceName="{PHONE}" sourceVersion="17.2" '
        f'{device} unit="{unit}" creationDate="{_date(t)}" startDate="{_date(t)}" '
        f'endDate="{_date(t + timedelta(minutes=1))}" value="{rng.randint(1, 100)}"/>\n'
    )


def _workout(t: datetime) -> str:
    end = t + timedelta(minutes=30)
    return (
        f' <Workout workoutActivityType="HKWorkoutActivityTypeWalking" duration="30" '
        f'durationUnit="min" sourceName="{WATCH}" sourceVersion="10.2" '
        f'creationDate="{_date(end)}" startDate="{_date(t)}" endDate="{_date(end)}">\n'
        f'  <WorkoutEvent type="HKWorkoutEventTypePause" date="{_date(t)}"/>\n'
        " </Workout>\n"
    )


def _record(t: datetime, rng: random.Random, counts: dict[str, int]) -> tuple[str, str]:
    """``(group, text)``: one record (a heart rate sometimes with its iPhone copy) at ``t``."""
    pick = rng.random()
    if pick < HR_SHARE:
        bpm = rng.randint(50, 120)
        text = _heart_rate(t, WATCH, _device("Watch", "Watch6,7", rng), bpm)
        counts["hr_unique"] += 1
        counts["hr_records"] += 1
        if counts["hr_unique"] % DUPLICATE_EVERY == 0:
            counts["hr_records"] += 1
            text += _heart_rate(t, PHONE, _device("iPhone", "iPhone14,2", rng), bpm)
        return "HeartRate", text
    if pick < HR_SHARE + HRV_SHARE:
        counts["sdnn"] += 1
        counts["beats"] += 60
        return "HeartRateVariabilitySDNN", _sdnn(t, _device("Watch", "Watch6,7", rng), rng)
    if pick < HR_SHARE + HRV_SHARE + WORKOUT_SHARE:
        return "Workout", _workout(t)
    text = _other(t, _device("iPhone", "iPhone14,2", rng), rng)
    return text.split("Identifier", 1)[1].split('"', 1)[0], text


GROUP_ORDER = (
    "StepCount",
    "DistanceWalkingRunning",
    "BasalEnergyBurned",
    "ActiveEnergyBurned",
    "HeartRate",
    "HeartRateVariabilitySDNN",
    "Workout",
)


def generate_export(
    path: Path, size_mb: float, *, interleaved: bool = False, seed: int = 7
) -> dict[str, int]:
    """Write a synthetic export of about ``size_mb`` MB; return what it holds.

    Records are drawn in time order; unless ``interleaved``, each type goes to
    its own part file first and the parts are joined type by type, as Apple does.
    """
    rng = random.Random(seed)
    counts = {"hr_records": 0, "hr_unique": 0, "sdnn": 0, "beats": 0}
    target, written, t = int(size_mb * 1e6), 0, datetime(2020, 1, 1)
    parts = {g: path.with_name(f"{path.name}.{g}.part") for g in GROUP_ORDER}
    handles = {g: p.open("w", encoding="utf-8") for g, p in parts.items()}
    with path.open("w", encoding="utf-8") as out:
        out.write(HEADER)
        while written < target:
            for _ in range(2000):
                t += timedelta(seconds=rng.randint(20, 120))
                group, text = _record(t, rng, counts)
                (out if interleaved else handles[group]).write(text)
                written += len(text.encode())
        for group in GROUP_ORDER:
            handles[group].close()
            with parts[group].open(encoding="utf-8") as part:
                while chunk := part.read(BLOCK):
                    out.write(chunk)
            parts[group].unlink()
        out.write(' <ActivitySummary dateComponents="2024-01-01"/>\n</HealthData>\n')
    return counts


# --- the measured methods (run in a child process) ---------------------------------------


def _read(path: Path) -> int:
    with path.open("rb") as handle:
        while handle.read(BLOCK):
            pass
    return 0


def _etree(path: Path) -> int:
    import xml.etree.ElementTree as ET

    found, depth, root = [], 0, None
    for event, elem in ET.iterparse(path, events=("start", "end")):
        if event == "start":
            root = elem if root is None else root
            depth += 1
            continue
        depth -= 1
        if elem.tag == "Record" and elem.get("type") == "HKQuantityTypeIdentifierHeartRate":
            found.append((elem.get("startDate"), elem.get("value")))
        if depth == 1 and root is not None:
            root.clear()
    return len(found)


def _tearsignals(path: Path, *, robust: bool = False) -> int:
    from tearsignals.ingest.adapters import apple_health

    parsed, _ = apple_health.parse_with_stats(path, force_robust=robust)
    return parsed.frames["heart_rate"].height


def _batches(path: Path) -> int:
    from tearsignals.ingest.adapters import apple_health

    return sum(b.frames["heart_rate"].height for b in apple_health.read_batches(path))


def _ingest(path: Path) -> int:
    """Ingest ``path`` (``<folder>/inbox/S01/export.xml``) into ``<folder>/lake``; rows_ok."""
    from tearsignals.ingest import files

    inbox = path.parent.parent
    report = files.ingest_file(inbox.parent / "lake", inbox, path.parent.name, path)
    if report is None or report.status != "ingested":
        raise SystemExit(f"ingest: {report}")
    return report.rows_ok


def _status_mb(field: str) -> float:
    """A memory field of ``/proc/self/status`` in MB (``VmRSS`` now, ``VmHWM`` peak)."""
    with Path("/proc/self/status").open() as status:
        for line in status:
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def run_child(method: str, path: Path) -> None:
    """Measure one method in this (child) process; print a JSON line.

    Peak RSS is this process's ``VmHWM``, which starts afresh at ``exec`` (the
    parent's ``ru_maxrss`` of a child may include pages from before the exec).
    """
    # imports are not timed
    if method in ("tearsignals", "robust", "tearsignals-zip", "batches"):
        import tearsignals.ingest.adapters.apple_health
    if method == "ingest":
        import tearsignals.ingest.files  # noqa: F401
    run = {
        "batches": _batches,
        "ingest": _ingest,
        "read": _read,
        "etree": _etree,
        "tearsignals": _tearsignals,
        "tearsignals-zip": _tearsignals,
        "robust": lambda p: _tearsignals(p, robust=True),
    }[method]
    after_import = _status_mb("VmRSS")
    start, cpu_start = time.perf_counter(), time.process_time()
    rows = run(path)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    result = {"seconds": seconds, "cpu_s": cpu, "rows": rows, "rss_after_import_mb": after_import}
    print(json.dumps({**result, "peak_rss_mb": _status_mb("VmHWM")}))


def measured_once(method: str, path: Path) -> dict[str, float]:
    """Run a method in a fresh child and read its JSON line."""
    child = subprocess.run(
        [sys.executable, __file__, "--run", method, str(path)],
        stdout=subprocess.PIPE,
        text=True,
        check=False,
    )
    if child.returncode != 0:
        raise SystemExit(f"{method} failed with exit code {child.returncode}")
    result: dict[str, float] = json.loads(child.stdout.strip().splitlines()[-1])
    return result


def measured(method: str, path: Path, repeats: int) -> dict[str, float]:
    """Fastest run and least CPU of ``repeats`` (the machine may be shared), largest peak RSS."""
    runs = [measured_once(method, path) for _ in range(repeats)]
    best = min(runs, key=lambda r: r["seconds"])
    fewest_cpu = min(r["cpu_s"] for r in runs)
    return {**best, "cpu_s": fewest_cpu, "peak_rss_mb": max(r["peak_rss_mb"] for r in runs)}


def _table(results: dict[str, dict[str, float]], size_mb: float) -> str:
    head = ("method", "seconds", "MB/s", "CPU s", "peak RSS MB", "RSS after import", "HR rows")
    lines = ["{:<16}{:>9}{:>9}{:>8}{:>13}{:>18}{:>10}".format(*head)]
    for method, r in results.items():
        lines.append(
            f"{method:<16}{r['seconds']:>9.2f}{size_mb / r['seconds']:>9.1f}{r['cpu_s']:>8.2f}"
            f"{r['peak_rss_mb']:>13.0f}{r['rss_after_import_mb']:>18.0f}{r['rows']:>10.0f}"
        )
    return "\n".join(lines)


def _summary(results: dict[str, dict[str, float]]) -> str:
    wall = results["etree"]["seconds"] / results["tearsignals"]["seconds"]
    cpu = results["etree"]["cpu_s"] / results["tearsignals"]["cpu_s"]
    peak = max(r["peak_rss_mb"] for m, r in results.items() if m.startswith("tearsignals"))
    return (
        f"tearsignals vs etree: {wall:.1f}x wall, {cpu:.1f}x CPU (target >= 3x); "
        f"peak RSS {peak:.0f} MB (target < 300)\n"
        "seconds: fastest run, parse only (interpreter start and imports excluded); "
        "CPU s: least process CPU of the runs"
    )


def _memory_table(results: dict[tuple[float, str], dict[str, float]]) -> str:
    """Peak RSS per size and method, against the smallest size's peak of the same method."""
    head = ("size MB", "method", "seconds", "rows", "peak RSS MB", "vs smallest")
    lines = ["{:>9}  {:<9}{:>9}{:>12}{:>13}{:>13}".format(*head)]
    smallest = min(size for size, _ in results)
    for (size, method), r in results.items():
        ratio = r["peak_rss_mb"] / results[(smallest, method)]["peak_rss_mb"]
        lines.append(
            f"{size:>9.0f}  {method:<9}{r['seconds']:>9.1f}{r['rows']:>12,.0f}"
            f"{r['peak_rss_mb']:>13.0f}{ratio - 1:>+12.1%}"
        )
    return "\n".join(lines)


def memory_scaling(folder: Path, sizes_mb: list[float], repeats: int) -> None:
    """Peak RSS of streaming and ingesting exports of each size (see the module docstring)."""
    path = folder / "inbox" / "S01" / "export.xml"
    path.parent.mkdir(parents=True, exist_ok=True)
    results: dict[tuple[float, str], dict[str, float]] = {}
    for size in sizes_mb:
        start = time.perf_counter()
        counts = generate_export(path, size)
        real_mb = path.stat().st_size / 1e6
        print(f"generated {real_mb:.0f} MB in {time.perf_counter() - start:.0f} s: {counts}")
        for method in ("batches", "ingest"):
            if method == "ingest":
                runs = []
                for _ in range(repeats):
                    shutil.rmtree(folder / "lake", ignore_errors=True)
                    runs.append(measured_once(method, path))
                result = {**min(runs, key=lambda r: r["seconds"])}
                result["peak_rss_mb"] = max(r["peak_rss_mb"] for r in runs)
            else:
                result = measured(method, path, repeats)
            expected = counts["hr_unique"] if method == "batches" else None
            if expected is not None and result["rows"] != expected:
                raise SystemExit(f"{method}: {result['rows']} heart-rate rows, not {expected}")
            results[(real_mb, method)] = result
        shutil.rmtree(folder / "lake", ignore_errors=True)
        path.unlink()
    print(_memory_table(results))
    print(
        "peak RSS: VmHWM of a fresh child process (imports included); "
        "vs smallest: against the smallest export of this run (target: within +10 %)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=float, default=200.0)
    parser.add_argument("--zip", action="store_true", help="also time the adapter on export.zip")
    parser.add_argument("--interleaved", action="store_true", help="all types mixed (worst case)")
    parser.add_argument("--keep", type=Path, help="generate into this folder and keep the files")
    parser.add_argument("--repeats", type=int, default=3, help="runs per method (fastest kept)")
    parser.add_argument(
        "--memory-sizes-mb", type=float, nargs="+", help="peak RSS per export size instead"
    )
    parser.add_argument("--run", nargs=2, metavar=("METHOD", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        run_child(args.run[0], Path(args.run[1]))
        return
    with tempfile.TemporaryDirectory(prefix="apple-bench-") as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        if args.memory_sizes_mb:
            memory_scaling(folder, sorted(args.memory_sizes_mb), args.repeats)
            return
        path = folder / "export.xml"
        start = time.perf_counter()
        counts = generate_export(path, args.size_mb, interleaved=args.interleaved)
        size_mb = path.stat().st_size / 1e6
        layout = "interleaved" if args.interleaved else "grouped by type"
        print(
            f"generated {size_mb:.0f} MB ({layout}) in {time.perf_counter() - start:.0f} s: {counts}"
        )
        methods = {m: path for m in ("read", "etree", "tearsignals", "robust")}
        if args.zip:
            archive = folder / "export.zip"
            with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
                zf.write(path, "apple_health_export/export.xml")
            methods["tearsignals-zip"] = archive
        results = {m: measured(m, p, args.repeats) for m, p in methods.items()}
        print(_table(results, size_mb))
        print(_summary(results))
        expected = {"etree": counts["hr_records"], "tearsignals": counts["hr_unique"]}
        for method, rows in expected.items():
            if results[method]["rows"] != rows:
                raise SystemExit(f"{method}: {results[method]['rows']} heart-rate rows, not {rows}")


if __name__ == "__main__":
    main()
