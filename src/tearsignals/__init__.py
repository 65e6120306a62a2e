"""tearsignals: heart-rate and HRV shifts around logged crying episodes."""

__version__ = "0.1.0"
