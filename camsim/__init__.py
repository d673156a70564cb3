"""camsim: simulated IP cameras and encoders for testing live video ingest servers."""

__version__ = "0.1.0"
