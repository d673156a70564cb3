"""The error type of the fMP4 package."""

from __future__ import annotations


class Fmp4Error(ValueError):
    """Bytes that are not the ISO BMFF this package reads, or values a box cannot hold."""
