"""The TCP relay: each accepted connection is joined to a new connection to the upstream, and the
bytes each way pass through a :class:`~camsim.fault.impair.Link` (in order: delay, jitter as
burstiness, a token bucket), and optionally a slicer, before they are written.

Connection faults, as toxiproxy names them: ``stall`` (a blackhole: bytes are dropped, nothing is
closed), ``reset_after_bytes``/``reset_after_seconds`` (both sides get a TCP RST, through
``SO_LINGER`` 0), ``half_close_after`` (the client gets a FIN while it may still send), ``refuse``
(the listening socket is closed, so a connect is refused by the kernel's RST).

An end of stream from one side is passed on as a FIN to the other once the bytes before it are
written, and the other direction goes on (a half-close is relayed, not turned into a close).
The relay reads no TLS: RTMPS, RTSPS and HTTPS pass through as bytes.

Why not :class:`~wire.asyncio.pump.StreamPump`: a relay must write a FIN while it keeps reading
(``write_eof``) and must reset with ``SO_LINGER`` 0, which a pump for one protocol session does not
offer. Timed writes still share one :class:`~wire.asyncio.scheduler.DeadlineScheduler` per proxy:
one event-loop timer for every delayed or shaped byte of every connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct
from collections import deque
from collections.abc import Callable
from typing import Protocol, cast

from camsim.fault.config import FaultConfig
from camsim.fault.impair import Link
from camsim.fault.udp import FlowSeeds
from wire.asyncio.scheduler import DeadlineScheduler

logger = logging.getLogger("camsim.fault")

Address = tuple[str, int]
HIGH_WATER = 1 << 20
"""Bytes queued in the relay for one direction before it stops reading the source."""
LOW_WATER = 1 << 18
CONNECT_TIMEOUT = 10.0


class Rewriter(Protocol):
    """Rewrites one direction of a byte stream (the RTSP proxy's hook)."""

    def __call__(self, data: bytes, now: float) -> bytes: ...


class _Side(asyncio.Protocol):
    """One socket of a relayed connection: it only reports to its :class:`RelayedConnection`."""

    def __init__(self, connection: RelayedConnection, name: str) -> None:
        self.connection = connection
        self.name = name
        self.transport: asyncio.Transport | None = None
        self.write_paused = False
        self.read_paused = False
        self.eof = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.Transport, transport)  # uvloop's: no asyncio class
        self.transport = transport
        self.connection.side_made(self)

    def data_received(self, data: bytes) -> None:
        self.connection.received(self, data)

    def eof_received(self) -> bool:
        self.eof = True
        self.connection.eof_from(self)
        return True  # keep our write side: the other direction may still have bytes

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        self.connection.drained(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.connection.lost(self, exc)

    def pause_reading(self) -> None:
        if self.transport is not None and not self.read_paused:
            self.read_paused = True
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        if self.transport is not None and self.read_paused:
            self.read_paused = False
            self.transport.resume_reading()


class _Direction:
    """Bytes from ``source`` to ``sink``: impaired, queued, written at their time.

    A :class:`~wire.asyncio.scheduler.Task` of the proxy's scheduler.
    """

    def __init__(
        self,
        connection: RelayedConnection,
        source: _Side,
        sink: _Side,
        link: Link,
        rewrite: Rewriter | None,
    ) -> None:
        self.connection = connection
        self.source, self.sink = source, sink
        self.link = link
        self.rewrite = rewrite
        self.queue: deque[tuple[float, bytes]] = deque()
        self.queued = 0
        self.eof_after_queue = False
        self.closed = False
        """No more bytes go this way (half-closed by a fault or a FIN already sent)."""

    def push(self, data: bytes, now: float) -> None:
        config = self.connection.config
        if self.closed:
            return
        if self.rewrite is not None:
            data = self.rewrite(data, now)
        if config.stall or not data:
            return
        data, reset = self.connection.allow(data)
        pieces = self.link.process(data, now) if data else []
        size, gap = config.slice_size, config.slice_interval
        for at, chunk in pieces:
            if size is None:
                self._enqueue(at, chunk)
                continue
            for index, offset in enumerate(range(0, len(chunk), size)):
                self._enqueue(at + index * gap, chunk[offset : offset + size])
        if reset:
            self.queue.append((self.queue[-1][0] if self.queue else now, b""))
            self.connection.reset_pending = True
        self.run(now)

    def _enqueue(self, at: float, chunk: bytes) -> None:
        if self.queue and at < self.queue[-1][0]:
            at = self.queue[-1][0]  # slices and jitter never reorder a byte stream
        self.queue.append((at, chunk))
        self.queued += len(chunk)

    def finish(self, now: float) -> None:
        """The source sent its FIN: pass it on after what is queued."""
        self.eof_after_queue = True
        self.run(now)

    def run(self, due: float) -> float | None:
        """Write what is due; return when the next bytes are (for the scheduler)."""
        connection = self.connection
        transport = self.sink.transport
        if transport is None:
            return None  # not connected yet: side_made runs us again
        now = max(connection.loop.time(), due)  # a timer may fire a hair early
        written = []
        queue = self.queue
        reset = False
        while queue and queue[0][0] <= now:
            _, chunk = queue.popleft()
            if not chunk:  # the reset marker
                reset = True
                break
            written.append(chunk)
            self.queued -= len(chunk)
        if written:
            transport.write(b"".join(written))
        if reset:
            connection.reset(f"reset after {connection.forwarded} bytes")
            return None
        if queue:
            connection.scheduler.schedule(self, queue[0][0])
        elif self.eof_after_queue and not self.closed:
            self.close_write()
        self._follow_backpressure()
        return None  # scheduled explicitly above, so push() and the timer share one entry

    def close_write(self) -> None:
        """Send a FIN to the sink; drop anything later."""
        self.closed = True
        self.queue.clear()
        self.queued = 0
        transport = self.sink.transport
        if transport is not None and transport.can_write_eof() and not transport.is_closing():
            try:
                transport.write_eof()
            except OSError:
                # The sink reset after its own FIN (no longer read, so not yet noticed): the
                # FIN has nowhere to go, and this must not stop the scheduler's other tasks.
                transport.abort()
        self.connection.maybe_done()

    def _follow_backpressure(self) -> None:
        if self.queued > HIGH_WATER or self.sink.write_paused:
            self.source.pause_reading()
        elif self.queued < LOW_WATER:
            self.source.resume_reading()


class RelayedConnection:
    """One client connection and its upstream connection."""

    def __init__(
        self,
        proxy: TcpProxy,
        index: int,
        up: Link,
        down: Link,
        rewriters: tuple[Rewriter | None, Rewriter | None] = (None, None),
    ) -> None:
        self.proxy = proxy
        self.index = index
        self.loop = proxy.loop
        self.scheduler = proxy.scheduler
        self.client = _Side(self, "client")
        self.server = _Side(self, "server")
        self.up = _Direction(self, self.client, self.server, up, rewriters[0])
        self.down = _Direction(self, self.server, self.client, down, rewriters[1])
        self.forwarded = 0
        self.reset_pending = False
        self.ended = False
        self._timers: list[asyncio.TimerHandle] = []
        self._connect: asyncio.Task[object] | None = None

    @property
    def config(self) -> FaultConfig:
        return self.proxy.config

    def allow(self, data: bytes) -> tuple[bytes, bool]:
        """The part of ``data`` that may pass before a reset_after_bytes, and whether the
        reset follows it."""
        limit = self.config.reset_after_bytes
        if self.reset_pending:
            return b"", False
        if limit is not None and self.forwarded + len(data) >= limit:
            data = data[: max(0, limit - self.forwarded)]
            self.forwarded += len(data)
            return data, True
        self.forwarded += len(data)
        return data, False

    # -- from the sides ----------------------------------------------------------------------------

    def side_made(self, side: _Side) -> None:
        if side is self.client:
            config, now = self.config, self.loop.time()
            self.client.pause_reading()  # until the upstream answers
            if config.reset_after_seconds is not None:
                self._at(now + config.reset_after_seconds, self._reset_timer)
            if config.half_close_after is not None:
                self._at(now + config.half_close_after, self.down.close_write)
            host, port = self.proxy.upstream
            self._connect = self.loop.create_task(self._open_upstream(host, port))
        else:
            self.client.resume_reading()
            self.up.run(self.loop.time())

    async def _open_upstream(self, host: str, port: int) -> None:
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT):
                await self.loop.create_connection(lambda: self.server, host, port)
        except (OSError, TimeoutError) as error:
            logger.info("upstream unreachable", extra={"upstream": f"{host}:{port}"})
            self.reset(f"upstream unreachable: {error}")

    def received(self, side: _Side, data: bytes) -> None:
        direction = self.up if side is self.client else self.down
        direction.push(data, self.loop.time())

    def eof_from(self, side: _Side) -> None:
        direction = self.up if side is self.client else self.down
        direction.finish(self.loop.time())

    def drained(self, side: _Side) -> None:
        direction = self.down if side is self.client else self.up
        direction._follow_backpressure()

    def lost(self, side: _Side, exc: Exception | None) -> None:
        other = self.server if side is self.client else self.client
        if exc is not None:
            self._abort(other, rst=True)  # a reset on one side is a reset on the other
        else:
            self.maybe_done()
        if self.client.transport is None and self.server.transport is None:
            self._end()

    # -- endings -----------------------------------------------------------------------------------

    def maybe_done(self) -> None:
        """Both directions have ended: close both sockets."""
        up_done = self.up.closed or (self.client.eof and not self.up.queue)
        down_done = self.down.closed or (self.server.eof and not self.down.queue)
        if up_done and down_done:
            for side in (self.client, self.server):
                if side.transport is not None:
                    side.transport.close()

    def _reset_timer(self) -> None:
        self.reset(f"reset after {self.config.reset_after_seconds} s")

    def reset(self, why: str) -> None:
        """Reset both sides (RST, not FIN) at once."""
        logger.info("connection reset", extra={"connection": self.index, "reason": why})
        for side in (self.client, self.server):
            self._abort(side, rst=True)
        self._end()

    def refuse(self, answer: bytes, why: str) -> None:
        """The client broke the protocol the proxy follows: ``answer`` it, then close both
        sides (FIN) after what was already queued towards the client."""
        logger.info("connection refused", extra={"connection": self.index, "reason": why})
        if self.client.transport is not None and answer:
            self.client.transport.write(answer)
        for side in (self.client, self.server):
            if side.transport is not None:
                side.transport.close()
        self.up.closed = self.down.closed = True

    def close(self) -> None:
        """End the connection as the proxy stops."""
        for side in (self.client, self.server):
            self._abort(side, rst=False)
        self._end()

    def _abort(self, side: _Side, *, rst: bool) -> None:
        transport = side.transport
        if transport is None:
            return
        sock = transport.get_extra_info("socket")
        if rst and sock is not None:
            with contextlib.suppress(OSError):  # already gone
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()

    def _end(self) -> None:
        if self.ended:
            return
        self.ended = True
        for timer in self._timers:
            timer.cancel()
        if self._connect is not None and not self._connect.done():
            self._connect.cancel()
        for direction in (self.up, self.down):
            self.scheduler.cancel(direction)
        self.proxy.connection_ended(self)

    def _at(self, when: float, action: Callable[[], object]) -> None:
        self._timers.append(self.loop.call_at(when, action))


