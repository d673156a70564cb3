"""RTP and RTCP (RFC 3550): packets, sequence arithmetic, receiver statistics, jitter buffer,
media timeline.

Pure code over bytes and integers; times are passed in by the caller. Malformed input raises
:class:`RtpError` (a ``ValueError``).
"""

from wire.rtp.errors import RtpError
from wire.rtp.jitterbuffer import JitterBuffer
from wire.rtp.ntp import (
    ntp_from_unix,
    ntp_middle32,
    ntp_short_to_seconds,
    seconds_to_ntp_short,
    unix_from_ntp,
)
from wire.rtp.packet import RTP_HEADER_SIZE, HeaderExtension, RtpPacket, patch_header
from wire.rtp.rtcp import (
    ReportBlock,
    RtcpBye,
    RtcpPacket,
    RtcpRawPacket,
    RtcpReceiverReport,
    RtcpSdes,
    RtcpSenderReport,
    SdesChunk,
    SdesItem,
    parse_compound,
    serialize_compound,
)
from wire.rtp.sequence import TimestampUnwrapper, seq_add, seq_diff, seq_lt, timestamp_diff
from wire.rtp.stats import ReceiverStatistics
from wire.rtp.timeline import RtpTimeline

__all__ = [
    "RTP_HEADER_SIZE",
    "HeaderExtension",
    "JitterBuffer",
    "ReceiverStatistics",
    "ReportBlock",
    "RtcpBye",
    "RtcpPacket",
    "RtcpRawPacket",
    "RtcpReceiverReport",
    "RtcpSdes",
    "RtcpSenderReport",
    "RtpError",
    "RtpPacket",
    "RtpTimeline",
    "SdesChunk",
    "SdesItem",
    "TimestampUnwrapper",
    "ntp_from_unix",
    "ntp_middle32",
    "ntp_short_to_seconds",
    "parse_compound",
    "patch_header",
    "seconds_to_ntp_short",
    "seq_add",
    "seq_diff",
    "seq_lt",
    "serialize_compound",
    "timestamp_diff",
    "unix_from_ntp",
]
