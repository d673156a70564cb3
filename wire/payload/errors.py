"""The one error type raised by :mod:`wire.payload` for malformed payloads or bad arguments."""

from __future__ import annotations


class PayloadError(ValueError):
    """A malformed RTP payload, or units that cannot be packetized as asked.

    The message names the format and what was wrong, e.g.
    ``"H.264 STAP-A: NAL unit of 300 bytes at offset 3 overruns the payload (20 bytes left)"``.
    """
