"""The one asyncio pump: a transport on one side, a sans-IO session object on the other.

A session object (the camera session, the encoder session, the ingest connection, the pull
attempt) takes bytes or datagrams with the current time, hands out what to send, events and its
next deadline, and never touches a socket or a clock. :class:`StreamPump` (TCP and TLS, server
or client side) and :class:`DatagramPump` (UDP) do the rest, the way aioquic's
``QuicConnectionProtocol`` drives a ``QuicConnection``:

- read → ``session.receive_data(data, now)``, then write ``session.data_to_send()``, drain
  ``session.next_event()`` into the owner's ``on_event`` callback, and re-arm the pump's one
  timer at ``session.get_timer()``; when it fires, ``session.handle_timer(now)`` and the same;
- backpressure both ways: the transport's ``pause_writing``/``resume_writing`` reach the session
  as ``writing_paused(now)``/``writing_resumed(now)`` (a sender stops producing, a server may
  stop reading), and reading pauses while ``session.wants_data`` is false;
- a cap on what waits in the transport's write buffer (``max_write_buffer``): past it the peer is
  not reading, and the session ends with :attr:`~wire.session.Cause.OVERLOAD`, unflushed;
- once ``session.termination`` is set, what the session still has to send is written and the
  transport closed (flushing it);
- any exception out of the session or the owner's callback is caught where the event loop
  entered the pump: one log line with the connection's fields and its traceback, then that
  session is closed (:attr:`~wire.session.Cause.LOCAL_CLOSE`, with the exception) and its
  transport aborted. Only that connection ends.

Owners (a server, a fleet, a registry) react to events and call session methods; after calling
one from outside an entry point they call :meth:`StreamPump.transmit`, which writes, drains and
re-arms (aioquic names it the same)::

    from wire.asyncio.pump import StreamPump

    def accepted() -> StreamPump:
        session = IngestSession(now=loop.time(), ...)          # a StreamSession
        return StreamPump(session, on_event=registry.handle, fields={"protocol": "rtmp"})

    server = await loop.create_server(accepted, "127.0.0.1", 1935)
    ...
    session.stop(); pump.transmit()

A session that spans several sockets (an RTSP connection and its UDP ports) is driven by one
StreamPump; its datagram sockets feed it through small adapters that call
:meth:`StreamPump.transmit` after each datagram, so that one timer still serves it all.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import threading
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Protocol, cast

from wire.asyncio.scheduler import Clock, TimerHandle
from wire.session import Cause, Termination

logger = logging.getLogger("wire.asyncio")

DEFAULT_MAX_WRITE_BUFFER = 4 * 1024 * 1024
"""Bytes a peer may leave unread in our write buffer before its connection is dropped."""

Address = tuple[str, int]


class StreamSession(Protocol):
    """What :class:`StreamPump` drives. Every method but the properties takes the current time
    where it needs it; none may block."""

    def receive_data(self, data: bytes, now: float) -> None:
        """Bytes from the peer."""

    def receive_eof(self, now: float) -> None:
        """The peer closed its side (or the transport broke before it could)."""

    def connection_lost(self, now: float, exc: Exception | None) -> None:
        """The transport is gone; nothing more can be sent."""

    def data_to_send(self) -> bytes:
        """Bytes to write, ``b""`` when there are none; the session forgets them."""

    def get_timer(self) -> float | None:
        """When :meth:`handle_timer` must next be called (loop time), or None."""

    def handle_timer(self, now: float) -> None:
        """A deadline passed (timeouts, keepalives, pacing, backoff...)."""

    def next_event(self) -> object | None:
        """The next event for the owner, or None."""

    def writing_paused(self, now: float) -> None:
        """The peer is not reading: stop producing (and, if it must, stop reading)."""

    def writing_resumed(self, now: float) -> None:
        """The write buffer drained under its low-water mark."""

    def close(self, termination: Termination) -> None:
        """End the session for ``termination``; what it still sends is flushed."""

    @property
    def wants_data(self) -> bool:
        """False while the session cannot take more input: the pump pauses reading."""

    @property
    def termination(self) -> Termination | None:
        """Why the session ended, once it has; then the pump flushes and closes the
        transport."""


class DatagramSession(Protocol):
    """What :class:`DatagramPump` drives."""

    def receive_datagram(self, data: bytes, addr: Address, now: float) -> None:
        """One datagram from ``addr``."""

    def datagrams_to_send(self, now: float) -> list[tuple[bytes, Address]]:
        """Datagrams to send and where to; the session forgets them."""

    def get_timer(self) -> float | None:
        """When :meth:`handle_timer` must next be called (loop time), or None."""

    def handle_timer(self, now: float) -> None:
        """A deadline passed."""

    def next_event(self) -> object | None:
        """The next event for the owner, or None."""


EventCallback = Callable[[object], object]

TLS_HANDSHAKE = "the TLS handshake"


@dataclass(frozen=True)
class TlsHandshake:
    """A TLS handshake the pump runs as soon as TCP is connected, before the session sees a
    byte: the server side of RTMPS/RTSPS (so the connection holds its slot, and its deadline
    runs, from accept) or the client side after a measured TCP connect.

    Its failure ends the session: ``TIMED_OUT`` (phase ``"the TLS handshake"``) after
    ``timeout``, ``PROTOCOL_ERROR`` with the ``ssl.SSLError`` (a
    ``ssl.SSLCertVerificationError`` for a rejected certificate), ``PEER_CLOSED`` when the peer
    leaves, ``LOCAL_CLOSE`` when the pump is closed meanwhile.
    """

    context: ssl.SSLContext
    timeout: float
    server_side: bool = False
    server_hostname: str | None = None


class _Guarded:
    """The timer, the log line and the event drain both pumps share."""

    def __init__(
        self,
        *,
        on_event: EventCallback | None,
        fields: Mapping[str, object] | None,
        loop: Clock | None,
        log: logging.Logger | None,
    ) -> None:
        self.on_event = on_event
        self.fields: dict[str, object] = dict(fields or {})
        """Logged with every line about this connection (peer, protocol, id...)."""
        self._loop: Clock = loop if loop is not None else asyncio.get_running_loop()
        self._time: Callable[[], float] = self._loop.time
        """The clock, bound once: every read and every timer asks it."""
        own_clock = getattr(type(self._loop), "time", None) is asyncio.BaseEventLoop.time
        if own_clock and "time" not in getattr(self._loop, "__dict__", {}):
            # asyncio's own loops define time() as time.monotonic(): call it without the frame
            # (unless this loop's clock was replaced, as a test may do).
            self._time = time.monotonic
        self._log = log or logger
        self._timer: TimerHandle | None = None
        self._timer_at: float | None = None
        self._failed = False

    @property
    def timer_at(self) -> float | None:
        """When the pump's one timer fires, or None when it is not armed."""
        return self._timer_at

    def _arm(self, deadline: float | None) -> None:
        if deadline == self._timer_at:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = self._timer_at = None
        if deadline is not None:
            self._timer_at = deadline
            self._timer = self._loop.call_at(deadline, self._on_timer)

    def _disarm(self) -> None:
        self._arm(None)

    def _on_timer(self) -> None:
        raise NotImplementedError

    def _report_failure(self, doing: str) -> None:
        """Log an exception of ours once per connection, with its traceback."""
        if not self._failed:
            self._failed = True
            reason = f"internal error while {doing}"
            self._log.exception("connection failed", extra={**self.fields, "reason": reason})


