"""Bundled synthetic sample data for demos and tests (no real patients, no images)."""
