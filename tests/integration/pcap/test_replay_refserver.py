"""refserver pulls a replayed camera: its HLS holds the capture's frames, one for one.

The capture is a camsim camera session, so every frame carries the camsim stamp with its frame
index: the frames in the HLS segments are compared with the frames in the capture by index, in
order, none missing and none repeated.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import pytest

from camsim.media.loader import load
from camsim.pcap.replay_camera import load_camera
from camsim.pcap.synth import camera_capture, write_capture
from refserver.config import PullTransport, SourceConfig
from refserver.hls import HlsOptions
from tests.conftest import SampleFactory
from tests.integration.pcap.harness import running_replay
from tests.integration.refserver.harness import running, server_config
from wire.codec.nal import VideoCodec
from wire.codec.stamp import read_stamp_annexb

pytestmark = pytest.mark.slow


def _frame_indexes(segments: list[Path]) -> list[int]:
    indexes = []
    for segment in segments:
        with av.open(str(segment)) as container:
            for packet in container.demux(video=0):
                if packet.size:
                    stamp = read_stamp_annexb(VideoCodec.H264, bytes(packet))
                    assert stamp is not None
                    indexes.append(stamp.frame_index)
    return indexes


@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_hls_frames_match_the_capture(
    make_test_sample: SampleFactory, tmp_path: Path, transport: str
) -> None:
    sample = load(make_test_sample(gop_seconds=Fraction(1)))
    capture = camera_capture(sample, transport="udp")
    captured = load_camera(write_capture(tmp_path / "camera.pcapng", capture.packets))
    expected = [u.frame_index for u in sample.video_units]
    assert expected == list(range(len(expected)))
    assert capture.streams[0].frames == len(expected)  # one pass of the sample

    with running_replay(captured) as replay:
        # A long media timeout: the camera says BYE at the end of the capture, and a
        # reconnect would play it again.
        source = SourceConfig("door", replay.url, PullTransport(transport), media_timeout=60.0)
        config = server_config(
            tmp_path, sources=(source,), hls=HlsOptions(target_duration=1.0, window=10)
        )
        with running(config) as server:
            server.wait_for(
                lambda: server.api("door")["frames"]["video"] >= len(expected),
                timeout=30,
                what=f"{len(expected)} video frames",
            )
            hls_dir = server.hls_dir / "door"
        # Stopped: the open segment is finished and the playlist ended.
    segments = sorted(hls_dir.glob("*.ts"), key=lambda p: int(p.stem.removeprefix("segment")))
    assert _frame_indexes(segments) == expected
    playlist = (hls_dir / "index.m3u8").read_text()
    assert "#EXT-X-ENDLIST" in playlist
