"""One RTSP connection to a camera for a conformance suite: :class:`RtspClientConnection` from
:mod:`wire.rtsp` pumped over asyncio, plain, over TLS (rtsps://) or through an HTTP tunnel.

Every request is answered by an :class:`Exchange` (or a timeout, which is an answer too: the
suite judges it), and every interleaved frame is kept with its arrival time. UDP media arrives
on :class:`UdpPair` sockets bound to loopback or to the camera's address family.
"""

from __future__ import annotations

import asyncio
import functools
import secrets
import socket
import ssl
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

from wire.rtsp import (
    ClientConfig,
    ConnectionTerminated,
    InterleavedFrameReceived,
    PortRange,
    ResponseReceived,
    RtspClientConnection,
    UnexpectedResponse,
)
from wire.rtsp.tunnel import TunnelRequest, encode_tunnel_data, parse_tunnel_response

READ_SIZE = 65536
DEFAULT_TIMEOUT = 5.0
USER_AGENT = "camsim-conform"


class LinkError(Exception):
    """The camera could not be reached (refused, TLS failed, tunnel refused): one line."""


@dataclass(frozen=True)
class Exchange:
    """A request and what came back: the answer, or ``None`` after ``timeout`` seconds.

    ``cseq_sent`` is the CSeq on the wire of the last try (after a 401 it is the retry's);
    ``elapsed`` the seconds from sending to the answer.
    """

    method: str
    url: str
    answer: ResponseReceived | None
    cseq_sent: int | None
    sent_at: float
    elapsed: float
    timeout: float

    @property
    def status(self) -> int | None:
        return None if self.answer is None else self.answer.response.status_code

    @property
    def cseq_answered(self) -> str | None:
        if self.answer is None:
            return None
        return self.answer.response.headers.get("CSeq")

    def header(self, name: str) -> str | None:
        return None if self.answer is None else self.answer.response.headers.get(name)

    def describe(self) -> str:
        """``DESCRIBE rtsp://... -> 200`` for details."""
        answer = "no answer" if self.answer is None else str(self.status)
        return f"{self.method} {self.url} -> {answer}"


@dataclass
class Frame:
    """An interleaved frame and when it arrived (monotonic seconds)."""

    arrival: float
    channel: int
    payload: bytes


@dataclass
class Target:
    """``rtsp[s]://[user:pass@]host[:port]/path`` split into what a link needs."""

    url: str
    """Without credentials."""
    host: str
    port: int
    path: str
    tls: bool
    username: str | None = None
    password: str = ""

    @classmethod
    def parse(cls, url: str) -> Target:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("rtsp", "rtsps"):
            raise ValueError(f"{url}: expected an rtsp:// or rtsps:// URL")
        if not parts.hostname:
            raise ValueError(f"{url}: no host")
        tls = scheme == "rtsps"
        port = parts.port or (322 if tls else 554)
        host = parts.hostname
        where = f"[{host}]" if ":" in host else host
        clean = urlunsplit((scheme, f"{where}:{port}", parts.path or "/", parts.query, ""))
        return cls(clean, host, port, parts.path or "/", tls, parts.username, parts.password or "")


