"""H.264 over RTP (RFC 6184), non-interleaved mode: single NAL unit, STAP-A and FU-A packets."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from wire import speedups
from wire.codec.nal import VideoCodec
from wire.payload.errors import PayloadError
from wire.payload.packet import PayloadPacket
from wire.payload.video import (
    FU_END,
    FU_START,
    START_CODE_PREFIX,
    NalDepacketizer,
    NalFragment,
    NalPiece,
    _parse_aggregation_py,
    packetize_nal_units,
)

# RFC 6184 §5.2, Table 1
STAP_A = 24
STAP_B = 25
MTAP16 = 26
MTAP24 = 27
FU_A = 28
FU_B = 29

_INTERLEAVED_ONLY = {STAP_B: "STAP-B", MTAP16: "MTAP16", MTAP24: "MTAP24", FU_B: "FU-B"}


def packetize_h264(
    nal_units: Sequence[bytes], max_payload_size: int, *, packetization_mode: int = 1
) -> list[PayloadPacket]:
    """Packetize one access unit (NAL units without start codes).

    ``max_payload_size`` is the largest RTP payload, i.e. the path MTU less the IP, UDP and RTP
    headers. In packetization mode 1 small NAL units share STAP-A packets and large ones are
    split into FU-A packets; mode 0 sends each NAL unit alone and refuses larger ones.
    """
    if packetization_mode == 0:
        for nal in nal_units:
            if len(nal) > max_payload_size:
                raise PayloadError(
                    f"H.264: NAL unit of {len(nal)} bytes exceeds {max_payload_size} bytes "
                    "in packetization mode 0"
                )
        return [PayloadPacket(nal, i == len(nal_units) - 1) for i, nal in enumerate(nal_units)]
    if packetization_mode != 1:
        raise PayloadError(f"H.264: packetization mode {packetization_mode} is not supported")
    return packetize_nal_units(
        nal_units,
        max_payload_size,
        header_size=1,
        aggregation_header=_stap_a_header,
        fragment_prefix=_fu_a_prefix,
    )


def _stap_a_header(nal_units: Sequence[bytes]) -> bytes:
    # §5.7.1: F is the OR of the F bits, NRI the highest NRI of the aggregated NAL units.
    forbidden = 0
    nri = 0
    for nal in nal_units:
        forbidden |= nal[0] & 0x80
        nri = max(nri, nal[0] & 0x60)
    return bytes((forbidden | nri | STAP_A,))


def _fu_a_prefix(nal: bytes) -> bytes:
    # §5.8: FU indicator keeps F and NRI; the FU header carries the NAL unit type.
    return bytes(((nal[0] & 0xE0) | FU_A, nal[0] & 0x1F))


def _parse_h264_payload_py(payload: bytes) -> list[NalPiece]:
    """Split one H.264 RTP payload into NAL units and FU-A fragments.

    Raises :class:`PayloadError` for truncated packets and for the interleaved-mode types
    (STAP-B, MTAP16, MTAP24, FU-B). Types 0, 30 and 31 are ignored (§5.4), except a payload
    that starts with an Annex B start code, which is returned whole for splitting.
    """
    if not payload:
        raise PayloadError("H.264 RTP payload: empty")
    kind = payload[0] & 0x1F
    if 1 <= kind <= 23:
        return [payload]
    if kind == STAP_A:
        return list(_parse_aggregation_py(payload, 1, "H.264 STAP-A"))
    if kind == FU_A:
        if len(payload) < 2:
            raise PayloadError("H.264 FU-A: 1 byte, too short for the FU header")
        fu_header = payload[1]
        header = bytes(((payload[0] & 0xE0) | (fu_header & 0x1F),))
        return [
            NalFragment(header, payload[2:], bool(fu_header & FU_START), bool(fu_header & FU_END))
        ]
    if kind in _INTERLEAVED_ONLY:
        raise PayloadError(
            f"H.264 RTP payload: {_INTERLEAVED_ONLY[kind]} (type {kind}) needs the interleaved "
            "packetization mode, which is not supported"
        )
    if payload.startswith((START_CODE_PREFIX, b"\x00" + START_CODE_PREFIX)):
        return [payload]
    return []


_ext = speedups.extension("wire.payload._video")
parse_h264_payload: Callable[[bytes], list[NalPiece]] = (
    _ext.parse_h264_payload if _ext is not None else _parse_h264_payload_py
)


class H264Depacketizer(NalDepacketizer):
    """Access units from H.264 RTP packets, whatever ``packetization-mode`` was declared.

    Cameras that declare mode 0 and then send STAP-A or FU-A packets are common, so every
    non-interleaved packet type is accepted.
    """

    codec = VideoCodec.H264
    header_size = 1

    # A plain function, so that the compiled depacketizer calls the compiled parser directly.
    parse_payload = staticmethod(parse_h264_payload)  # type: ignore[assignment]
