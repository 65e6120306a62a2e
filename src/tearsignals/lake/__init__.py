"""The Parquet lake: storage, layout, the writer lock, privacy, the fault seam."""
