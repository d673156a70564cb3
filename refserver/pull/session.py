"""Pulling one camera until stopped: which transport to use, and the switch when UDP fails.

``tcp`` interleaves RTP on the RTSP connection (TLS for ``rtsps://``); ``udp`` receives it on a
pair of ports per stream; ``http`` tunnels RTSP and interleaved RTP through HTTP. ``auto`` does
what FFmpeg and gortsplib do: UDP first, then, when SETUP is answered 461 Unsupported Transport
or no RTP arrives within :attr:`SessionTimeouts.udp_switch` of PLAY, TEARDOWN and the whole
exchange again over TCP on a fresh connection. Under ``rtsps://`` UDP would need SRTP, which we
do not do, so ``auto`` means TCP there and ``udp`` is refused.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from refserver.config import PULL_TRANSPORTS
from refserver.pull.address import CameraAddress
from refserver.pull.attempt import MediaSink, PullAttempt, SessionTimeouts
from refserver.pull.errors import PullError, UdpUnavailable
from refserver.pull.link import open_link
from refserver.pull.tracks import Presentation
from wire.rtsp.client import DEFAULT_USER_AGENT

__all__ = [
    "PULL_TRANSPORTS",
    "CameraAddress",
    "MediaSink",
    "PullError",
    "RtspPullSession",
    "SessionTimeouts",
    "UdpUnavailable",
]

logger = logging.getLogger(__name__)


class RtspPullSession:
    """Pull one camera over ``transport`` until :meth:`stop` or a failure."""

    def __init__(
        self,
        address: CameraAddress,
        sink: MediaSink,
        *,
        timeouts: SessionTimeouts | None = None,
        base: Callable[[], int] = lambda: 0,
        transport: str = "auto",
        tls_verify: bool = True,
        transcode_audio: bool = True,
    ) -> None:
        if transport not in PULL_TRANSPORTS:
            raise ValueError(f"transport {transport!r} is not one of {', '.join(PULL_TRANSPORTS)}")
        self.address = address
        self.sink = sink
        self.timeouts = timeouts or SessionTimeouts()
        self.base = base
        self.transport = transport
        self.tls_verify = tls_verify
        self.transcode_audio = transcode_audio
        """G.711 and Opus audio to AAC; when False such tracks are left out."""
        self.transport_in_use: str | None = None
        """``tcp``, ``udp`` or ``http`` once an attempt has begun; None before."""
        self._attempt: PullAttempt | None = None
        self._stopping = asyncio.Event()

    @property
    def presentation(self) -> Presentation | None:
        """What the current attempt plays, once PLAY succeeded."""
        return self._attempt.presentation if self._attempt is not None else None

    def stop(self) -> None:
        """End :meth:`run` with a TEARDOWN."""
        self._stopping.set()

    async def run(self) -> None:
        """Connect, set up, play and receive; returns after :meth:`stop`, raises PullError."""
        plan = self._plan()
        for index, (transport, probe) in enumerate(plan):
            fallback = index + 1 < len(plan)
            self.transport_in_use = transport
            try:
                await self._run_attempt(transport, probe)
                return
            except UdpUnavailable as exc:
                if not fallback:
                    raise
                logger.warning(
                    "UDP does not work, switching to TCP",
                    extra={"url": self.address.url, "reason": str(exc)},
                )
            finally:
                self._attempt = None

    def _plan(self) -> list[tuple[str, float | None]]:
        """The lower transports to try in order, each with how long UDP gets to prove itself."""
        if self.transport == "udp" and self.address.secure:
            raise PullError(
                "rtsps:// media cannot go over UDP (that needs SRTP); use tcp, http or auto"
            )
        if self.transport == "auto":
            if self.address.secure:
                return [("tcp", None)]
            return [("udp", self.timeouts.udp_switch), ("tcp", None)]
        return [(self.transport, None)]

    async def _run_attempt(self, transport: str, probe: float | None) -> None:
        link = await open_link(
            self.address,
            tunnel=transport == "http",
            tls_verify=self.tls_verify,
            timeout=self.timeouts.connect,
            user_agent=DEFAULT_USER_AGENT,
        )
        self._attempt = PullAttempt(
            self.address,
            link,
            self.sink,
            transport="udp" if transport == "udp" else "tcp",
            timeouts=self.timeouts,
            base=self.base,
            stopping=self._stopping,
            probe=probe,
            transcode_audio=self.transcode_audio,
        )
        await self._attempt.run()
