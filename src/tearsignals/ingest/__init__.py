"""Inbox to canonical frames: format adapters, time parsing, row rules, the ingest steps."""
