"""One stream for its whole life: the asyncio owner of its connection attempts.

:class:`StreamPublisher` does what the sans-IO objects cannot: it opens the TCP connection (under
the session's TCP deadline), hands the transport to a :class:`wire.asyncio.pump.StreamPump` that
runs TLS when the target asks for it, reports both to the :class:`~camsim.encoder.connection.
PublishConnection` with the loop's time, schedules the session's media on the fleet's
:class:`~camsim.encoder.pacer.Pacer`, and arms the :class:`~camsim.encoder.reconnect.
ReconnectPolicy`'s timer between attempts. Every decision (deadlines, what failed, whether and
when to try again) is theirs.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import socket
import time
from collections.abc import Callable, Mapping

from camsim.encoder.connection import (
    MediaClock,
    PacingWanted,
    PublishConnection,
    SessionEnded,
    TransportClosed,
)
from camsim.encoder.flv_source import FlvPlan
from camsim.encoder.pacer import Pacer
from camsim.encoder.reconnect import GaveUp, ReconnectPolicy, RetryDue
from camsim.encoder.session import PublishOptions
from camsim.encoder.stats import StreamState, StreamStats
from camsim.encoder.target import PushTarget
from camsim.pcap.tap import CaptureTap, TappedTransport
from wire.asyncio.pump import StreamPump, TlsHandshake
from wire.backoff import Backoff as Backoff  # the shared one, re-exported for the fleet and CLI
from wire.session import Cause, Termination


class StreamPublisher:
    """Publishes one stream until :meth:`stop`, a fatal error, or (without reconnect) any
    error. Every attempt after the first counts as a reconnect."""

    def __init__(
        self,
        index: int,
        target: PushTarget,
        plan: FlvPlan,
        pacer: Pacer,
        options: PublishOptions,
        *,
        reconnect: bool = False,
        backoff: Backoff | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.target = target
        self.pacer = pacer
        self.options = options
        backoff = backoff or Backoff()
        if rng is not None:
            backoff = dataclasses.replace(backoff, random=rng.random)
        self.policy = ReconnectPolicy(backoff, reconnect=reconnect)
        self.stats = StreamStats(index, target.url)
        self.clock = MediaClock(plan, options.start_timestamp)
        self._attempt: PublishAttempt | None = None
        self._task: asyncio.Task[None] | None = None
        self._wait: asyncio.Future[None] | None = None
        self._stopping = False
        self._stopped_while_publishing = False

    @property
    def reconnect(self) -> bool:
        return self.policy.reconnect

    @property
    def backoff(self) -> Backoff:
        return self.policy.backoff

    async def run(self) -> StreamStats:
        """Run until stopped or failed; the outcome is in the returned stats."""
        self._task = asyncio.current_task()
        try:
            await self._attempts()
        except asyncio.CancelledError:
            if not self._stopping:
                raise
            self._settle_stopped()
        return self.stats

    def stop(self) -> None:
        """Stop publishing: unpublish and close gracefully when connected, else give up."""
        if self._stopping:
            return
        self._stopping = True
        self._stopped_while_publishing = self.stats.state is StreamState.PUBLISHING
        self.policy.stop()
        attempt = self._attempt
        if attempt is not None and attempt.session.established:
            attempt.stop()
        elif self._wait is not None and not self._wait.done():
            self._wait.set_result(None)  # between attempts: nothing to unpublish
        elif self._task is not None:
            self._task.cancel()  # connecting: nothing to unpublish either

    async def _attempts(self) -> None:
        loop = asyncio.get_running_loop()
        stats, policy = self.stats, self.policy
        while not self._stopping:
            stats.state = StreamState.RECONNECTING if stats.reconnects else StreamState.CONNECTING
            stats.reset_timings()
            attempt = self._attempt = PublishAttempt(self, loop)
            try:
                termination = await attempt.run()
            finally:
                self._attempt = None
            if self._stopping:
                break
            policy.attempt_ended(loop.time(), termination, published=attempt.session.published)
            if isinstance(policy.next_event(), GaveUp):
                stats.state = StreamState.FAILED
                return
            if policy.get_timer() is None:
                break  # the attempt ended by our own close
            stats.state = StreamState.RECONNECTING
            await self._retry_due(loop)
            if self._stopping:
                break
            stats.reconnects += 1
        self._settle_stopped()

    async def _retry_due(self, loop: asyncio.AbstractEventLoop) -> None:
        """Wait for the policy's timer (or :meth:`stop`)."""
        wait = self._wait = loop.create_future()
        policy = self.policy

        def fire() -> None:
            policy.handle_timer(loop.time())
            while (event := policy.next_event()) is not None:
                if isinstance(event, RetryDue) and not wait.done():
                    wait.set_result(None)
            if not wait.done() and (due := policy.get_timer()) is not None:
                handle[0] = loop.call_at(due, fire)  # woken a hair early: once more

        deadline = policy.get_timer()
        assert deadline is not None
        handle = [loop.call_at(deadline, fire)]
        try:
            await wait
        finally:
            handle[0].cancel()
            self._wait = None

    def _settle_stopped(self) -> None:
        stats = self.stats
        if self._stopped_while_publishing:
            stats.state = StreamState.DONE
        else:
            stats.state = StreamState.FAILED
            stats.error = stats.error or "stopped before the publish started"


