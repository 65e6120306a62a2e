"""Beats: detection from ECG/PPG, artefact correction, cleaning, source priority."""
