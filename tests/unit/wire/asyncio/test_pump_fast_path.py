"""The per-read and per-timer path of StreamPump: it re-arms its timer exactly when the session's
deadline changes, follows ``wants_data`` exactly when it flips, still hands out every event and
write, reads the clock once per entry, and still ends only the failing connection."""

from __future__ import annotations

import asyncio
import logging
from collections import deque

import pytest

from tests.unit.wire.asyncio.fakes import FakeLoop
from tests.unit.wire.asyncio.sessions import FakeTransport
from wire.asyncio.pump import StreamPump
from wire.session import Cause, Termination


class ScriptedSession:
    """A StreamSession whose deadline, wish for data, output and events the test sets."""

    def __init__(self) -> None:
        self.deadline: float | None = 10.0
        self.wants = True
        self.out = bytearray()
        self.events: deque[object] = deque()
        self.reads: list[tuple[bytes, float]] = []
        self.timers: list[float] = []
        self.fail_on: str | None = None
        self.after_timer: float | None = None
        """The deadline once the timer has run (by default none: a one-shot deadline)."""
        self.timer_events: list[object] = []
        """Events the next timer produces."""
        self.timer_asked = 0
        self._termination: Termination | None = None

    def receive_data(self, data: bytes, now: float) -> None:
        if self.fail_on == "read":
            raise RuntimeError("a bug in receive_data")
        self.reads.append((data, now))

    def receive_eof(self, now: float) -> None:
        self.close(Termination.peer_closed())

    def connection_lost(self, now: float, exc: Exception | None) -> None:
        pass

    def data_to_send(self) -> bytes:
        data = bytes(self.out)
        self.out.clear()
        return data

    def get_timer(self) -> float | None:
        self.timer_asked += 1
        return None if self._termination else self.deadline

    def handle_timer(self, now: float) -> None:
        if self.fail_on == "timer":
            raise RuntimeError("a bug in handle_timer")
        self.timers.append(now)
        self.events.extend(self.timer_events)
        self.timer_events.clear()
        self.deadline = self.after_timer

    def next_event(self) -> object | None:
        return self.events.popleft() if self.events else None

    def writing_paused(self, now: float) -> None:
        pass

    def writing_resumed(self, now: float) -> None:
        pass

    def close(self, termination: Termination) -> None:
        if self._termination is None:
            self._termination = termination
            self.events.append(termination)

    @property
    def wants_data(self) -> bool:
        return self.wants

    @property
    def termination(self) -> Termination | None:
        return self._termination


class CountingTransport(FakeTransport):
    """Counts pause_reading and resume_reading calls, not only their last effect."""

    def __init__(self) -> None:
        super().__init__()
        self.pauses = 0
        self.resumes = 0

    def pause_reading(self) -> None:
        self.pauses += 1
        super().pause_reading()

    def resume_reading(self) -> None:
        self.resumes += 1
        super().resume_reading()


def pumped(
    loop: FakeLoop,
) -> tuple[StreamPump, ScriptedSession, CountingTransport, list[object]]:
    session = ScriptedSession()
    events: list[object] = []
    pump = StreamPump(session, on_event=events.append, loop=loop)
    transport = CountingTransport()
    pump.connection_made(transport)
    return pump, session, transport, events


def test_the_timer_is_re_armed_exactly_when_the_deadline_changes() -> None:
    loop = FakeLoop(now=0.0)
    pump, session, _, _ = pumped(loop)
    # One deadline per read: the same one again arms nothing, a new one replaces the old
    # handle, None disarms, and a deadline after None arms afresh.
    for deadline in (10.0, 10.0, 12.0, 12.0, 12.0, None, None, 15.0, 15.0, 11.0):
        session.deadline = deadline
        pump.data_received(b"x")
        assert pump.timer_at == deadline
    assert [handle.when() for handle in loop.armed] == [10.0, 12.0, 15.0, 11.0]
    assert [handle.cancelled for handle in loop.armed] == [True, True, True, False]
    assert [handle.when() for handle in loop.pending()] == [11.0]
    assert session.timer_asked == 11  # once at connection_made, once per read


def test_a_timer_that_leaves_the_deadline_in_place_is_armed_again() -> None:
    loop = FakeLoop(now=0.0)
    pump, session, _, _ = pumped(loop)
    session.deadline = session.after_timer = 1.0
    pump.data_received(b"x")
    (fired,) = loop.pending()
    # The session ignores the timer and keeps its deadline: the fired handle is spent, so the
    # same deadline must be armed anew, not taken for the one already armed. (Run by hand:
    # the fake loop would run a deadline that never moves for ever, as a real loop would.)
    armed = len(loop.armed)
    loop.now = 1.0
    fired.callback()
    assert session.timers == [1.0]
    assert pump.timer_at == 1.0
    assert len(loop.armed) == armed + 1
    assert loop.armed[-1] is not fired
    assert not loop.armed[-1].cancelled


