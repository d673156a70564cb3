"""ffprobe, a decoder no one here wrote, judges the samples camsim makes."""

from __future__ import annotations

import json
import subprocess
from fractions import Fraction
from pathlib import Path

import pytest
from click.testing import CliRunner

from camsim.cli import main
from camsim.media.loader import load
from tests.conftest import SampleFactory
from wire.codec.dts import reorder_depth
from wire.codec.nal import H264_NAL_SPS, H265_NAL_SPS, VideoCodec, nal_type
from wire.codec.stamp import STAMP_UUID

pytestmark = pytest.mark.interop("ffprobe")

# ffprobe prints user-data-unregistered SEI side data under this type name (libavutil).
SEI_SIDE_DATA = "H.26[45] User Data Unregistered SEI message"


def ffprobe_json(*args: str) -> dict[str, object]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-of", "json", *args],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    result: dict[str, object] = json.loads(out.stdout)
    return result


def video_stream(path: Path) -> dict[str, object]:
    info = ffprobe_json("-show_streams", "-select_streams", "v:0", str(path))
    streams = info["streams"]
    assert isinstance(streams, list)
    assert len(streams) == 1
    stream: dict[str, object] = streams[0]
    return stream


def video_frames(path: Path) -> list[dict[str, object]]:
    info = ffprobe_json("-show_frames", "-select_streams", "v:0", str(path))
    frames = info["frames"]
    assert isinstance(frames, list)
    return frames


def check_sample(
    path: Path, codec: VideoCodec, size: tuple[int, int], fps: int, keyint: int, frame_count: int
) -> None:
    stream = video_stream(path)
    assert stream["codec_name"] == ("h264" if codec is VideoCodec.H264 else "hevc")
    assert (stream["width"], stream["height"]) == size
    assert Fraction(str(stream["r_frame_rate"])) == fps

    frames = video_frames(path)
    assert len(frames) == frame_count
    keyframes = [i for i, f in enumerate(frames) if f["key_frame"] == 1]
    assert keyframes == list(range(0, frame_count, keyint))
    for frame in frames:
        side_data = frame.get("side_data_list", [])
        assert isinstance(side_data, list)
        assert any(sd["side_data_type"] == SEI_SIDE_DATA for sd in side_data), frame


@pytest.mark.parametrize("codec", list(VideoCodec))
def test_ffprobe_accepts_samples_and_sees_a_stamp_on_every_frame(
    make_test_sample: SampleFactory, codec: VideoCodec
):
    path = make_test_sample(
        codec=codec,
        width=640,
        height=360,
        fps=Fraction(25),
        gop_seconds=Fraction(1),
        duration=Fraction(3),
    )
    check_sample(path, codec, (640, 360), 25, 25, 75)


@pytest.mark.parametrize("bframes", [0, 1, 3])
@pytest.mark.parametrize("codec", list(VideoCodec))
def test_reorder_depth_is_what_ffprobe_reads_from_the_sps(
    make_test_sample: SampleFactory, codec: VideoCodec, bframes: int
) -> None:
    """The depth refserver derives pulled streams' decode times from, against FFmpeg's
    ``has_b_frames`` (its decoder's reorder delay, read from the same SPS)."""
    path = make_test_sample(codec=codec, bframes=bframes, duration=Fraction(1), audio=False)
    video = load(path).video
    assert video is not None
    sps_type = H264_NAL_SPS if codec is VideoCodec.H264 else H265_NAL_SPS
    sps = next(nal for nal in video.parameter_sets if nal_type(codec, nal) == sps_type)
    depth, fps = reorder_depth(codec, sps)
    stream = video_stream(path)
    assert depth == stream["has_b_frames"]
    assert (depth > 0) == (bframes > 0)
    assert fps == Fraction(str(stream["r_frame_rate"]))


def test_ffprobe_sees_our_uuid(make_test_sample: SampleFactory):
    # The side data's UUID is printed by newer ffprobe versions; the packet bytes always hold it.
    path = make_test_sample()
    out = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_packets",
            "-show_data",
            "-read_intervals",
            "%+#2",
            str(path),
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    hex_dump = "".join(
        line.split(":", 1)[1][:40].replace(" ", "")
        for line in out.splitlines()
        if line[:8].isalnum() and ":" in line
    )
    assert STAMP_UUID.hex() in hex_dump


@pytest.mark.slow
def test_h265_1080p_ten_seconds_from_the_cli(tmp_path: Path):
    """The command in the README's example, checked end to end."""
    result = CliRunner().invoke(
        main,
        [
            "media",
            "make",
            "--codec",
            "h265",
            "--size",
            "1920x1080",
            "--duration",
            "10",
            "--out",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 0, result.output
    (path,) = tmp_path.glob("*.mp4")
    check_sample(path, VideoCodec.H265, (1920, 1080), 30, 60, 300)
    assert "stamps 300/300 frames (100%), indexes 0..299 in order" in result.output
