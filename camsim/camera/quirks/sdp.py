"""Quirks of the session description: parameter sets missing, partial or garbled in ``sprop-*``.

The same parameter sets always travel in band before every keyframe, which is what lets clients
of these cameras decode at all.
"""

from __future__ import annotations

import base64
from collections.abc import Callable

from camsim.camera.quirks.base import QuirkProfile, register
from wire.sdp import Attribute, SessionDescription, format_fmtp, parse_fmtp_parameters

H264_SPROP = "sprop-parameter-sets"
H265_SPROPS = ("sprop-vps", "sprop-sps", "sprop-pps")


def edit_video_fmtp(sdp: SessionDescription, edit: Callable[[dict[str, str]], None]) -> None:
    """Apply ``edit`` to the fmtp parameters of every video payload format."""
    for media in sdp.media:
        if media.media != "video":
            continue
        for index, attribute in enumerate(media.attributes):
            if attribute.name != "fmtp" or attribute.value is None:
                continue
            payload_type, _, text = attribute.value.strip().partition(" ")
            parameters = parse_fmtp_parameters(text)
            edit(parameters)
            media.attributes[index] = Attribute("fmtp", format_fmtp(int(payload_type), parameters))


@register
class NoSprop(QuirkProfile):
    name = "no-sprop"
    summary = "DESCRIBE has no sprop-parameter-sets (or sprop-vps/sps/pps) at all"
    devices = "many low-cost H.264 cameras and encoders (gortsplib#88, mediamtx#411)"
    client_must = "take SPS/PPS from the stream, before the first keyframe, not from the SDP"

    def edit_sdp(self, sdp: SessionDescription) -> None:
        def drop(parameters: dict[str, str]) -> None:
            for key in (H264_SPROP, *H265_SPROPS):
                parameters.pop(key, None)

        edit_video_fmtp(sdp, drop)


@register
class SpropMissingPps(QuirkProfile):
    name = "sprop-missing-pps"
    summary = "sprop-parameter-sets carries the SPS only (sprop-pps absent for H.265)"
    devices = "Hikvision firmware (FFmpeg PR #181)"
    client_must = "accept a partial sprop and complete it from the in-band PPS"

    def edit_sdp(self, sdp: SessionDescription) -> None:
        def drop_pps(parameters: dict[str, str]) -> None:
            if H264_SPROP in parameters:
                parameters[H264_SPROP] = parameters[H264_SPROP].split(",")[0]
            parameters.pop("sprop-pps", None)

        edit_video_fmtp(sdp, drop_pps)


@register
class GarbageSprop(QuirkProfile):
    name = "garbage-sprop"
    summary = "sprop parameter sets that decode to a truncated SPS and a PPS with junk after it"
    devices = "VStarcam and other OEM cameras (retina#42)"
    client_must = "not fail the stream on unusable sprop; fall back to in-band parameter sets"

    def edit_sdp(self, sdp: SessionDescription) -> None:
        edit_video_fmtp(sdp, _garble)


def _garble(parameters: dict[str, str]) -> None:
    for key in (H264_SPROP, *H265_SPROPS):
        if key not in parameters:
            continue
        items: list[str] = []
        for item in parameters[key].split(","):
            nal = base64.b64decode(item)
            # The first set loses its second half; the others get zero bytes appended.
            broken = nal[: max(len(nal) // 2, 2)] if not items else nal + bytes(16)
            items.append(base64.b64encode(broken).decode())
        parameters[key] = ",".join(items)
