"""The ``hls`` fixture: the target observed once per run, fed by camsim's encoder when
``--conform-feed`` asks for it."""

from __future__ import annotations

import asyncio

import aiohttp
import av
import pytest

from conformance.feed import RtmpFeed
from conformance.hls.observation import HlsObservation
from conformance.hls.recorder import HlsRecorder
from conformance.hls.recording import HlsRecording
from conformance.session import ConformanceSession, ConformOptions, TargetUnreachable

FEED_START_TIMEOUT = 30.0
"""Seconds a fed target has to list its first segment."""


async def _lists_a_segment(url: str) -> bool:
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session,
            session.get(url) as response,
        ):
            body = await response.read()
    except (aiohttp.ClientError, TimeoutError):
        return False
    return response.status == 200 and (b"#EXTINF" in body or b"#EXT-X-STREAM-INF" in body)


async def observe(options: ConformOptions, conform: ConformanceSession) -> HlsRecording:
    """Record the target for the asked duration; publish to ``--conform-feed`` meanwhile."""
    if not options.target:
        raise TargetUnreachable("the hls-output suite needs --target, an HLS playlist URL")
    recorder = HlsRecorder(options.target, duration=options.duration, on_status=conform.progress)
    if options.feed is None:
        return await recorder.record()
    conform.progress(f"feeding {options.feed}")
    async with RtmpFeed.from_options(options) as feed:
        await feed.wait_for(
            lambda: _lists_a_segment(options.target or ""),
            timeout=FEED_START_TIMEOUT,
            what=f"a playlist with a segment at {options.target}",
        )
        recording = await recorder.record()
        feed.check()
        return recording


@pytest.fixture(scope="session")
def hls(conform_options: ConformOptions, conform_session: ConformanceSession) -> HlsObservation:
    """The target observed once; every case judges this recording."""
    recording = asyncio.run(observe(conform_options, conform_session))
    first = recording.reloads[0].exchange if recording.reloads else None
    peers = conform_session.environment.setdefault("peers", {})
    if first is not None and first.header("server"):
        peers["target (Server header)"] = first.header("server")
    codec = ".".join(str(part) for part in av.library_versions.get("libavcodec", ()))
    peers["decoder"] = f"PyAV {av.__version__}, libavcodec {codec}"
    conform_session.environment["observed"] = (
        f"{recording.ended_at - recording.started_at:.1f} s, {len(recording.reloads)} reloads, "
        f"{len(recording.segments)} segments"
    )
    conform_session.notes.extend(recording.notes)
    return HlsObservation(recording)
