"""A camera server: one listening socket (plain or TLS), the cameras behind it by path, and the
asyncio protocol that hands each connection to RTSP or to an HTTP tunnel leg.

The first bytes of a connection decide: ``GET``/``POST`` open a tunnel leg, anything else is
RTSP. Until they have arrived a connection is bounded by the idle timeout, and by the request
timeout once it has started talking, so a silent or trickling peer costs one socket for a while,
never a camera.

A server holds at most :attr:`ConnectionCaps.total` connections at once, and at most
:attr:`ConnectionCaps.per_ip` from one address, so that one client cannot take every slot. A
connection over either cap is answered ``503 Service Unavailable`` (in RTSP or HTTP, whichever its
first request speaks, with its CSeq) and closed; it gets :data:`REFUSAL_GRACE` to send that
request, and no more than :data:`MAX_REFUSING` of them wait at once (beyond that they are closed
unanswered), so a flood of connections cannot hold more sockets than the caps allow.
"""

from __future__ import annotations

import asyncio
import logging
import re
import ssl
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from camsim.camera.control import RtspControl, ServerSettings
from camsim.camera.device import Camera
from camsim.camera.tunnel import TunnelLeg
from camsim.camera.udp import UdpMedia
from wire.rtsp import Headers, Response, StatusCode
from wire.rtsp.tunnel import tunnel_response

logger = logging.getLogger(__name__)

_TUNNEL_STARTS = (b"GET ", b"POST ")

CONNECTIONS_PER_CAMERA = 20
"""The default cap of a server is this many connections per camera behind it: IP cameras serve
4 to 20 viewers at once, and the better ones (and their "maximum RTP stream connections"
setting) sit at the top of that range."""
CONNECTIONS_PER_IP_PER_CAMERA = 10
"""Per client address, half of that: one host still opens every camera several times (a
recorder's main and sub streams, an HTTP tunnel's two legs), but cannot take all the slots."""
REFUSAL_GRACE = 1.0
"""Seconds a connection over a cap has to send the request it is answered 503 to."""
MAX_REFUSING = 64
"""Connections over a cap waiting for their 503 at once; more are closed unanswered."""

_CSEQ_RE = re.compile(rb"^CSeq[ \t]*:[ \t]*(\d{1,9})[ \t]*\r?$", re.IGNORECASE | re.MULTILINE)
_HEAD_END = re.compile(rb"\r?\n\r?\n")


@dataclass(frozen=True)
class ConnectionCaps:
    """How many connections one server holds at once, in all and from one address."""

    total: int
    per_ip: int

    def __post_init__(self) -> None:
        if self.total < 1 or self.per_ip < 1:
            raise ValueError("connection caps must be at least 1")

    @classmethod
    def for_cameras(
        cls, cameras: int, total: int | None = None, per_ip: int | None = None
    ) -> ConnectionCaps:
        """The given caps, or the defaults for a server with ``cameras`` cameras."""
        return cls(
            total if total is not None else CONNECTIONS_PER_CAMERA * cameras,
            per_ip if per_ip is not None else CONNECTIONS_PER_IP_PER_CAMERA * cameras,
        )


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
        caps: ConnectionCaps | None = None,
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
        self.caps = caps or ConnectionCaps.for_cameras(len(self.cameras))
        self.controls: set[RtspControl] = set()
        self.tunnels: dict[str, TunnelLeg] = {}
        self.refused = 0
        self._connections: Counter[str] = Counter()  # admitted connections per peer address
        self._refusing = 0
        self._server: asyncio.Server | None = None
        self.tap: Callable[[Callable[[], asyncio.Protocol]], Callable[[], Any]] | None = None
        """Wraps the protocol factory to record connections (``--capture``, camsim.pcap.tap)."""

    @property
    def scheme(self) -> str:
        return "rtsp" if self.ssl_context is None else "rtsps"

    @property
    def connections(self) -> int:
        """Connections admitted and open, whatever they turned out to be."""
        return self._connections.total()

    async def start(self) -> None:
        """Listen; with port 0 the kernel picks one and :attr:`port` says which."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            (self.tap or (lambda factory: factory))(lambda: CameraServerProtocol(self)),
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

    def admit(self, peer: str) -> str | None:
        """Count a new connection from ``peer``; the cap it would break, or None."""
        if self._connections.total() >= self.caps.total:
            return f"{self.caps.total} connections"
        if self._connections[peer] >= self.caps.per_ip:
            return f"{self.caps.per_ip} connections from {peer}"
        self._connections[peer] += 1
        return None

    def release(self, peer: str) -> None:
        """An admitted connection from ``peer`` has closed."""
        self._connections[peer] -= 1
        if self._connections[peer] <= 0:
            del self._connections[peer]

    def start_refusing(self) -> bool:
        """Take a slot to answer a connection over a cap; False when none is left."""
        if self._refusing >= MAX_REFUSING:
            return False
        self._refusing += 1
        return True

    def stop_refusing(self) -> None:
        self._refusing -= 1

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
        self._admitted = False
        self._refusing: str | None = None  # the cap this connection is over

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        peer = transport.get_extra_info("peername")
        self._peer = peer[0] if isinstance(peer, tuple) else "127.0.0.1"
        over = self._server.admit(self._peer)
        if over is None:
            self._admitted = True
            self._set_deadline(self._server.settings.idle_timeout)
            return
        self._server.refused += 1
        if not self._server.start_refusing():
            logger.debug("closing a connection from %s at once: over %s", self._peer, over)
            transport.abort()
            return
        self._refusing = over
        self._set_deadline(REFUSAL_GRACE)

    def data_received(self, data: bytes) -> None:
        if self._control is not None:
            self._control.receive_data(data)
            return
        if self._leg is not None:
            self._leg.receive_data(data)
            return
        self._pending += data
        if self._refusing is not None:
            self._refuse()
        else:
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
        if self._admitted:
            self._admitted = False
            self._server.release(self._peer)
        if self._refusing is not None:
            self._refusing = None
            self._server.stop_refusing()

    def _classify(self) -> None:
        assert self._transport is not None
        pending = self._pending
        if pending.startswith(_TUNNEL_STARTS):
            self._pending = b""
            self._clear_deadline()  # the leg keeps its own time from here
            self._leg = TunnelLeg(self._server, self._transport, self._peer)
            self._leg.receive_data(pending)
        elif any(start.startswith(pending) for start in _TUNNEL_STARTS):
            self._set_deadline(self._server.settings.request_timeout)  # wait for more
        else:
            self._pending = b""
            self._clear_deadline()
            self._control = RtspControl(self._server, self._transport, self._peer)
            self._server.adopt(self._control)
            self._control.receive_data(pending)

    def _refuse(self) -> None:
        """Answer 503 to the first request of a connection over a cap, once it is complete."""
        assert self._transport is not None
        pending = self._pending
        if _HEAD_END.search(pending) is None:
            if len(pending) > self._server.settings.limits.max_head_bytes:
                self._transport.abort()
            return
        name = self._server.settings.server_name
        if pending.startswith(_TUNNEL_STARTS):
            answer = tunnel_response(StatusCode.SERVICE_UNAVAILABLE, name)
        else:
            headers = Headers()
            cseq = _CSEQ_RE.search(pending)
            if cseq is not None:
                headers.add("CSeq", cseq.group(1).decode())
            headers.add("Server", name)
            answer = Response(StatusCode.SERVICE_UNAVAILABLE, headers=headers).serialize()
        logger.info("refusing a connection from %s: over %s", self._peer, self._refusing)
        self._pending = b""
        self._clear_deadline()
        self._transport.write(answer)
        self._transport.close()

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
