"""A camera server: one listening socket (plain or TLS), the cameras behind it by path, and the
thin asyncio owner of each connection.

Each accepted connection is a :class:`~camsim.camera.connection.CameraConnection` (sans-IO: what
the connection is, its answers, its deadlines) driven by a :class:`CameraServerProtocol`, which
is the shared :class:`wire.asyncio.pump.StreamPump` plus the server's bookkeeping: the connection
caps at accept, and writing a tunnel's other leg when one leg's bytes concern it. A silent or
trickling peer costs one socket for a while, never a camera.

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
import ssl
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlsplit

from camsim.camera.connection import REFUSAL_GRACE as REFUSAL_GRACE
from camsim.camera.connection import CameraConnection, ConnectionEnded, LegChanged
from camsim.camera.control import ServerSettings
from camsim.camera.device import Camera
from camsim.camera.multicast import MulticastPool
from camsim.camera.udp import UdpMedia
from wire.asyncio.pump import DEFAULT_MAX_WRITE_BUFFER, StreamPump, TlsHandshake

logger = logging.getLogger(__name__)

CONNECTIONS_PER_CAMERA = 20
"""The default cap of a server is this many connections per camera behind it: IP cameras serve
4 to 20 viewers at once, and the better ones (and their "maximum RTP stream connections"
setting) sit at the top of that range."""
CONNECTIONS_PER_IP_PER_CAMERA = 10
"""Per client address, half of that: one host still opens every camera several times (a
recorder's main and sub streams, an HTTP tunnel's two legs), but cannot take all the slots."""
MAX_REFUSING = 64
"""Connections over a cap waiting for their 503 at once; more are closed unanswered."""


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
        multicast: MulticastPool | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.settings = settings
        self.udp = udp
        self.multicast = multicast
        self.ssl_context = ssl_context
        self.cameras: dict[str, Camera] = {}
        for camera in cameras:
            if camera.path.count("/") != 1 or not camera.path.startswith("/"):
                raise ValueError(f"camera path {camera.path!r} must be one segment, e.g. /cam1")
            self.cameras[camera.path] = camera
        self.caps = caps or ConnectionCaps.for_cameras(len(self.cameras))
        self.controls: set[CameraConnection] = set()
        """Connections that speak RTSP: plain, TLS, or a tunnel's GET leg."""
        self.tunnels: dict[str, CameraConnection] = {}
        """Tunnels' GET legs by their cookie."""
        self.pumps: dict[CameraConnection, CameraServerProtocol] = {}
        """Every open connection and its owner."""
        self.refused = 0
        self._connections: Counter[str] = Counter()  # admitted connections per peer address
        self._refusing = 0
        self._server: asyncio.Server | None = None
        self.tap: Callable[[Callable[[], asyncio.BaseProtocol]], Callable[[], Any]] | None = None
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
        context, tls = self.ssl_context, None
        if context is not None and self.tap is None:
            # TLS in the pump: a connection holds its slot under the caps from accept, and
            # its handshake runs under the request timeout.
            tls = TlsHandshake(context, self.settings.request_timeout, server_side=True)
            context = None
        # A capture records what the camera reads and writes, so there TLS stays below it,
        # in the listener.
        self._server = await loop.create_server(
            (self.tap or (lambda factory: factory))(lambda: CameraServerProtocol(self, tls)),
            self.host,
            self.port,
            ssl=context,
            ssl_handshake_timeout=self.settings.request_timeout if context else None,
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

    def adopt(self, connection: CameraConnection) -> None:
        self.controls.add(connection)

    def forget(self, connection: CameraConnection) -> None:
        self.controls.discard(connection)

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
        now = asyncio.get_running_loop().time()
        for connection, pump in list(self.pumps.items()):
            connection.shutdown(now)
            pump.transmit()
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None


class CameraServerProtocol(StreamPump):
    """The owner of one accepted connection: the shared pump driving its
    :class:`~camsim.camera.connection.CameraConnection`, with the server's caps at accept."""

    def __init__(self, server: CameraServer, tls: TlsHandshake | None = None) -> None:
        loop = asyncio.get_running_loop()
        self.connection = CameraConnection(server, loop.time())
        super().__init__(
            self.connection,
            on_event=self._on_event,
            fields={"protocol": server.scheme},
            # Interleaved media is dropped past max_buffered; a peer that leaves this much
            # unread on top of that is not reading at all.
            max_write_buffer=server.settings.max_buffered + DEFAULT_MAX_WRITE_BUFFER,
            tls=tls,
            loop=loop,
            log=logger,
        )
        self._server = server
        self._peer = ""
        self._accepted = False
        self._admitted = False
        self._refusing = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self._accepted:
            super().connection_made(transport)  # the TLS layer's, once its handshake is done
            return
        self._accepted = True
        # A stream transport, though not always an asyncio.Transport instance: uvloop's derive
        # from none of asyncio's transport classes.
        transport = cast(asyncio.Transport, transport)
        server = self._server
        peer = transport.get_extra_info("peername")
        self._peer = peer[0] if isinstance(peer, tuple) else "127.0.0.1"
        over = server.admit(self._peer)
        if over is None:
            self._admitted = True
        else:
            server.refused += 1
            if not server.start_refusing():
                logger.debug("closing a connection from %s at once: over %s", self._peer, over)
                transport.abort()
                return
            self._refusing = True
        server.pumps[self.connection] = self
        # Under TLS, what the session writes goes out once the handshake is done (data_received).
        writer = transport if self.tls is None else None
        self.connection.accepted(self._peer, writer, self._loop.time(), over=over)
        super().connection_made(transport)
        if self.tls_task is not None:
            self.tls_task.add_done_callback(self._secured)

    def _secured(self, task: asyncio.Task[None]) -> None:
        if self.transport is not None and not task.cancelled():
            self.connection.secured(self.transport, self._loop.time())
            self.transmit()

    def data_received(self, data: bytes) -> None:
        output = self.connection.output
        if output.transport is None:
            output.transport = self.transport  # the TLS transport, now that it exists
        super().data_received(data)

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self._release()

    def _release(self) -> None:
        """Give back the connection's slot, once (a failed TLS handshake may end it without a
        connection_lost)."""
        server = self._server
        server.pumps.pop(self.connection, None)
        if self._admitted:
            self._admitted = False
            server.release(self._peer)
        if self._refusing:
            self._refusing = False
            server.stop_refusing()

    def _on_event(self, event: object) -> None:
        if isinstance(event, LegChanged):
            pump = self._server.pumps.get(event.leg)
            if pump is not None:
                pump.transmit()
        elif isinstance(event, ConnectionEnded):
            logger.debug("connection from %s ended: %s", self._peer, event.termination.detail)
            if self.tls_task is not None and self.transport is None:
                self._release()  # the handshake failed: connection_lost may never come