class PublishAttempt:
    """One connection of a stream, the asyncio side of its :class:`PublishConnection`: TCP
    under the session's deadline, the pump (with TLS), the pacer's task, and the close grace,
    until the transport is gone.

    The grace lives here, not in the session: once a session has ended, the pump closes the
    transport (which flushes what is written) and stops the session's timer; a server that
    never reads the rest would keep that transport forever, so the attempt drops it after
    ``timeout``.
    """

    def __init__(self, publisher: StreamPublisher, loop: asyncio.AbstractEventLoop) -> None:
        options = publisher.options
        self.loop = loop
        self.target = target = publisher.target
        self.options = options
        self.pacer = publisher.pacer
        self.stats = publisher.stats
        self.session = PublishConnection(
            target,
            publisher.clock,
            publisher.stats,
            now=loop.time(),
            timeout=options.timeout,
            chunk_size=options.chunk_size,
            flash_ver=options.flash_ver,
            wallclock_us=lambda: time.time_ns() // 1000,
        )
        tls = None
        if target.tls:
            assert options.ssl_context is not None
            # server_hostname drives SNI and the name check; Python leaves SNI out for IP
            # literals (RFC 6066 section 3) and checks the certificate's IP addresses instead.
            tls = TlsHandshake(options.ssl_context, options.timeout, server_hostname=target.host)
        self.pump = _PublishPump(
            self.session, on_event=self._on_event, tls=tls, fields={"url": target.url}
        )
        self.media = _PacedMedia(self.session, self.pump)
        self._closed: asyncio.Future[Termination] = loop.create_future()
        self._grace: asyncio.TimerHandle | None = None

    async def run(self) -> Termination:
        """Run the attempt; return how it ended once its transport is gone."""
        session, pump, loop = self.session, self.pump, self.loop
        try:
            await self._connect()
            if session.termination is None and pump.tls_task is not None:
                # The handshake ends the session itself when it fails (and may then end as
                # cancelled): its outcome is the session's, not the task's.
                await asyncio.wait([pump.tls_task])
                if session.termination is None:
                    self._tap()
                    session.tls_established(loop.time())
                    pump.transmit()
            if session.termination is not None and pump.transport is None:
                return session.termination  # no transport (any more) to wait for
            return await self._closed
        finally:
            self._teardown()

    def stop(self) -> None:
        self.session.stop(self.loop.time())
        self.pump.transmit()

    async def _connect(self) -> None:
        session, pump, loop, target = self.session, self.pump, self.loop, self.target
        deadline = session.get_timer()
        assert deadline is not None
        try:
            async with asyncio.timeout_at(deadline):
                await loop.create_connection(lambda: pump, target.host, target.port)
        except TimeoutError:
            session.handle_timer(max(loop.time(), deadline))
            return
        except OSError as exc:
            session.connect_failed(loop.time(), exc)
            return
        if self.options.send_buffer is not None:
            sock = pump.transport_socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self.options.send_buffer)
        tls = pump.tls is not None
        if not tls:
            self._tap()
        session.transport_connected(loop.time(), tls=tls)
        pump.transmit()

    def _tap(self) -> None:
        capture = self.options.capture
        if capture is not None:
            self.pump.tap(capture)

    def _on_event(self, event: object) -> None:
        if isinstance(event, PacingWanted):
            self.pacer.schedule(self.media, event.at)
        elif isinstance(event, SessionEnded):
            self.pacer.cancel(self.media)
            # Closing flushes what is buffered; connection_lost then ends the attempt, or this
            # grace does when the server does not take the rest. Only an unpublish is worth
            # the wait: after a failure the last bytes were written (the kernel took what it
            # could) and the connection goes at once, as it always did.
            if self._grace is None:
                grace = self.options.timeout if event.termination.cause is Cause.LOCAL_CLOSE else 0
                self._grace = self.loop.call_later(grace, self.pump.abort)
        elif isinstance(event, TransportClosed) and not self._closed.done():
            self._closed.set_result(event.termination)

    def _teardown(self) -> None:
        stats = self.stats
        if stats.publishing_since is not None:
            stats.publishing_seconds += self.loop.time() - stats.publishing_since
            stats.publishing_since = None
        self.pacer.cancel(self.media)
        if self._grace is not None:
            self._grace.cancel()
        self.pump.abort()


class _PacedMedia:
    """The session's media as a task of the fleet's pacer."""

    def __init__(self, session: PublishConnection, pump: StreamPump) -> None:
        self.session = session
        self.stream_pump = pump

    def pump(self, now: float) -> float | None:
        """Send what is due and flush it; None once media may not flow (the server stopped
        reading, or the session ended): :class:`PacingWanted` starts it again."""
        due = self.session.send_due(now)
        self.stream_pump.transmit()
        return due if self.session.pacing else None


class _PublishPump(StreamPump):
    """The pump, plus the ``--capture`` recording of the cleartext in both directions."""

    def __init__(
        self,
        session: PublishConnection,
        *,
        on_event: Callable[[object], object],
        tls: TlsHandshake | None,
        fields: Mapping[str, object],
    ) -> None:
        super().__init__(session, on_event=on_event, tls=tls, fields=fields)
        self._tapped: TappedTransport | None = None

    def tap(self, capture: CaptureTap) -> None:
        """Record from now on what is written to and read from the transport."""
        assert self.transport is not None
        self.transport = self._tapped = capture.client(self.transport)

    def transport_socket(self) -> socket.socket:
        assert self.transport is not None
        sock: socket.socket = self.transport.get_extra_info("socket")
        return sock

    def data_received(self, data: bytes) -> None:
        if self._tapped is not None:
            self._tapped.received(data)
        super().data_received(data)
