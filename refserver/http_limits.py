"""What HTTP clients may hold: connections per server and per address, and their deadlines.

aiohttp counts nothing and, by default, gives a connection an hour (``keepalive_timeout``
3630 s) to send its first request: twenty thousand idle sockets exhaust the file descriptors,
and then the RTMP publishers' segment writes and the listeners' ``accept()`` fail with them.
Here every accepted socket goes through :class:`ConnectionLimits` before aiohttp sees it:

- at most ``max_connections`` in all and ``max_connections_per_ip`` from one address (one IPv4
  address, or one IPv6 /64: a single host is usually given a whole /64, so counting addresses
  inside it would count nothing), like nginx's ``limit_conn``;
- a full server makes room by closing the oldest connection that has not yet sent a request
  (nginx reuses idle connections when it runs out, ``ngx_drain_connections``): sockets that
  are only held open cannot keep out a client that asks for something;
- a refused connection gets ``503 Service Unavailable`` with ``Connection: close`` and is
  closed at once: it costs a file descriptor for one write.

Deadlines: aiohttp's ``keepalive_timeout`` closes a connection that has not delivered a complete
request head within that time of opening or of its previous response (so it bounds slow
headers as well as idle keep-alive), ``lingering_time`` bounds reading a request body nobody
asked for, and ``TCP_USER_TIMEOUT`` (Linux) drops a connection whose sent data stays
unacknowledged for ``send_timeout``: a client that stops reading, sendfile() included.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import resource
import socket
from collections import OrderedDict
from collections.abc import Callable
from enum import Enum
from typing import Any, cast

from aiohttp import web

logger = logging.getLogger(__name__)

IPV6_PREFIX = 64
FD_RESERVE = 64
"""File descriptors kept for everything but connections: segment files being written, the
listeners, the event loop, logs, DNS, the certificate."""
FDS_PER_SOURCE = 6
"""A pulled camera's RTSP connection and up to two RTP/RTCP socket pairs."""
HTTP_BACKLOG = 128
"""The HTTP listener's backlog. asyncio accepts up to this many sockets in one go before any of
them is admitted or refused, so that many descriptors must be free on top of the cap."""
LISTENER_BURST = 100
"""The same for the other listeners (asyncio's default backlog)."""
MIN_HTTP_CONNECTIONS = 16


class Admission(Enum):
    """What becomes of a new connection."""

    ADMITTED = "admitted"
    SERVER_FULL = "server busy: too many connections"
    ADDRESS_FULL = "too many connections from your address"


def address_key(peer: Any) -> str:
    """The address a connection counts against: its IPv4 address (IPv4-mapped IPv6 included)
    or its IPv6 /64."""
    host = peer[0] if isinstance(peer, tuple) and peer else str(peer)
    try:
        address = ipaddress.ip_address(str(host).partition("%")[0])
    except ValueError:
        return str(host)
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, IPV6_PREFIX), strict=False))
    return str(address)


class ConnectionLimits:
    """The accounting, without sockets: :meth:`admit` each new connection, :meth:`served` when
    it delivers a request, :meth:`release` when it goes."""

    def __init__(self, max_connections: int, max_per_address: int) -> None:
        self.max_connections = max_connections
        self.max_per_address = max_per_address
        self._address: dict[object, str] = {}
        self._per_address: dict[str, int] = {}
        # Admitted connections that have not sent a request yet, oldest first.
        self._unserved: OrderedDict[object, None] = OrderedDict()

    def __len__(self) -> int:
        return len(self._address)

    def admit(self, connection: object, address: str) -> tuple[Admission, object | None]:
        """Whether ``connection`` from ``address`` may stay, and the connection to close to
        make room for it (already released here), if any."""
        if self._per_address.get(address, 0) >= self.max_per_address:
            return Admission.ADDRESS_FULL, None
        evicted = None
        if len(self._address) >= self.max_connections:
            if not self._unserved:
                return Admission.SERVER_FULL, None
            evicted = next(iter(self._unserved))
            self.release(evicted)
        self._address[connection] = address
        self._per_address[address] = self._per_address.get(address, 0) + 1
        self._unserved[connection] = None
        return Admission.ADMITTED, evicted

    def served(self, connection: object) -> None:
        """``connection`` delivered a request: it is a client, not a socket held open."""
        self._unserved.pop(connection, None)

    def release(self, connection: object) -> None:
        """``connection`` is gone (closing it twice is fine)."""
        address = self._address.pop(connection, None)
        if address is None:
            return
        self._unserved.pop(connection, None)
        remaining = self._per_address[address] - 1
        if remaining:
            self._per_address[address] = remaining
        else:
            del self._per_address[address]


