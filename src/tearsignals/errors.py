"""Errors that carry a one-line message meant for the user."""


class InputError(Exception):
    """A whole input file cannot be read; the message names the problem in one line."""
