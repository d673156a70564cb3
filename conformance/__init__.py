"""Conformance suites that judge an ingest server (camsim's refserver or anyone's)."""
