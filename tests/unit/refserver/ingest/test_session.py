"""RtmpSession against an in-memory transport: errors of ours stay in one connection, write
backpressure, delayed refusals, slots given back."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from refserver.config import Limits
from refserver.hls import HlsOptions
from refserver.ingest.admission import Admission
from refserver.ingest.keys import DENIED_DESCRIPTION, StreamKeys
from refserver.ingest.session import IngestContext, RtmpSession
from refserver.streams import StreamRegistry
from wire.rtmp import RtmpClientConnection
from wire.rtmp.chunk import ChunkWriter, RtmpMessage
from wire.rtmp.events import ConnectAccepted, PublishRejected, PublishStarted, RtmpEvent
from wire.rtmp.messages import Command, MessageType, UserControl, to_message

HIGH_WATER = 64 * 1024
"""Where asyncio's transports ask their protocol to pause writing, by default."""


class MemoryTransport(asyncio.Transport):
    """Keeps what is written, as a socket whose peer never reads would: nothing drains."""

    def __init__(self, protocol: asyncio.Protocol, peer: str = "127.0.0.1") -> None:
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
    """A publisher wired to a session through a MemoryTransport."""

    def __init__(self, session: RtmpSession, transport: MemoryTransport) -> None:
        self.session = session
        self.transport = transport
        self.client = RtmpClientConnection(app="live", tc_url="rtmp://127.0.0.1/live")
        self.events: list[RtmpEvent] = []
        self._read = 0
        self._unsent = bytearray()

    def pump(self) -> None:
        """Deliver both ways until neither side has anything more to say; what the session
        does not read waits."""
        while True:
            self._unsent += self.client.data_to_send()
            to_server = bytes(self._unsent) if self.transport.reading else b""
            if to_server:
                self._unsent.clear()
                self.session.data_received(to_server)
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


def make_session(
    tmp_path: Path, limits: Limits, *, keys: dict[str, str] | None = None, peer: str = "127.0.0.1"
) -> tuple[RtmpSession, MemoryTransport, Peer]:
    context = IngestContext(
        registry=StreamRegistry(tmp_path, HlsOptions()),
        keys=StreamKeys(keys or {}),
        limits=limits,
        app="live",
        chunk_size=4096,
    )
    session = RtmpSession(context, "rtmp", set(), Admission(limits))
    transport = MemoryTransport(session, peer)
    session.connection_made(transport)
    return session, transport, Peer(session, transport)


def run(scenario: Callable[[list[dict[str, Any]]], Awaitable[None]]) -> list[dict[str, Any]]:
    """Run ``scenario`` on a loop that records whatever escapes to its exception handler."""
    escaped: list[dict[str, Any]] = []

    async def main() -> None:
        asyncio.get_running_loop().set_exception_handler(
            lambda loop, context: escaped.append(context)
        )
        await scenario(escaped)

    asyncio.run(main())
    return escaped


def records(caplog: pytest.LogCaptureFixture, message: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "refserver.ingest" and r.getMessage() == message]


