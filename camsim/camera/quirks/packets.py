"""Quirks of RTP packetization (RFC 6184, RFC 7798), applied once when the packet plan is made."""

from __future__ import annotations

from collections.abc import Sequence

from camsim.camera.plan import VideoPacketizer
from camsim.camera.quirks.base import QuirkProfile, register
from wire.codec.nal import START_CODE, VideoCodec, is_vcl, nal_type, parameter_set_types
from wire.payload import PayloadPacket
from wire.payload.h264 import FU_A, STAP_A
from wire.payload.h265 import AP, FU
from wire.payload.video import FU_END, FU_START

OVERSIZED_PAYLOAD_SIZE = 60_000
"""Large enough for a whole P-slice (and most IDR slices) of the default sample in one packet,
small enough for one UDP datagram or interleaved frame."""


def _leading_non_vcl(codec: VideoCodec, nal_units: Sequence[bytes]) -> int:
    count = 0
    while count < len(nal_units) and not is_vcl(codec, nal_units[count]):
        count += 1
    return count


@register
class MarkerOnParameterSets(QuirkProfile):
    name = "marker-on-parameter-sets"
    summary = "SPS, PPS and SEI each in their own packet with the marker bit set"
    devices = "TP-Link Tapo and Reolink cameras (go2rtc#244)"
    client_must = "end an access unit on a timestamp change or a VCL NAL unit, not on the marker"
    plan_changing = True

    def packetizer(self, packetize: VideoPacketizer) -> VideoPacketizer:
        def marked(codec: VideoCodec, nal_units: Sequence[bytes], size: int) -> list[PayloadPacket]:
            lead = _leading_non_vcl(codec, nal_units)
            alone = [n for n in nal_units[:lead] if len(n) <= size]
            rest = [n for n in nal_units[:lead] if len(n) > size] + list(nal_units[lead:])
            return [PayloadPacket(n, True) for n in alone] + packetize(codec, rest, size)

        return marked


@register
class NoMarker(QuirkProfile):
    name = "no-marker"
    summary = "the marker bit is never set; access units end only where the timestamp changes"
    devices = "some NVR re-streamers and DVRs (mediamtx#3945)"
    client_must = "detect the end of an access unit from the next packet's timestamp"
    plan_changing = True

    def packetizer(self, packetize: VideoPacketizer) -> VideoPacketizer:
        def unmarked(
            codec: VideoCodec, nal_units: Sequence[bytes], size: int
        ) -> list[PayloadPacket]:
            return [PayloadPacket(p.payload, False) for p in packetize(codec, nal_units, size)]

        return unmarked


@register
class OversizedNal(QuirkProfile):
    name = "oversized-nal"
    summary = f"whole NAL units up to {OVERSIZED_PAYLOAD_SIZE} bytes in one RTP packet"
    devices = "cameras sending ~10 kB UDP datagrams, IP-fragmented (mediamtx#797)"
    client_must = "read with a receive buffer of 64 kB, not one MTU"
    plan_changing = True

    def max_payload_size(self, size: int) -> int:
        return OVERSIZED_PAYLOAD_SIZE


@register
class FuStartEnd(QuirkProfile):
    name = "fu-start-end"
    summary = "NAL units that fit one packet sent as a single FU with Start and End both set"
    devices = "cameras reported in gortsplib#649"
    client_must = "accept an FU that starts and ends a NAL unit in the same packet"
    plan_changing = True

    def packetizer(self, packetize: VideoPacketizer) -> VideoPacketizer:
        def single_fus(
            codec: VideoCodec, nal_units: Sequence[bytes], size: int
        ) -> list[PayloadPacket]:
            return [
                PayloadPacket(_as_fu(codec, p.payload), p.marker)
                for p in packetize(codec, nal_units, size)
            ]

        return single_fus


def _as_fu(codec: VideoCodec, payload: bytes) -> bytes:
    """A single-NAL-unit packet as one FU with S and E set; other packets unchanged."""
    kind = nal_type(codec, payload)
    if codec is VideoCodec.H264:
        if kind in (STAP_A, FU_A) or kind >= 24:
            return payload
        indicator = (payload[0] & 0xE0) | FU_A
        return bytes((indicator, FU_START | FU_END | kind)) + payload[1:]
    if kind in (AP, FU) or kind >= 48:
        return payload
    header = bytes(((payload[0] & 0x81) | (FU << 1), payload[1]))
    return header + bytes((FU_START | FU_END | kind,)) + payload[2:]


@register
class AnnexBInRtp(QuirkProfile):
    name = "annexb-in-rtp"
    summary = "the parameter sets of a keyframe in one packet, joined by Annex B start codes"
    devices = "cameras reported in gortsplib#402"
    client_must = "split NAL units on embedded start codes inside a single-NAL-unit packet"
    plan_changing = True

    def packetizer(self, packetize: VideoPacketizer) -> VideoPacketizer:
        def joined(codec: VideoCodec, nal_units: Sequence[bytes], size: int) -> list[PayloadPacket]:
            sets = parameter_set_types(codec)
            count = 0
            while count < len(nal_units) and nal_type(codec, nal_units[count]) in sets:
                count += 1
            if count < 2:
                return packetize(codec, nal_units, size)
            payload = START_CODE.join(nal_units[:count])
            return [PayloadPacket(payload, False), *packetize(codec, nal_units[count:], size)]

        return joined
