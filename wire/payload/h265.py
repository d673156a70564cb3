"""H.265 over RTP (RFC 7798) without DONL (sprop-max-don-diff=0): single, AP and FU packets."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from wire import speedups
from wire.codec.nal import VideoCodec
from wire.payload.errors import PayloadError
from wire.payload.packet import PayloadPacket
from wire.payload.video import (
    FU_END,
    FU_START,
    NalDepacketizer,
    NalFragment,
    NalPiece,
    _parse_aggregation_py,
    packetize_nal_units,
)

# RFC 7798 §4.4
AP = 48
FU = 49
PACI = 50


def packetize_h265(nal_units: Sequence[bytes], max_payload_size: int) -> list[PayloadPacket]:
    """Packetize one access unit (NAL units without start codes).

    ``max_payload_size`` is the largest RTP payload. Small NAL units share aggregation packets,
    large ones are split into fragmentation units; the marker bit ends the access unit.
    """
    return packetize_nal_units(
        nal_units,
        max_payload_size,
        header_size=2,
        aggregation_header=_ap_header,
        fragment_prefix=_fu_prefix,
    )


def _ap_header(nal_units: Sequence[bytes]) -> bytes:
    # §4.4.2: F is the OR of the F bits; LayerId and TID are the lowest of the NAL units.
    forbidden = 0
    layer_id = 0x3F
    tid = 0x07
    for nal in nal_units:
        forbidden |= nal[0] & 0x80
        layer_id = min(layer_id, ((nal[0] & 0x01) << 5) | (nal[1] >> 3))
        tid = min(tid, nal[1] & 0x07)
    return bytes((forbidden | (AP << 1) | (layer_id >> 5), ((layer_id & 0x1F) << 3) | tid))


def _fu_prefix(nal: bytes) -> bytes:
    # §4.4.3: the payload header is the NAL unit header with type FU; the FU header has the type.
    return bytes(((nal[0] & 0x81) | (FU << 1), nal[1], (nal[0] >> 1) & 0x3F))


def _parse_h265_payload_py(payload: bytes) -> list[NalPiece]:
    """Split one H.265 RTP payload into NAL units and FU fragments.

    Raises :class:`PayloadError` for truncated packets and for PACI packets; unspecified types
    (51-63) are ignored (§4.4).
    """
    if len(payload) < 2:
        raise PayloadError(f"H.265 RTP payload: {len(payload)} bytes, shorter than its header")
    kind = (payload[0] >> 1) & 0x3F
    if kind < AP:
        return [payload]
    if kind == AP:
        return list(_parse_aggregation_py(payload, 2, "H.265 AP"))
    if kind == FU:
        if len(payload) < 3:
            raise PayloadError("H.265 FU: 2 bytes, too short for the FU header")
        fu_header = payload[2]
        header = bytes(((payload[0] & 0x81) | ((fu_header & 0x3F) << 1), payload[1]))
        return [
            NalFragment(header, payload[3:], bool(fu_header & FU_START), bool(fu_header & FU_END))
        ]
    if kind == PACI:
        raise PayloadError("H.265 RTP payload: PACI packets (type 50) are not supported")
    return []


_ext = speedups.extension("wire.payload._video")
parse_h265_payload: Callable[[bytes], list[NalPiece]] = (
    _ext.parse_h265_payload if _ext is not None else _parse_h265_payload_py
)


class H265Depacketizer(NalDepacketizer):
    """Access units from H.265 RTP packets (no DONL fields)."""

    codec = VideoCodec.H265
    header_size = 2

    # A plain function, so that the compiled depacketizer calls the compiled parser directly.
    parse_payload = staticmethod(parse_h265_payload)  # type: ignore[assignment]
