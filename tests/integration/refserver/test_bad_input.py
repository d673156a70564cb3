"""Refusals, limits and bad input: each ends only the guilty connection, with a log line."""

from __future__ import annotations

import asyncio
import http.client
import logging
import struct
import time
from pathlib import Path

import pytest

from camsim.encoder.flv_source import FlvPlan
from refserver.config import Limits
from refserver.hls import HlsOptions
from tests.integration.refserver.harness import (
    RtmpPublisher,
    RunningServer,
    running,
    server_config,
)
from tests.unit.refserver.hls.streams import PPS
from tests.unit.wire.codec.test_h264 import write_sps
from wire.codec.h264 import AvcDecoderConfigurationRecord
from wire.flv import CODEC_ID_AVC, VideoFrameType, VideoTag
from wire.hls import check_playlist, parse
from wire.hls.validate import only_errors
from wire.rtmp.chunk import ChunkWriter, RtmpMessage
from wire.rtmp.events import ConnectAccepted, PublishRejected, PublishStarted
from wire.rtmp.messages import MessageType

DENIED = "NetStream.Publish.Denied"
BAD_NAME = "NetStream.Publish.BadName"

# A fmt 3 chunk on a chunk stream that never had a header: nothing to inherit (RTMP §5.3.1.2).
MALFORMED_CHUNK = bytes((0xC0 | 40,)) + b"\x00" * 16
# A command whose first value claims a 0x4000-byte string that is not there.
GARBAGE_AMF = ChunkWriter().write(
    30, RtmpMessage(MessageType.COMMAND_AMF0, b"\x02\x40\x00onStatus", 0, 0)
)


def log_lines(caplog: pytest.LogCaptureFixture, message: str) -> list[dict[str, object]]:
    """The fields of every ``refserver`` record with ``message``."""
    return [
        dict(vars(r))
        for r in caplog.records
        if r.name.startswith("refserver") and r.getMessage() == message
    ]


async def attempt(port: int, name: str, app: str = "live") -> tuple[object, bool]:
    """Publish ``name``; the answer and whether the server then closed the connection."""
    publisher = RtmpPublisher(port, app=app)
    answer = await publisher.publish(name)
    closed = await publisher.wait_closed_by_server(5)
    await publisher.close()
    return answer, closed


async def publish_and_close(port: int, name: str) -> object:
    publisher = RtmpPublisher(port)
    answer = await publisher.publish(name)
    await publisher.close()
    return answer


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("cam?key=wrong", "wrong stream key"),
        ("cam", "no stream key given"),
        ("cam?key=", "no stream key given"),
        ("other?key=secret", "no stream key is configured for this name"),
    ],
)
def test_bad_stream_key_is_denied_and_closed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, name: str, reason: str
):
    caplog.set_level(logging.INFO)
    with running(server_config(tmp_path, stream_keys={"cam": "secret"})) as server:
        answer, closed = asyncio.run(attempt(server.rtmp_port, name))
        assert isinstance(answer, PublishRejected)
        assert answer.code == DENIED
        assert closed
        assert server.api()["streams"] == []
    [line] = log_lines(caplog, "publish refused")
    assert line["code"] == DENIED
    assert line["reason"] == reason
    assert line["stream"] == name.partition("?")[0]


def test_right_stream_key_and_wildcard_key_publish(tmp_path: Path):
    keys = {"cam": "secret", "*": "master"}
    with running(server_config(tmp_path, stream_keys=keys)) as server:
        for name in ("cam?key=secret", "cam2?key=master", "cam?key=master"):
            started = asyncio.run(publish_and_close(server.rtmp_port, name))
            assert isinstance(started, PublishStarted), name


@pytest.mark.parametrize("name", ["../etc", ".hidden", "a/b", "x" * 65, "sp ace"])
def test_unsafe_stream_names_are_bad_names(tmp_path: Path, name: str):
    with running(server_config(tmp_path)) as server:
        answer, closed = asyncio.run(attempt(server.rtmp_port, name))
    assert isinstance(answer, PublishRejected)
    assert answer.code == BAD_NAME
    assert closed


