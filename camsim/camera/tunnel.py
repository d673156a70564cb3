"""RTSP over HTTP, the QuickTime way, on the camera's own port.

A client blocked from the RTSP port opens two HTTP connections sharing an ``x-sessioncookie``:
the GET leg, which the server answers ``200 OK`` and then uses for everything it sends (RTSP
answers and interleaved RTP), and the POST leg, which carries the client's RTSP in base64 and is
never answered. One :class:`~camsim.camera.control.RtspControl` serves the pair; it lives as long
as the GET leg. QuickTime reopens the POST leg per request, so POST legs may come and go.

Every leg is bounded in time, so that half a tunnel costs a socket for a while, never for good:

- a leg's HTTP request head must arrive within ``request_timeout`` (else ``408``);
- a GET leg waits ``request_timeout`` for its first POST leg (FFmpeg, VLC and QuickTime open it
  at once), then the control connection's own timeouts take over;
- a POST leg that sends nothing for ``max(idle_timeout, session_timeout)`` is closed: a client
  keeps its session alive through it well within the session timeout, so a longer silence means
  the leg is dead or abandoned for a newer one. The GET leg and its sessions stay.

When the GET leg ends, the POST legs that fed it are closed with it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Protocol

from camsim.camera.control import CameraDirectory, RtspControl
from wire.rtsp import RemoteProtocolError, StatusCode
from wire.rtsp.tunnel import TunnelDecoder, parse_tunnel_request, tunnel_response

logger = logging.getLogger(__name__)


class TunnelHost(CameraDirectory, Protocol):
    """A camera server that accepts tunnels: GET legs by their cookie."""

    tunnels: dict[str, TunnelLeg]

    def adopt(self, control: RtspControl) -> None:
        """Count a new control connection as the server's."""


