"""Quirks of RTP timing and RTCP."""

from __future__ import annotations

from camsim.camera.quirks.base import QuirkProfile, register, register_fault
from camsim.camera.sender import INTERLEAVED_MAGIC, RTP_HEADER_SIZE

JUMP_AFTER = 3.0
JUMP_SECONDS = 3 * 3600.0
STALL_AFTER = 3.0


@register
class TimestampJumpQuirk(QuirkProfile):
    name = "timestamp-jump"
    summary = f"{JUMP_AFTER:g} s after PLAY, every RTP timestamp jumps {JUMP_SECONDS / 3600:g} h"
    devices = "cameras whose clock is reset by NTP mid-stream (mediamtx PR #6255)"
    client_must = "treat a jump as a discontinuity and resynchronise, not buffer hours of media"

    def timestamp_jump(self) -> tuple[float, float] | None:
        return JUMP_AFTER, JUMP_SECONDS


@register
class SenderReportBeforePlay(QuirkProfile):
    name = "sr-before-play"
    summary = "an RTCP sender report goes out before the PLAY answer"
    devices = "Reolink cameras (retina)"
    client_must = "accept RTCP on a stream before PLAY completes"
    sender_report_before_play = True


@register
class MediaStall(QuirkProfile):
    name = "media-stall"
    summary = (
        f"{STALL_AFTER:g} s after PLAY the RTP stops for good; RTSP requests are still answered "
        "and RTCP sender reports still go out"
    )
    devices = "cameras whose encoder freezes while their RTSP server lives on"
    client_must = "time out on missing RTP, not on the RTSP connection, and reconnect"

    def media_stall(self) -> float | None:
        return STALL_AFTER


DROP_AT = 4.0
"""Seconds after the camera started (the run's start in the resilience suite) at which the
``tcp-drop-mid-frame`` quirk closes the connections playing RTP interleaved."""
INTERLEAVED_HEADER_SIZE = 4
"""``$``, channel, 16-bit length (RFC 2326 §10.12)."""


@register_fault
class TcpDropMidFrame(QuirkProfile):
    name = "tcp-drop-mid-frame"
    summary = (
        f"{DROP_AT:g} s after the camera started, every connection playing RTP interleaved is "
        "closed after the '$', channel, length and part of an RTP packet; new connections are "
        "accepted at once"
    )
    devices = (
        "cameras whose RTSP server restarts its streaming task, or that are reset by a watchdog, "
        "while the TCP stack stays up"
    )
    client_must = (
        "treat an end of stream inside a frame as the end of the session (no half packet "
        "decoded), reconnect, and mark the new stream's timestamps as a discontinuity"
    )

    def connection_drop(self) -> float | None:
        return DROP_AT


def cut_frame(channel: int, packet: bytes) -> bytes:
    """The first bytes of ``packet`` framed for ``channel`` (RFC 2326 §10.12): the whole frame
    header, whose length announces all of ``packet``, and the RTP header with about half of the
    payload, never all of it. The camera writes this, then closes the connection."""
    if not 0 <= channel <= 0xFF:
        raise ValueError(f"an interleaved channel is one byte, got {channel}")
    if not 1 < len(packet) <= 0xFFFF:
        raise ValueError(f"an interleaved frame holds 2 to 65535 bytes, got {len(packet)}")
    kept = min(len(packet) - 1, max(RTP_HEADER_SIZE, len(packet) // 2))
    header = bytes((INTERLEAVED_MAGIC, channel)) + len(packet).to_bytes(2, "big")
    return header + packet[:kept]
