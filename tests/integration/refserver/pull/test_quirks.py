"""refserver pulling a camera with each field quirk, judged by the HLS it serves.

One camsim fleet per quirk profile (every registered profile: the parametrization comes from the
registry, so a new profile without a case here fails) and one refserver pulling all of them at
once: the whole module costs one run of some twenty seconds. Each stream must play through
without a reconnect or a discontinuity, list at least six segments in a playlist that breaks no
rule, and carry in its MPEG-TS segments what the camera sent: every frame in order (the SEI
stamps count them), the sample's own SPS and PPS before every keyframe, continuous timestamps,
audio beside the video.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from camsim.camera.fleet import FleetConfig
from camsim.camera.quirks import REGISTRY
from camsim.camera.quirks.timing import STALL_AFTER
from camsim.media.loader import MediaSample, load
from refserver.config import PullTransport, SourceConfig
from refserver.hls import HlsOptions
from refserver.pull import Backoff, PullSource
from refserver.streams import StreamRegistry
from tests.conftest import SampleFactory
from tests.integration.camera.harness import running_fleet
from tests.integration.refserver.harness import RunningServer, running, server_config
from wire.codec.nal import (
    H264_NAL_IDR,
    H264_NAL_PPS,
    H264_NAL_SPS,
    VideoCodec,
    nal_type,
    split_annexb,
)
from wire.codec.stamp import read_stamp_nalus
from wire.hls.parse import parse
from wire.hls.validate import check_playlist
from wire.ts.demuxer import DemuxedPes, demux
from wire.ts.muxer import PID_AUDIO, PID_VIDEO

SESSION_TIMEOUT = 8
"""What the cameras announce: keepalives every 3 s, so a few fall inside the run."""
SEGMENTS_LISTED = 6
SEGMENTS_WRITTEN = 8
"""About 9 s of play: past the timestamp jump and past a 5 s session timeout."""
WAIT = 25.0
FRAME_TICKS = 6000  # 90 kHz at 15 fps
AUDIO_LAG_TICKS = 9000
"""A segment's audio may start up to 100 ms before its keyframe: audio that came after it."""

UDP_ONLY = {"no-server-port"}
"""Profiles that only show over UDP."""
BOTH_TRANSPORTS = {"oversized-nal"}
"""Profiles that matter over either transport (a 60 kB datagram, a 60 kB interleaved frame)."""
NOT_PULLED = {
    "media-stall": "its stream ends by design: test_a_stalled_camera_is_given_up_and_retried",
}


def transports(name: str) -> tuple[str, ...]:
    if name in UDP_ONLY:
        return ("udp",)
    if name in BOTH_TRANSPORTS:
        return ("tcp", "udp")
    return ("tcp",)


CASES = [
    (name, transport)
    for name in sorted(REGISTRY)
    if name not in NOT_PULLED
    for transport in transports(name)
]


def stream_name(name: str, transport: str) -> str:
    return f"{name}-{transport}"


@dataclass
class Pulled:
    """The server pulling every fleet, and the sample every camera plays."""

    server: RunningServer
    sample: MediaSample


@pytest.fixture(scope="module")
def pulled(
    make_test_sample: SampleFactory, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Pulled]:
    path = make_test_sample(gop_seconds=Fraction(1))
    sample = load(path)
    with ExitStack() as stack:
        ports: dict[str, int] = {}
        sources = []
        for name, transport in CASES:
            if name not in ports:
                config = FleetConfig(media=(path,), quirks=(name,), session_timeout=SESSION_TIMEOUT)
                ports[name] = stack.enter_context(running_fleet(config)).port
            url = f"rtsp://127.0.0.1:{ports[name]}/cam1"
            sources.append(
                SourceConfig(stream_name(name, transport), url, PullTransport(transport))
            )
        hls = HlsOptions(target_duration=1.0, window=SEGMENTS_LISTED)
        tmp_path = tmp_path_factory.mktemp("pull-quirks")
        server = stack.enter_context(
            running(server_config(tmp_path, sources=tuple(sources), hls=hls))
        )
        names = [stream_name(*case) for case in CASES]
        # A stream that never gets there fails its own cases, not the module.
        with contextlib.suppress(AssertionError):
            server.wait_for(
                lambda: all(written(server, name) >= SEGMENTS_WRITTEN for name in names),
                timeout=WAIT,
            )
        yield Pulled(server, sample)


def written(server: RunningServer, name: str) -> int:
    hls = server.api(name)["hls"]
    return 0 if hls is None else int(hls["segments_written"])


def test_every_profile_is_pulled_or_said_why_not() -> None:
    pulled_names = {name for name, _ in CASES}
    assert pulled_names | set(NOT_PULLED) == set(REGISTRY)
    assert not pulled_names & set(NOT_PULLED)


@pytest.mark.parametrize(("name", "transport"), CASES)
def test_pulled_stream_plays_through(pulled: Pulled, name: str, transport: str) -> None:
    server = pulled.server
    stream = server.api(stream_name(name, transport))
    assert stream["source"]["last_error"] is None
    assert stream["source"]["state"] == "playing"
    assert stream["hls"]["segments_written"] >= SEGMENTS_WRITTEN
    assert stream["source"]["attempts"] == 1
    assert stream["source"]["transport"] == transport
    assert stream["publishes"] == 1
    assert stream["tracks"]["video"] == "h264"
    assert stream["tracks"]["audio"] is not None
    assert stream["hls"]["discontinuities"] == 0
    assert stream["hls"]["target_duration_overruns"] == 0
    assert stream["latency"]["samples"] > 0