class TunnelLeg:
    """One HTTP connection of a tunnel, from its first byte."""

    def __init__(self, server: TunnelHost, transport: asyncio.WriteTransport, peer: str) -> None:
        self._server = server
        self._transport = transport
        self._peer = peer
        self._loop = asyncio.get_running_loop()
        self._head = b""
        self._cookie: str | None = None
        self.control: RtspControl | None = None  # the GET leg's, or the one a POST feeds
        self._decoder: TunnelDecoder | None = None  # set on a POST leg
        self._get: TunnelLeg | None = None  # a POST leg's GET leg
        self._posts: set[TunnelLeg] = set()  # a GET leg's POST legs
        self._fed = False  # a GET leg: some POST leg has attached
        self._last_data = self._loop.time()
        self._timer: asyncio.TimerHandle | None = None
        self._closed = False
        self._arm(self._server.settings.request_timeout, self._head_timed_out)

    @property
    def established(self) -> bool:
        """True once the leg's HTTP request was accepted."""
        return self.control is not None

    @property
    def post_idle_timeout(self) -> float:
        """How long a POST leg may stay silent."""
        settings = self._server.settings
        return max(settings.idle_timeout, float(settings.session_timeout))

    def receive_data(self, data: bytes) -> None:
        if self._closed:
            return
        if self.control is None:
            self._head += data
            self._read_head()
        elif self._decoder is not None:
            self._last_data = self._loop.time()
            self._feed(data)
        # Bytes on an established GET leg mean nothing (clients send none).

    def connection_lost(self) -> None:
        self._closed = True
        self._cancel_timer()
        control = self.control
        if control is None:
            return
        if self._decoder is not None:  # a POST leg: the tunnel goes on without it
            if self._get is not None:
                self._get._posts.discard(self)
            return
        # The GET leg carries the tunnel: it ends with it, and so do its POST legs.
        if self._server.tunnels.get(self._cookie or "") is self:
            del self._server.tunnels[self._cookie or ""]
        control.close("HTTP tunnel closed")
        for post in list(self._posts):
            post.close("its GET leg closed")
        self._posts.clear()

    def close(self, reason: str) -> None:
        """Close this leg's connection."""
        logger.debug("closing HTTP tunnel leg from %s: %s", self._peer, reason)
        self._cancel_timer()
        if not self._transport.is_closing():
            self._transport.close()

    # The opening request.

    def _read_head(self) -> None:
        try:
            parsed = parse_tunnel_request(self._head, max_head_bytes=self._max_head_bytes)
        except RemoteProtocolError as error:
            self._refuse(StatusCode.BAD_REQUEST, str(error))
            return
        if parsed is None:
            return
        request, rest = parsed
        self._head = b""
        self._cookie = request.session_cookie
        self._cancel_timer()
        if request.method == "GET":
            self._open(request.session_cookie)
        else:
            self._attach(request.session_cookie, rest)

    @property
    def _max_head_bytes(self) -> int:
        return self._server.settings.limits.max_head_bytes

    def _open(self, cookie: str) -> None:
        existing = self._server.tunnels.get(cookie)
        if existing is not None and existing.control is not None and not existing.control.closed:
            self._refuse(StatusCode.BAD_REQUEST, f"cookie {cookie!r} already has a GET leg")
            return
        self._transport.write(tunnel_response(StatusCode.OK, self._server.settings.server_name))
        control = RtspControl(self._server, self._transport, self._peer)
        self.control = control
        self._server.tunnels[cookie] = self
        self._server.adopt(control)
        self._arm(self._server.settings.request_timeout, self._post_never_came)

    def _attach(self, cookie: str, rest: bytes) -> None:
        get = self._server.tunnels.get(cookie)
        if get is None or get.control is None or get.control.closed:
            self._refuse(StatusCode.NOT_FOUND, f"no GET leg with cookie {cookie!r}")
            return
        self.control = get.control
        self._decoder = TunnelDecoder()
        self._get = get
        get._post_attached(self)
        self._last_data = self._loop.time()
        self._arm(self.post_idle_timeout, self._post_idle)
        if rest:
            self._feed(rest)

    def _post_attached(self, post: TunnelLeg) -> None:
        self._posts.add(post)
        if not self._fed:
            self._fed = True
            self._cancel_timer()  # from now on the control connection's timeouts apply

    # Data on a POST leg.

    def _feed(self, data: bytes) -> None:
        assert self._decoder is not None
        assert self.control is not None
        try:
            decoded = self._decoder.decode(data)
        except RemoteProtocolError as error:
            self.close(str(error))  # the GET leg and its sessions stay
            return
        if decoded:
            self.control.receive_data(decoded)

    # Timeouts.

    def _arm(self, seconds: float, expire: Callable[[], None]) -> None:
        self._cancel_timer()
        self._timer = self._loop.call_later(seconds, expire)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _head_timed_out(self) -> None:
        self._timer = None
        timeout = self._server.settings.request_timeout
        self._refuse(StatusCode.REQUEST_TIMEOUT, f"no complete request head in {timeout:g} s")

    def _post_never_came(self) -> None:
        self._timer = None
        if self.control is not None and not self._fed:
            timeout = self._server.settings.request_timeout
            self.control.close(f"no POST leg within {timeout:g} s of the GET leg")

    def _post_idle(self) -> None:
        # Re-armed lazily: data only moves a timestamp, the timer checks it when it fires.
        self._timer = None
        quiet_until = self._last_data + self.post_idle_timeout
        if self._loop.time() < quiet_until:
            self._timer = self._loop.call_at(quiet_until, self._post_idle)
            return
        self.close(f"POST leg silent for {self.post_idle_timeout:g} s")

    def _refuse(self, status: int, reason: str) -> None:
        logger.debug("refusing HTTP tunnel leg from %s: %s", self._peer, reason)
        self._cancel_timer()
        if not self._transport.is_closing():
            self._transport.write(tunnel_response(status, self._server.settings.server_name))
            self._transport.close()
