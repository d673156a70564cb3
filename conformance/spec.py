"""References to the specifications cases enforce, with links a reader can follow."""

from __future__ import annotations

from reports.model import SpecRef

RFC8216_URL = "https://www.rfc-editor.org/rfc/rfc8216"
RFC8216BIS_URL = "https://datatracker.ietf.org/doc/html/draft-pantos-hls-rfc8216bis"
APPLE_HLS_URL = (
    "https://developer.apple.com/documentation/http-live-streaming/"
    "hls-authoring-specification-for-apple-devices"
)
RFC6381_URL = "https://www.rfc-editor.org/rfc/rfc6381"
ADOBE_RTMP_URL = "https://rtmp.veriskope.com/docs/spec/"
ENHANCED_RTMP_URL = "https://github.com/veovera/enhanced-rtmp"
ADOBE_FLV_URL = (
    "https://github.com/veovera/enhanced-rtmp/blob/main/docs/legacy/"
    "video-file-format-v10-0-spec.pdf"
)


def rfc8216(section: str) -> SpecRef:
    """RFC 8216 (HTTP Live Streaming), e.g. ``rfc8216("6.2.2")``."""
    return SpecRef("RFC 8216", section, f"{RFC8216_URL}#section-{section}")


def rfc8216bis(section: str) -> SpecRef:
    """The second edition draft (LL-HLS and later rules)."""
    return SpecRef("rfc8216bis", section, f"{RFC8216BIS_URL}#section-{section}")


def apple_hls(item: str) -> SpecRef:
    """An item of Apple's HLS Authoring Specification, named by its section number."""
    return SpecRef("Apple HLS Authoring Specification", item, APPLE_HLS_URL)


def rfc6381(section: str) -> SpecRef:
    return SpecRef("RFC 6381", section, f"{RFC6381_URL}#section-{section}")


def adobe_rtmp(section: str) -> SpecRef:
    """Adobe's RTMP specification 1.0 (December 2012)."""
    return SpecRef("Adobe RTMP 1.0", section, ADOBE_RTMP_URL)


def enhanced_rtmp(section: str) -> SpecRef:
    """The Enhanced RTMP specification (veovera, v1/v2)."""
    return SpecRef("Enhanced RTMP", section, ENHANCED_RTMP_URL)


def adobe_flv(section: str) -> SpecRef:
    """Adobe's Video File Format Specification 10 (the FLV tags RTMP carries), by annex."""
    return SpecRef("Adobe FLV 10", section, ADOBE_FLV_URL)
