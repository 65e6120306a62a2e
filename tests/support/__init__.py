"""Shared test helpers, imported as ``from tests.support import ...`` by tests and ``bench/``.

- :mod:`tests.support.realdata`: where the real recordings are (``../shared/realdata``).
- :mod:`tests.support.hrv_references`: how reference tools read and window a recording
  (hrv-analysis, the PhysioNet toolbox, the ``hrv`` package, the HRV Logger app).
- :mod:`tests.support.beat_references`: reference beats for the detectors (MIT-BIH NST,
  ISHNE Holter, Polar H10, heartpy's examples, the Empatica E4's IBI).
- :mod:`tests.support.artifact_references`: reference ectopic beats (MIT-BIH 105, Polar
  H10 bigeminy, NeuroKit2's Kubios labels, nsr001 sinus rhythm).
- :mod:`tests.support.corpus`: the bad-input corpus cases.

The golden tests assert on what these functions return, and ``bench/validation_report.py``
tabulates the same values, so the report and the tests cannot drift apart.
"""