def test_unknown_application_is_a_bad_name(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    with running(server_config(tmp_path)) as server:
        answer, closed = asyncio.run(attempt(server.rtmp_port, "cam", app="vod"))
    assert isinstance(answer, PublishRejected)
    assert answer.code == BAD_NAME
    assert closed
    [line] = log_lines(caplog, "publish refused")
    assert line["reason"] == "application 'vod' is not served"


def test_second_publisher_of_a_live_name_gets_bad_name(
    tmp_path: Path, h264_plan: FlvPlan, caplog: pytest.LogCaptureFixture
):
    async def scenario(server: RunningServer) -> None:
        first = RtmpPublisher(server.rtmp_port)
        assert isinstance(await first.publish("busy"), PublishStarted)
        await first.send_plan(h264_plan, seconds=1)
        answer, closed = await attempt(server.rtmp_port, "busy")
        assert isinstance(answer, PublishRejected)
        assert answer.code == BAD_NAME
        assert closed
        # The first publisher is untouched and keeps publishing.
        await first.send_plan(h264_plan, seconds=2, start_ms=1000)
        await first.unpublish()

    with running(server_config(tmp_path)) as server:
        asyncio.run(scenario(server))
        server.wait_for(lambda: not server.api("busy")["live"], what="the stream to end")
        info = server.api("busy")
        assert info["publishes"] == 1
        assert info["hls"]["segments_written"] == 3
    [line] = log_lines(caplog, "publish refused")
    assert line["reason"] == "stream is already being published"


async def connected(port: int) -> RtmpPublisher:
    """A client past the handshake and ``connect``."""
    publisher = RtmpPublisher(port)
    await publisher.open()
    assert isinstance(await publisher.read_until(ConnectAccepted), ConnectAccepted)
    return publisher


async def send_raw_and_wait_close(port: int, data: bytes) -> bool:
    publisher = await connected(port)
    assert publisher.writer is not None
    publisher.writer.write(data)
    closed = await publisher.wait_closed_by_server(5)
    await publisher.close()
    return closed


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (MALFORMED_CHUNK, "chunk stream 40: first chunk has fmt 3, nothing to inherit"),
        (GARBAGE_AMF, "AMF0"),
        (
            ChunkWriter().write(
                2, RtmpMessage(MessageType.SET_CHUNK_SIZE, struct.pack(">I", 1 << 20), 0, 0)
            ),
            "Set Chunk Size 1048576 exceeds the 65536-byte limit",
        ),
        (
            ChunkWriter().write(6, RtmpMessage(MessageType.VIDEO, b"\x17" * 2_000_000, 0, 1)),
            "message of 2000000 bytes exceeds the 1048576-byte limit",
        ),
    ],
    ids=["malformed-chunk", "garbage-amf", "chunk-size-limit", "message-size-limit"],
)
def test_bad_input_closes_only_that_connection(
    tmp_path: Path,
    h264_plan: FlvPlan,
    caplog: pytest.LogCaptureFixture,
    data: bytes,
    reason: str,
):
    limits = Limits(max_message_size=1 << 20, idle_timeout=5)

    async def scenario(server: RunningServer) -> None:
        good = RtmpPublisher(server.rtmp_port)
        assert isinstance(await good.publish("good"), PublishStarted)
        sender = asyncio.create_task(good.send_plan(h264_plan, seconds=2, realtime=True))
        assert await send_raw_and_wait_close(server.rtmp_port, data)
        await sender
        await good.unpublish()

    with running(server_config(tmp_path, limits=limits)) as server:
        asyncio.run(scenario(server))
        server.wait_for(lambda: not server.api("good")["live"], what="the good stream to end")
        assert server.api("good")["hls"]["segments_written"] == 2
    closes = log_lines(caplog, "connection closed")
    assert len(closes) == 1
    assert reason in str(closes[0]["reason"])
    assert closes[0]["levelname"] == "WARNING"