READ_SIZE = 256 * 1024
"""The most one read takes: asyncio's own limit for a stream transport's reads."""


class _ReadBuffer(threading.local):
    """Where the loop of this thread reads every stream: one buffer, used over and over.

    A plain :class:`asyncio.Protocol` gets each read as a new ``bytes`` the transport allocated
    at :data:`READ_SIZE` and then shrank to what arrived: a large allocation per read, which
    costs several times the ``recv`` itself. Reading into this buffer and copying out what
    arrived allocates only that. ``get_buffer``, the read and ``buffer_updated`` follow one
    another in one callback of the thread's loop, so nothing else uses the buffer in between.
    """

    def __init__(self) -> None:
        self.view = memoryview(bytearray(READ_SIZE))


_read_buffer = _ReadBuffer()


class StreamPump(asyncio.BufferedProtocol, _Guarded):
    """Drives one :class:`StreamSession` over one stream transport (TCP, or TLS on it).

    Reads arrive through :meth:`buffer_updated` (see :class:`_ReadBuffer`) and go on as
    :meth:`data_received`, which subclasses extend and tests call directly.
    """

    def __init__(
        self,
        session: StreamSession,
        *,
        on_event: EventCallback | None = None,
        fields: Mapping[str, object] | None = None,
        max_write_buffer: int = DEFAULT_MAX_WRITE_BUFFER,
        tls: TlsHandshake | None = None,
        loop: Clock | None = None,
        log: logging.Logger | None = None,
    ) -> None:
        _Guarded.__init__(self, on_event=on_event, fields=fields, loop=loop, log=log)
        self.session = session
        self.max_write_buffer = max_write_buffer
        self.tls = tls
        self.transport: asyncio.Transport | None = None
        """The transport the session's bytes flow over: TLS once its handshake is done."""
        self.tls_task: asyncio.Task[None] | None = None
        """The TLS handshake in progress or done, when there is one."""
        self._tcp: asyncio.Transport | None = None
        self.bytes_received = 0
        self.bytes_sent = 0
        self._reading_paused = False
        self._writing_paused = False
        self._lost = False
        self._before_tls: bytearray | None = None
        """Bytes the loop read for the TLS layer before there was one (uvloop), held for it."""

    # -- asyncio.Protocol: the entry points --------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self._tcp is not None:
            return  # start_tls hands its transport to the handshake, not here
        # A stream transport, but not always an asyncio.Transport instance: uvloop's derive
        # from none of asyncio's transport classes.
        transport = cast(asyncio.Transport, transport)
        self._tcp = transport
        if "peer" not in self.fields:
            peer = transport.get_extra_info("peername")
            self.fields["peer"] = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else peer
        if self.tls is None:
            self.transport = transport
            self._entered("starting", None)
            return
        # Nothing is read until the TLS layer is in place, or it would reach the session.
        # uvloop starts reading once connection_made returns, whatever it asked: what it
        # reads before start_tls takes the transport over is held for the TLS layer.
        transport.pause_reading()
        self._before_tls = bytearray()
        self.tls_task = asyncio.get_running_loop().create_task(self._handshake(transport, self.tls))

    def get_buffer(self, sizehint: int) -> memoryview:
        return _read_buffer.view

    def buffer_updated(self, nbytes: int) -> None:
        self.data_received(bytes(_read_buffer.view[:nbytes]))

    def data_received(self, data: bytes) -> None:
        # The hot path (every read of every connection): _entered spelled out, with no bound
        # method or argument tuple built per read.
        if self._before_tls is not None and self._hold_for_tls(data):
            return
        self.bytes_received += len(data)
        if self._lost:
            return
        session = self.session
        try:
            if session.termination is None:
                session.receive_data(data, self._time())
            self._process()
        except Exception as exc:
            self._fail("receiving", exc)

    def eof_received(self) -> bool | None:
        self._entered(
            "receiving the end of the stream", self.session.receive_eof, self._loop.time()
        )
        return None  # the transport closes itself once what we wrote is flushed

    def pause_writing(self) -> None:
        self._writing_paused = True
        self._entered("pausing writes", self.session.writing_paused, self._loop.time())

    def resume_writing(self) -> None:
        self._writing_paused = False
        self._entered("resuming writes", self.session.writing_resumed, self._loop.time())

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        self._disarm()
        try:
            self.session.connection_lost(self._loop.time(), exc)
            self._drain_events()
        except Exception:
            self._report_failure("closing")
        self.transport = None

    # -- for the owner -----------------------------------------------------------------------------

    @property
    def writing_paused(self) -> bool:
        """True between the transport's pause_writing and resume_writing."""
        return self._writing_paused

    @property
    def reading_paused(self) -> bool:
        return self._reading_paused

    def transmit(self) -> None:
        """After calling the session from outside the pump: write what it has to send, hand
        its events to ``on_event``, follow its termination and re-arm the timer."""
        self._entered("transmitting", None)

    def close(self, termination: Termination | None = None) -> None:
        """End the session (by default a local close) and the transport after a flush."""
        ended = termination or Termination.local_close()
        self._entered("closing", self.session.close, ended)

    def abort(self) -> None:
        """Drop the transport at once, sending nothing more."""
        self._disarm()
        if self.tls_task is not None and not self.tls_task.done():
            self.tls_task.cancel()
        for transport in (self.transport, self._tcp):
            if transport is not None:
                transport.abort()

    async def _handshake(self, tcp: asyncio.Transport, tls: TlsHandshake) -> None:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(tls.timeout):
                starting = loop.start_tls(
                    tcp,
                    self,
                    tls.context,
                    server_side=tls.server_side,
                    server_hostname=tls.server_hostname,
                    # Past our own deadline, so a slow handshake always ends as TimeoutError.
                    ssl_handshake_timeout=tls.timeout + 1.0,
                )
                held, self._before_tls = self._before_tls, None
                if held:
                    transport = await self._start_tls_with(tcp, starting, bytes(held))
                else:
                    transport = await starting
        except TimeoutError:
            ended = Termination.timed_out(TLS_HANDSHAKE)
        except ssl.SSLError as exc:
            ended = Termination.protocol_error(exc, phase=TLS_HANDSHAKE)
        except OSError as exc:  # ConnectionResetError and the like: the peer went away
            detail = f"peer closed the connection during {TLS_HANDSHAKE}"
            ended = Termination.peer_closed(detail, error=exc, phase=TLS_HANDSHAKE)
        except asyncio.CancelledError:
            ended = Termination.local_close(f"closed during {TLS_HANDSHAKE}", phase=TLS_HANDSHAKE)
        else:
            if transport is None:  # the loop closed under us
                ended = Termination.local_close(f"closed during {TLS_HANDSHAKE}")
            else:
                self.transport = transport
                self._entered("starting", None)
                return
        # start_tls closed the TCP transport; our connection_lost may never come.
        tcp.abort()
        self._entered(f"ending {TLS_HANDSHAKE}", self.session.close, ended)
        self._disarm()

    def _hold_for_tls(self, data: bytes) -> bool:
        """True when ``data`` was read from the TCP transport before start_tls put its TLS
        layer on it (uvloop): it is the peer's first TLS record, kept for that layer."""
        tcp = self._tcp
        if tcp is None or tcp.get_protocol() is not self:
            return False  # decrypted data: the TLS layer is in place
        assert self._before_tls is not None
        self._before_tls += data
        tcp.pause_reading()
        return True

    async def _start_tls_with(
        self,
        tcp: asyncio.Transport,
        starting: Coroutine[object, object, asyncio.Transport | None],
        held: bytes,
    ) -> asyncio.Transport | None:
        """start_tls, with the bytes read before it handed to its TLS protocol first.

        The order rests on call_soon running callbacks in the order they were scheduled:
        start_tls's first step sets its protocol on ``tcp`` and schedules that protocol's
        connection_made and the transport's resume_reading; the hand-over is scheduled after
        both, and before the loop polls the socket again."""
        started = asyncio.ensure_future(starting)
        await asyncio.sleep(0)  # start_tls's first step runs before this resumes
        loop = asyncio.get_running_loop()
        loop.call_soon(_hand_over, tcp, held)
        return await started

    # -- internals ---------------------------------------------------------------------------------

    def _on_timer(self) -> None:
        # As hot as a read for a pacing sender: _entered spelled out, as in data_received.
        self._timer = self._timer_at = None
        if self._lost:
            return
        session = self.session
        try:
            if session.termination is None:
                session.handle_timer(self._time())
            self._process()
        except Exception as exc:
            self._fail("timing out", exc)

    def _entered(self, doing: str, step: Callable[..., object] | None, *args: object) -> None:
        """One entry from the event loop: the session's step, then everything it led to.
        (:meth:`data_received` and :meth:`_on_timer` inline the same steps.)"""
        if self._lost:
            return
        try:
            if step is not None and self.session.termination is None:
                step(*args)
            self._process()
        except Exception as exc:
            self._fail(doing, exc)

    def _process(self) -> None:
        session = self.session
        on_event = self.on_event
        # The owner's answers may add data to send. (_drain_events, inlined: run on every read.)
        while (event := session.next_event()) is not None:
            if on_event is not None:
                on_event(event)
        transport = self.transport
        if transport is None or transport.is_closing():
            # Not connected (or not through TLS) yet, or closing: the data waits, or has
            # nowhere to go. An end before the TLS handshake completes stops the handshake;
            # not once data came through it (TLS hands over what arrived with the client's
            # Finished before start_tls returns): then the answer waits for the transport.
            task = self.tls_task
            if (
                session.termination is not None
                and task is not None
                and not task.done()
                and not self.bytes_received
            ):
                task.cancel()
            return
        data = session.data_to_send()
        if data:
            transport.write(data)
            self.bytes_sent += len(data)
            queued = transport.get_write_buffer_size()
            if queued > self.max_write_buffer and session.termination is None:
                self._overloaded(queued)
                return
        if session.termination is not None:
            self._disarm()
            transport.close()  # flushes what was written
            return
        # Almost every read leaves the deadline and the wish for data as they were: compare here
        # rather than pay for two calls that would do nothing.
        deadline = session.get_timer()
        if deadline != self._timer_at:
            self._arm(deadline)
        if session.wants_data == self._reading_paused:
            self._follow_reading(transport)

    def _follow_reading(self, transport: asyncio.Transport) -> None:
        wanted = self.session.wants_data
        if wanted and self._reading_paused:
            self._reading_paused = False
            transport.resume_reading()
        elif not wanted and not self._reading_paused:
            self._reading_paused = True
            transport.pause_reading()

    def _overloaded(self, queued: int) -> None:
        self.session.close(Termination.overload(f"peer is not reading: {queued} bytes queued"))
        self.session.data_to_send()  # it will never read it
        self._drain_events()
        self.abort()

    def _drain_events(self) -> None:
        on_event = self.on_event
        while (event := self.session.next_event()) is not None:
            if on_event is not None:
                on_event(event)

    def _fail(self, doing: str, exc: Exception) -> None:
        """An exception escaped the session or the owner: this connection ends, alone."""
        self._report_failure(doing)
        try:
            if self.session.termination is None:
                detail = f"internal error while {doing}"
                self.session.close(Termination(Cause.LOCAL_CLOSE, detail, error=exc))
            self._drain_events()
        except Exception:
            self._log.debug("closing the failed session failed too", exc_info=True)
        self.abort()


