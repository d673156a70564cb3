"""Publishing to our own ingest on loopback: the encoder sequence, media, stamps, timestamps."""

from __future__ import annotations

from pathlib import Path

import pytest

from camsim.encoder.flv_source import FlvPlan, PlanError
from camsim.encoder.stats import StreamState
from camsim.media.loader import load
from tests.conftest import SampleFactory
from tests.integration.encoder.conftest import push
from tests.integration.encoder.rtmp_server import running_server
from wire import flv
from wire.codec.h264 import AvcDecoderConfigurationRecord
from wire.codec.nal import VideoCodec
from wire.codec.stamp import read_stamp_length_prefixed
from wire.flv import VideoTag

FPS = 15


def coded_frames(video: list[tuple[int, bytes, float]]) -> list[tuple[int, VideoTag, float]]:
    tags = [(ts, VideoTag.parse(body), arrival) for ts, body, arrival in video]
    return [(ts, tag, arrival) for ts, tag, arrival in tags if not tag.is_sequence_header]


def test_encoder_sequence_and_media(plan: FlvPlan, sample_path: Path):
    sample = load(sample_path)
    assert sample.video is not None
    assert sample.audio is not None
    with running_server() as server:
        (stats,) = push([server.url("live/cam1")], plan, 1.5)
        server.wait_until(lambda: server.sessions[0].closed)
    session = server.sessions[0]
    assert session.connect == {
        "app": "live",
        "type": "nonprivate",
        "flashVer": "FMLE/3.0 (compatible; camsim)",
        "tcUrl": f"rtmp://127.0.0.1:{server.port}/live",
    }
    assert session.publish_name == "cam1"
    assert session.metadata == [plan.metadata]
    assert session.metadata[0]["width"] == 320.0
    assert session.metadata[0]["videocodecid"] == 7.0
    # Sequence headers first, then media; the configuration record is the sample's.
    header = VideoTag.parse(session.video[0][1])
    assert header.is_sequence_header
    assert header.codec_id == flv.CODEC_ID_AVC
    expected = AvcDecoderConfigurationRecord.build(
        [sample.video.parameter_sets[0]], [sample.video.parameter_sets[1]]
    )
    assert header.data == expected.serialize()
    audio_header = flv.AudioTag.parse(session.audio[0][1])
    assert audio_header.is_sequence_header
    assert audio_header.data == sample.audio.asc
    frames = coded_frames(session.video)
    assert frames[0][1].is_keyframe
    # 1.5 s at 15 fps, paced: 22 or 23 frames depending on where the last tick fell.
    assert 21 <= len(frames) <= 24
    assert stats.video_frames == len(frames)
    assert stats.audio_frames == len(session.audio) - 1
    assert session.deleted, "the encoder unpublishes before closing"
    assert stats.state is StreamState.DONE
    assert stats.error is None
    assert stats.tcp_connect_ms is not None
    assert stats.tcp_connect_ms > 0
    assert stats.tls_handshake_ms is None
    assert stats.rtmp_handshake_ms is not None
    assert stats.rtmp_handshake_ms > 0
    assert stats.connect_to_publish_ms is not None
    assert stats.connect_to_publish_ms > 0
    assert stats.bytes_sent > sum(len(body) for _, body, _ in session.video)
    assert 1.3 < stats.publishing_seconds < 2.0


def test_stamps_are_fresh_and_frame_indexes_continue_across_loops(short_plan: FlvPlan):
    with running_server() as server:
        push([server.url("live/loop")], short_plan, 2.6)
    frames = coded_frames(server.sessions[0].video)
    assert len(frames) >= 36, "more than two loops of the 15-frame sample"
    stamps = [read_stamp_length_prefixed(VideoCodec.H264, tag.data) for _, tag, _ in frames]
    assert [s.frame_index for s in stamps if s is not None] == list(range(len(frames)))
    for (_, _, arrival), stamp in zip(frames, stamps, strict=True):
        assert stamp is not None
        # Written when sent: never after arrival, and within a pacer tick plus loopback.
        assert 0 <= arrival * 1e6 - stamp.wallclock_us < 200_000
    timestamps = [ts for ts, _, _ in frames]
    assert timestamps == [round(i * 1000 / FPS) for i in range(len(frames))]


@pytest.mark.parametrize("chunk_size", [128, 4096])
def test_timestamps_cross_the_extended_timestamp_boundary(plan: FlvPlan, chunk_size: int):
    start = (1 << 24) - 400
    with running_server() as server:
        (stats,) = push(
            [server.url("live/ext")], plan, 1.2, start_timestamp=start, chunk_size=chunk_size
        )
    session = server.sessions[0]
    frames = coded_frames(session.video)
    timestamps = [ts for ts, _, _ in frames]
    assert timestamps == [start + round(i * 1000 / FPS) for i in range(len(frames))]
    assert timestamps[0] < 1 << 24 < timestamps[-1]
    audio = [ts for ts, _ in session.audio[1:]]
    assert audio == sorted(audio)
    assert audio[-1] > 1 << 24
    assert session.video[0][0] == start  # sequence header at the first frame's time
    assert stats.state is StreamState.DONE


def test_stream_index_fills_the_url(plan: FlvPlan):
    with running_server() as server:
        template = server.url("live/cam{n}")
        results = push([template.replace("{n}", str(n)) for n in (1, 2, 3)], plan, 0.6)
    assert sorted(s.publish_name or "" for s in server.sessions) == ["cam1", "cam2", "cam3"]
    assert [s.index for s in results] == [1, 2, 3]
    assert all(s.state is StreamState.DONE for s in results)


def test_enhanced_rtmp_hevc(make_test_sample: SampleFactory):
    plan = FlvPlan.build(load(make_test_sample(codec=VideoCodec.H265)), enhanced=True)
    with running_server() as server:
        (stats,) = push([server.url("live/hevc")], plan, 0.8)
    session = server.sessions[0]
    assert session.connect is not None
    assert session.connect["fourCcList"] == ["hvc1"]
    assert session.metadata[0]["videocodecid"] == float(int.from_bytes(b"hvc1", "big"))
    tags = [VideoTag.parse(body) for _, body, _ in session.video]
    assert all(tag.fourcc == flv.FOURCC_HVC1 for tag in tags)
    assert tags[0].packet_type == flv.VideoPacketType.SEQUENCE_START
    # No B-frames: the composition time is zero, so FFmpeg's CodedFramesX form is used.
    assert {tag.packet_type for tag in tags[1:]} == {flv.VideoPacketType.CODED_FRAMES_X}
    stamp = read_stamp_length_prefixed(VideoCodec.H265, tags[1].data)
    assert stamp is not None
    assert stamp.frame_index == 0
    assert stamp.stamped
    assert stats.state is StreamState.DONE


def test_hevc_without_enhanced_is_refused(make_test_sample: SampleFactory):
    path = make_test_sample(codec=VideoCodec.H265)
    with pytest.raises(PlanError) as excinfo:
        FlvPlan.build(load(path))
    assert str(excinfo.value) == f"{path}: H.265 is only carried by Enhanced RTMP; use --enhanced"
