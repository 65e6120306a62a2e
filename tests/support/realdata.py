"""The real device recordings and reference values, read in place beside the checkout.

They live in ``../shared/realdata`` (see its README) and are never copied into the
repository; a missing folder fails the golden tests, it never skips them.
"""

from __future__ import annotations

from pathlib import Path

REALDATA = Path(__file__).resolve().parents[2].parent / "shared" / "realdata"
MISSING = f"real recordings not found at {REALDATA} (../shared/realdata beside the checkout)"
