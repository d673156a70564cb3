"""ffprobe judges the packager's fragmented MP4 output: init segment, media segments, playlist."""

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


def ffprobe_json(*args: str) -> dict[str, list[dict[str, object]]]:
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-of", "json", *args],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    parsed: dict[str, list[dict[str, object]]] = json.loads(result.stdout)
    return parsed


def package(sample_path: Path, folder: Path, loops: int) -> tuple[MediaPlaylist, int]:
    """The sample looped ``loops`` times as fMP4 HLS in ``folder``; the playlist and the
    number of pictures."""
    sample = load(sample_path)
    assert sample.video is not None
    assert sample.audio is not None
    segmenter = HlsSegmenter(
        DirectoryStorage(folder),
        video=VideoConfig(sample.video.codec, sample.video.parameter_sets),
        audio=AudioConfig(AudioSpecificConfig.parse(sample.audio.asc)),
        options=HlsOptions(window=10, segment_format="fmp4"),
    )
    pictures = 0
    for unit in sample.loop(loops):
        if unit.kind is MediaKind.VIDEO:
            pictures += 1
            segmenter.push(Frame.video(unit.pts, unit.dts, unit.nalus, unit.keyframe))
        else:
            segmenter.push(Frame.audio(unit.pts * 90000 // unit.clock_rate, unit.data))
    segmenter.finish(endlist=True)
    return parse((folder / "index.m3u8").read_bytes()), pictures


@pytest.mark.parametrize("codec", [VideoCodec.H264, VideoCodec.H265])
def test_ffprobe_reads_init_plus_segment(
    make_test_sample: SampleFactory, tmp_path: Path, codec: VideoCodec
):
    sample = make_test_sample(codec=codec, duration=Fraction(4))
    playlist, _ = package(sample, tmp_path, loops=1)
    assert [s.uri for s in playlist.segments] == ["seg-0.m4s", "seg-1.m4s"]
    init = (tmp_path / "init-0.mp4").read_bytes()
    for segment in playlist.segments:
        joined = tmp_path / f"{segment.uri}.mp4"
        joined.write_bytes(init + (tmp_path / segment.uri).read_bytes())
        streams = ffprobe_json("-count_frames", "-show_streams", str(joined))["streams"]
        video = next(s for s in streams if s["codec_type"] == "video")
        audio = next(s for s in streams if s["codec_type"] == "audio")
        assert video["codec_name"] == ("h264" if codec is VideoCodec.H264 else "hevc")
        assert (video["width"], video["height"]) == (320, 240)
        assert video["nb_read_frames"] == str(round(segment.duration * FPS))
        assert (audio["codec_name"], audio["sample_rate"], audio["channels"]) == (
            "aac",
            "48000",
            2,
        )
        packets = ffprobe_json(
            "-show_packets", "-select_streams", "v:0", "-show_entries", "packet=flags", str(joined)
        )["packets"]
        assert str(packets[0]["flags"]).startswith("K")
        assert not any(str(p["flags"]).startswith("K") for p in packets[1:])


@pytest.mark.parametrize("bframes", [0, 2])
def test_ffprobe_reads_the_playlist_with_continuous_timestamps(
    make_test_sample: SampleFactory, tmp_path: Path, bframes: int
):
    sample = make_test_sample(duration=Fraction(4), bframes=bframes)
    playlist, pictures = package(sample, tmp_path, loops=3)
    assert len(playlist.segments) == 6
    assert playlist.segments[0].init_section is not None
    path = str(tmp_path / "index.m3u8")
    streams = ffprobe_json("-allowed_extensions", "ALL", "-show_streams", path)["streams"]
    assert sorted(str(s["codec_name"]) for s in streams) == ["aac", "h264"]

    packets = ffprobe_json(
        "-allowed_extensions",
        "ALL",
        "-show_packets",
        "-select_streams",
        "v:0",
        "-show_entries",
        "packet=pts,dts",
        path,
    )["packets"]
    assert len(packets) == pictures
    pts = sorted(int(str(p["pts"])) for p in packets)
    dts = [int(str(p["dts"])) for p in packets]
    assert all(b - a == FRAME_TICKS for a, b in itertools.pairwise(pts))
    assert all(b - a == FRAME_TICKS for a, b in itertools.pairwise(dts))
    media_duration = (pts[-1] + FRAME_TICKS - pts[0]) / 90000
    assert abs(playlist.duration - media_duration) <= FRAME_TICKS / 90000
