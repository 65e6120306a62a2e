"""Heart-rate variability over index windows: time domain and frequency domain."""