def test_stalled_handshake_times_out_without_stalling_others(
    tmp_path: Path, h264_plan: FlvPlan, caplog: pytest.LogCaptureFixture
):
    limits = Limits(handshake_timeout=1, setup_timeout=3, idle_timeout=10)

    async def scenario(server: RunningServer) -> float:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.rtmp_port)
        writer.write(b"\x03" + bytes(700))  # C0 and half of C1, then nothing
        began = time.monotonic()
        good = RtmpPublisher(server.rtmp_port)
        assert isinstance(await good.publish("flowing"), PublishStarted)
        await good.send_plan(h264_plan, seconds=2, realtime=True)
        assert await reader.read() == b""
        waited = time.monotonic() - began
        await good.unpublish()
        writer.close()
        return waited

    with running(server_config(tmp_path, limits=limits)) as server:
        waited = asyncio.run(scenario(server))
        server.wait_for(lambda: not server.api("flowing")["live"], what="the stream to end")
        assert server.api("flowing")["hls"]["segments_written"] == 2
    assert waited < 3
    [line] = log_lines(caplog, "connection closed")
    assert line["reason"] == "timed out waiting for the handshake"


def test_silent_publisher_is_dropped_after_the_idle_timeout(
    tmp_path: Path, h264_plan: FlvPlan, caplog: pytest.LogCaptureFixture
):
    limits = Limits(idle_timeout=1.5)

    async def scenario(server: RunningServer) -> float:
        publisher = RtmpPublisher(server.rtmp_port)
        assert isinstance(await publisher.publish("quiet"), PublishStarted)
        await publisher.send_plan(h264_plan, seconds=1)
        began = time.monotonic()
        assert await publisher.wait_closed_by_server(5)
        return time.monotonic() - began

    with running(server_config(tmp_path, limits=limits)) as server:
        waited = asyncio.run(scenario(server))
        assert 1.0 < waited < 3.0
        assert server.api("quiet")["live"] is False
    [line] = log_lines(caplog, "connection closed")
    assert line["reason"] == "idle for 1.5 s"