def test_publish_and_garbage_in_one_read_close_that_connection(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario(escaped: list[dict[str, Any]]) -> None:
        session, transport, peer = make_session(tmp_path, Limits())
        peer.connect()
        writer = ChunkWriter()
        publish = to_message(Command("publish", 0.0, None, ["cam", "live"]), stream_id=1)
        garbage = RtmpMessage(MessageType.COMMAND_AMF0, b"\x02\x40\x00onStatus", 0, 0)
        data = writer.write(3, to_message(Command("createStream", 9.0)))
        session.data_received(data + writer.write(8, publish) + writer.write(3, garbage))
        assert transport.closed
        # The publish died with its connection: nothing was claimed.
        assert session.stream is None
        assert session.context.registry.get("cam") is None
        session.connection_lost(None)
        assert session.admission.connections == 0

    assert run(scenario) == []
    [line] = records(caplog, "connection closed")
    assert "AMF0" in line.__dict__["reason"]
    assert records(caplog, "connection failed") == []


def test_an_exception_of_ours_while_receiving_drops_only_that_connection(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_claim(*args: object) -> None:
        raise RuntimeError("registry bug")

    async def scenario(escaped: list[dict[str, Any]]) -> None:
        session, transport, peer = make_session(tmp_path, Limits())
        other, other_transport, other_peer = make_session(tmp_path, Limits())
        other_peer.connect()
        peer.connect()
        monkeypatch.setattr(session.context.registry, "claim", broken_claim)
        peer.client.publish("cam", 0.0)
        peer.pump()  # data_received raises nothing
        assert transport.aborted
        assert session.admission.connections == 0
        assert session not in session.sessions
        # The other connection is untouched.
        assert not other_transport.is_closing()
        assert other.connection is not None
        assert not other.connection.terminated

    assert run(scenario) == []
    [line] = records(caplog, "connection failed")
    assert line.__dict__["reason"] == "internal error while receiving"
    assert line.exc_info is not None
    assert "registry bug" in str(line.exc_info[1])


def test_an_exception_of_ours_in_the_timer_drops_only_that_connection(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    limits = Limits(handshake_timeout=0.05)

    async def scenario(escaped: list[dict[str, Any]]) -> None:
        session, transport, _ = make_session(tmp_path, limits)
        assert session.connection is not None

        def broken_timer(now: float) -> None:
            raise ValueError("timer bug")

        monkeypatch.setattr(session.connection, "handle_timer", broken_timer)
        await asyncio.sleep(0.2)
        assert transport.aborted

    assert run(scenario) == []
    [line] = records(caplog, "connection failed")
    assert line.__dict__["reason"] == "internal error while timing out"


def ping_requests(count: int) -> bytes:
    writer = ChunkWriter()
    return b"".join(writer.write(2, to_message(UserControl.ping_request(n))) for n in range(count))


def test_a_peer_that_does_not_read_is_not_read_then_dropped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    limits = Limits(write_timeout=0.3, idle_timeout=60)

    async def scenario(escaped: list[dict[str, Any]]) -> None:
        session, transport, peer = make_session(tmp_path, limits)
        peer.connect()
        transport.draining = False
        # Every ping asks for an answer; a peer that never reads them piles them up.
        pings = ping_requests(2000)
        fed = 0
        for _ in range(100):
            if not transport.reading:
                break
            session.data_received(pings)
            fed += 1
        assert not transport.reading, "reading was never paused"
        assert transport.unread < HIGH_WATER + 2 * len(pings)
        await asyncio.sleep(0.1)
        assert not transport.aborted
        await asyncio.sleep(0.4)
        assert transport.aborted
        assert fed < 100

    assert run(scenario) == []
    [line] = records(caplog, "connection closed")
    assert line.__dict__["reason"] == "peer has not read for 0.3 s"


def test_a_peer_that_reads_again_is_read_again(tmp_path: Path) -> None:
    limits = Limits(write_timeout=0.3)

    async def scenario(escaped: list[dict[str, Any]]) -> None:
        session, transport, peer = make_session(tmp_path, limits)
        peer.connect()
        transport.draining = False
        while transport.reading:
            session.data_received(ping_requests(2000))
        transport.unread = 0
        transport.write_paused = False
        session.resume_writing()
        assert transport.reading
        await asyncio.sleep(0.5)
        assert not transport.is_closing()

    assert run(scenario) == []


def test_more_than_the_write_cap_at_once_is_dropped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    limits = Limits(max_write_buffer=16 * 1024)

    async def scenario(escaped: list[dict[str, Any]]) -> None:
        session, transport, peer = make_session(tmp_path, limits)
        peer.connect()
        transport.draining = False
        session.data_received(ping_requests(5000))  # some 35 kB of answers at once
        assert transport.aborted

    assert run(scenario) == []
    [line] = records(caplog, "connection closed")
    assert line.__dict__["reason"].startswith("peer is not reading: ")


@pytest.mark.parametrize("name", ["cam?key=wrong", "cam", "other?key=secret"])
def test_refused_keys_get_one_answer_after_a_delay(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, name: str
) -> None:
    limits = Limits(key_failure_delay=0.2)

    async def scenario(escaped: list[dict[str, Any]]) -> None:
        _, transport, peer = make_session(tmp_path, limits, keys={"cam": "secret"})
        peer.connect()
        peer.client.publish(name, 0.0)
        peer.pump()
        assert not any(isinstance(e, PublishRejected) for e in peer.events)
        assert not transport.reading  # nothing is read while the answer waits
        await asyncio.sleep(0.1)
        peer.pump()
        assert not any(isinstance(e, PublishRejected) for e in peer.events)
        await asyncio.sleep(0.2)
        peer.pump()
        [rejected] = [e for e in peer.events if isinstance(e, PublishRejected)]
        assert (rejected.code, rejected.description) == (
            "NetStream.Publish.Denied",
            DENIED_DESCRIPTION,
        )
        assert transport.closed

    assert run(scenario) == []


def test_a_peer_that_hangs_up_before_its_refusal_leaves_nothing_behind(tmp_path: Path) -> None:
    limits = Limits(key_failure_delay=0.2)

    async def scenario(escaped: list[dict[str, Any]]) -> None:
        session, transport, peer = make_session(tmp_path, limits, keys={"cam": "secret"})
        peer.connect()
        peer.client.publish("cam?key=wrong", 0.0)
        peer.pump()
        session.connection_lost(ConnectionResetError())
        assert session.admission.connections == 0
        await asyncio.sleep(0.3)  # the refusal's timer was cancelled: nothing fires
        assert transport.written.count(b"NetStream.Publish.Denied") == 0

    assert run(scenario) == []


def test_right_key_publishes_without_delay(tmp_path: Path) -> None:
    limits = Limits(key_failure_delay=5)

    async def scenario(escaped: list[dict[str, Any]]) -> None:
        _, _, peer = make_session(tmp_path, limits, keys={"cam": "secret"})
        peer.connect()
        peer.client.publish("cam?key=secret", 0.0)
        peer.pump()
        assert any(isinstance(e, PublishStarted) for e in peer.events)

    assert run(scenario) == []
