"""Bytes that reach an error path in the middle of a read: only that connection ends, once,
with one log line, and nothing escapes to the event loop."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from camsim.encoder.flv_source import FlvPlan
from refserver.config import Limits
from tests.integration.refserver.harness import (
    RtmpPublisher,
    RunningServer,
    running,
    server_config,
)
from wire.rtmp.chunk import ChunkWriter, RtmpMessage
from wire.rtmp.events import ConnectAccepted, PublishStarted
from wire.rtmp.messages import Command, MessageType, to_message

# A command whose first value claims a 0x4000-byte string that is not there.
GARBAGE_COMMAND = RtmpMessage(MessageType.COMMAND_AMF0, b"\x02\x40\x00onStatus", 0, 0)


def publish_then_garbage() -> bytes:
    """createStream, publish on its stream and a malformed command, in one write."""
    writer = ChunkWriter()
    create = to_message(Command("createStream", 9.0))
    publish = to_message(Command("publish", 0.0, None, ["doomed", "live"]), stream_id=1)
    return writer.write(3, create) + writer.write(8, publish) + writer.write(3, GARBAGE_COMMAND)


@pytest.mark.parametrize("tls", [False, True], ids=["rtmp", "rtmps"])
def test_publish_and_invalid_amf_in_one_write_close_only_that_connection(
    tmp_path: Path, h264_plan: FlvPlan, caplog: pytest.LogCaptureFixture, tls: bool
) -> None:
    caplog.set_level(logging.DEBUG, logger="asyncio")

    async def scenario(server: RunningServer) -> None:
        port = server.rtmps_port if tls else server.rtmp_port
        good = RtmpPublisher(port, tls=tls)
        assert isinstance(await good.publish("good"), PublishStarted)
        sender = asyncio.create_task(good.send_plan(h264_plan, seconds=2, realtime=True))
        bad = RtmpPublisher(port, tls=tls)
        await bad.open()
        assert isinstance(await bad.read_until(ConnectAccepted), ConnectAccepted)
        assert bad.writer is not None
        bad.writer.write(publish_then_garbage())
        assert await bad.wait_closed_by_server(5)
        await bad.close()
        await sender
        await good.unpublish()

    with running(server_config(tmp_path, limits=Limits(idle_timeout=5))) as server:
        asyncio.run(scenario(server))
        server.wait_for(lambda: not server.api("good")["live"], what="the good stream to end")
        assert server.api("good")["hls"]["segments_written"] == 2
        # The publish that died with its connection left no stream behind.
        assert [s["name"] for s in server.api()["streams"]] == ["good"]
    escaped = [r for r in caplog.records if r.name == "asyncio" and r.levelno >= logging.ERROR]
    assert escaped == []
    closes = [
        r.__dict__
        for r in caplog.records
        if r.name == "refserver.ingest" and r.getMessage() == "connection closed"
        if r.levelno == logging.WARNING
    ]
    assert len(closes) == 1
    assert "AMF0" in str(closes[0]["reason"])
