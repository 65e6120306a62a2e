"""The table contract: schemas declared in ``schemas/``, the suites and docs built from them."""
