"""The RTSP-aware proxy: the TCP relay, plus the RTP/RTCP that a SETUP over UDP opens.

It follows the RTSP dialog through it with :class:`wire.rtsp.RtspReader` (messages and
interleaved frames; interleaved media stays in the TCP stream and is impaired with it) and
rewrites, so that media over UDP also passes through the proxy:

- SETUP requests: ``client_port`` becomes a pair of the proxy's *inside* ports (the camera sends
  RTP and RTCP there), each bound to the client's real port;
- SETUP answers: ``server_port`` becomes the *outside* ports of the NAT mappings the camera's
  ports get (:mod:`camsim.fault.nat`): with a cone NAT packets come from those ports; with a
  symmetric NAT they were mapped for the RTSP peer, so RTP to the client's RTP port leaves from
  another port and the client's packets to the announced ports are dropped, as a real symmetric
  NAT does;
- ``Content-Base``, ``Content-Location``, ``RTP-Info`` URLs and the SDP: the upstream's
  ``host:port`` becomes the proxy's, so a camera that names itself is still reached through it.

RTP and RTCP each way pass through their own seeded :class:`~camsim.fault.impair.Link`
(``{seed}/rtp/{n}/up|down``, n counting media streams and RTP/RTCP in the order they are set up).
HTTP tunnelling (``GET``/``POST`` first) and TLS pass through as bytes.

:attr:`RtspProxy.events` tells what the client did, with the wall-clock time: each connection
(RTSP, or HTTP tunnel/TLS) and its end, and the transport each connection's media got (UDP,
interleaved, multicast), which is how a report shows reconnects and fallbacks.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
import time
from collections import deque
from dataclasses import dataclass, field

from camsim.fault.config import FaultConfig
from camsim.fault.impair import Link, LinkStats
from camsim.fault.nat import Mapping, NatKind, NatTable
from camsim.fault.tcp import RelayedConnection, Rewriter, TcpProxy
from camsim.fault.udp import DatagramPort, Received, open_port
from wire.rtsp import (
    Headers,
    InterleavedFrame,
    PortRange,
    RemoteProtocolError,
    Request,
    Response,
    RtspReader,
    Transport,
    TransportSpec,
)
from wire.rtsp.errors import LocalProtocolError

logger = logging.getLogger("camsim.fault")

Address = tuple[str, int]
RTP, RTCP = 0, 1
_NOT_RTSP_OPENINGS = (b"GET ", b"POST ", b"HEAD ", b"\x16")  # HTTP tunnel, TLS
MAX_EVENTS = 1000
"""Client events kept (the latest); a run's reconnects and fallbacks are far fewer."""


@dataclass(frozen=True, slots=True)
class ClientEvent:
    """Something a client did through the proxy."""

    at: float
    """Wall-clock time (``time.time()``)."""
    what: str

    def to_json(self) -> dict[str, object]:
        return {"at": self.at, "what": self.what}


@dataclass(eq=False)
class MediaChannel:
    """RTP or RTCP of one media stream: the camera's side and the client's side."""

    media: _Media
    kind: int
    inside: DatagramPort
    """Where the camera sends (announced to it as client_port)."""
    client: Address
    """The client's real port."""
    up: Link
    down: Link
    camera: Address | None = None
    """The camera's port (server_port), once known."""


@dataclass(eq=False)
class _Media:
    """One SETUP over UDP."""

    nat: NatTable[_Outside]
    rtsp_peer: Address
    channels: list[MediaChannel] = field(default_factory=list)
    mappings: list[Mapping[_Outside]] = field(default_factory=list)


@dataclass(eq=False)
class _Outside:
    """A NAT mapping's socket and the channel it was made for."""

    port: DatagramPort
    channel: MediaChannel


