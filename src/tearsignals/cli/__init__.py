"""The ``tearsignals`` command line."""

from tearsignals.cli.main import main

__all__ = ["main"]
