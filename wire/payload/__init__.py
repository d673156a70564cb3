"""RTP payload formats: H.264 (RFC 6184), H.265 (RFC 7798), AAC (RFC 3640 AAC-hbr), G.711
(RFC 3551) and Opus (RFC 7587).

Packetizers are pure functions from access units to :class:`PayloadPacket` (payload bytes and
marker bit; the RTP header is the caller's). Depacketizers take :class:`wire.rtp.RtpPacket` in
sequence order and return events. Malformed payloads raise :class:`PayloadError` from the
``parse_*_payload`` functions and become :class:`PayloadDiscarded` events in depacketizers.
"""

from wire.payload.aac import AacDepacketizer, AacUnit, packetize_aac, parse_aac_payload
from wire.payload.audio import packetize_g711, packetize_opus
from wire.payload.errors import PayloadError
from wire.payload.events import (
    AudioAccessUnit,
    PacketLoss,
    PayloadDiscarded,
    PayloadEvent,
    VideoAccessUnit,
)
from wire.payload.h264 import H264Depacketizer, packetize_h264, parse_h264_payload
from wire.payload.h265 import H265Depacketizer, packetize_h265, parse_h265_payload
from wire.payload.packet import PayloadPacket
from wire.payload.video import NalFragment

__all__ = [
    "AacDepacketizer",
    "AacUnit",
    "AudioAccessUnit",
    "H264Depacketizer",
    "H265Depacketizer",
    "NalFragment",
    "PacketLoss",
    "PayloadDiscarded",
    "PayloadError",
    "PayloadEvent",
    "PayloadPacket",
    "VideoAccessUnit",
    "packetize_aac",
    "packetize_g711",
    "packetize_h264",
    "packetize_h265",
    "packetize_opus",
    "parse_aac_payload",
    "parse_h264_payload",
    "parse_h265_payload",
]
