"""Run the bad-input corpus and print the Markdown table for ``docs/reliability.md``.

Usage: ``PYTHONPATH=. .venv/bin/python tests/corpus/report.py`` (from the repository root,
which holds the ``tests.support`` package), or ``make corpus-report``.
Not a test: it runs each case once in a temporary folder and reports what it saw,
including cases whose observed outcome differs from the expected one.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections import Counter
from pathlib import Path

from tearsignals.lake import store
from tests.support import corpus


def main() -> int:
    silver = ("beats", "heart_rate", "episodes", "vendor_hrv")
    lines = [
        "| case | class | expected | observed | rows in | ok | quarantined | duplicate | skipped |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    by_kind: Counter[str] = Counter()
    totals = Counter()
    lost = 0
    mismatches = []
    for case in corpus.CASES:
        with tempfile.TemporaryDirectory() as tmp:
            note = ""
            try:
                result = corpus.run_case(case, Path(tmp))
            except AssertionError:  # the case's own check failed: report what ingest did
                note = ", check failed"
                plain = dataclasses.replace(case, check=None)
                result = corpus.run_case(plain, Path(tmp) / "again")
            log = store.read_table(result.lake, "_ingest_log")
            rows = tuple(
                int(log[c].sum())
                for c in (
                    "rows_in",
                    "rows_ok",
                    "rows_quarantined",
                    "rows_duplicate",
                    "rows_skipped",
                )
            )
            stored = sum(store.scan_committed(result.lake, t).collect().height for t in silver)
            lost += (rows[0] - rows[1] - rows[2] - rows[3] - rows[4]) + (rows[1] - stored)
            observed = " → ".join(f.outcome for f in result.files)
        expected = " → ".join(case.expect)
        if observed != expected:
            mismatches.append(case.name)
        by_kind[observed.split(" → ")[-1]] += 1
        totals.update(dict(zip(("in", "ok", "q", "dup", "skip"), rows, strict=True)))
        mark = f" (known bug, xfail{note})" if case.known_bug else note
        lines.append(
            f"| `{case.name}` | {case.klass} | {expected} | {observed}{mark} | "
            + " | ".join(f"{v:,}" for v in rows)
            + " |"
        )
    lines.append(
        f"| **{len(corpus.CASES)} cases** | | | | **{totals['in']:,}** | **{totals['ok']:,}** | "
        f"**{totals['q']:,}** | **{totals['dup']:,}** | **{totals['skip']:,}** |"
    )
    print("\n".join(lines))
    print()
    print(f"cases: {len(corpus.CASES)}")
    print("outcomes by kind: " + ", ".join(f"{k} {n}" for k, n in sorted(by_kind.items())))
    print(f"rows lost: {lost}")
    print(f"observed != expected: {', '.join(mismatches) or 'none'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
