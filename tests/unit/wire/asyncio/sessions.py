"""A small line-echo session (sans-IO) and a fake transport, to drive the pumps without sockets.

``EchoSession`` answers each line with ``echo: LINE``, ends on ``bye`` (after ``goodbye``), times
out after ``idle`` seconds without input, raises on ``boom`` (a bug of ours that a peer's bytes
reach), and stops wanting input while more than ``max_pending`` lines wait to be answered.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass
from typing import Any

from wire.session import Termination


@dataclass(frozen=True)
class Line:
    text: str


@dataclass(frozen=True)
class Ended:
    termination: Termination


class EchoSession:
    def __init__(self, now: float, *, idle: float = 5.0, max_pending: int = 100) -> None:
        self.idle = idle
        self.max_pending = max_pending
        self.last_input = now
        self.calls: list[tuple[str, float]] = []
        self.pending: deque[str] = deque()
        self.held = False
        """While held, lines are read but not answered (the owner releases them)."""
        self._inbox = bytearray()
        self._out = bytearray()
        self._events: deque[object] = deque()
        self._termination: Termination | None = None

    # StreamSession

    def receive_data(self, data: bytes, now: float) -> None:
        self.calls.append(("data", now))
        self.last_input = now
        self._inbox += data
        while b"\n" in self._inbox:
            line, _, rest = bytes(self._inbox).partition(b"\n")
            self._inbox = bytearray(rest)
            text = line.decode()
            if text == "boom":
                raise RuntimeError("a bug the peer's bytes reached")
            self._events.append(Line(text))
            if text == "bye":
                self._out += b"goodbye\n"
                self.close(Termination.local_close("said bye"))
                return
            self.pending.append(text)
            self.answer()

    def answer(self) -> None:
        while self.pending and not self.held:
            self._out += f"echo: {self.pending.popleft()}\n".encode()

    def receive_eof(self, now: float) -> None:
        self.calls.append(("eof", now))
        self.close(Termination.peer_closed())

    def connection_lost(self, now: float, exc: Exception | None) -> None:
        self.calls.append(("lost", now))
        if self._termination is None:
            self.close(Termination.peer_closed("connection lost"))

    def data_to_send(self) -> bytes:
        data = bytes(self._out)
        self._out.clear()
        return data

    def get_timer(self) -> float | None:
        return None if self._termination else self.last_input + self.idle

    def handle_timer(self, now: float) -> None:
        self.calls.append(("timer", now))
        if now >= self.last_input + self.idle:
            self._out += b"idle, bye\n"
            self.close(Termination.timed_out("a line", f"no line for {self.idle:g} s"))

    def next_event(self) -> object | None:
        return self._events.popleft() if self._events else None

    def writing_paused(self, now: float) -> None:
        self.calls.append(("paused", now))

    def writing_resumed(self, now: float) -> None:
        self.calls.append(("resumed", now))

    def close(self, termination: Termination) -> None:
        if self._termination is None:
            self._termination = termination
            self._events.append(Ended(termination))

    @property
    def wants_data(self) -> bool:
        return len(self.pending) <= self.max_pending

    @property
    def termination(self) -> Termination | None:
        return self._termination


class FakeTransport(asyncio.Transport):
    """Records what the pump does to it; ``buffered`` is what it claims to hold unsent."""

    def __init__(self) -> None:
        super().__init__()
        self.written = bytearray()
        self.closed = False
        self.aborted = False
        self.reading = True
        self.buffered = 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        assert not self.closed, "written after close"
        self.written += data

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.closed = self.aborted = True

    def is_closing(self) -> bool:
        return self.closed

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True

    def get_write_buffer_size(self) -> int:
        return self.buffered

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 40000) if name == "peername" else default


class FakeDatagramTransport(asyncio.DatagramTransport):
    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[bytes, tuple[str, int]]] = []
        self.closed = False

    def sendto(self, data: bytes | bytearray | memoryview, addr: Any = None) -> None:
        self.sent.append((bytes(data), addr))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed
