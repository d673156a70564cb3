"""The camera's audio other than AAC: G.711 (PCMU, PCMA) and Opus, as many cameras send.

Payload types: PCMU and PCMA have the static types 0 and 8 of RFC 3551 §6 (announced with an
rtpmap all the same, as cameras do and RFC 4566 §6 recommends); Opus takes the camera's dynamic
audio type, with ``opus/48000/2`` whatever the coded channels (RFC 7587 §7) and
``sprop-stereo`` saying what it sends.
"""

from __future__ import annotations

from camsim.media.loader import AccessUnit, AudioTrack
from camsim.media.spec import AudioCodec
from wire.payload import PayloadPacket, packetize_aac, packetize_g711, packetize_opus
from wire.sdp import Attribute, MediaDescription, RtpMap, aac_media, format_fmtp

STATIC_PAYLOAD_TYPES = {AudioCodec.PCMU: 0, AudioCodec.PCMA: 8}
ENCODING_NAMES = {AudioCodec.PCMU: "PCMU", AudioCodec.PCMA: "PCMA", AudioCodec.OPUS: "opus"}
OPUS_RTPMAP_CHANNELS = 2


def audio_payload_type(track: AudioTrack, dynamic: int) -> int:
    """The payload type the camera sends ``track`` with; ``dynamic`` where none is static."""
    return STATIC_PAYLOAD_TYPES.get(track.codec, dynamic)


def packetize_audio(
    track: AudioTrack, unit: AccessUnit, max_payload_size: int
) -> list[PayloadPacket]:
    """One audio unit's RTP payloads (a unit is one AAC frame, 20 ms of G.711 or an Opus
    packet, so each makes one packet at the unit's timestamp)."""
    if track.codec is AudioCodec.AAC:
        return packetize_aac([unit.data], max_payload_size)
    if track.codec is AudioCodec.OPUS:
        return packetize_opus([unit.data])
    return packetize_g711(unit.data, len(unit.data))


def audio_media(track: AudioTrack, payload_type: int, *, control: str) -> MediaDescription:
    """The ``m=audio`` section of ``track``."""
    if track.codec is AudioCodec.AAC:
        return aac_media(
            payload_type, track.asc, track.sample_rate, track.channels, control=control
        )
    name = ENCODING_NAMES[track.codec]
    attributes: list[Attribute] = []
    if track.codec is AudioCodec.OPUS:
        rtpmap = RtpMap(payload_type, name, track.sample_rate, OPUS_RTPMAP_CHANNELS)
        attributes.append(Attribute("rtpmap", rtpmap.serialize()))
        stereo = "1" if track.channels == 2 else "0"
        attributes.append(Attribute("fmtp", format_fmtp(payload_type, {"sprop-stereo": stereo})))
    else:
        attributes.append(Attribute("rtpmap", RtpMap(payload_type, name, 8000).serialize()))
    attributes.append(Attribute("control", control))
    return MediaDescription("audio", 0, "RTP/AVP", [str(payload_type)], attributes=attributes)
