"""Quirks of RTP timing and RTCP."""

from __future__ import annotations

from camsim.camera.quirks.base import QuirkProfile, register

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