class RtspProxy:
    """An RTSP proxy on ``listen`` for the camera at ``upstream``; see the module docstring."""

    def __init__(
        self,
        listen: Address,
        upstream: Address,
        config: FaultConfig | None = None,
        *,
        seed: int = 0,
    ) -> None:
        self.seed = seed
        self.tcp = TcpProxy(
            listen,
            upstream,
            config,
            seed=seed,
            rewriters=self._dialog,
            on_connection_end=self._connection_ended,
        )
        config = self.tcp.config
        self._nat: NatTable[_Outside] = NatTable(config.nat, config.nat_timeout)
        self._flows = itertools.count()
        self._media: dict[RelayedConnection, list[_Media]] = {}
        self._ports: dict[DatagramPort, MediaChannel | Mapping[_Outside]] = {}
        self._expiry: asyncio.TimerHandle | None = None
        self._ended = (LinkStats(), LinkStats())
        self.events: deque[ClientEvent] = deque(maxlen=MAX_EVENTS)
        """Client connections, their ends and their media's transport, oldest first."""
        self._numbers: dict[RelayedConnection, int] = {}
        self._connections = itertools.count(1)

    def note(self, connection: RelayedConnection, what: str) -> None:
        """Record ``what`` the client did on ``connection`` (numbered in connecting order)."""
        number = self._numbers.get(connection)
        if number is None:
            number = self._numbers[connection] = next(self._connections)
        self.events.append(ClientEvent(time.time(), f"client connection {number}: {what}"))

    @property
    def config(self) -> FaultConfig:
        return self.tcp.config

    @property
    def address(self) -> Address:
        return self.tcp.address

    @property
    def upstream(self) -> Address:
        return self.tcp.upstream

    async def start(self) -> None:
        await self.tcp.start()

    def apply(self, config: FaultConfig) -> None:
        """Put ``config`` in force. A change of NAT kind applies to media set up after it;
        a change of NAT timeout to every mapping."""
        self.tcp.apply(config)
        if config.nat is not self._nat.kind:
            self._nat = NatTable(config.nat, config.nat_timeout)
        for medias in self._media.values():
            for media in medias:
                media.nat.timeout = config.nat_timeout
                for channel in media.channels:
                    channel.up.profile, channel.down.profile = config.up, config.down
        self._nat.timeout = config.nat_timeout
        self._arm_expiry(again=True)

    def close(self) -> None:
        self.tcp.close()
        for connection in list(self._media):
            self._connection_ended(connection)
        if self._expiry is not None:
            self._expiry.cancel()

    @property
    def channels(self) -> list[MediaChannel]:
        """Every RTP and RTCP channel set up through the proxy and still open."""
        return [c for medias in self._media.values() for media in medias for c in media.channels]

    @property
    def mappings(self) -> list[Mapping[_Outside]]:
        """The live NAT mappings of every media stream."""
        return [m for medias in self._media.values() for media in medias for m in media.mappings]

    # -- the RTSP dialog ---------------------------------------------------------------------------

    def _dialog(self, connection: RelayedConnection) -> tuple[Rewriter, Rewriter]:
        dialog = DialogRewriter(self, connection)
        return dialog.rewrite_up, dialog.rewrite_down

    def totals(self) -> tuple[LinkStats, LinkStats]:
        """(up, down) counts of every RTP/RTCP channel so far, ended ones included."""
        up, down = LinkStats(**vars(self._ended[0])), LinkStats(**vars(self._ended[1]))
        for channel in self.channels:
            _add(up, channel.up.stats)
            _add(down, channel.down.stats)
        return up, down

    def _connection_ended(self, connection: RelayedConnection) -> None:
        if connection in self._numbers:
            self.note(connection, "closed")
            del self._numbers[connection]
        for media in self._media.pop(connection, []):
            for channel in media.channels:
                _add(self._ended[0], channel.up.stats)
                _add(self._ended[1], channel.down.stats)
                self._ports.pop(channel.inside, None)
                channel.inside.close()
            for mapping in media.mappings:
                self._ports.pop(mapping.port.port, None)
                media.nat.remove(mapping)
                mapping.port.port.close()

    def open_media(
        self, connection: RelayedConnection, client: Address, ports: PortRange
    ) -> _Media:
        """Inside ports for a SETUP's ``client_port`` (RTP, and RTCP when it names two)."""
        transport = connection.client.transport
        peer = transport.get_extra_info("peername") if transport is not None else client
        media = _Media(self._nat, (peer[0], peer[1]))
        wanted = [ports.first] if ports.last is None else [ports.first, ports.last]
        host = "::1" if ":" in self.upstream[0] else "127.0.0.1"
        for kind, port in enumerate(wanted):
            inside = open_port(host, 0, f"rtsp-inside-{kind}", self._on_event)
            flow = next(self._flows)
            up = Link(f"{self.seed}/rtp/{flow}/up", self.config.up)
            down = Link(f"{self.seed}/rtp/{flow}/down", self.config.down)
            channel = MediaChannel(media, kind, inside, (client[0], port), up, down)
            media.channels.append(channel)
            self._ports[inside] = channel
        self._media.setdefault(connection, []).append(media)
        return media

    def bind_camera(self, media: _Media, ports: PortRange | None, now: float) -> PortRange | None:
        """The camera answered with ``server_port``: map its ports now and return the outside
        ports to announce (None when it announced none)."""
        if ports is None:
            return None
        camera_host = self.upstream[0]
        announced = []
        for channel, port in zip(media.channels, (ports.first, ports.last), strict=False):
            if port is None:
                continue
            channel.camera = (camera_host, port)
            # Cone: the mapping any destination will use. Symmetric: the one for the RTSP peer,
            # which is the only destination whose packets it lets in.
            destination = media.rtsp_peer if media.nat.kind is NatKind.SYMMETRIC else channel.client
            mapping = self._map(channel, channel.camera, destination, now)
            announced.append(mapping.port.port.address[1])
        if not announced:
            return None
        return PortRange(announced[0], announced[1] if len(announced) > 1 else None)

    def _map(
        self, channel: MediaChannel, inside: Address, destination: Address, now: float
    ) -> Mapping[_Outside]:
        media = channel.media
        existing = media.nat.find(inside, destination)
        if existing is not None:
            return existing
        host = "::1" if ":" in destination[0] else "127.0.0.1"
        port = open_port(host, 0, f"rtsp-outside-{channel.kind}", self._on_event)
        mapping = media.nat.add(inside, destination, _Outside(port, channel), now)
        media.mappings.append(mapping)
        self._ports[port] = mapping
        self._arm_expiry()
        return mapping

    # -- media -------------------------------------------------------------------------------------

    def _on_event(self, event: object) -> None:
        if not isinstance(event, Received) or self.config.udp_blocked:
            return
        owner = self._ports.get(event.port)
        if isinstance(owner, MediaChannel):
            self._from_camera(owner, event)
        elif owner is not None:
            self._from_client(owner, event)

    def _from_camera(self, channel: MediaChannel, event: Received) -> None:
        mapping = self._map(channel, event.source, channel.client, event.now)
        channel.media.nat.refresh(mapping, event.now)
        mapping.port.port.forward(channel.down, event.data, channel.client, event.now)

    def _from_client(self, mapping: Mapping[_Outside], event: Received) -> None:
        media = mapping.port.channel.media
        if not media.nat.admits(mapping, event.source):
            return
        # Send from the inside port bound to this client port, so the camera sees its RTCP
        # come from the client_port it was told about.
        channel = next((c for c in media.channels if c.client == event.source), None)
        channel = channel or mapping.port.channel
        channel.inside.forward(channel.up, event.data, mapping.inside, event.now)

    def _arm_expiry(self, *, again: bool = False) -> None:
        if self._expiry is not None and not again:
            return
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None
        tables = {id(m.nat): m.nat for medias in self._media.values() for m in medias}
        dues = [due for table in tables.values() if (due := table.next_expiry()) is not None]
        if dues:
            self._expiry = self.tcp.loop.call_at(min(dues), self._expire)

    def _expire(self) -> None:
        self._expiry = None
        now = self.tcp.loop.time()
        for medias in self._media.values():
            for media in medias:
                for mapping in media.nat.expire(now):
                    if mapping in media.mappings:
                        media.mappings.remove(mapping)
                    self._ports.pop(mapping.port.port, None)
                    mapping.port.port.close()
                    logger.info("nat mapping expired", extra={"inside": mapping.inside})
        self._arm_expiry(again=True)


