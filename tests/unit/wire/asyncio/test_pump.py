"""The pumps with a fake clock and fake transports: read, feed, write, one timer, backpressure
both ways, the write-buffer cap, termination, and exceptions that end one connection only."""

from __future__ import annotations

import asyncio
import logging
from collections import deque

import pytest

from tests.unit.wire.asyncio.fakes import FakeLoop
from tests.unit.wire.asyncio.sessions import (
    EchoSession,
    Ended,
    FakeDatagramTransport,
    FakeTransport,
    Line,
)
from wire.asyncio.pump import DEFAULT_MAX_WRITE_BUFFER, READ_SIZE, DatagramPump, StreamPump
from wire.session import Cause, Termination


def connected(
    loop: FakeLoop,
    session: EchoSession | None = None,
    *,
    max_write_buffer: int = DEFAULT_MAX_WRITE_BUFFER,
) -> tuple[StreamPump, EchoSession, FakeTransport, list[object]]:
    session = session or EchoSession(loop.time())
    events: list[object] = []
    pump = StreamPump(
        session,
        on_event=events.append,
        loop=loop,
        fields={"connection": 7},
        max_write_buffer=max_write_buffer,
    )
    transport = FakeTransport()
    pump.connection_made(transport)
    return pump, session, transport, events


def test_read_feed_write_and_events_out() -> None:
    loop = FakeLoop(now=100.0)
    pump, session, transport, events = connected(loop)
    loop.now = 101.0
    pump.data_received(b"hello\nwor")
    pump.data_received(b"ld\n")
    assert bytes(transport.written) == b"echo: hello\necho: world\n"
    assert events == [Line("hello"), Line("world")]
    assert session.calls == [("data", 101.0), ("data", 101.0)]
    assert (pump.bytes_received, pump.bytes_sent) == (12, 24)
    assert pump.fields == {"connection": 7, "peer": "127.0.0.1:40000"}


def read(pump: StreamPump, data: bytes) -> None:
    """What a buffered transport does on a read: fill the pump's buffer, say how much."""
    buffer = memoryview(pump.get_buffer(-1))
    buffer[: len(data)] = data
    pump.buffer_updated(len(data))


def test_reads_into_the_shared_buffer_reach_the_session_as_their_own_bytes() -> None:
    """Every read lands in the same buffer; what the session got from one read is not
    overwritten by the next."""
    loop = FakeLoop(now=100.0)
    first, session, _, events = connected(loop)
    second, *_ = connected(loop)
    assert isinstance(first, asyncio.BufferedProtocol)
    assert first.get_buffer(-1) is second.get_buffer(-1)
    assert len(first.get_buffer(-1)) == READ_SIZE
    kept: list[bytes] = []
    received = session.receive_data

    def keep(data: bytes, now: float) -> None:
        kept.append(data)
        received(data, now)

    session.receive_data = keep  # type: ignore[method-assign]
    read(first, b"hello\nwor")
    read(second, b"XXXXXXXXXXXXXXXX")
    read(first, b"ld\n")
    assert kept == [b"hello\nwor", b"ld\n"]
    assert all(type(data) is bytes for data in kept)
    assert events == [Line("hello"), Line("world")]
    assert first.bytes_received == 12


def test_one_timer_follows_the_session_deadline() -> None:
    loop = FakeLoop(now=0.0)
    pump, session, transport, events = connected(loop)
    assert pump.timer_at == 5.0
    loop.advance(3.0)
    pump.data_received(b"still here\n")
    assert pump.timer_at == 8.0
    assert len(loop.pending()) == 1  # the old deadline's handle was cancelled
    loop.advance(7.9)
    assert not transport.closed
    loop.advance(8.0)
    assert session.calls[-1] == ("timer", 8.0)
    assert transport.written.endswith(b"idle, bye\n")
    assert transport.closed
    assert not transport.aborted
    assert events[-1] == Ended(Termination.timed_out("a line", "no line for 5 s"))
    assert pump.timer_at is None
    assert loop.pending() == []


def test_termination_flushes_the_last_words_then_closes() -> None:
    loop = FakeLoop()
    pump, session, transport, events = connected(loop)
    pump.data_received(b"one\nbye\nnever read\n")
    assert bytes(transport.written) == b"echo: one\ngoodbye\n"
    assert transport.closed
    assert not transport.aborted
    assert events == [Line("one"), Line("bye"), Ended(Termination.local_close("said bye"))]
    pump.data_received(b"more\n")  # a late read changes nothing
    assert session.calls[-1][0] == "data"
    assert len(session.calls) == 1


def test_eof_reaches_the_session() -> None:
    loop = FakeLoop(now=3.0)
    pump, session, transport, events = connected(loop)
    assert pump.eof_received() is None
    assert session.calls == [("eof", 3.0)]
    assert events == [Ended(Termination.peer_closed())]
    assert transport.closed


def test_connection_lost_reaches_the_session_and_disarms() -> None:
    loop = FakeLoop(now=1.0)
    pump, session, _transport, events = connected(loop)
    pump.connection_lost(ConnectionResetError(104, "reset"))
    assert session.calls == [("lost", 1.0)]
    assert events == [Ended(Termination.peer_closed("connection lost"))]
    assert loop.pending() == []
    pump.data_received(b"x\n")
    loop.advance(100.0)
    assert session.calls == [("lost", 1.0)]


def test_writing_pauses_reach_the_session() -> None:
    loop = FakeLoop(now=2.0)
    pump, session, _transport, _ = connected(loop)
    pump.pause_writing()
    assert pump.writing_paused
    loop.now = 2.5
    pump.resume_writing()
    assert not pump.writing_paused
    assert session.calls == [("paused", 2.0), ("resumed", 2.5)]


