"""What one peer may hold: connection slots (TLS handshakes included), per-address slots, bytes
in unfinished messages, bytes it leaves unread. Each attack ends the attacker's connections only;
a publisher from another address gets in and publishes throughout."""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import time
from pathlib import Path

import pytest

from camsim.encoder.flv_source import FlvPlan
from refserver.config import Limits
from refserver.logs import REPEAT_WINDOW, RepeatCollapsingHandler
from tests.integration.refserver.harness import (
    RtmpPublisher,
    RunningServer,
    running,
    server_config,
)
from wire.rtmp.chunk import ChunkWriter, RtmpMessage, encode_basic_header
from wire.rtmp.events import ConnectAccepted, PublishStarted
from wire.rtmp.messages import MessageType, SetChunkSize, UserControl, to_message

ATTACKER = "127.0.0.1"
PUBLISHER = "127.0.0.2"
KiB = 1024
MiB = 1024 * KiB


class WrittenRecords(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def log_lines(caplog: pytest.LogCaptureFixture, message: str) -> list[dict[str, object]]:
    return [
        dict(vars(r))
        for r in caplog.records
        if r.name.startswith("refserver") and r.getMessage() == message
    ]


async def idle_sockets(
    port: int, count: int, sources: tuple[str, ...] = (ATTACKER,)
) -> list[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    """``count`` connections from ``sources`` in turn that send nothing (for RTMPS: TLS
    handshakes that never start)."""
    return [
        await asyncio.open_connection(
            "127.0.0.1", port, local_addr=(sources[index % len(sources)], 0)
        )
        for index in range(count)
    ]


async def closed_by_server(reader: asyncio.StreamReader, timeout: float) -> bool:
    try:
        return await asyncio.wait_for(reader.read(), timeout) == b""
    except TimeoutError:
        return False
    except ConnectionError:
        return True


async def publish_for(port: int, plan: FlvPlan, name: str, *, tls: bool, seconds: float) -> None:
    publisher = RtmpPublisher(port, tls=tls, source=PUBLISHER)
    assert isinstance(await publisher.publish(name), PublishStarted), publisher.events
    await publisher.send_plan(plan, seconds=seconds, realtime=True)
    await publisher.unpublish()


def close_all(sockets: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]]) -> None:
    for _, writer in sockets:
        writer.transport.abort()


def test_tls_handshakes_in_progress_count_against_max_connections(
    tmp_path: Path, h264_plan: FlvPlan, caplog: pytest.LogCaptureFixture
) -> None:
    limits = Limits(max_connections=3, handshake_timeout=1.5, idle_timeout=5)

    async def scenario(server: RunningServer) -> None:
        port = server.rtmps_port
        # One each from three addresses, so that none holds more than its share of the slots.
        held = await idle_sockets(port, 3, ("127.0.1.1", "127.0.1.2", "127.0.1.3"))
        began = time.monotonic()
        # A fourth connection, a real TLS publisher, finds no slot: it is closed at accept.
        late = RtmpPublisher(port, tls=True, source=PUBLISHER)
        with pytest.raises((ConnectionError, ssl.SSLError)):
            await late.open()
        await late.close()
        # The half-open handshakes are closed at the deadline, counted from TCP accept...
        for reader, _ in held:
            assert await closed_by_server(reader, 3)
        assert time.monotonic() - began < 1.5 + 1.0
        close_all(held)
        # ...and their slots serve a publisher again.
        await publish_for(port, h264_plan, "after", tls=True, seconds=1)

    with running(server_config(tmp_path, limits=limits)) as server:
        asyncio.run(scenario(server))
        assert server.api("after")["frames"]["video"] > 0
    [refused] = log_lines(caplog, "connection refused")
    assert refused["reason"] == "already 3 connections"
    closes = [c for c in log_lines(caplog, "connection closed") if c["levelname"] == "WARNING"]
    assert [c["reason"] for c in closes] == ["timed out waiting for the TLS handshake"] * 3


@pytest.mark.parametrize("tls", [False, True], ids=["rtmp", "rtmps"])
def test_one_address_cannot_take_every_slot(
    tmp_path: Path, h264_plan: FlvPlan, caplog: pytest.LogCaptureFixture, tls: bool
) -> None:
    limits = Limits(max_connections=8, max_connections_per_ip=4, handshake_timeout=10)

    async def scenario(server: RunningServer) -> list[bool]:
        port = server.rtmps_port if tls else server.rtmp_port
        attack = await idle_sockets(port, 8)
        closed = [await closed_by_server(reader, 0.3) for reader, _ in attack]
        # While the attacker holds its four slots, a publisher from elsewhere gets in.
        await publish_for(port, h264_plan, "legit", tls=tls, seconds=2)
        assert not any([await closed_by_server(reader, 0.05) for reader, _ in attack[:4]])
        close_all(attack)
        return closed

    with running(server_config(tmp_path, limits=limits)) as server:
        closed = asyncio.run(scenario(server))
        server.wait_for(lambda: not server.api("legit")["live"], what="the stream to end")
        assert server.api("legit")["hls"]["segments_written"] == 2
    assert closed == [False] * 4 + [True] * 4
    refusals = log_lines(caplog, "connection refused")
    assert [r["reason"] for r in refusals] == [f"already 4 connections from {ATTACKER}"] * 4
    # A flood of refusals is one line in the log and a count, not a line per connection.
    written = WrittenRecords()
    collapsing = RepeatCollapsingHandler(written)
    for record in caplog.records:
        if record.getMessage() == "connection refused":
            collapsing.handle(record)
    assert len(written.records) == 1
    collapsing.flush(now=time.time() + REPEAT_WINDOW + 1)
    assert [getattr(r, "repeated", None) for r in written.records] == [None, 3]


@pytest.mark.parametrize("tls", [False, True], ids=["rtmp", "rtmps"])
def test_a_full_server_makes_room_for_a_publisher(
    tmp_path: Path, h264_plan: FlvPlan, caplog: pytest.LogCaptureFixture, tls: bool
) -> None:
    limits = Limits(max_connections=6, max_connections_per_ip=3, handshake_timeout=10)

    async def scenario(server: RunningServer) -> list[bool]:
        port = server.rtmps_port if tls else server.rtmp_port
        # Two addresses fill every slot with connections that never publish.
        attack = [
            await asyncio.open_connection("127.0.0.1", port, local_addr=(address, 0))
            for address in ("127.0.1.1", "127.0.1.2")
            for _ in range(3)
        ]
        await publish_for(port, h264_plan, "legit", tls=tls, seconds=2)
        closed = [await closed_by_server(reader, 0.05) for reader, _ in attack]
        close_all(attack)
        return closed

    with running(server_config(tmp_path, limits=limits)) as server:
        closed = asyncio.run(scenario(server))
        server.wait_for(lambda: not server.api("legit")["live"], what="the stream to end")
        assert server.api("legit")["hls"]["segments_written"] == 2
    # One slot was taken back: the oldest connection of the first address to fill up.
    assert closed == [True] + [False] * 5
    closes = [c for c in log_lines(caplog, "connection closed") if c["levelname"] == "WARNING"]
    assert len(closes) == 1
    assert str(closes[0]["reason"]).startswith("evicted after ")
    assert str(closes[0]["reason"]).endswith(" s without publishing, to make room")
    assert str(closes[0]["peer"]).startswith("127.0.1.1:")
    assert log_lines(caplog, "connection refused") == []


def unfinished_messages(streams: int, chunks: int) -> bytes:
    """Set Chunk Size 64 KiB, then on each of ``streams`` chunk streams the first ``chunks``
    chunks of a 1 MiB video message, never its end."""
    size = 64 * KiB
    chunk_size = RtmpMessage(MessageType.SET_CHUNK_SIZE, SetChunkSize(size).serialize(), 0, 0)
    data = bytearray(ChunkWriter().write(2, chunk_size))
    for csid in range(10, 10 + streams):
        header = encode_basic_header(0, csid) + bytes(3) + MiB.to_bytes(3, "big")
        data += header + bytes((MessageType.VIDEO,)) + (1).to_bytes(4, "little")
        data += b"\x17" * size
        for _ in range(chunks - 1):
            data += encode_basic_header(3, csid) + b"\x17" * size
    return bytes(data)


