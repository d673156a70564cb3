"""Which attempts pulling a camera makes, in which order, and when it tries again; sans I/O.

``tcp`` interleaves RTP on the RTSP connection (TLS for ``rtsps://``); ``udp`` receives it on a
pair of ports per stream; ``http`` tunnels RTSP and interleaved RTP through HTTP. ``auto`` does
what FFmpeg and gortsplib do: UDP first, then, when SETUP is answered 461 Unsupported Transport
or no RTP arrives within the probe time of PLAY, the whole exchange again over TCP on a fresh
connection. Under ``rtsps://`` UDP would need SRTP, which we do not do, so ``auto`` means TCP
there and ``udp`` is refused.

Where each attempt connects is an :class:`Endpoint`: the URL's port first, then the source's
``alternative_ports`` in order, then (under ``auto`` only) RTSP tunnelled in HTTP on its
``tunnel_port``, the way round a firewall that lets only web traffic out (Axis cameras tunnel on
port 80, live555's ``openRTSP -T``, MediaMTX's ``rtsp+http://``). The plan moves to the next
endpoint only when the port did not answer at all: the connect was refused or timed out, or the
connection closed, broke or stayed silent before the camera sent a single byte. A camera that
answered, even with 401 or 404, was reached: trying another of its ports would not change its
answer. A session starts at the endpoint that last played, so a camera whose port 554 is blocked
costs one connect timeout when it is first found out, not one per reconnect.

Between sessions that failed, the plan waits a capped exponential backoff with jitter
(:class:`wire.backoff.Backoff`), so a fleet of pulled cameras does not hammer a recovering
network all at once; a session that played resets it. The wait is the plan's timer::

    plan = PullPlan(PullTransport.AUTO, secure=False, probe=3.0, backoff=Backoff())
    step = plan.first()                  # PlannedAttempt(UDP, probe=3.0)
    step = plan.after(step, ended)       # TCP after AttemptEnded(udp_unavailable=True), or None
    step = plan.unreachable(step, why)   # the next endpoint after a failed connect, or None
    plan.failed(now)                     # the session is over: retry at plan.get_timer()
    plan.handle_timer(now)               # True once the retry is due
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from refserver.config import PullTransport
from refserver.pull.attempt import AttemptEnded
from refserver.pull.errors import PullError
from wire.backoff import Backoff
from wire.session import Cause

UDP_OVER_TLS = "rtsps:// media cannot go over UDP (that needs SRTP); use tcp, http or auto"
SILENT_CAUSES = (Cause.PEER_CLOSED, Cause.TIMED_OUT)
"""How an attempt ends when its port is blocked past the connect: a firewall or a port forward
that accepts and then resets, closes or never answers."""


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where an attempt connects: an RTSP port, or the port of an HTTP tunnel (``tunnel``).
    ``port`` None is the URL's port."""

    port: int | None = None
    tunnel: bool = False

    def describe(self, default_port: int) -> str:
        """``rtsp port 554`` or ``http tunnel port 80``, for logs and the API."""
        kind = "http tunnel" if self.tunnel else "rtsp"
        return f"{kind} port {self.port if self.port is not None else default_port}"


@dataclass(frozen=True, slots=True)
class PlannedAttempt:
    """One connection to make: over ``transport`` (TCP, UDP or HTTP) to ``endpoint``, UDP on
    probation for ``probe`` seconds when set, with ``fallback`` another attempt to make if UDP
    fails."""

    transport: PullTransport
    probe: float | None = None
    fallback: bool = False
    endpoint: Endpoint = Endpoint()

    @property
    def lower(self) -> PullTransport:
        """How media travels in the attempt: UDP, multicast, or TCP (an HTTP tunnel
        interleaves too)."""
        if self.transport in (PullTransport.UDP, PullTransport.MULTICAST):
            return self.transport
        return PullTransport.TCP


@dataclass(frozen=True, slots=True)
class Passed:
    """An endpoint a session left because it could not be reached, and why."""

    endpoint: Endpoint
    reason: str