def _hand_over(tcp: asyncio.Transport, data: bytes) -> None:
    """Give ``data`` to ``tcp``'s protocol as if the transport had just read it."""
    if tcp.is_closing():
        return
    protocol = tcp.get_protocol()
    if not hasattr(protocol, "buffer_updated"):  # both loops' TLS protocols are buffered
        cast(asyncio.Protocol, protocol).data_received(data)
        return
    buffered = cast(asyncio.BufferedProtocol, protocol)
    view = memoryview(data)
    while view:
        buffer = memoryview(buffered.get_buffer(len(view))).cast("B")
        size = min(len(buffer), len(view))
        buffer[:size] = view[:size]
        buffered.buffer_updated(size)
        view = view[size:]


class DatagramPump(asyncio.DatagramProtocol, _Guarded):
    """Drives one :class:`DatagramSession` over one UDP socket."""

    def __init__(
        self,
        session: DatagramSession,
        *,
        on_event: EventCallback | None = None,
        fields: Mapping[str, object] | None = None,
        loop: Clock | None = None,
        log: logging.Logger | None = None,
    ) -> None:
        _Guarded.__init__(self, on_event=on_event, fields=fields, loop=loop, log=log)
        self.session = session
        self.transport: asyncio.DatagramTransport | None = None
        self.datagrams_received = 0
        self.datagrams_sent = 0
        self._closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # The selector loop's datagram transport does not derive from DatagramTransport.
        self.transport = cast(asyncio.DatagramTransport, transport)
        self._entered("starting", None)

    def datagram_received(self, data: bytes, addr: Address) -> None:
        self.datagrams_received += 1
        self._entered("receiving", self.session.receive_datagram, data, addr, self._loop.time())

    def error_received(self, exc: Exception) -> None:
        # ICMP port unreachable and the like: the peer's problem, not worth a session's end.
        self._log.debug("datagram error", extra={**self.fields, "reason": str(exc)})

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        self._disarm()
        self.transport = None

    def transmit(self) -> None:
        """After calling the session from outside the pump: send, drain events, re-arm."""
        self._entered("transmitting", None)

    def close(self) -> None:
        """Stop the timer and close the socket."""
        self._disarm()
        if self.transport is not None:
            self.transport.close()

    def _on_timer(self) -> None:
        self._timer = self._timer_at = None
        self._entered("timing out", self.session.handle_timer, self._loop.time())

    def _entered(self, doing: str, step: Callable[..., object] | None, *args: object) -> None:
        if self._closed:
            return
        try:
            if step is not None:
                step(*args)
            self._process()
        except Exception:
            self._report_failure(doing)
            self.close()

    def _process(self) -> None:
        session, transport = self.session, self.transport
        on_event = self.on_event
        while (event := session.next_event()) is not None:
            if on_event is not None:
                on_event(event)
        if transport is None:
            return
        for data, addr in session.datagrams_to_send(self._loop.time()):
            transport.sendto(data, addr)
            self.datagrams_sent += 1
        self._arm(session.get_timer())
