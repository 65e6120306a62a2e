"""tearsignals' tests; a package so that ``tests.support`` can be imported by tests and bench."""
