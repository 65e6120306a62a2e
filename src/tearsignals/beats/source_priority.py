"""Source priority: one beat stream per subject and minute, whatever the ingest order.

The lake keeps every source's beats (key ``subject_id, source, t_utc``): the
same heartbeats often arrive twice, e.g. an Empatica session gives device
``IBI.csv`` beats and beats detected in ``BVP.csv``, a Polar H10 file gives
device RR and raw ECG. Analysis needs each heartbeat once, so before windows
are measured the beats are reduced to the best origin present in each minute:

    rr (device RR) > ecg (R peaks) > ppg (pulse peaks) > ibpm (instantaneous bpm)

Ties between sources of the same origin go to the lexicographically smaller
``source`` then ``file_id``, so the result does not depend on ingest order.

Examples
--------
>>> from datetime import datetime, UTC
>>> t = datetime(2026, 1, 5, 15, tzinfo=UTC)
>>> beats = pl.DataFrame({"subject_id": ["S1", "S1"], "source": ["e4_bvp", "e4_ibi"],
...     "file_id": ["b", "a"], "t_utc": [t, t], "rr_ms": [801.0, 800.0], "origin": ["ppg", "rr"]})
>>> beats_by_priority(beats)["origin"].to_list()
['rr']
"""

from __future__ import annotations

import polars as pl

ORIGIN_RANK = {"rr": 0, "ecg": 1, "ppg": 2, "ibpm": 3}
BUCKET = "1m"


def beats_by_priority(beats: pl.DataFrame, bucket: str = BUCKET) -> pl.DataFrame:
    """Keep, per subject and ``bucket`` of time, only the beats of the best source present."""
    if beats.is_empty():
        return beats
    ranked = beats.with_columns(
        _rank=pl.col("origin").replace_strict(ORIGIN_RANK, default=len(ORIGIN_RANK)),
        _bucket=pl.col("t_utc").dt.truncate(bucket),
    )
    order = ["_rank", "source", "file_id"]
    best = ranked.group_by("subject_id", "_bucket").agg(
        pl.col(c).sort_by(order).first() for c in order
    )
    kept = ranked.join(best, on=["subject_id", "_bucket", "_rank", "source", "file_id"], how="semi")
    return kept.drop("_rank", "_bucket").sort("subject_id", "t_utc")
