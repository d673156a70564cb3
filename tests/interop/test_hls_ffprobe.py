"""ffprobe, a demuxer no one here wrote, judges the packager's segments and playlist."""

from __future__ import annotations

import itertools
import json
import subprocess
from fractions import Fraction
from pathlib import Path

import pytest

from camsim.media.loader import MediaKind, load
from refserver.hls import (
    AudioConfig,
    DirectoryStorage,
    Frame,
    HlsOptions,
    HlsSegmenter,
    VideoConfig,
)
from tests.conftest import SampleFactory
from wire.codec.aac import AudioSpecificConfig
from wire.codec.nal import VideoCodec
from wire.hls import MediaPlaylist, parse

pytestmark = pytest.mark.interop("ffprobe")

FPS = 15
FRAME_TICKS = 90000 // FPS


def ffprobe(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["ffprobe", *args], check=True, capture_output=True, text=True, timeout=120
    )


def ffprobe_json(*args: str) -> dict[str, list[dict[str, object]]]:
    result: dict[str, list[dict[str, object]]] = json.loads(
        ffprobe("-v", "error", "-of", "json", *args).stdout
    )
    return result


def package(sample_path: Path, folder: Path, loops: int) -> MediaPlaylist:
    sample = load(sample_path)
    assert sample.video is not None
    assert sample.audio is not None
    segmenter = HlsSegmenter(
        DirectoryStorage(folder),
        video=VideoConfig(sample.video.codec, sample.video.parameter_sets),
        audio=AudioConfig(AudioSpecificConfig.parse(sample.audio.asc)),
        options=HlsOptions(window=10),
    )
    for unit in sample.loop(loops):
        if unit.kind is MediaKind.VIDEO:
            segmenter.push(Frame.video(unit.pts, unit.dts, unit.nalus, unit.keyframe))
        else:
            segmenter.push(Frame.audio(unit.pts * 90000 // unit.clock_rate, unit.data))
    segmenter.finish(endlist=True)
    return parse((folder / "index.m3u8").read_bytes())


@pytest.mark.parametrize("codec", [VideoCodec.H264, VideoCodec.H265])
def test_ffprobe_reads_playlist_and_segments(
    make_test_sample: SampleFactory, tmp_path: Path, codec: VideoCodec
):
    sample = make_test_sample(codec=codec, duration=Fraction(4))
    playlist = package(sample, tmp_path, loops=3)
    assert len(playlist.segments) == 6

    streams = ffprobe_json("-show_streams", str(tmp_path / "index.m3u8"))["streams"]
    expected = "h264" if codec is VideoCodec.H264 else "hevc"
    assert sorted(str(s["codec_name"]) for s in streams) == sorted([expected, "aac"])

    for number, segment in playlist.numbered():
        path = tmp_path / segment.uri
        packets = ffprobe_json(
            "-show_packets",
            "-select_streams",
            "v:0",
            "-show_entries",
            "packet=pts,dts,flags",
            str(path),
        )["packets"]
        assert str(packets[0]["flags"]).startswith("K"), segment.uri
        assert int(str(packets[0]["pts"])) == number * 2 * 90000
        frames = ffprobe_json(
            "-show_frames",
            "-select_streams",
            "v:0",
            "-read_intervals",
            "%+#1",
            "-show_entries",
            "frame=key_frame,pict_type",
            str(path),
        )["frames"]
        assert (frames[0]["key_frame"], frames[0]["pict_type"]) == (1, "I"), segment.uri


def test_timestamps_continuous_and_durations_match(make_test_sample: SampleFactory, tmp_path: Path):
    playlist = package(make_test_sample(duration=Fraction(4)), tmp_path, loops=3)
    joined = tmp_path / "all.ts"
    joined.write_bytes(b"".join((tmp_path / s.uri).read_bytes() for s in playlist.segments))

    packets = ffprobe_json(
        "-show_packets",
        "-select_streams",
        "v:0",
        "-show_entries",
        "packet=pts,dts",
        str(joined),
    )["packets"]
    pts = sorted(int(str(p["pts"])) for p in packets)
    dts = [int(str(p["dts"])) for p in packets]
    assert all(b - a == FRAME_TICKS for a, b in itertools.pairwise(pts))
    assert all(b > a for a, b in itertools.pairwise(dts))
    media_duration = (pts[-1] + FRAME_TICKS - pts[0]) / 90000
    assert abs(playlist.duration - media_duration) <= FRAME_TICKS / 90000

    audio = ffprobe_json(
        "-show_packets",
        "-select_streams",
        "a:0",
        "-show_entries",
        "packet=pts",
        str(joined),
    )["packets"]
    audio_pts = [int(str(p["pts"])) for p in audio]
    steps = [b - a for a, b in itertools.pairwise(audio_pts)]
    # 1024 samples at 48 kHz; each loop seam may leave a gap shorter than one frame.
    seams = [step for step in steps if step != 1920]
    assert len(seams) <= 2
    assert all(1920 < step < 3840 for step in seams)

    # The mpegts demuxer reports continuity counter jumps at debug level.
    log = ffprobe("-v", "debug", "-show_packets", str(joined)).stderr
    assert "Continuity check failed" not in log
