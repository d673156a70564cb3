"""Latency figures say why they are empty: no video yet, no SEI stamps (an FFmpeg push), or
stamps that were never given a send time."""

from __future__ import annotations

import time
from pathlib import Path

import jinja2

from refserver.hls import Frame, HlsOptions
from refserver.streams import LiveStream, PublisherInfo, StreamRegistry
from tests.unit.refserver.hls.streams import AUDIO, VIDEO, video_frames
from wire.codec.nal import VideoCodec
from wire.codec.stamp import stamp_sei_nal


def stream(tmp_path: Path) -> LiveStream:
    registry = StreamRegistry(tmp_path, HlsOptions())
    live = registry.claim("cam", PublisherInfo("127.0.0.1:1", "rtmp", time.time(), 1))
    live.configure(VIDEO, AUDIO)
    return live


def latency(live: LiveStream) -> dict[str, object]:
    described = live.describe(time.time())["latency"]
    assert isinstance(described, dict)
    return described


def test_no_video_yet(tmp_path: Path):
    live = stream(tmp_path)
    live.push(Frame.audio(0, b"\x21" * 50), 57)
    figures = latency(live)
    assert figures["samples"] == 0
    assert figures["p50"] is None
    assert figures["reason"] == "no video frame yet: latency is measured on video frames"


def test_video_without_sei_stamps_as_ffmpeg_sends_it(tmp_path: Path):
    live = stream(tmp_path)
    for frame in video_frames(40):
        live.push(frame, 100)
    figures = latency(live)
    assert figures["samples"] == 0
    assert figures["reason"] == (
        "the video carries no SEI stamps, so no latency can be measured "
        "(camsim run and camsim push stamp every frame; FFmpeg and encoders add none)"
    )


def test_stamps_that_were_never_given_a_send_time(tmp_path: Path):
    live = stream(tmp_path)
    for frame in video_frames(40):
        unstamped = stamp_sei_nal(VideoCodec.H264, 0, wallclock_us=0)
        live.push(Frame.video(frame.pts, frame.dts, (unstamped, *frame.nalus), frame.keyframe), 100)
    assert latency(live)["reason"] == (
        "the video's SEI stamps carry no send time (the file was sent on as it is, e.g. by "
        "FFmpeg), so no latency can be measured"
    )


def test_stamped_video_has_figures_and_no_reason(tmp_path: Path):
    live = stream(tmp_path)
    now_us = time.time_ns() // 1000
    for frame in video_frames(10):
        live.push(Frame.video(frame.pts, frame.dts, frame.nalus, frame.keyframe, now_us), 100)
    figures = latency(live)
    assert figures["samples"] == 10
    assert figures["p50"] is not None
    assert figures["reason"] is None


def test_the_index_page_shows_the_reason(tmp_path: Path):
    live = stream(tmp_path)
    for frame in video_frames(40):
        live.push(frame, 100)
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("refserver", "templates"), autoescape=True
    )
    page = environment.get_template("index.html").render(
        streams=[live.describe(time.time())], play="", refresh_seconds=2
    )
    assert ">the video carries no SEI stamps</span>" in page
    assert 'title="the video carries no SEI stamps, so no latency can be measured' in page