def test_unfinished_messages_on_many_chunk_streams_close_only_that_connection(
    tmp_path: Path, h264_plan: FlvPlan, caplog: pytest.LogCaptureFixture
) -> None:
    limits = Limits(max_message_size=MiB, max_buffered_bytes=MiB + MiB // 4, idle_timeout=5)

    async def scenario(server: RunningServer) -> None:
        port = server.rtmp_port
        sender = asyncio.create_task(publish_for(port, h264_plan, "good", tls=False, seconds=2))
        bad = RtmpPublisher(port)
        assert isinstance(await bad.publish("bad"), PublishStarted)
        assert bad.writer is not None
        # Three messages of 512 KiB each so far: each within max_message_size, 1.5 MiB in all.
        bad.writer.write(unfinished_messages(streams=3, chunks=8))
        assert await bad.wait_closed_by_server(5)
        await bad.close()
        await sender

    with running(server_config(tmp_path, limits=limits)) as server:
        asyncio.run(scenario(server))
        server.wait_for(lambda: not server.api("good")["live"], what="the good stream to end")
        assert server.api("good")["hls"]["segments_written"] == 2
    closes = [c for c in log_lines(caplog, "connection closed") if c["levelname"] == "WARNING"]
    assert len(closes) == 1
    assert "unfinished messages exceed the 1310720-byte limit" in str(closes[0]["reason"])


async def unread_connection(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """An RTMP connection past ``connect`` whose socket takes in as little as it can."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    publisher = RtmpPublisher(port)
    publisher.reader, publisher.writer = await asyncio.open_connection(sock=sock)
    publisher.connection.initiate(time.monotonic())
    await publisher.flush()
    assert isinstance(await publisher.read_until(ConnectAccepted), ConnectAccepted)
    return publisher.reader, publisher.writer


@pytest.mark.slow
def test_a_peer_that_never_reads_is_dropped_and_buffered_for_little(
    tmp_path: Path, h264_plan: FlvPlan, caplog: pytest.LogCaptureFixture
) -> None:
    limits = Limits(write_timeout=1.0, idle_timeout=30)
    ping = to_message(UserControl.ping_request(7))
    writer_state = ChunkWriter()
    # Every ping asks for an answer the peer never reads: 1 MiB of requests at a time.
    pings = b"".join(writer_state.write(2, ping) for _ in range(MiB // 12))

    async def buffered(server: RunningServer) -> int:
        assert server.server is not None
        sessions = server.server.ingest.sessions

        async def sizes() -> int:
            transports = [s.transport for s in sessions if s.transport is not None]
            return max((t.get_write_buffer_size() for t in transports), default=0)

        return int(
            await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(sizes(), server.loop))
        )

    async def scenario(server: RunningServer) -> tuple[float, int]:
        sender = asyncio.create_task(
            publish_for(server.rtmp_port, h264_plan, "good", tls=False, seconds=3)
        )
        _, writer = await unread_connection(server.rtmp_port)
        began = sampled = time.monotonic()
        most = 0
        dropped_after = float("inf")
        while time.monotonic() - began < 30:
            try:
                writer.write(pings)
                await asyncio.wait_for(writer.drain(), 0.2)
            except TimeoutError:
                pass
            except ConnectionError:
                dropped_after = time.monotonic() - began
                break
            if time.monotonic() - sampled >= 0.25:
                sampled = time.monotonic()
                most = max(most, await buffered(server))
        writer.transport.abort()
        await sender
        return dropped_after, most

    with running(server_config(tmp_path, limits=limits)) as server:
        dropped_after, most = asyncio.run(scenario(server))
        assert server.api("good")["hls"]["segments_written"] == 3
    # Reading stopped once the answers queued up, so little was ever held for the peer...
    assert most <= limits.max_write_buffer
    # ...and it was dropped once it had left our writes unread for write_timeout.
    # (How soon depends on how fast the server turns pings into answers that fill the socket
    # buffers, a few seconds on a quiet machine; the unit tests time write_timeout itself.)
    assert dropped_after < 30
    closes = [c for c in log_lines(caplog, "connection closed") if c["levelname"] == "WARNING"]
    assert [c["reason"] for c in closes] == ["peer has not read for 1 s"]
