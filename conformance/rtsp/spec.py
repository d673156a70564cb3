"""References to the RFCs the RTSP suites enforce, with links a reader can follow."""

from __future__ import annotations

from reports.model import SpecRef


def _rfc(number: int, section: str) -> SpecRef:
    return SpecRef(
        f"RFC {number}", section, f"https://www.rfc-editor.org/rfc/rfc{number}#section-{section}"
    )


def rfc2326(section: str) -> SpecRef:
    """RTSP 1.0."""
    return _rfc(2326, section)


def rfc7826(section: str) -> SpecRef:
    """RTSP 2.0, where it clarifies what 1.0 left open."""
    return _rfc(7826, section)


def rfc3550(section: str) -> SpecRef:
    """RTP and RTCP."""
    return _rfc(3550, section)


def rfc3551(section: str) -> SpecRef:
    """The RTP profile for audio and video (RTP/AVP)."""
    return _rfc(3551, section)


def rfc6184(section: str) -> SpecRef:
    """The RTP payload format for H.264."""
    return _rfc(6184, section)


def rfc7798(section: str) -> SpecRef:
    """The RTP payload format for H.265."""
    return _rfc(7798, section)


def rfc3640(section: str) -> SpecRef:
    """The RTP payload format for MPEG-4 elementary streams (AAC)."""
    return _rfc(3640, section)


def rfc4566(section: str) -> SpecRef:
    """SDP."""
    return _rfc(4566, section)


def rfc7616(section: str) -> SpecRef:
    """HTTP Digest authentication (RFC 2617's successor)."""
    return _rfc(7616, section)


def rfc2617(section: str) -> SpecRef:
    """HTTP Basic and Digest authentication as RTSP 1.0 cameras implement it."""
    return _rfc(2617, section)


def rfc7235(section: str) -> SpecRef:
    """HTTP authentication framework (401 and WWW-Authenticate)."""
    return _rfc(7235, section)


def rfc8085(section: str) -> SpecRef:
    """UDP usage guidelines (datagram size against the path MTU)."""
    return _rfc(8085, section)
