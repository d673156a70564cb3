"""A camera server: one listening socket (plain or TLS), the cameras behind it by path, and the
asyncio protocol that hands each connection to RTSP or to an HTTP tunnel leg.

The first bytes of a connection decide: ``GET``/``POST`` open a tunnel leg, anything else is
RTSP. Until they have arrived a connection is bounded by the idle timeout, and by the request
timeout once it has started talking, so a silent or trickling peer costs one socket for a while,
never a camera.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Iterable
from urllib.parse import urlsplit

from camsim.camera.control import RtspControl, ServerSettings
from camsim.camera.device import Camera
from camsim.camera.tunnel import TunnelLeg
from camsim.camera.udp import UdpMedia

logger = logging.getLogger(__name__)

_TUNNEL_STARTS = (b"GET ", b"POST ")


class CameraServer:
    """Cameras at ``/<name>`` paths behind one RTSP (or RTSPS) port."""

    def __init__(
        self,
        host: str,
        port: int,
        cameras: Iterable[Camera],
        settings: ServerSettings,
        *,
        udp: UdpMedia | None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.settings = settings
        self.udp = udp
        self.ssl_context = ssl_context
        self.cameras: dict[str, Camera] = {}
        for camera in cameras:
            if camera.path.count("/") != 1 or not camera.path.startswith("/"):
                raise ValueError(f"camera path {camera.path!r} must be one segment, e.g. /cam1")
            self.cameras[camera.path] = camera
        self.controls: set[RtspControl] = set()
        self.tunnels: dict[str, RtspControl] = {}
        self._server: asyncio.Server | None = None

    @property
    def scheme(self) -> str:
        return "rtsp" if self.ssl_context is None else "rtsps"

    async def start(self) -> None:
        """Listen; with port 0 the kernel picks one and :attr:`port` says which."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: CameraServerProtocol(self),
            self.host,
            self.port,
            ssl=self.ssl_context,
            ssl_handshake_timeout=self.settings.request_timeout if self.ssl_context else None,
            reuse_address=True,
        )
        self.port = self._server.sockets[0].getsockname()[1]

    def url(self, camera: Camera) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}{camera.path}"

    def find(self, url: str) -> tuple[Camera, str] | None:
        path = urlsplit(url).path if "://" in url else url.split("?", 1)[0]
        first, _, rest = path.strip("/").partition("/")
        camera = self.cameras.get(f"/{first}")
        return None if camera is None else (camera, rest.strip("/"))

    def url_of(self, camera: Camera, request_url: str) -> str:
        parts = urlsplit(request_url)
        if not parts.scheme or not parts.netloc:
            return self.url(camera)
        return f"{parts.scheme}://{parts.netloc}{camera.path}"

    def adopt(self, control: RtspControl) -> None:
        self.controls.add(control)

    def forget(self, control: RtspControl) -> None:
        self.controls.discard(control)

    @property
    def playing_sessions(self) -> int:
        return sum(c.playing_sessions for c in self.controls)

    async def close(self) -> None:
        """Stop listening, say BYE to every client and close their connections."""
        if self._server is not None:
            self._server.close()
        for control in list(self.controls):
            control.shutdown()
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None


class CameraServerProtocol(asyncio.Protocol):
    """One accepted connection, until it is known to be RTSP or a tunnel leg."""

    def __init__(self, server: CameraServer) -> None:
        self._server = server
        self._transport: asyncio.Transport | None = None
        self._peer = ""
        self._pending = b""
        self._control: RtspControl | None = None
        self._leg: TunnelLeg | None = None
        self._deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        peer = transport.get_extra_info("peername")
        self._peer = peer[0] if isinstance(peer, tuple) else "127.0.0.1"
        self._set_deadline(self._server.settings.idle_timeout)

    def data_received(self, data: bytes) -> None:
        if self._control is not None:
            self._control.receive_data(data)
            return
        if self._leg is not None:
            self._leg.receive_data(data)
            if self._leg.established:
                self._clear_deadline()
            return
        self._pending += data
        self._classify()

    def eof_received(self) -> bool | None:
        if self._control is not None:
            self._control.receive_eof()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._clear_deadline()
        if self._control is not None:
            self._control.close("connection lost")
        if self._leg is not None:
            self._leg.connection_lost()

    def _classify(self) -> None:
        assert self._transport is not None
        pending = self._pending
        if pending.startswith(_TUNNEL_STARTS):
            self._pending = b""
            self._leg = TunnelLeg(self._server, self._transport, self._peer)
            self._set_deadline(self._server.settings.request_timeout)
            self.data_received(pending)
        elif any(start.startswith(pending) for start in _TUNNEL_STARTS):
            self._set_deadline(self._server.settings.request_timeout)  # wait for more
        else:
            self._pending = b""
            self._clear_deadline()
            self._control = RtspControl(self._server, self._transport, self._peer)
            self._server.adopt(self._control)
            self._control.receive_data(pending)

    def _set_deadline(self, seconds: float) -> None:
        self._clear_deadline()
        loop = asyncio.get_running_loop()
        self._deadline = loop.call_later(seconds, self._expire)

    def _clear_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expire(self) -> None:
        self._deadline = None
        if self._transport is not None and not self._transport.is_closing():
            logger.debug("closing silent or unfinished connection from %s", self._peer)
            self._transport.close()
