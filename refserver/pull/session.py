"""Pulling one camera until stopped: the thin asyncio owner of the sans-IO pull attempts.

:class:`RtspPullSession` follows a :class:`~refserver.pull.plan.PullPlan` (UDP first under
``auto``, TCP when UDP does not work; the next endpoint, an alternative port or the HTTP tunnel,
when a port does not answer) and runs each :class:`~refserver.pull.attempt.PullAttempt`
with an :class:`AttemptRunner`: the link to the camera (TCP, TLS or an HTTP tunnel, opened by
:func:`~refserver.pull.link.open_link`) is driven by ``wire.asyncio.pump.StreamPump``, whose one
timer serves every deadline of the attempt. The runner does the side effects the attempt asks for
with events: it binds the UDP pairs (their datagrams go back to the attempt, then the pump
transmits), sends its datagrams, and transcodes audio on a worker thread.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from dataclasses import replace

from refserver.config import PULL_TRANSPORTS, PullTransport
from refserver.hls import Frame
from refserver.pull.address import CameraAddress
from refserver.pull.attempt import (
    AttemptEnded,
    DatagramOut,
    MulticastGroupWanted,
    PullAttempt,
    PullSink,
    SessionTimeouts,
    TranscodeWanted,
    UdpPortsWanted,
)
from refserver.pull.errors import PullError, Unreachable
from refserver.pull.link import Link, open_link
from refserver.pull.plan import Endpoint, PlannedAttempt, PullPlan
from refserver.pull.tracks import Presentation, Track
from refserver.pull.udp import Receive, UdpReceiver, open_group, open_pair
from refserver.pull.worker import TranscodeQueue
from wire.asyncio.pump import StreamPump
from wire.rtsp.client import DEFAULT_USER_AGENT

__all__ = [
    "PULL_TRANSPORTS",
    "AttemptRunner",
    "CameraAddress",
    "PullError",
    "PullSink",
    "PullTransport",
    "RtspPullSession",
    "SessionTimeouts",
]

logger = logging.getLogger(__name__)


class AttemptRunner:
    """Drives one :class:`PullAttempt` over ``link`` until it ends."""

    def __init__(self, attempt: PullAttempt, link: Link) -> None:
        self.attempt = attempt
        self.link = link
        self.loop = asyncio.get_running_loop()
        self.pump = StreamPump(
            attempt,
            on_event=self._on_event,
            fields={"url": attempt.address.url, "peer": attempt.address.where},
            log=logger,
        )
        self._ended: asyncio.Future[AttemptEnded] = self.loop.create_future()
        self._udp: dict[int, tuple[UdpReceiver, UdpReceiver]] = {}
        self._binding: set[asyncio.Task[None]] = set()
        self._transcoding: TranscodeQueue | None = None
        self._closed = False

    async def run(self) -> AttemptEnded:
        """Until the attempt ends; how it ended."""
        try:
            self.link.attach(self.pump)
            return await asyncio.shield(self._ended)
        finally:
            self._close()

    def stop(self) -> None:
        """TEARDOWN, or an end at once when there is no session yet."""
        self.attempt.stop(self.loop.time())
        self.pump.transmit()

    def _on_event(self, event: object) -> None:
        if isinstance(event, DatagramOut):
            pair = self._udp.get(event.channel)
            if pair is not None:
                pair[1 if event.rtcp else 0].send(event.data, event.addr)
        elif isinstance(event, TranscodeWanted):
            if self._transcoding is None:
                self._transcoding = TranscodeQueue(self.loop)
            deliver = functools.partial(self._transcoded, event.track)
            self._transcoding.submit(event.transcoder, event.frame, event.size, deliver)
        elif isinstance(event, UdpPortsWanted):
            task = self.loop.create_task(self._bind(event.channel))
            self._binding.add(task)
            task.add_done_callback(self._binding.discard)
        elif isinstance(event, MulticastGroupWanted):
            task = self.loop.create_task(self._join(event))
            self._binding.add(task)
            task.add_done_callback(self._binding.discard)
        elif isinstance(event, AttemptEnded) and not self._ended.done():
            self._ended.set_result(event)

    def _transcoded(self, track: Track, frames: list[Frame], size: int) -> None:
        self.attempt.transcoded(track, frames, size)
        self.pump.transmit()

    def _receivers(self, channel: int) -> tuple[Receive, Receive]:
        """What the RTP and the RTCP socket of ``channel`` hand their datagrams to."""
        receive = self.attempt.receive_datagram
        return (
            functools.partial(receive, channel=channel, rtcp=False),
            functools.partial(receive, channel=channel, rtcp=True),
        )

    def _keep(self, channel: int, rtp: UdpReceiver, rtcp: UdpReceiver) -> bool:
        """Hold ``channel``'s sockets, or close them when the attempt ended meanwhile."""
        if self._closed:
            rtp.close()
            rtcp.close()
            return False
        self._udp[channel] = (rtp, rtcp)
        return True

    async def _bind(self, channel: int) -> None:
        attempt = self.attempt
        try:
            ports, rtp, rtcp = await open_pair(
                self.link.local_host, *self._receivers(channel), self.pump.transmit
            )
        except OSError as exc:
            attempt.udp_ports_failed(channel, exc, self.loop.time())
        else:
            if not self._keep(channel, rtp, rtcp):
                return
            attempt.udp_ports_bound(channel, ports, self.link.peer_host, self.loop.time())
        self.pump.transmit()

    async def _join(self, event: MulticastGroupWanted) -> None:
        attempt, channel = self.attempt, event.channel
        try:
            rtp, rtcp = await open_group(
                event.group,
                event.ports,
                self.link.local_host,  # the interface that reaches the camera
                *self._receivers(channel),
                self.pump.transmit,
            )
        except OSError as exc:
            attempt.udp_ports_failed(channel, exc, self.loop.time())
        else:
            if not self._keep(channel, rtp, rtcp):
                return
            attempt.multicast_joined(channel, self.link.peer_host, self.loop.time())
        self.pump.transmit()

    def _close(self) -> None:
        self._closed = True
        for task in self._binding:
            task.cancel()
        for pair in self._udp.values():
            for receiver in pair:
                receiver.close()
        self._udp.clear()
        if self._transcoding is not None:
            self._transcoding.close()
        if self.attempt.termination is None:
            self.pump.abort()  # cancelled from outside: no TEARDOWN, no wait
        self.link.close()