class PullPlan:
    """The endpoints and transports a session tries, and the backoff between sessions."""

    def __init__(
        self,
        transport: PullTransport,
        *,
        secure: bool,
        probe: float,
        backoff: Backoff | None = None,
        alternative_ports: tuple[int, ...] = (),
        tunnel_port: int | None = None,
    ) -> None:
        self.transport = PullTransport(transport)
        self.secure = secure
        self.probe = probe
        self.backoff = backoff or Backoff()
        self.endpoints = _endpoints(self.transport, alternative_ports, tunnel_port)
        """Every endpoint in the order a session walks them."""
        self.retry_at: float | None = None
        """When the next session may start, after a failure; None when it may now."""
        self.current: PlannedAttempt | None = None
        """The attempt the session is making (the last one :meth:`first`, :meth:`after` or
        :meth:`unreachable` gave)."""
        self.passed: list[Passed] = []
        """The endpoints the current session left unreached, in order, with why."""
        self._start = 0  # the index of the endpoint a session starts at: the last that played
        self._tried = 0  # endpoints the current session has tried

    def first(self) -> PlannedAttempt:
        """The first attempt of a session; raises :class:`PullError` for UDP under TLS."""
        if self.transport in (PullTransport.UDP, PullTransport.MULTICAST) and self.secure:
            raise PullError(UDP_OVER_TLS)
        self.passed = []
        self._tried = 1
        return self._at(self.endpoints[self._start])

    def after(self, attempt: PlannedAttempt, ended: AttemptEnded) -> PlannedAttempt | None:
        """The attempt that follows ``attempt`` ending as ``ended`` within the same session:
        TCP on the same endpoint when UDP did not work and the plan allows it; the next
        endpoint when the camera never said a word on this one; else None (the session is
        over)."""
        if ended.stopped:
            return None
        if attempt.fallback and ended.udp_unavailable:
            self.current = replace(attempt, transport=PullTransport.TCP, probe=None, fallback=False)
            return self.current
        if ended.silent and ended.termination.cause in SILENT_CAUSES:
            return self.unreachable(attempt, ended.termination.detail)
        return None

    def unreachable(self, attempt: PlannedAttempt, reason: str) -> PlannedAttempt | None:
        """``attempt``'s endpoint could not be reached (``reason`` says how): the first attempt
        on the next endpoint, or None when the session has tried them all."""
        self.passed.append(Passed(attempt.endpoint, reason))
        if self._tried >= len(self.endpoints):
            return None
        index = (self.endpoints.index(attempt.endpoint) + 1) % len(self.endpoints)
        self._tried += 1
        return self._at(self.endpoints[index])

    def _at(self, endpoint: Endpoint) -> PlannedAttempt:
        transport = self.transport
        if endpoint.tunnel:
            step = PlannedAttempt(PullTransport.HTTP, endpoint=endpoint)
        elif transport is PullTransport.AUTO and not self.secure:
            step = PlannedAttempt(PullTransport.UDP, self.probe, fallback=True, endpoint=endpoint)
        elif transport is PullTransport.AUTO:
            step = PlannedAttempt(PullTransport.TCP, endpoint=endpoint)
        else:
            step = PlannedAttempt(transport, endpoint=endpoint)
        self.current = step
        return step

    # -- between sessions --------------------------------------------------------------------------

    def played(self) -> None:
        """A session played: the next failure waits the shortest backoff again, and the next
        session starts where this one played."""
        self.backoff.reset()
        if self.current is not None:
            self._start = self.endpoints.index(self.current.endpoint)

    def failed(self, now: float) -> float:
        """A session failed at ``now``; returns the delay until the next may start."""
        delay = self.backoff.next_delay()
        self.retry_at = now + delay
        return delay

    def get_timer(self) -> float | None:
        return self.retry_at

    def handle_timer(self, now: float) -> bool:
        """True when the next session may start now (and the timer is cleared)."""
        if self.retry_at is None or now < self.retry_at:
            return self.retry_at is None
        self.retry_at = None
        return True


def _endpoints(
    transport: PullTransport, alternative_ports: tuple[int, ...], tunnel_port: int | None
) -> tuple[Endpoint, ...]:
    if transport is PullTransport.HTTP:
        return (Endpoint(tunnel_port, tunnel=True),)
    rtsp = (Endpoint(), *(Endpoint(port) for port in alternative_ports))
    if transport is PullTransport.AUTO and tunnel_port is not None:
        return (*rtsp, Endpoint(tunnel_port, tunnel=True))
    return rtsp
