"""The one error type raised by :mod:`wire.rtp` for malformed RTP or RTCP data."""

from __future__ import annotations


class RtpError(ValueError):
    """Malformed or truncated RTP/RTCP data, or a field that does not fit its wire size.

    The message names the structure and what was wrong, e.g.
    ``"RTP packet: 7 bytes, shorter than the 12-byte fixed header"``.
    """