class RtspPullSession:
    """Pull one camera over ``transport`` until :meth:`stop` or a failure."""

    def __init__(
        self,
        address: CameraAddress,
        sink: PullSink,
        *,
        timeouts: SessionTimeouts | None = None,
        base: Callable[[], int] = lambda: 0,
        transport: PullTransport | str = PullTransport.AUTO,
        tls_verify: bool = True,
        transcode_audio: bool = True,
        plan: PullPlan | None = None,
    ) -> None:
        try:
            chosen = PullTransport(transport)
        except ValueError:
            raise ValueError(
                f"transport {transport!r} is not one of {', '.join(PULL_TRANSPORTS)}"
            ) from None
        self.address = address
        self.sink = sink
        self.timeouts = timeouts or SessionTimeouts()
        self.base = base
        self.transport = chosen
        self.tls_verify = tls_verify
        self.transcode_audio = transcode_audio
        """G.711 and Opus audio to AAC; when False such tracks are left out."""
        self.transport_in_use: PullTransport | None = None
        """TCP, UDP or HTTP once an attempt has begun; None before."""
        self.endpoint_in_use: Endpoint | None = None
        """Where the current attempt connects, once one has begun."""
        self.plan = plan or PullPlan(chosen, secure=address.secure, probe=self.timeouts.udp_switch)
        """The transports to try (and, for a caller that reconnects, the backoff)."""
        self._runner: AttemptRunner | None = None
        self._stopping = False

    @property
    def presentation(self) -> Presentation | None:
        """What the current attempt plays, once DESCRIBE was answered."""
        return self._runner.attempt.presentation if self._runner is not None else None

    def stop(self) -> None:
        """End :meth:`run` with a TEARDOWN."""
        self._stopping = True
        if self._runner is not None:
            self._runner.stop()

    async def run(self) -> None:
        """Connect, set up, play and receive; returns after :meth:`stop`, raises PullError."""
        plan = self.plan
        step: PlannedAttempt | None = plan.first()
        while step is not None:
            self.transport_in_use = step.transport
            self.endpoint_in_use = step.endpoint
            try:
                ended = await self._run_attempt(step)
            except Unreachable as exc:
                if self._stopping:
                    return
                step = self._next_endpoint(plan.unreachable(step, str(exc)), str(exc))
                continue
            if ended is None or ended.stopped or self._stopping:
                return
            passed = len(plan.passed)
            after = plan.after(step, ended)
            reason = ended.termination.detail
            if len(plan.passed) > passed:  # the camera never answered on this endpoint
                step = self._next_endpoint(after, reason)
            elif after is None:
                raise PullError(reason)
            else:
                logger.warning(
                    "UDP does not work, switching to TCP",
                    extra={"url": self.address.url, "reason": reason},
                )
                step = after

    def _next_endpoint(self, step: PlannedAttempt | None, reason: str) -> PlannedAttempt:
        """``step`` on the next endpoint, or the session fails with every endpoint's reason.
        Moves are logged at DEBUG only: the source logs the endpoint that plays when it
        changes, so a camera that is down does not log a walk per reconnect."""
        if step is None:
            raise PullError(self._unreached())
        logger.debug(
            "endpoint not reached, trying the next",
            extra={
                "url": self.address.url,
                "reason": reason,
                "endpoint": step.endpoint.describe(self.address.port),
            },
        )
        return step

    def _unreached(self) -> str:
        passed = self.plan.passed
        if len(passed) == 1:
            return passed[0].reason
        port = self.address.port
        return "; ".join(f"{p.endpoint.describe(port)}: {p.reason}" for p in passed)

    def address_of(self, endpoint: Endpoint) -> CameraAddress:
        """The camera's address with ``endpoint``'s port: the URL (what requests ask for)
        stays as given, the connection and its ``host:port`` go to the endpoint."""
        if endpoint.port is None:
            return self.address
        return replace(self.address, port=endpoint.port)

    async def _run_attempt(self, step: PlannedAttempt) -> AttemptEnded | None:
        address = self.address_of(step.endpoint)
        link = await open_link(
            address,
            tunnel=step.transport is PullTransport.HTTP,
            tls_verify=self.tls_verify,
            timeout=self.timeouts.connect,
            user_agent=DEFAULT_USER_AGENT,
        )
        if self._stopping:
            link.close()
            return None
        attempt = PullAttempt(
            address,
            self.sink,
            now=asyncio.get_running_loop().time(),
            transport=step.lower,
            timeouts=self.timeouts,
            base=self.base,
            probe=step.probe,
            transcode_audio=self.transcode_audio,
        )
        self._runner = AttemptRunner(attempt, link)
        try:
            return await self._runner.run()
        finally:
            self._runner = None