@pytest.mark.parametrize(("name", "transport"), CASES)
def test_pulled_stream_makes_good_hls(pulled: Pulled, name: str, transport: str) -> None:
    server = pulled.server
    folder = f"/live/{stream_name(name, transport)}"
    answer = server.get(f"{folder}/index.m3u8")
    assert answer.status == 200
    body = answer.body.decode()
    assert check_playlist(body) == []
    assert "#EXT-X-DISCONTINUITY\n" not in body
    playlist = parse(body)
    assert len(playlist.segments) >= SEGMENTS_LISTED
    segments = []
    for segment in playlist.segments:
        got = server.get(f"{folder}/{segment.uri}")
        assert got.status == 200, segment.uri
        segments.append(read_segment(got.body))
    check_segments(pulled.sample, segments, [s.duration for s in playlist.segments])


@dataclass
class Segment:
    video: list[DemuxedPes]
    audio: list[DemuxedPes]


def read_segment(data: bytes) -> Segment:
    demuxer, packets = demux(data)
    assert demuxer.continuity_errors == []
    video = [p for p in packets if p.pid == PID_VIDEO]
    audio = [p for p in packets if p.pid == PID_AUDIO]
    return Segment(video, audio)


def check_segments(sample: MediaSample, segments: list[Segment], durations: list[float]) -> None:
    assert sample.video is not None
    sps, pps = sample.video.parameter_sets
    assert sample.audio is not None
    audio_frame_ticks = sample.audio.samples_per_frame * 90_000 // sample.audio.sample_rate
    frame_count = sum(1 for unit in sample.units if unit.nalus)
    indexes: list[int] = []
    pts: list[int] = []
    for segment, duration in zip(segments, durations, strict=True):
        first = segment.video[0]
        assert first.random_access
        nalus = split_annexb(first.data)
        kinds = [nal_type(VideoCodec.H264, nal) for nal in nalus]
        assert kinds.index(H264_NAL_SPS) < kinds.index(H264_NAL_PPS) < kinds.index(H264_NAL_IDR)
        assert nalus[kinds.index(H264_NAL_SPS)] == sps
        assert nalus[kinds.index(H264_NAL_PPS)] == pps
        frames = len(segment.video)
        assert abs(frames * FRAME_TICKS - round(duration * 90_000)) <= FRAME_TICKS, duration
        assert segment.audio, "no audio in the segment"
        first_audio = segment.audio[0].pts
        assert first.pts is not None
        assert first_audio is not None
        # Audio that came ahead of the keyframe waited for it: never a whole frame late.
        assert -AUDIO_LAG_TICKS <= first_audio - first.pts < audio_frame_ticks
        for pes in segment.video:
            stamp = read_stamp_nalus(VideoCodec.H264, split_annexb(pes.data))
            assert stamp is not None
            indexes.append(stamp.frame_index)
            assert pes.pts is not None
            pts.append(pes.pts)
    # Every frame of the camera, in order, on a continuous 15 fps timeline.
    steps = [(b - a) % frame_count for a, b in itertools.pairwise(indexes)]
    assert set(steps) == {1}, indexes
    assert {b - a for a, b in itertools.pairwise(pts)} == {FRAME_TICKS}


MEDIA_TIMEOUT = 1.5


def test_a_stalled_camera_is_given_up_and_retried(
    make_test_sample: SampleFactory, tmp_path: Path
) -> None:
    """The camera answers RTSP and sends RTCP but no RTP after a while: the session ends on
    the media timeout, the source shows why, and a new session plays again."""
    path = make_test_sample(gop_seconds=Fraction(1))
    config = FleetConfig(media=(path,), quirks=("media-stall",))

    async def scenario(url: str) -> None:
        registry = StreamRegistry(tmp_path / "hls", HlsOptions(target_duration=1.0, window=6))
        source = PullSource(
            SourceConfig("frozen", url, media_timeout=MEDIA_TIMEOUT),
            registry,
            backoff=Backoff(initial=0.2, cap=0.4),
        )
        source.start()
        try:
            began = time.monotonic()
            await until(lambda: source.state == "playing", 10, "the first PLAY")
            await until(lambda: source.last_error is not None, STALL_AFTER + 10, "a failure")
            failed = time.monotonic() - began
            state = source.describe()
            assert state["state"] in ("retrying", "connecting")
            assert state["last_error"] == f"the camera sent no media for {MEDIA_TIMEOUT:g} s"
            assert state["attempts"] == 1
            assert STALL_AFTER + MEDIA_TIMEOUT - 0.5 <= failed <= STALL_AFTER + MEDIA_TIMEOUT + 3
            stream = registry.get("frozen")
            assert stream is not None
            assert stream.live is False
            await until(
                lambda: source.attempts == 2 and source.state == "playing", 10, "a new session"
            )
            assert stream.live is True
            described = stream.describe(time.time())
            assert described["publishes"] == 2
            frames = described["frames"]
            assert isinstance(frames, dict)
            assert frames["video"] >= 15  # a second and more before the stall
        finally:
            await source.stop()
        assert source.describe()["state"] == "stopped"

    with running_fleet(config) as fleet:
        asyncio.run(asyncio.wait_for(scenario(fleet.urls[0]), 40))


async def until(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.05)
