"""refserver pulling a camera whose video has B-frames.

RTP carries presentation times only; the MPEG-TS segments need decode times too. They come from
the reorder depth in the camera's SPS: decode times increase through every segment, never pass
the presentation time, and no discontinuity appears (a DTS copied from the PTS goes back at every
B-frame, and each step back used to break the stream).
"""

from __future__ import annotations

import itertools
from fractions import Fraction
from pathlib import Path

import pytest

from camsim.camera.fleet import FleetConfig
from camsim.media.loader import load
from refserver.config import PullTransport, SourceConfig
from refserver.hls import HlsOptions
from tests.conftest import SampleFactory
from tests.integration.camera.harness import running_fleet
from tests.integration.refserver.harness import RunningServer, running, server_config
from wire.codec.dts import reorder_depth
from wire.codec.nal import H264_NAL_SPS, H265_NAL_SPS, VideoCodec, nal_type, split_annexb
from wire.codec.stamp import read_stamp_nalus
from wire.hls.parse import parse
from wire.ts.demuxer import DemuxedPes, demux
from wire.ts.muxer import PID_VIDEO

SEGMENTS = 4
B_FRAMES = 2


def timestamp(value: int | None) -> int:
    assert value is not None, "a video PES without a timestamp"
    return value


def written(server: RunningServer) -> int:
    hls = server.api("door")["hls"]
    return 0 if hls is None else int(hls["segments_written"])


@pytest.mark.parametrize("codec", [VideoCodec.H264, VideoCodec.H265])
@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_b_frames_get_increasing_decode_times_and_no_discontinuity(
    make_test_sample: SampleFactory, tmp_path: Path, codec: VideoCodec, transport: str
) -> None:
    path = make_test_sample(codec=codec, bframes=B_FRAMES, gop_seconds=Fraction(1))
    sample = load(path)
    assert sample.video is not None
    sps_type = H264_NAL_SPS if codec is VideoCodec.H264 else H265_NAL_SPS
    sps = next(nal for nal in sample.video.parameter_sets if nal_type(codec, nal) == sps_type)
    depth, _ = reorder_depth(codec, sps)
    assert depth >= 1, "the sample has B-frames: its SPS must say it reorders"
    frame_ticks = round(90_000 / sample.video.fps)
    with (
        running_fleet(FleetConfig(media=(path,))) as fleet,
        running(
            server_config(
                tmp_path,
                sources=(
                    SourceConfig(
                        "door", f"rtsp://127.0.0.1:{fleet.port}/cam1", PullTransport(transport)
                    ),
                ),
                hls=HlsOptions(target_duration=1.0, window=6),
            )
        ) as server,
    ):
        server.wait_for(lambda: written(server) >= SEGMENTS, timeout=30, what="segments")
        stream = server.api("door")
        assert stream["hls"]["discontinuities"] == 0
        assert stream["source"]["attempts"] == 1
        body = server.get("/live/door/index.m3u8").body.decode()
        video: list[DemuxedPes] = []
        for segment in parse(body).segments:
            got = server.get(f"/live/door/{segment.uri}")
            assert got.status == 200
            demuxer, packets = demux(got.body)
            assert demuxer.continuity_errors == []
            video.extend(p for p in packets if p.pid == PID_VIDEO)
    assert len(video) >= SEGMENTS * 10
    pts = [timestamp(p.pts) for p in video]
    dts = [timestamp(p.dts if p.dts is not None else p.pts) for p in video]
    assert all(a < b for a, b in itertools.pairwise(dts)), dts
    for d, p in zip(dts, pts, strict=True):
        # An anchor shown after B_FRAMES B-frames, decoded `depth` pictures behind output.
        assert 0 <= p - d <= (depth + B_FRAMES) * frame_ticks
    assert pts != dts, "no reordering came through"
    # Every picture, in presentation order, one frame apart: none lost or doubled.
    assert {b - a for a, b in itertools.pairwise(sorted(pts))} == {frame_ticks}
    indexes = []
    for pes in sorted(video, key=lambda p: p.pts or 0):
        stamp = read_stamp_nalus(codec, split_annexb(pes.data))
        assert stamp is not None
        indexes.append(stamp.frame_index)
    frame_count = sum(1 for unit in sample.units if unit.nalus)
    assert {(b - a) % frame_count for a, b in itertools.pairwise(indexes)} == {1}
