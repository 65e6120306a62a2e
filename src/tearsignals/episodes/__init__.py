"""Episode-locked analysis: windows and controls, window metrics, shifts, time course."""
