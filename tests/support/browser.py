"""Headless Chromium for the report tests: where each figure is laid out, and a screenshot.

The Debian ``chromium`` package is installed by ``make test`` where it can be
(root with apt-get); :func:`chromium_or_reason` says why it is missing
otherwise. Each launch gets a fresh, empty profile directory and the flags
that keep Chromium off the network (no background requests, updates, sync or
QUIC), as a closed machine needs.

Layout is measured on a copy of the page with one added script (the report
itself allows no script: its content-security policy is copied with
``script-src 'unsafe-inline'`` added); ``--dump-dom`` prints the DOM after the
script ran, with every figure's box and decoded image size in an attribute.
The screenshot is of the unchanged page, at the same width, so the boxes
apply to it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

CHROMIUM = Path("/usr/bin/chromium")
WIDTH_PX = 1280
MIN_SD = 8.0  # grey levels: a white or one-colour region is far below, a drawn figure far above
_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
)
_MEASURE = """<script>
window.addEventListener('load', () => document.body.setAttribute('data-layout', JSON.stringify({
  height: document.documentElement.scrollHeight,
  figures: [...document.querySelectorAll('figure[data-figure]')].map(f => {
    const img = f.querySelector('img'); const r = img.getBoundingClientRect();
    return {name: f.dataset.figure, x: r.left, y: r.top + window.scrollY, w: r.width, h: r.height,
            natural_w: img.naturalWidth, complete: img.complete};
  })})));
</script>"""
_LAYOUT = re.compile(r'data-layout="([^"]*)"')


@dataclass(frozen=True)
class FigureBox:
    """Where a figure's image sits on the page (CSS px) and whether it decoded."""

    name: str
    x: float
    y: float
    w: float
    h: float
    natural_w: int
    complete: bool


def chromium_or_reason() -> str | None:
    """``None`` when Chromium can run here, else why not (the skip reason)."""
    if CHROMIUM.is_file():
        return None
    return (
        f"{CHROMIUM} is missing and `make test` could not install Debian's chromium here "
        "(it needs root and apt-get)"
    )


def _run(args: list[str]) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        cmd = [str(CHROMIUM), *_FLAGS, f"--user-data-dir={profile}", *args]
        env = {**os.environ, "HOME": profile}
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env, check=True)


def figure_layout(page: Path) -> tuple[int, list[FigureBox]]:
    """The page height and every figure's box, measured on a scripted copy of ``page``."""
    text = page.read_text()
    text = text.replace(
        "style-src 'unsafe-inline'", "style-src 'unsafe-inline'; script-src 'unsafe-inline'"
    )
    with tempfile.TemporaryDirectory(prefix="report-layout-") as folder:
        copy = Path(folder) / "page.html"
        copy.write_text(text.replace("</body>", _MEASURE + "</body>"))
        dom = _run([f"--window-size={WIDTH_PX},1000", "--dump-dom", copy.as_uri()]).stdout
    found = _LAYOUT.search(dom)
    assert found, "the measuring script left no layout in the DOM"
    layout = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    return int(layout["height"]), [FigureBox(**f) for f in layout["figures"]]


def screenshot(page: Path, height_px: int, out: Path) -> np.ndarray:
    """A screenshot of ``page`` at :data:`WIDTH_PX` x ``height_px``, as an RGB array."""
    _run([f"--window-size={WIDTH_PX},{height_px}", f"--screenshot={out}", page.as_uri()])
    with Image.open(out) as image:
        return np.asarray(image.convert("RGB"), dtype=np.float64)


def region(pixels: np.ndarray, box: FigureBox) -> np.ndarray:
    """The pixels of one figure's box."""
    top, left = round(box.y), round(box.x)
    return pixels[top : top + round(box.h), left : left + round(box.w)]


def blank_figures(page: Path, screenshot_file: Path, min_sd: float = MIN_SD) -> list[str]:
    """Figures of ``page`` that did not decode or whose screenshot region is (nearly) uniform."""
    height, boxes = figure_layout(page)
    pixels = screenshot(page, height, screenshot_file)
    return [
        b.name
        for b in boxes
        if not (b.complete and b.natural_w > 0 and region(pixels, b).std() > min_sd)
    ]


def colour_share(pixels: np.ndarray, hex_colour: str, tolerance: float = 40.0) -> float:
    """Share of ``pixels`` within ``tolerance`` (RGB distance) of ``hex_colour``."""
    rgb = np.array([int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)], dtype=np.float64)
    distance = np.linalg.norm(pixels - rgb, axis=-1)
    return float((distance < tolerance).mean())