def test_reading_pauses_while_the_session_wants_no_data() -> None:
    loop = FakeLoop()
    pump, session, transport, _ = connected(loop, EchoSession(0.0, max_pending=1))
    session.held = True
    pump.data_received(b"a\nb\n")
    assert not transport.reading
    assert pump.reading_paused
    session.held = False
    session.answer()  # the owner released the lines...
    pump.transmit()  # ...and says so
    assert transport.reading
    assert not pump.reading_paused
    assert bytes(transport.written) == b"echo: a\necho: b\n"


def test_a_peer_that_does_not_read_is_dropped_past_the_cap() -> None:
    loop = FakeLoop()
    pump, session, transport, events = connected(loop, max_write_buffer=1000)
    transport.buffered = 1000
    pump.data_received(b"fits\n")
    assert not transport.closed
    transport.buffered = 1001
    pump.data_received(b"over\n")
    assert transport.aborted  # nothing more is flushed to it
    termination = session.termination
    assert termination is not None
    assert termination.cause is Cause.OVERLOAD
    assert termination.detail == "peer is not reading: 1001 bytes queued"
    assert events[-1] == Ended(termination)


def test_a_bug_ends_its_connection_alone_with_one_log_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    loop = FakeLoop()
    pump, session, transport, events = connected(loop)
    other, _, other_transport, _ = connected(loop)
    with caplog.at_level(logging.ERROR, logger="wire.asyncio"):
        pump.data_received(b"boom\n")
        pump.data_received(b"boom\n")
        pump.connection_lost(None)
    [record] = caplog.records
    assert record.getMessage() == "connection failed"
    assert vars(record)["reason"] == "internal error while receiving"
    assert vars(record)["connection"] == 7
    assert record.exc_info is not None
    assert transport.aborted
    termination = session.termination
    assert termination is not None
    assert (termination.cause, termination.detail) == (
        Cause.LOCAL_CLOSE,
        "internal error while receiving",
    )
    assert isinstance(termination.error, RuntimeError)
    assert events == [Ended(termination)]
    other.data_received(b"fine\n")
    assert bytes(other_transport.written) == b"echo: fine\n"


def test_a_bug_in_the_owner_callback_ends_that_connection(
    caplog: pytest.LogCaptureFixture,
) -> None:
    loop = FakeLoop()

    def owner(event: object) -> None:
        if event == Line("reject me"):
            raise KeyError("owner bug")

    session = EchoSession(0.0)
    pump = StreamPump(session, on_event=owner, loop=loop)
    transport = FakeTransport()
    pump.connection_made(transport)
    with caplog.at_level(logging.ERROR, logger="wire.asyncio"):
        pump.data_received(b"reject me\n")
    assert len(caplog.records) == 1
    assert transport.aborted
    assert session.termination is not None
    assert isinstance(session.termination.error, KeyError)


def test_close_from_the_owner_flushes() -> None:
    loop = FakeLoop()
    pump, _session, transport, events = connected(loop)
    pump.close(Termination.local_close("server shutting down"))
    assert transport.closed
    assert not transport.aborted
    assert events == [Ended(Termination.local_close("server shutting down"))]


def test_data_before_the_transport_waits_for_it() -> None:
    loop = FakeLoop()
    session = EchoSession(0.0)
    pump = StreamPump(session, loop=loop)
    pump.data_received(b"early\n")  # as start_tls may deliver before the pump has its transport
    transport = FakeTransport()
    pump.connection_made(transport)
    assert bytes(transport.written) == b"echo: early\n"


class Pinger:
    """A DatagramSession: answers each datagram, pings a peer every second."""

    def __init__(self) -> None:
        self.out: list[tuple[bytes, tuple[str, int]]] = []
        self.events: deque[object] = deque()
        self.next_ping = 1.0

    def receive_datagram(self, data: bytes, addr: tuple[str, int], now: float) -> None:
        if data == b"boom":
            raise ValueError("bug")
        self.out.append((b"ack " + data, addr))
        self.events.append(Line(data.decode()))

    def datagrams_to_send(self, now: float) -> list[tuple[bytes, tuple[str, int]]]:
        out, self.out = self.out, []
        return out

    def get_timer(self) -> float | None:
        return self.next_ping

    def handle_timer(self, now: float) -> None:
        self.out.append((b"ping", ("127.0.0.1", 9)))
        self.next_ping = now + 1.0

    def next_event(self) -> object | None:
        return self.events.popleft() if self.events else None


def test_datagram_pump(caplog: pytest.LogCaptureFixture) -> None:
    loop = FakeLoop()
    events: list[object] = []
    session = Pinger()
    pump = DatagramPump(session, on_event=events.append, loop=loop)
    transport = FakeDatagramTransport()
    pump.connection_made(transport)
    pump.datagram_received(b"hi", ("127.0.0.1", 5000))
    loop.advance(2.0)
    assert transport.sent == [
        (b"ack hi", ("127.0.0.1", 5000)),
        (b"ping", ("127.0.0.1", 9)),
        (b"ping", ("127.0.0.1", 9)),
    ]
    assert events == [Line("hi")]
    assert pump.timer_at == 3.0
    pump.error_received(ConnectionRefusedError(111, "refused"))  # ICMP: not fatal
    assert not transport.closed
    with caplog.at_level(logging.ERROR, logger="wire.asyncio"):
        pump.datagram_received(b"boom", ("127.0.0.1", 5000))
    assert len(caplog.records) == 1
    assert transport.closed
    assert pump.timer_at is None
