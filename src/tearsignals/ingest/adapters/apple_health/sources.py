"""Names and sources: record ``sourceName``/``device`` attributes → device labels and priority.

A record's source is the pair (``sourceName``, ``device``). :class:`Sources`
gives each pair of a file an integer id once, with the ``device`` label written
to the tables and the rank used by de-duplication (:func:`source_rank`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import polars as pl

_DEVICE_ADDRESS = re.compile(rb"^(?:&lt;|<){2}HKDevice: 0x[0-9A-Fa-f]+(?:&gt;|>), ")
_ENTITY = re.compile(r"&(lt|gt|amp|quot|apos|#[0-9]{1,7}|#x[0-9a-fA-F]{1,6});")
_PREDEFINED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"', "apos": "'"}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def xml_unescape(text: str) -> str:
    """Resolve the five predefined XML entities and character references; leave others as text.

    No other entity is expanded (no DTD is read), so ``&lol;`` stays ``&lol;``.

    >>> xml_unescape("Anna&apos;s &lt;Watch&gt; &#x2019; &lol;")
    "Anna's <Watch> ’ &lol;"
    """

    def resolved(match: re.Match[str]) -> str:
        name = match.group(1)
        if not name.startswith("#"):
            return _PREDEFINED[name]
        code = int(name[2:], 16) if name[1] in "xX" else int(name[1:])
        return chr(code) if 0 < code <= 0x10FFFF else match.group(0)

    return _ENTITY.sub(resolved, text)


def _device_field(device: str, name: str) -> str | None:
    """The ``name:value`` field of an HKDevice description (``None`` if absent)."""
    found = re.search(rf"\b{name}:(.*?)(?:, [A-Za-z]+:|>|$)", device)
    return found.group(1).strip() if found and found.group(1).strip() else None


def device_label(source_name: str | None, device: str | None) -> str | None:
    """``sourceName`` plus the hardware model named by the ``device`` attribute, if any.

    >>> watch = "<<HKDevice: 0x1>, name:Apple Watch, model:Watch, hardware:Watch6,7, software:10.2>"
    >>> device_label("Anna's Apple Watch", watch), device_label("Connect", None)
    ("Anna's Apple Watch (Watch6,7)", 'Connect')
    """
    name = _CONTROL.sub("", source_name or "").strip()
    hardware = _device_field(device, "hardware") if device else None
    if hardware:
        hardware = _CONTROL.sub("", hardware)
        return f"{name} ({hardware})" if name else hardware
    return name or None


def source_rank(source_name: str | None, device: str | None) -> int:
    """Priority of a record's source for de-duplication: 0 Apple Watch, 1 other, 2 iPhone.

    The ``device`` attribute's model/hardware decides; without it, the source name.

    >>> source_rank("Anna's Apple Watch", None), source_rank("Polar Flow", None)
    (0, 1)
    >>> source_rank("Health", "<<HKDevice: 0x2>, name:iPhone, model:iPhone, hardware:iPhone12,1>")
    2
    """
    described = " ".join(
        filter(None, [_device_field(device, "model"), _device_field(device, "hardware")])
        if device
        else []
    ).lower()
    text = described or (source_name or "").lower()
    if "watch" in text:
        return 0
    if "iphone" in text:
        return 2
    return 1


def device_key(device: bytes | None) -> bytes | None:
    """The ``device`` attribute without Apple's per-record object address (one device, one key).

    >>> device_key(b"&lt;&lt;HKDevice: 0x283e2d4a0&gt;, name:Apple Watch, hardware:Watch6,7&gt;")
    b'name:Apple Watch, hardware:Watch6,7&gt;'
    """
    return _DEVICE_ADDRESS.sub(b"", device) if device else None


class Sources:
    """Integer ids for the (sourceName, device) pairs of a file, with label and rank each.

    Keys are the raw attribute bytes, the device without its object address
    (:func:`device_key`); texts are decoded and unescaped once per pair.
    """

    def __init__(self) -> None:
        self._ids: dict[tuple[bytes | None, bytes | None], int] = {}
        self.labels: list[str | None] = []
        self.ranks: list[int] = []

    def _added(self, key: tuple[bytes | None, bytes | None]) -> int:
        normal = (key[0] or None, key[1] or None)  # b"" (fast path) and None: both absent
        if normal not in self._ids:
            name, device = (
                xml_unescape(v.decode("utf-8", "replace")) if v else None for v in normal
            )
            self._ids[normal] = len(self.labels)
            self.labels.append(device_label(name, device))
            self.ranks.append(source_rank(name, device))
        self._ids[key] = self._ids[normal]
        return self._ids[key]

    def ids(self, names: Sequence[bytes | None], devices: Sequence[bytes | None]) -> pl.Series:
        """``source_id`` of each (name, device key) pair, registering new pairs.

        Lookups run in C (``map``); the Python loop only runs for unseen pairs.
        """
        found = list(map(self._ids.get, zip(names, devices, strict=True)))
        if None in found:
            for index, key in enumerate(zip(names, devices, strict=True)):
                if found[index] is None:
                    found[index] = self._ids.get(key)
                    found[index] = self._added(key) if found[index] is None else found[index]
        return pl.Series("source_id", found, dtype=pl.Int64)

    def frame(self) -> pl.DataFrame:
        """``source_id``, ``device`` (label) and ``rank`` of every pair seen."""
        return pl.DataFrame(
            {"source_id": range(len(self.labels)), "device": self.labels, "rank": self.ranks},
            schema={"source_id": pl.Int64, "device": pl.String, "rank": pl.Int64},
        )