@dataclass
class RtspLink:
    """One client connection; ``async with`` opens and closes it."""

    target: Target
    context: ssl.SSLContext | None = None
    tunnel: bool = False
    credentials: bool = True
    password: str | None = None
    """Overrides the target's password (a wrong one, to see it refused)."""
    connect_timeout: float = DEFAULT_TIMEOUT
    frames: list[Frame] = field(default_factory=list)
    unexpected: list[ResponseReceived | UnexpectedResponse] = field(default_factory=list)
    terminated: str | None = None

    def __post_init__(self) -> None:
        username = self.target.username if self.credentials else None
        password = self.target.password if self.password is None else self.password
        config = ClientConfig(username=username, password=password, user_agent=USER_AGENT)
        self.connection = RtspClientConnection(self.target.url, config)
        self._answers: dict[int, asyncio.Future[ResponseReceived]] = {}
        self._writer: asyncio.StreamWriter | None = None
        self._post: asyncio.StreamWriter | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.cseq_on_wire: dict[int, int] = {}

    async def __aenter__(self) -> RtspLink:
        reader, self._writer = await self._connect()
        early = b""
        if self.tunnel:
            early = await self._open_tunnel(reader, self._writer)
        self._tasks.append(asyncio.create_task(self._read(reader, early)))
        return self

    async def __aexit__(self, *exc: object) -> None:
        for task in self._tasks:
            task.cancel()
        for writer in (self._writer, self._post):
            if writer is not None:
                writer.close()

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        where = f"{self.target.host}:{self.target.port}"
        try:
            return await asyncio.wait_for(
                asyncio.open_connection(
                    self.target.host,
                    self.target.port,
                    ssl=self.context,
                    server_hostname=self.target.host if self.context else None,
                ),
                self.connect_timeout,
            )
        except TimeoutError:
            raise LinkError(f"no connection to {where} within {self.connect_timeout:g} s") from None
        except ssl.SSLCertVerificationError as exc:
            reason = exc.verify_message or exc.reason or str(exc)
            raise LinkError(f"TLS certificate of {where} not trusted: {reason}") from None
        except ssl.SSLError as exc:
            raise LinkError(f"TLS with {where} failed: {exc.reason or exc}") from None
        except OSError as exc:
            raise LinkError(f"cannot connect to {where}: {exc.strerror or exc}") from None

    async def _open_tunnel(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bytes:
        cookie = secrets.token_hex(11)
        where = f"{self.target.host}:{self.target.port}"
        writer.write(TunnelRequest.get(self.target.path, cookie, USER_AGENT, where).serialize())
        received = b""
        deadline = time.monotonic() + self.connect_timeout
        while (answered := parse_tunnel_response(received)) is None:
            try:
                async with asyncio.timeout(deadline - time.monotonic()):
                    data = await reader.read(READ_SIZE)
            except TimeoutError:
                raise LinkError("no answer to the HTTP tunnel's GET") from None
            if not data:
                raise LinkError("the camera closed the HTTP tunnel's GET without an answer")
            received += data
        response, early = answered
        if response.status_code != 200:
            raise LinkError(f"HTTP tunnel GET answered {response.status_code} {response.reason}")
        _, self._post = await self._connect()
        self._post.write(
            TunnelRequest.post(self.target.path, cookie, USER_AGENT, where).serialize()
        )
        return early

    async def request(
        self,
        method: str,
        url: str | None = None,
        headers: Iterable[tuple[str, str]] = (),
        body: bytes = b"",
        timeout: float = DEFAULT_TIMEOUT,
    ) -> Exchange:
        """Send a request and wait up to ``timeout`` seconds for its answer."""
        url = url or self.connection.aggregate_url
        sent_at = time.monotonic()
        if self.connection.closed:
            return Exchange(method, url, None, None, sent_at, 0.0, timeout)
        cseq = self.connection.request(method, url, headers, body)
        future = self._answers[cseq] = asyncio.get_running_loop().create_future()
        self._flush()
        try:
            answer: ResponseReceived | None = await asyncio.wait_for(future, timeout)
        except TimeoutError:
            answer = None
            self._answers.pop(cseq, None)
        sent = answer.request.headers.get("CSeq") if answer is not None else None
        wire_cseq = int(sent) if sent is not None and sent.isdigit() else cseq
        return Exchange(
            method, url, answer, wire_cseq, sent_at, time.monotonic() - sent_at, timeout
        )

    async def keep_alive(self) -> None:
        """Refresh the session as a client should, on the timer :mod:`wire.rtsp`'s client keeps
        from the declared timeout, until cancelled (answers go to ``unexpected``)."""
        while not self.connection.closed:
            deadline = self.connection.get_timer()
            if deadline is None:
                return
            await asyncio.sleep(max(0.05, deadline - time.monotonic()))
            self.connection.handle_timer(time.monotonic())
            self._flush()

    def send_interleaved(self, channel: int, payload: bytes) -> None:
        if not self.connection.closed:
            self.connection.send_interleaved(channel, payload)
            self._flush()

    def _flush(self) -> None:
        data = self.connection.data_to_send()
        if not data:
            return
        if self._post is not None:
            self._post.write(encode_tunnel_data(data))
        elif self._writer is not None:
            self._writer.write(data)

    async def _read(self, reader: asyncio.StreamReader, early: bytes) -> None:
        if early:
            self._receive(early)
        while not self.connection.closed:
            try:
                data = await reader.read(READ_SIZE)
            except OSError as exc:
                self.terminated = f"read failed: {exc}"
                self.connection.receive_eof()
                self._drain()
                return
            if not data:
                self.connection.receive_eof()
            else:
                self._receive(data)
            self._drain()

    def _receive(self, data: bytes) -> None:
        self.connection.receive_data(data, time.monotonic())
        self._drain()

    def _drain(self) -> None:
        now = time.monotonic()
        while (event := self.connection.next_event()) is not None:
            if isinstance(event, InterleavedFrameReceived):
                self.frames.append(Frame(now, event.channel, event.payload))
            elif isinstance(event, ResponseReceived):
                future = self._answers.pop(event.cseq, None)
                if future is not None and not future.done():
                    future.set_result(event)
                else:
                    self.unexpected.append(event)
            elif isinstance(event, UnexpectedResponse):
                self.unexpected.append(event)
            elif isinstance(event, ConnectionTerminated):
                self.terminated = self.terminated or event.termination.detail or "closed"
        self._flush()


@dataclass
class Datagram:
    arrival: float
    data: bytes
    source: tuple[str, int]


class _Collector(asyncio.DatagramProtocol):
    def __init__(self, into: list[Datagram]) -> None:
        self.into = into

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.into.append(Datagram(time.monotonic(), data, (addr[0], addr[1])))


def _bind_address(host: str, family: socket.AddressFamily) -> str:
    """Loopback for a camera on loopback (nothing else need see the media), else any."""
    if host == "localhost" or host.startswith("127."):
        return "127.0.0.1"
    if host == "::1":
        return "::1"
    return "::" if family == socket.AF_INET6 else "0.0.0.0"


@dataclass
class UdpPair:
    """An RTP socket on an even port and its RTCP socket on the next (RFC 3550 §11)."""

    rtp: list[Datagram]
    rtcp: list[Datagram]
    ports: PortRange
    _transports: list[asyncio.DatagramTransport]

    @classmethod
    async def open(cls, host: str) -> UdpPair:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        bind = _bind_address(host, family)
        loop = asyncio.get_running_loop()
        for _ in range(50):
            rtp_socket = socket.socket(family, socket.SOCK_DGRAM)
            rtp_socket.bind((bind, 0))
            port = rtp_socket.getsockname()[1]
            if port % 2 or port == 0xFFFF:
                rtp_socket.close()
                continue
            rtcp_socket = socket.socket(family, socket.SOCK_DGRAM)
            try:
                rtcp_socket.bind((bind, port + 1))
            except OSError:
                rtp_socket.close()
                rtcp_socket.close()
                continue
            for sock in (rtp_socket, rtcp_socket):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
                sock.setblocking(False)
            rtp: list[Datagram] = []
            rtcp: list[Datagram] = []
            transports = []
            for sock, into in ((rtp_socket, rtp), (rtcp_socket, rtcp)):
                transport, _ = await loop.create_datagram_endpoint(
                    functools.partial(_Collector, into), sock=sock
                )
                transports.append(transport)
            return cls(rtp, rtcp, PortRange(port, port + 1), transports)
        raise OSError("no free pair of UDP ports")

    def send_rtcp(self, data: bytes, address: tuple[str, int]) -> None:
        self._transports[1].sendto(data, address)

    def close(self) -> None:
        for transport in self._transports:
            transport.close()


def tls_context(ca: str | None, insecure: bool) -> ssl.SSLContext:
    """The context for an rtsps:// camera: verified against ``ca`` (or the system's CAs)
    unless ``insecure``."""
    context = ssl.create_default_context(cafile=ca)
    if insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context
