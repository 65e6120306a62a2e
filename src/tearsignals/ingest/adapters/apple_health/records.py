"""The HealthKit record types read from an export, their tables, units and reasons."""

from __future__ import annotations

NAME = "apple_health"
HEART_RATE = "HKQuantityTypeIdentifierHeartRate"
SDNN = "HKQuantityTypeIdentifierHeartRateVariabilitySDNN"
HEARTBEAT_SERIES = "HKDataTypeIdentifierHeartbeatSeries"
TABLE_OF_TYPE = {HEART_RATE: "heart_rate", SDNN: "vendor_hrv", HEARTBEAT_SERIES: "beats"}
HR_UNITS: dict[str, float] = {"count/min": 1.0, "count/s": 60.0}
SDNN_UNITS: dict[str, float] = {"ms": 1.0}
ORIGIN = "ibpm"
PERIOD = "reading"  # vendor_hrv.period: each SDNN record is one reading of about a minute
DATE_FORMAT = "%Y-%m-%d %H:%M:%S %z"
REASON_TRUNCATED = "truncated record"
REASON_MALFORMED = "malformed record"