def test_reading_is_paused_and_resumed_exactly_when_wants_data_flips() -> None:
    loop = FakeLoop()
    pump, session, transport, _ = pumped(loop)
    for wants in (True, True, False, False, False, True, True, False, True):
        session.wants = wants
        pump.data_received(b"x")
        assert transport.reading is wants
        assert pump.reading_paused is not wants
    assert (transport.pauses, transport.resumes) == (2, 2)


def test_events_and_writes_from_every_read_and_timer_reach_the_owner() -> None:
    loop = FakeLoop(now=5.0)
    pump, session, transport, events = pumped(loop)
    pump.data_received(b"nothing to say")
    assert events == []
    session.events.extend(["a", "b"])
    session.out += b"answer"
    pump.data_received(b"two events")
    assert events == ["a", "b"]
    assert bytes(transport.written) == b"answer"
    session.events.append("c")
    session.deadline = 6.0
    pump.data_received(b"arm")
    assert events == ["a", "b", "c"]
    session.timer_events.append("from the timer")
    loop.advance(7.0)
    assert events == ["a", "b", "c", "from the timer"]
    assert session.timers == [6.0]
    assert pump.timer_at is None
    assert pump.bytes_sent == len(b"answer")


def test_an_event_the_owner_causes_is_drained_in_the_same_read() -> None:
    loop = FakeLoop()
    events: list[object] = []

    def owner(event: object) -> None:
        events.append(event)
        if event == "question":
            session.events.append("follow-up")  # the owner's call queued another event
            session.out += b"reply"

    session = ScriptedSession()
    pump = StreamPump(session, on_event=owner, loop=loop)
    transport = FakeTransport()
    pump.connection_made(transport)
    session.events.append("question")
    pump.data_received(b"x")
    assert events == ["question", "follow-up"]
    assert bytes(transport.written) == b"reply"


def test_each_read_and_timer_asks_the_clock_once() -> None:
    loop = FakeLoop(now=1.0)
    asked = 0

    def time() -> float:
        nonlocal asked
        asked += 1
        return loop.now

    loop.time = time  # type: ignore[method-assign]
    pump, session, _, _ = pumped(loop)
    asked = 0
    loop.now = 2.5
    pump.data_received(b"x")
    assert session.reads == [(b"x", 2.5)]
    assert asked == 1
    session.deadline = 3.0
    pump.data_received(b"y")
    asked = 0
    loop.advance(3.0)
    assert session.timers == [3.0]
    assert asked == 1


def test_on_asyncio_loop_the_read_is_dated_by_the_loop_clock() -> None:
    async def read() -> tuple[float, float, float]:
        loop = asyncio.get_running_loop()
        session = ScriptedSession()
        session.deadline = None
        pump = StreamPump(session, loop=loop)
        pump.connection_made(FakeTransport())
        before = loop.time()
        pump.data_received(b"x")
        after = loop.time()
        pump.abort()
        return before, session.reads[0][1], after

    before, now, after = asyncio.run(read())
    assert before <= now <= after


def test_an_asyncio_loop_with_its_clock_replaced_dates_reads_by_that_clock() -> None:
    async def read() -> float:
        loop = asyncio.get_running_loop()
        loop.time = lambda: 1234.5  # type: ignore[method-assign]
        try:
            session = ScriptedSession()
            session.deadline = None
            pump = StreamPump(session, loop=loop)
            pump.connection_made(FakeTransport())
            pump.data_received(b"x")
            pump.abort()
        finally:
            del loop.time
        return session.reads[0][1]

    assert asyncio.run(read()) == 1234.5


def test_no_read_reaches_a_session_that_has_ended() -> None:
    loop = FakeLoop()
    pump, session, transport, events = pumped(loop)
    session.out += b"last words"
    session.close(Termination.local_close("done"))
    pump.data_received(b"too late")
    assert session.reads == []
    assert bytes(transport.written) == b"last words"
    assert transport.closed
    assert not transport.aborted
    pump.connection_lost(None)
    pump.data_received(b"after the end")
    assert session.reads == []
    assert len(events) == 1


@pytest.mark.parametrize(("where", "doing"), [("read", "receiving"), ("timer", "timing out")])
def test_a_bug_on_the_fast_path_ends_its_connection_alone(
    caplog: pytest.LogCaptureFixture, where: str, doing: str
) -> None:
    loop = FakeLoop()
    pump, session, transport, events = pumped(loop)
    other, other_session, other_transport, _ = pumped(loop)
    session.deadline = other_session.deadline = 1.0
    pump.data_received(b"arm")
    other.data_received(b"arm")
    session.fail_on = where
    with caplog.at_level(logging.ERROR, logger="wire.asyncio"):
        if where == "read":
            pump.data_received(b"boom")
        else:
            loop.advance(1.0)
    assert transport.aborted
    assert pump.timer_at is None
    (ended,) = events
    assert isinstance(ended, Termination)
    assert ended.cause is Cause.LOCAL_CLOSE
    assert ended.detail == f"internal error while {doing}"
    assert [r.reason for r in caplog.records] == [f"internal error while {doing}"]  # type: ignore[attr-defined]
    other.data_received(b"fine")
    assert not other_transport.closed
    assert other_session.reads[-1][0] == b"fine"