RewriterFactory = Callable[[RelayedConnection], tuple[Rewriter | None, Rewriter | None]]


class TcpProxy:
    """Listens on ``listen`` and relays every connection to ``upstream`` through the faults
    of :attr:`config`, which :meth:`apply` changes while connections run."""

    def __init__(
        self,
        listen: Address,
        upstream: Address,
        config: FaultConfig | None = None,
        *,
        seed: int = 0,
        rewriters: RewriterFactory | None = None,
        on_connection_end: Callable[[RelayedConnection], object] | None = None,
    ) -> None:
        self.listen_address = listen
        self.on_connection_end = on_connection_end
        self.upstream = upstream
        self.config = config or FaultConfig()
        self.seeds = FlowSeeds(seed)
        self.rewriters = rewriters
        self.connections: set[RelayedConnection] = set()
        self.accepted = 0
        self._server: asyncio.Server | None = None
        self._port = listen[1]
        self._loop: asyncio.AbstractEventLoop | None = None
        self._scheduler: DeadlineScheduler | None = None
        self._opening = False

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        assert self._loop is not None, "the proxy is not started"
        return self._loop

    @property
    def scheduler(self) -> DeadlineScheduler:
        assert self._scheduler is not None, "the proxy is not started"
        return self._scheduler

    @property
    def address(self) -> Address:
        """Where clients connect (the bound port once started)."""
        return (self.listen_address[0], self._port)

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._scheduler = DeadlineScheduler(self._loop)
        if not self.config.refuse:
            await self._listen()

    def apply(self, config: FaultConfig) -> None:
        """Put ``config`` in force; running connections see it from their next byte."""
        self.config = config
        for connection in self.connections:
            connection.up.link.profile = config.up.for_stream()
            connection.down.link.profile = config.down.for_stream()
        if self._loop is None:
            return
        if config.refuse and self._server is not None:
            self._server.close()  # the listening socket goes now: connects are refused
            self._server = None
        elif not config.refuse and self._server is None and not self._opening:
            self._listen()

    def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for connection in list(self.connections):
            connection.close()
        if self._scheduler is not None:
            self._scheduler.close()

    def connection_ended(self, connection: RelayedConnection) -> None:
        self.connections.discard(connection)
        if self.on_connection_end is not None:
            self.on_connection_end(connection)

    def _listen(self) -> asyncio.Task[asyncio.Server]:
        # Bound and listening before this returns, so a refuse→accept change is immediate.
        host = self.listen_address[0]
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, self._port))
            sock.listen(128)
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        self._port = sock.getsockname()[1]
        self._opening = True
        task = self.loop.create_task(self.loop.create_server(self._accepted, sock=sock))
        task.add_done_callback(self._listening)
        return task

    def _listening(self, task: asyncio.Task[asyncio.Server]) -> None:
        self._opening = False
        if task.cancelled() or task.exception() is not None:
            logger.error(
                "could not listen", exc_info=None if task.cancelled() else task.exception()
            )
            return
        server = task.result()
        if self.config.refuse or self._server is not None:
            server.close()  # refused (or replaced) meanwhile
        else:
            self._server = server

    def _accepted(self) -> _Side:
        up, down = self.seeds.links("tcp", self.config)
        up.in_order = down.in_order = True
        up.profile, down.profile = up.profile.for_stream(), down.profile.for_stream()
        connection = RelayedConnection(self, self.accepted, up, down)
        if self.rewriters is not None:
            connection.up.rewrite, connection.down.rewrite = self.rewriters(connection)
        self.accepted += 1
        self.connections.add(connection)
        return connection.client
