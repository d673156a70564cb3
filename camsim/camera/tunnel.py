"""RTSP over HTTP, the QuickTime way, on the camera's own port.

A client blocked from the RTSP port opens two HTTP connections sharing an ``x-sessioncookie``:
the GET leg, which the server answers ``200 OK`` and then uses for everything it sends (RTSP
answers and interleaved RTP), and the POST leg, which carries the client's RTSP in base64 and is
never answered. One :class:`~camsim.camera.control.RtspControl` serves the pair; it lives as long
as the GET leg. QuickTime reopens the POST leg per request, so POST legs may come and go.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from camsim.camera.control import CameraDirectory, RtspControl
from wire.rtsp import RemoteProtocolError, StatusCode
from wire.rtsp.tunnel import TunnelDecoder, parse_tunnel_request, tunnel_response

logger = logging.getLogger(__name__)


class TunnelHost(CameraDirectory, Protocol):
    """A camera server that accepts tunnels."""

    tunnels: dict[str, RtspControl]

    def adopt(self, control: RtspControl) -> None:
        """Count a new control connection as the server's."""


class TunnelLeg:
    """One HTTP connection of a tunnel, from its first byte."""

    def __init__(self, server: TunnelHost, transport: asyncio.WriteTransport, peer: str) -> None:
        self._server = server
        self._transport = transport
        self._peer = peer
        self._head = b""
        self._cookie: str | None = None
        self._control: RtspControl | None = None  # the GET leg's, or the one a POST feeds
        self._decoder: TunnelDecoder | None = None  # set on a POST leg

    @property
    def established(self) -> bool:
        """True once the leg's HTTP request was accepted."""
        return self._control is not None

    def receive_data(self, data: bytes) -> None:
        if self._control is None:
            self._head += data
            self._read_head()
        elif self._decoder is not None:
            self._feed(data)
        # Bytes on an established GET leg mean nothing (clients send none).

    def connection_lost(self) -> None:
        control = self._control
        if control is None:
            return
        if self._decoder is None:  # the GET leg carries the tunnel: it ends with it
            if self._server.tunnels.get(self._cookie or "") is control:
                del self._server.tunnels[self._cookie or ""]
            control.close("HTTP tunnel closed")

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
        if request.method == "GET":
            self._open(request.session_cookie)
        else:
            self._attach(request.session_cookie, rest)

    @property
    def _max_head_bytes(self) -> int:
        return self._server.settings.limits.max_head_bytes

    def _open(self, cookie: str) -> None:
        existing = self._server.tunnels.get(cookie)
        if existing is not None and not existing.closed:
            self._refuse(StatusCode.BAD_REQUEST, f"cookie {cookie!r} already has a GET leg")
            return
        self._transport.write(tunnel_response(StatusCode.OK, self._server.settings.server_name))
        control = RtspControl(self._server, self._transport, self._peer)
        self._control = control
        self._server.tunnels[cookie] = control
        self._server.adopt(control)

    def _attach(self, cookie: str, rest: bytes) -> None:
        control = self._server.tunnels.get(cookie)
        if control is None or control.closed:
            self._refuse(StatusCode.NOT_FOUND, f"no GET leg with cookie {cookie!r}")
            return
        self._control = control
        self._decoder = TunnelDecoder()
        if rest:
            self._feed(rest)

    def _feed(self, data: bytes) -> None:
        assert self._decoder is not None
        assert self._control is not None
        try:
            decoded = self._decoder.decode(data)
        except RemoteProtocolError as error:
            logger.debug("closing POST leg from %s: %s", self._peer, error)
            self._transport.close()  # the GET leg and its sessions stay
            return
        if decoded:
            self._control.receive_data(decoded)

    def _refuse(self, status: int, reason: str) -> None:
        logger.debug("refusing HTTP tunnel leg from %s: %s", self._peer, reason)
        if not self._transport.is_closing():
            self._transport.write(tunnel_response(status, self._server.settings.server_name))
            self._transport.close()
