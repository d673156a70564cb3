"""FFmpeg pulls replayed cameras: the field capture's camera decodes, camsim's loses no frame."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import av
import pytest

from camsim.media.loader import load
from camsim.pcap.replay_camera import load_camera
from camsim.pcap.synth import camera_capture, write_capture
from tests.conftest import SampleFactory
from tests.integration.pcap.harness import running_replay
from wire.codec.nal import VideoCodec
from wire.codec.stamp import read_stamp_annexb

pytestmark = pytest.mark.interop("ffprobe", "ffmpeg")


@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_ffprobe_decodes_the_field_camera(shared_dir: Path, transport: str) -> None:
    captured = load_camera(shared_dir / "captures" / "camera-h264-udp-digest.pcapng")
    with running_replay(captured) as replay:
        probe = subprocess.run(
            [
                "ffprobe",
                "-v",
                "error",
                "-rtsp_transport",
                transport,
                "-show_streams",
                "-count_frames",
                "-of",
                "json",
                replay.url,
            ],
            check=True,
            capture_output=True,
            text=True,
            timeout=60,
        )
    (stream,) = json.loads(probe.stdout)["streams"]
    assert (stream["codec_name"], stream["profile"]) == ("h264", "Main")
    assert (stream["width"], stream["height"]) == (1920, 1080)
    # Every frame of the capture decodes: 82 pictures, two keyframes 2 s apart.
    assert int(stream["nb_read_frames"]) == 82


@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_ffmpeg_gets_every_frame_of_a_replayed_camsim_camera(
    make_test_sample: SampleFactory, tmp_path: Path, transport: str
) -> None:
    sample = load(make_test_sample())
    capture = camera_capture(sample, transport="udp")
    captured = load_camera(write_capture(tmp_path / "camera.pcapng", capture.packets))
    output = tmp_path / "pulled.ts"
    with running_replay(captured) as replay:
        subprocess.run(
            [
                "ffmpeg",
                "-nostdin",
                "-v",
                "error",
                "-rtsp_transport",
                transport,
                "-i",
                replay.url,
                "-c",
                "copy",
                "-f",
                "mpegts",
                str(output),
            ],
            check=True,
            timeout=60,
        )
    indexes = []
    audio = 0
    with av.open(str(output)) as container:
        for packet in container.demux():
            if not packet.size:
                continue
            if packet.stream.type == "video":
                stamp = read_stamp_annexb(VideoCodec.H264, bytes(packet))
                assert stamp is not None
                indexes.append(stamp.frame_index)
            else:
                audio += 1
    # The capture is one pass of the sample: its frames, in order, each once.
    assert indexes == [u.frame_index for u in sample.video_units]
    assert len(indexes) == capture.streams[0].frames
    assert audio >= capture.streams[1].frames - 2  # FFmpeg may hold back the last AAC frames