def _with_param(spec: str, name: str, value: str | None) -> str:
    """``spec`` (one transport alternative, as written) with parameter ``name`` set to
    ``value``, or removed when ``value`` is None; every other byte is kept."""
    parts = spec.split(";")
    kept, found = [], False
    for part in parts:
        if part.split("=", 1)[0].strip().lower() == name:
            found = True
            if value is not None:
                kept.append(f"{name}={value}")
        else:
            kept.append(part)
    if not found and value is not None:
        kept.append(f"{name}={value}")
    return ";".join(kept)


def _add(total: LinkStats, more: LinkStats) -> None:
    for name, value in vars(more).items():
        setattr(total, name, getattr(total, name) + value)


class DialogRewriter:
    """Reads both directions of one RTSP connection and rewrites what it must."""

    def __init__(self, proxy: RtspProxy, connection: RelayedConnection) -> None:
        self.proxy = proxy
        self.connection = connection
        self.up_reader = RtspReader()
        self.down_reader = RtspReader()
        self.raw: bool | None = None  # None until the first bytes say what the stream is
        self.setups: dict[int, _Media] = {}
        self.transports: set[str] = set()
        """The media transports already noted for this connection."""
        upstream, listen = proxy.upstream, proxy.address
        # host:port wherever it stands (also in a scheme-less Content-Base), not inside a
        # longer name or number; rtsp://host/ too when the camera is on the default port.
        host = re.escape(upstream[0])
        pattern = rf"(?<![\w.-]){host}:{upstream[1]}(?!\d)"
        if upstream[1] == 554:
            pattern += rf"|(?<=//){host}(?=[/\s;,]|$)"
        self.authority = re.compile(pattern)
        self.proxy_authority = f"{listen[0]}:{listen[1]}"

    def rewrite_up(self, data: bytes, now: float) -> bytes:
        if self.raw is None:
            self.raw = data.startswith(_NOT_RTSP_OPENINGS)
            kind = "RTSP"
            if self.raw:
                kind = "TLS" if data.startswith(b"\x16") else "RTSP tunnelled in HTTP"
            self.proxy.note(self.connection, f"connected ({kind})")
        if self.raw:
            return data
        self.up_reader.receive_data(data)
        out = []
        try:
            while (message := self.up_reader.next_message()) is not None:
                if isinstance(message, Request):
                    self._request(message)
                out.append(message.serialize())
        except (RemoteProtocolError, LocalProtocolError) as error:
            answer = Response(400, "Bad Request", Headers([("Connection", "close")])).serialize()
            self.connection.refuse(answer, f"client broke RTSP: {error}")
            return b""
        return b"".join(out)

    def rewrite_down(self, data: bytes, now: float) -> bytes:
        if self.raw:
            return data
        self.down_reader.receive_data(data)
        out = []
        try:
            while (message := self.down_reader.next_message()) is not None:
                if isinstance(message, Response):
                    self._response(message, now)
                elif not isinstance(message, InterleavedFrame):
                    pass  # a request from the camera (ANNOUNCE, GET_PARAMETER): as it is
                out.append(message.serialize())
        except (RemoteProtocolError, LocalProtocolError) as error:
            self.connection.reset(f"upstream broke RTSP: {error}")
            return b""
        return b"".join(out)

    def _request(self, request: Request) -> None:
        if request.method != "SETUP" or request.cseq is None:
            return
        value = request.headers.get("Transport")
        if value is None:
            return
        alternatives = value.split(",")
        for index, spec in enumerate(Transport.parse(value).specs):
            if not spec.is_tcp and not spec.is_multicast and spec.client_port:
                client_host = spec.destination or self._client_host()
                media = self.proxy.open_media(self.connection, (client_host, 0), spec.client_port)
                first = media.channels[0].inside.address[1]
                last = media.channels[1].inside.address[1] if len(media.channels) > 1 else None
                ports = PortRange(first, last).serialize()
                text = _with_param(alternatives[index], "client_port", ports)
                alternatives[index] = _with_param(text, "destination", None)
                self.setups[request.cseq] = media
                request.headers.set("Transport", ",".join(alternatives))
                return

    def _response(self, response: Response, now: float) -> None:
        headers = response.headers
        media = self.setups.pop(response.cseq, None) if response.cseq is not None else None
        value = headers.get("Transport")
        if response.ok and value is not None:
            try:
                spec = Transport.parse(value).first
            except (RemoteProtocolError, ValueError):
                if media is not None:
                    raise  # the UDP rewrite needs it: the connection is reset
            else:
                self._note_transport(spec)
                if media is not None and not spec.is_tcp:
                    headers.set("Transport", self._via_proxy(media, spec, value, now))
        for name in ("Content-Base", "Content-Location", "RTP-Info"):
            found = headers.get(name)
            if found is not None:
                headers.set(name, self._authority(found))
        if response.body and b"rtsp" in response.body:
            body = self._authority(response.body.decode("utf-8", "surrogateescape"))
            response.body = body.encode("utf-8", "surrogateescape")
            if "Content-Length" in headers:
                headers.set("Content-Length", str(len(response.body)))

    def _via_proxy(self, media: _Media, spec: TransportSpec, value: str, now: float) -> str:
        """A SETUP answer's Transport ``value`` (``spec``) with the ports the client must use:
        its own as it asked, and the camera's mapped through the proxy's NAT."""
        ports = self.proxy.bind_camera(media, spec.server_port, now)
        clients = [channel.client[1] for channel in media.channels]
        client_port = PortRange(clients[0], clients[1] if len(clients) > 1 else None)
        # Only the ports change: whatever else the camera wrote (an odd ssrc, its own
        # parameter order) reaches the client as it was sent.
        text = _with_param(value, "client_port", client_port.serialize())
        server_port = None if ports is None else ports.serialize()
        text = _with_param(text, "server_port", server_port)
        return _with_param(text, "source", None)

    def _note_transport(self, spec: TransportSpec) -> None:
        """The media transport a SETUP answer gave, once per connection and kind."""
        kind = "interleaved over TCP" if spec.is_tcp else "over UDP"
        if spec.is_multicast:
            kind = "over UDP multicast"
        if kind not in self.transports:
            self.transports.add(kind)
            self.proxy.note(self.connection, f"media {kind}")

    def _authority(self, text: str) -> str:
        return self.authority.sub(self.proxy_authority, text)

    def _client_host(self) -> str:
        transport = self.connection.client.transport
        peer = transport.get_extra_info("peername") if transport is not None else None
        return str(peer[0]) if peer else "127.0.0.1"
