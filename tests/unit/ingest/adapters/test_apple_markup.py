"""XML that is not data never becomes data: comments, CDATA, processing instructions, the DTD.

Each export holds two genuine heart-rate records (61 and 62 bpm) and planted
records of 199 bpm and an SDNN reading inside non-data markup; both scanning
paths (fixed-layout and tolerant) and every block size must find exactly the
genuine ones.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tearsignals.ingest.adapters import apple_health
from tearsignals.ingest.adapters.apple_health.segments import MarkupFilter


def _hr(minute: int, value: int) -> str:
    return (
        '<Record type="HKQuantityTypeIdentifierHeartRate" sourceName="Watch" unit="count/min" '
        f'startDate="2026-01-05 15:{minute:02d}:00 +0100" '
        f'endDate="2026-01-05 15:{minute:02d}:00 +0100" value="{value}"/>'
    )


PLANTED = _hr(30, 199)
PLANTED_SDNN = (
    '<Record type="HKQuantityTypeIdentifierHeartRateVariabilitySDNN" sourceName="Watch" '
    'unit="ms" startDate="2026-01-05 15:40:00 +0100" endDate="2026-01-05 15:41:00 +0100" '
    'value="55"/>'
)
HIDDEN = {
    "comment": f"<!-- {PLANTED} -->",
    "multi_line_comment": f"<!--\n old reading:\n {PLANTED}\n {PLANTED_SDNN}\n-->",
    "cdata": f"<![CDATA[{PLANTED}]]>",
    "multi_line_cdata": f"<![CDATA[\n{PLANTED}\n{PLANTED_SDNN}\n]]>",
    "processing_instruction": f"<?note {PLANTED} ?>",
    "comment_holding_cdata_opener": f"<!-- <![CDATA[ {PLANTED} -->",
    "two_comments": f"<!-- a --><!--x--><!-- {PLANTED} -->",
}
DTD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE HealthData [\n'
    f'<!ENTITY planted "{PLANTED.replace(chr(34), "&#34;")}">\n'
    f"<!-- {PLANTED} -->\n]>\n"
)


def _export(hidden: str) -> str:
    return (
        DTD + '<HealthData locale="en_US">\n ' + _hr(0, 61) + "\n " + hidden + "\n "
        + _hr(1, 62) + "\n</HealthData>\n"
    )  # fmt: skip


@pytest.mark.parametrize("force_robust", [False, True], ids=["fast", "tolerant"])
@pytest.mark.parametrize("block_bytes", [7, 64, 301, 1 << 20])
@pytest.mark.parametrize("case", sorted(HIDDEN))
def test_records_in_non_data_markup_are_not_read(
    tmp_path: Path, case: str, block_bytes: int, force_robust: bool
) -> None:
    path = tmp_path / "export.xml"
    path.write_text(_export(HIDDEN[case]))
    parsed, _ = apple_health.parse_with_stats(
        path, block_bytes=block_bytes, force_robust=force_robust
    )
    assert parsed.frames["heart_rate"]["hr_bpm"].to_list() == [61.0, 62.0]
    assert parsed.frames["vendor_hrv"].is_empty()
    assert parsed.rejects.is_empty()


def test_an_unclosed_comment_hides_the_rest() -> None:
    markup = MarkupFilter()
    assert markup.feed(b"<R a='1'/><!-- <R a='2'/>") + markup.flush() == b"<R a='1'/>"


@pytest.mark.parametrize("cut", range(1, 40))
def test_the_filter_result_does_not_depend_on_where_blocks_end(cut: int) -> None:
    text = b"a<!--b-->c<![CDATA[d]]>e<?f?>g<!x<?h"
    markup = MarkupFilter()
    assert markup.feed(text[:cut]) + markup.feed(text[cut:]) + markup.flush() == b"aceg<!x"
