"""Which attempts pulling a camera makes, in which order, and when it tries again; sans I/O.

``tcp`` interleaves RTP on the RTSP connection (TLS for ``rtsps://``); ``udp`` receives it on a
pair of ports per stream; ``http`` tunnels RTSP and interleaved RTP through HTTP. ``auto`` does
what FFmpeg and gortsplib do: UDP first, then, when SETUP is answered 461 Unsupported Transport
or no RTP arrives within the probe time of PLAY, the whole exchange again over TCP on a fresh
connection. Under ``rtsps://`` UDP would need SRTP, which we do not do, so ``auto`` means TCP
there and ``udp`` is refused.

Between sessions that failed, the plan waits a capped exponential backoff with jitter
(:class:`wire.backoff.Backoff`), so a fleet of pulled cameras does not hammer a recovering
network all at once; a session that played resets it. The wait is the plan's timer::

    plan = PullPlan(PullTransport.AUTO, secure=False, probe=3.0, backoff=Backoff())
    step = plan.first()                  # PlannedAttempt(UDP, probe=3.0)
    step = plan.after(step, ended)       # TCP after AttemptEnded(udp_unavailable=True), or None
    plan.failed(now)                     # the session is over: retry at plan.get_timer()
    plan.handle_timer(now)               # True once the retry is due
"""

from __future__ import annotations

from dataclasses import dataclass

from refserver.config import PullTransport
from refserver.pull.attempt import AttemptEnded
from refserver.pull.errors import PullError
from wire.backoff import Backoff

UDP_OVER_TLS = "rtsps:// media cannot go over UDP (that needs SRTP); use tcp, http or auto"


@dataclass(frozen=True, slots=True)
class PlannedAttempt:
    """One connection to make: over ``transport`` (TCP, UDP or HTTP), UDP on probation for
    ``probe`` seconds when set, with ``fallback`` another attempt to make if UDP fails."""

    transport: PullTransport
    probe: float | None = None
    fallback: bool = False

    @property
    def lower(self) -> PullTransport:
        """How media travels in the attempt: UDP, or TCP (an HTTP tunnel interleaves too)."""
        return PullTransport.UDP if self.transport is PullTransport.UDP else PullTransport.TCP


class PullPlan:
    """The transports a session tries, and the backoff between sessions."""

    def __init__(
        self,
        transport: PullTransport,
        *,
        secure: bool,
        probe: float,
        backoff: Backoff | None = None,
    ) -> None:
        self.transport = PullTransport(transport)
        self.secure = secure
        self.probe = probe
        self.backoff = backoff or Backoff()
        self.retry_at: float | None = None
        """When the next session may start, after a failure; None when it may now."""

    def first(self) -> PlannedAttempt:
        """The first attempt of a session; raises :class:`PullError` for UDP under TLS."""
        transport = self.transport
        if transport is PullTransport.UDP and self.secure:
            raise PullError(UDP_OVER_TLS)
        if transport is PullTransport.AUTO:
            if self.secure:
                return PlannedAttempt(PullTransport.TCP)
            return PlannedAttempt(PullTransport.UDP, self.probe, fallback=True)
        return PlannedAttempt(transport)

    def after(self, attempt: PlannedAttempt, ended: AttemptEnded) -> PlannedAttempt | None:
        """The attempt that follows ``attempt`` ending as ``ended`` within the same session:
        TCP when UDP did not work and the plan allows it, else None (the session is over)."""
        if attempt.fallback and ended.udp_unavailable and not ended.stopped:
            return PlannedAttempt(PullTransport.TCP)
        return None

    # -- between sessions --------------------------------------------------------------------------

    def played(self) -> None:
        """A session played: the next failure waits the shortest backoff again."""
        self.backoff.reset()

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
