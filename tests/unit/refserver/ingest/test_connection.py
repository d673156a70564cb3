"""IngestConnection (an IngestSession in wire.asyncio's StreamPump) against an in-memory
transport: the pump wiring, errors of ours that stay in one connection, backpressure, slots
given back. The deadlines themselves are timed on a fake clock in test_session.py."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, ClassVar

import pytest

from refserver.coalescing import ReadCoalescing
from refserver.config import Limits
from refserver.hls import HlsOptions
from refserver.ingest.keys import StreamKeys
from refserver.ingest.server import IngestConnection, IngestServer
from refserver.ingest.session import IngestContext
from refserver.streams import StreamRegistry
from wire.rtmp import RtmpClientConnection
from wire.rtmp.chunk import ChunkWriter
from wire.rtmp.events import ConnectAccepted, PublishStarted, RtmpEvent
from wire.rtmp.messages import UserControl, to_message
from wire.session import Cause

HIGH_WATER = 64 * 1024
"""Where asyncio's transports ask their protocol to pause writing, by default."""


class MemoryTransport(asyncio.Transport):
    """Keeps what is written, as a socket whose peer never reads would: nothing drains."""

    def __init__(self, protocol: asyncio.BaseProtocol, peer: str = "127.0.0.1") -> None:
        super().__init__()
        self.protocol = protocol
        self.peer = (peer, 40000)
        self.written = bytearray()
        self.unread = 0
        self.draining = True
        self.reading = True
        self.closed = self.aborted = False
        self.write_paused = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": self.peer}.get(name, default)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += data
        if not self.draining:
            self.unread += len(data)
            if self.unread > HIGH_WATER and not self.write_paused:
                self.write_paused = True
                self.protocol.pause_writing()

    def get_write_buffer_size(self) -> int:
        return self.unread

    def is_closing(self) -> bool:
        return self.closed or self.aborted

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True


class Peer:
    """A publisher wired to a connection through a MemoryTransport."""

    def __init__(self, connection: IngestConnection, transport: MemoryTransport) -> None:
        self.connection = connection
        self.transport = transport
        self.client = RtmpClientConnection(app="live", tc_url="rtmp://127.0.0.1/live")
        self.events: list[RtmpEvent] = []
        self._read = 0
        self._unsent = bytearray()

    def pump(self) -> None:
        """Deliver both ways until neither side has anything more to say; what the
        connection does not read waits."""
        while True:
            self._unsent += self.client.data_to_send()
            to_server = bytes(self._unsent) if self.transport.reading else b""
            if to_server:
                self._unsent.clear()
                self.connection.data_received(to_server)
            fresh = bytes(self.transport.written[self._read :])
            self._read = len(self.transport.written)
            if fresh:
                self.client.receive_data(fresh, 0.0)
            while (event := self.client.next_event()) is not None:
                self.events.append(event)
            if not to_server and not fresh:
                return

    def connect(self) -> None:
        self.client.initiate(0.0)
        self.pump()
        assert any(isinstance(e, ConnectAccepted) for e in self.events)


def make_server(tmp_path: Path, limits: Limits, *, merge_reads: bool = False) -> IngestServer:
    context = IngestContext(
        registry=StreamRegistry(tmp_path, HlsOptions()),
        keys=StreamKeys({}),
        limits=limits,
        app="live",
        chunk_size=4096,
        merge_reads=merge_reads,
    )
    return IngestServer(context, bind="127.0.0.1", rtmp_port=0, rtmps_port=None, ssl_context=None)


def accept(server: IngestServer) -> tuple[IngestConnection, MemoryTransport, Peer]:
    connection = server.connection_factory("rtmp", None)()
    transport = MemoryTransport(connection)
    connection.connection_made(transport)
    return connection, transport, Peer(connection, transport)


def run(scenario: Callable[[], Awaitable[None]]) -> list[dict[str, Any]]:
    """Run ``scenario`` on a loop that records whatever escapes to its exception handler."""
    escaped: list[dict[str, Any]] = []

    async def main() -> None:
        asyncio.get_running_loop().set_exception_handler(
            lambda loop, context: escaped.append(context)
        )
        await scenario()

    asyncio.run(main())
    return escaped


def records(caplog: pytest.LogCaptureFixture, message: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "refserver.ingest" and r.getMessage() == message]


def ping_requests(count: int) -> bytes:
    writer = ChunkWriter()
    return b"".join(writer.write(2, to_message(UserControl.ping_request(n))) for n in range(count))


def test_a_connection_publishes_through_the_pump_and_gives_its_slot_back(tmp_path: Path) -> None:
    async def scenario() -> None:
        server = make_server(tmp_path, Limits())
        connection, _, peer = accept(server)
        assert connection in server.sessions
        assert server.admission.connections == 1
        peer.connect()
        peer.client.publish("cam", 0.0)
        peer.pump()
        assert any(isinstance(e, PublishStarted) for e in peer.events)
        # The pump's one timer is armed at the session's next deadline.
        assert connection.timer_at == connection.session.get_timer()
        connection.connection_lost(None)
        assert connection not in server.sessions
        assert server.admission.connections == 0
        stream = server.context.registry.get("cam")
        assert stream is not None
        assert not stream.live

    assert run(scenario) == []