def test_connections_over_the_limit_are_refused(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    async def scenario(server: RunningServer) -> bytes:
        first = await connected(server.rtmp_port)
        second = await connected(server.rtmp_port)
        reader, writer = await asyncio.open_connection("127.0.0.1", server.rtmp_port)
        writer.write(b"\x03" + bytes(1536))
        try:
            refused = await asyncio.wait_for(reader.read(), 5)
        except ConnectionResetError:
            refused = b""
        writer.close()
        await first.close()
        await second.close()
        # A slot is free again once the others have gone.
        await asyncio.sleep(0.2)
        third = await connected(server.rtmp_port)
        await third.close()
        return refused

    with running(server_config(tmp_path, limits=Limits(max_connections=2))) as server:
        assert asyncio.run(scenario(server)) == b""
    [line] = log_lines(caplog, "connection refused")
    assert line["reason"] == "already 2 connections"


def test_publisher_killed_mid_segment_then_republished(tmp_path: Path, h264_plan: FlvPlan):
    async def killed(port: int) -> None:
        publisher = RtmpPublisher(port)
        assert isinstance(await publisher.publish("killed"), PublishStarted)
        await publisher.send_plan(h264_plan, seconds=1.5, realtime=True)
        publisher.abort()

    async def republish(port: int) -> None:
        publisher = RtmpPublisher(port)
        assert isinstance(await publisher.publish("killed"), PublishStarted)
        await publisher.send_plan(h264_plan, seconds=2)
        await publisher.unpublish()

    with running(server_config(tmp_path)) as server:
        asyncio.run(killed(server.rtmp_port))
        server.wait_for(lambda: not server.api("killed")["live"], what="the stream to go offline")
        cut = server.get("/live/killed/index.m3u8").body
        model = parse(cut)
        assert [s.uri for s in model.segments] == ["segment0.ts", "segment1.ts"]
        assert model.segments[1].duration == pytest.approx(0.5, abs=0.07)
        assert only_errors(check_playlist(cut)) == []
        assert server.get("/live/killed/segment1.ts").status == 200

        asyncio.run(republish(server.rtmp_port))
        server.wait_for(lambda: not server.api("killed")["live"], what="the republish to end")
        model = parse(server.get("/live/killed/index.m3u8").body)
        assert [s.discontinuity for s in model.segments] == [False, False, True, False]


@pytest.mark.parametrize(
    "path",
    [
        "/live/../../etc/passwd",
        "/live/cam/../../../etc/passwd",
        "/live/cam/..%2F..%2F..%2Fetc%2Fpasswd",
        "/live/%2E%2E/index.m3u8",
        "/live/..%2Fcam/index.m3u8",
        "/live/cam/.tmp-x",
        "/live/cam/index.m3u8%00.ts",
        "/live/cam/segment0.ts/..%2F..%2F..%2Fconfig.toml",
        "/live/ghost/index.m3u8",
        "/live/cam/other.txt",
        "/static/..%2Fcli.py",
        "/static/%2E%2E/cli.py",
        "//etc/passwd",
    ],
)
def test_no_path_outside_the_hls_folder_is_served(tmp_path: Path, h264_plan: FlvPlan, path: str):
    (tmp_path / "config.toml").write_text("secret = 1\n")
    with running(server_config(tmp_path)) as server:
        assert isinstance(asyncio.run(publish_and_close(server.rtmp_port, "cam")), PublishStarted)
        connection = http.client.HTTPConnection("127.0.0.1", server.http_port, timeout=5)
        connection.request("GET", path)
        response = connection.getresponse()
        body = response.read()
        connection.close()
    assert response.status in (400, 404)
    assert b"root:" not in body
    assert b"secret" not in body


def test_parameter_sets_fmp4_cannot_describe_close_only_that_publisher(
    tmp_path: Path, h264_plan: FlvPlan, caplog: pytest.LogCaptureFixture
):
    # An SPS that parses but declares a picture 80016 pixels wide: a sample entry holds 65535.
    sps = write_sps(width_in_mbs=5001)
    record = AvcDecoderConfigurationRecord.build([sps], [PPS]).serialize()
    header = VideoTag(VideoFrameType.KEY, 0, record, codec_id=CODEC_ID_AVC).serialize()
    keyframe = VideoTag(
        VideoFrameType.KEY, 1, b"\x00\x00\x00\x02\x65\x88", codec_id=CODEC_ID_AVC
    ).serialize()

    async def scenario(server: RunningServer) -> bool:
        good = RtmpPublisher(server.rtmp_port)
        assert isinstance(await good.publish("good"), PublishStarted)
        sender = asyncio.create_task(good.send_plan(h264_plan, seconds=2, realtime=True))
        huge = RtmpPublisher(server.rtmp_port)
        assert isinstance(await huge.publish("huge"), PublishStarted)
        huge.connection.send_video(0, header)
        huge.connection.send_video(0, keyframe)
        await huge.flush()
        closed = await huge.wait_closed_by_server(5)
        await huge.close()
        await sender
        await good.unpublish()
        return closed

    config = server_config(tmp_path, hls=HlsOptions(target_duration=1.0, segment_format="fmp4"))
    with running(config) as server:
        assert asyncio.run(scenario(server))
        server.wait_for(lambda: not server.api("good")["live"], what="the good stream to end")
        assert server.api("good")["hls"]["segments_written"] == 2
    [closed] = log_lines(caplog, "connection closed")
    assert str(closed["reason"]).startswith("track configuration cannot be packaged: ")
    assert "80016x" in str(closed["reason"])
    assert log_lines(caplog, "connection failed") == []