def refusal(admission: Admission) -> bytes:
    """The complete HTTP/1.1 answer to a connection that is not admitted."""
    body = f"{admission.value}\n".encode()
    head = (
        "HTTP/1.1 503 Service Unavailable\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Retry-After: 1\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode() + body


class GuardedConnection(asyncio.Protocol):
    """Admission in front of aiohttp's protocol: an admitted connection is handed to a
    ``RequestHandler`` made for it, and every protocol call is passed on; a refused one never
    gets one."""

    def __init__(
        self,
        limits: ConnectionLimits,
        make_handler: Callable[[], asyncio.Protocol],
        send_timeout: float,
    ) -> None:
        self._limits = limits
        self._make_handler = make_handler
        self._send_timeout = send_timeout
        self._transport: asyncio.Transport | None = None
        self._handler: asyncio.Protocol | None = None
        self.address = ""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.Transport, transport)  # uvloop's: no asyncio class
        self._transport = transport
        self.address = address = address_key(transport.get_extra_info("peername"))
        admission, evicted = self._limits.admit(self, address)
        if isinstance(evicted, GuardedConnection):
            logger.warning(
                "http connection closed to make room",
                extra={"reason": "it sent no request", "address": evicted.address},
            )
            evicted.close()
        if admission is not Admission.ADMITTED:
            # One warning per kind and address; the log collapses the repeats of a flood.
            logger.warning(
                "http connection refused", extra={"reason": admission.value, "address": address}
            )
            transport.write(refusal(admission))
            transport.close()
            return
        _set_user_timeout(transport, self._send_timeout)
        self._handler = self._make_handler()
        self._handler.connection_made(transport)

    def served(self) -> None:
        """The connection delivered a request (told by the application's middleware)."""
        self._limits.served(self)

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    def data_received(self, data: bytes) -> None:
        if self._handler is not None:
            self._handler.data_received(data)

    def eof_received(self) -> bool | None:
        return self._handler.eof_received() if self._handler is not None else None

    def pause_writing(self) -> None:
        if self._handler is not None:
            self._handler.pause_writing()

    def resume_writing(self) -> None:
        if self._handler is not None:
            self._handler.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        self._limits.release(self)
        if self._handler is not None:
            self._handler.connection_lost(exc)


def _set_user_timeout(transport: asyncio.Transport, seconds: float) -> None:
    sock = transport.get_extra_info("socket")
    option = getattr(socket, "TCP_USER_TIMEOUT", None)  # Linux only
    if sock is None or option is None or seconds <= 0:
        return
    with contextlib.suppress(OSError):  # not a TCP socket: nothing to time out
        sock.setsockopt(socket.IPPROTO_TCP, option, round(seconds * 1000))


class GuardedSite(web.BaseSite):
    """An aiohttp TCP site whose connections go through :class:`GuardedConnection`."""

    def __init__(
        self,
        runner: web.BaseRunner,
        host: str,
        port: int,
        limits: ConnectionLimits,
        *,
        send_timeout: float,
        backlog: int = HTTP_BACKLOG,
    ) -> None:
        super().__init__(runner, backlog=backlog)
        self.limits = limits
        self._host = host
        self._port = port
        self._send_timeout = send_timeout

    @property
    def name(self) -> str:
        return f"http://{self._host}:{self._port}"

    async def start(self) -> None:
        await super().start()
        handlers = self._runner.server
        assert handlers is not None
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: GuardedConnection(self.limits, handlers, self._send_timeout),
            self._host,
            self._port,
            backlog=self._backlog,
            reuse_address=True,
        )


def mark_served(request: web.BaseRequest) -> None:
    """Tell the connection's guard that it delivered a request."""
    transport = request.transport
    protocol = transport.get_protocol() if transport is not None else None
    if isinstance(protocol, GuardedConnection):
        protocol.served()


def descriptor_budget(wanted: int, reserved: int) -> int:
    """How many HTTP connections the file descriptor limit leaves room for, at most ``wanted``,
    when ``reserved`` descriptors go to everything else. The soft ``RLIMIT_NOFILE`` is raised
    towards the hard one first when it is too low (as Go's runtime does at start)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = wanted + reserved
    if soft != resource.RLIM_INFINITY and soft < needed:
        raised = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (raised, hard))
            soft = raised
        except (OSError, ValueError):
            pass
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return wanted
    budget = max(soft - reserved, MIN_HTTP_CONNECTIONS)
    logger.warning(
        "file descriptor limit too low for the HTTP connection cap; lowered",
        extra={"rlimit_nofile": soft, "max_connections": wanted, "lowered_to": budget},
    )
    return budget