def test_a_refused_connection_is_dropped_at_accept_holding_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> None:
        server = make_server(tmp_path, Limits(max_connections=1))
        accept(server)
        late, transport, _ = accept(server)
        assert transport.aborted
        assert late not in server.sessions
        assert server.admission.connections == 1

    assert run(scenario) == []
    [line] = records(caplog, "connection refused")
    assert line.__dict__["reason"] == "already 1 connections"


def test_an_exception_of_ours_while_receiving_drops_only_that_connection(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_claim(*args: object) -> None:
        raise RuntimeError("registry bug")

    async def scenario() -> None:
        server = make_server(tmp_path, Limits())
        connection, transport, peer = accept(server)
        other, other_transport, other_peer = accept(server)
        other_peer.connect()
        peer.connect()
        monkeypatch.setattr(server.context.registry, "claim", broken_claim)
        peer.client.publish("cam", 0.0)
        peer.pump()  # data_received raises nothing
        assert transport.aborted
        assert server.admission.connections == 1
        assert connection not in server.sessions
        ended = connection.session.termination
        assert ended is not None
        assert ended.cause is Cause.LOCAL_CLOSE
        assert isinstance(ended.error, RuntimeError)
        # The other connection is untouched.
        assert not other_transport.is_closing()
        assert other.session.termination is None

    assert run(scenario) == []
    [line] = records(caplog, "connection failed")
    assert line.__dict__["reason"] == "internal error while receiving"
    assert line.exc_info is not None
    assert "registry bug" in str(line.exc_info[1])


def test_a_peer_that_does_not_read_is_not_read_then_dropped_unflushed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    limits = Limits(write_timeout=0.2, idle_timeout=60)

    async def scenario() -> None:
        server = make_server(tmp_path, limits)
        connection, transport, peer = accept(server)
        peer.connect()
        transport.draining = False
        # Every ping asks for an answer; a peer that never reads them piles them up.
        pings = ping_requests(2000)
        fed = 0
        for _ in range(100):
            if not transport.reading:
                break
            connection.data_received(pings)
            fed += 1
        assert not transport.reading, "reading was never paused"
        assert fed < 100
        assert transport.unread < HIGH_WATER + 2 * len(pings)
        assert connection.timer_at is not None
        for _ in range(50):  # bounded: at most 5 s for a 0.2 s deadline on a busy machine
            if transport.aborted:
                break
            await asyncio.sleep(0.1)
        assert transport.aborted
        assert not transport.closed  # dropped, not flushed
        assert connection not in server.sessions

    assert run(scenario) == []
    [line] = records(caplog, "connection closed")
    assert line.__dict__["reason"] == "peer has not read for 0.2 s"


def test_more_than_the_write_cap_at_once_is_dropped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    limits = Limits(max_write_buffer=16 * 1024)

    async def scenario() -> None:
        server = make_server(tmp_path, limits)
        connection, transport, peer = accept(server)
        peer.connect()
        transport.draining = False
        connection.data_received(ping_requests(5000))  # some 35 kB of answers at once
        assert transport.aborted
        assert server.admission.connections == 0

    assert run(scenario) == []
    [line] = records(caplog, "connection closed")
    assert line.__dict__["reason"].startswith("peer is not reading: ")


def test_eviction_drops_the_oldest_unproven_connection_of_the_busiest_address(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    limits = Limits(max_connections=2, max_connections_per_ip=8)

    async def scenario() -> None:
        server = make_server(tmp_path, limits)
        first, first_transport, _ = accept(server)
        accept(server)
        newcomer = IngestConnection(server, "rtmp", None)
        newcomer.connection_made(MemoryTransport(newcomer, "127.0.0.2"))
        assert first_transport.aborted
        assert first not in server.sessions
        assert newcomer in server.sessions
        assert server.admission.connections == 2

    assert run(scenario) == []
    [line] = records(caplog, "connection closed")
    assert line.__dict__["reason"].startswith("evicted after ")


class CountingCoalescing(ReadCoalescing):
    """Counts the reads it is told about."""

    made: ClassVar[list[CountingCoalescing]] = []

    def __init__(self, loop: asyncio.AbstractEventLoop, sock: Any) -> None:
        super().__init__(loop, sock)
        self.reads = 0
        self.closed = False
        self.made.append(self)

    def received(self, size: int, now: float, *, wanted: int | None = None) -> None:
        self.reads += 1
        super().received(size, now, wanted=wanted)

    def close(self) -> None:
        self.closed = True
        super().close()


@pytest.mark.parametrize("merge_reads", [False, True])
def test_merged_reads_start_with_the_publish_and_end_with_the_connection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, merge_reads: bool
) -> None:
    monkeypatch.setattr("refserver.ingest.server.ReadCoalescing", CountingCoalescing)
    CountingCoalescing.made.clear()

    async def scenario() -> None:
        server = make_server(tmp_path, Limits(), merge_reads=merge_reads)
        connection, _, peer = accept(server)
        peer.connect()
        assert CountingCoalescing.made == []  # not before the media
        peer.client.publish("cam", 0.0)
        peer.pump()
        peer.client.send_video(0, b"\x22" + bytes(100))
        peer.pump()
        if not merge_reads:
            assert CountingCoalescing.made == []
            return
        [coalescing] = CountingCoalescing.made
        assert coalescing.reads >= 1
        connection.connection_lost(None)
        assert coalescing.closed

    assert run(scenario) == []
