"""RTSP dialogs read back from a capture, with :class:`wire.rtsp.RtspReader` on each direction.

A :class:`RtspDialog` is one client talking to one server: over a TCP connection, or over the
two legs of a QuickTime HTTP tunnel joined by their ``x-sessioncookie``. Requests are paired
with answers by CSeq; the exchange keeps what a support engineer asks first: the status, the
authentication scheme offered and used, the transport asked for and the one chosen, the session
and its timeout, RTP-Info. DESCRIBE (or ANNOUNCE) bodies are parsed with :mod:`wire.sdp`;
each successful SETUP becomes a :class:`MediaBinding` that later tells a UDP flow or an
interleaved channel which media it carries. Interleaved ``$`` frames go to RTP and RTCP
recorders by content.

After a hole in the capture, or bytes the reader cannot frame, reading resumes at the next
plausible message boundary: a request or status line, or a ``$`` frame holding RTP/RTCP.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from camsim.pcap.classify import UDP_RTCP, UDP_RTP, udp_kind
from camsim.pcap.connection import ConnectionInfo
from camsim.pcap.flow import Endpoint, FlowId
from camsim.pcap.media import MediaInfo
from camsim.pcap.rtp import RtcpRecorder, RtpRecorder
from camsim.pcap.tcp import Hole
from wire.rtsp import (
    Authorization,
    Headers,
    InterleavedFrame,
    RemoteProtocolError,
    Request,
    Response,
    RtspReader,
    SessionHeader,
    TransportSpec,
    base_url,
    challenges_from,
    resolve_control,
)
from wire.rtsp.reader import ReaderLimits
from wire.rtsp.tunnel import TunnelDecoder, parse_tunnel_request
from wire.sdp import SdpError, SessionDescription

# Where reading may resume: a request or status line, or a "$" frame holding RTP/RTCP.
_START_LINE_RE = rb"[A-Z_]{3,20} \S+ RTSP/1\.\d\r?\n|RTSP/1\.\d \d{3} "
_START_LINE = re.compile(_START_LINE_RE)
_BOUNDARY_RE = re.compile(_START_LINE_RE + rb"|\$[\x00-\xff]{3}[\x80-\xbf]")
_LIMITS = ReaderLimits(max_head_bytes=64 * 1024, max_headers=200, max_body_bytes=4 * 1024 * 1024)


@dataclass
class RtspExchange:
    """A request and the answer to it (either may be missing from the capture)."""

    method: str
    url: str
    cseq: int | None
    request_packet: int = 0
    request_time: float = 0.0
    status: int | None = None
    reason: str = ""
    response_packet: int = 0
    response_time: float = 0.0
    authorization: str | None = None
    """The scheme the request used (``Digest MD5``, ``Basic``), never the credentials."""
    username: str | None = None
    challenges: list[str] = field(default_factory=list)
    """Schemes a 401 offered."""
    transport_requested: str | None = None
    transport: str | None = None
    session: str | None = None
    session_timeout: int | None = None
    rtp_info: str | None = None
    notes: list[str] = field(default_factory=list)
    request: Request | None = field(default=None, repr=False, compare=False)
    response: Response | None = field(default=None, repr=False, compare=False)
    """The whole messages, for a replay that gives them again and a redaction that hides
    their credentials."""

    @property
    def latency(self) -> float | None:
        if self.status is None or not self.request_packet:
            return None
        return self.response_time - self.request_time


@dataclass
class MediaBinding:
    """What one successful SETUP negotiated."""

    dialog: int
    url: str
    media: MediaInfo | None
    transport: TransportSpec
    packet: int
    time: float
    client: Endpoint
    server: Endpoint

    def describe(self) -> str:
        return f"dialog {self.dialog} SETUP {self.url} (packet {self.packet})"


class RtspDialog:
    """One RTSP client-server conversation."""

    def __init__(
        self,
        index: int,
        transport: str,
        client: Endpoint,
        server: Endpoint,
        *,
        keep_packets: bool = False,
    ) -> None:
        self.index = index
        self.keep_packets = keep_packets
        self.transport = transport
        """``tcp`` or ``http`` (tunnelled)."""
        self.client = client
        self.server = server
        self.exchanges: list[RtspExchange] = []
        self.unanswered: dict[int | None, RtspExchange] = {}
        self.unmatched_responses: list[tuple[int, int | None, int]] = []
        """(packet, CSeq, status) of answers that match no request."""
        self.sdp: SessionDescription | None = None
        self.sdp_base: str | None = None
        self.sdp_packet = 0
        self.bindings: list[MediaBinding] = []
        self.rtp: dict[tuple[bool, int], RtpRecorder] = {}
        self.rtcp: dict[tuple[bool, int], RtcpRecorder] = {}
        self.malformed: list[tuple[int, str]] = []
        self.holes: list[tuple[bool, Hole]] = []
        self.play_answers: list[tuple[int, float]] = []
        self.setup_answers: list[tuple[int, float]] = []
        self.user_agent: str | None = None
        self.server_agent: str | None = None
        self.tunnel_cookie: str | None = None
        self._readers = {True: RtspReader(_LIMITS), False: RtspReader(_LIMITS)}
        self._resync = {True: False, False: False}
        self._scratch = {True: b"", False: b""}
        self._scratch_at = {True: (0, 0.0), False: (0, 0.0)}

    # Bytes in.

    def data(self, from_client: bool, chunk: bytes, number: int, time: float) -> None:
        if self._resync[from_client]:
            self._scratch_at[from_client] = (number, time)
            chunk = self._find_boundary(from_client, chunk)
            if not chunk:
                return
        reader = self._readers[from_client]
        reader.receive_data(chunk)
        while True:
            try:
                message = reader.next_message()
            except RemoteProtocolError as error:
                self.malformed.append((number, f"{_side(from_client)}: {error}"))
                if error.fatal:
                    # The reader dropped what it held; look for the next message in what just
                    # came, past its first byte, where the trouble may have started.
                    self._start_resync(from_client)
                    self.data(from_client, chunk[1:], number, time)
                    return
                continue
            if message is None:
                return
            if isinstance(message, InterleavedFrame):
                self._frame(from_client, message, number, time)
            elif isinstance(message, Request):
                self._request(message, number, time)
            else:
                self._response(message, number, time)

    def hole(self, from_client: bool, hole: Hole) -> None:
        self.holes.append((from_client, hole))
        self._flush_scratch(from_client)
        self._start_resync(from_client)

    def finish(self) -> None:
        """The connection ended: bytes kept while looking for a boundary are read now."""
        for from_client in (True, False):
            self._flush_scratch(from_client)

    def _flush_scratch(self, from_client: bool) -> None:
        """Nothing follows the bytes kept while resynchronising (a hole or the end): a frame
        that ends exactly with them cannot be checked against what follows, so take it."""
        if not self._resync[from_client] or not self._scratch[from_client]:
            return
        data = self._scratch[from_client]
        position, _ = find_boundary(data, final=True)
        self._scratch[from_client] = b""
        if position is not None:
            self._resync[from_client] = False
            self.data(from_client, data[position:], *self._scratch_at[from_client])

    def _start_resync(self, from_client: bool) -> None:
        self._readers[from_client] = RtspReader(_LIMITS)
        self._resync[from_client] = True
        self._scratch[from_client] = b""

    def _find_boundary(self, from_client: bool, chunk: bytes) -> bytes:
        data = self._scratch[from_client] + chunk
        position, keep = find_boundary(data)
        if position is None:
            self._scratch[from_client] = data[keep:]
            return b""
        self._resync[from_client] = False
        self._scratch[from_client] = b""
        return data[position:]

    # Messages.

    def _frame(self, from_client: bool, frame: InterleavedFrame, number: int, time: float) -> None:
        payload = frame.payload
        if len(payload) < 2:
            return
        kind = udp_kind(payload[0], payload[1], len(payload))
        key = (from_client, frame.channel)
        if kind == UDP_RTP:
            recorder = self.rtp.get(key)
            if recorder is None:
                recorder = self.rtp[key] = RtpRecorder(
                    self._flow(from_client, frame.channel), keep_packets=self.keep_packets
                )
            recorder.add(payload, 0, len(payload), number, time)
        elif kind == UDP_RTCP:
            rtcp = self.rtcp.get(key)
            if rtcp is None:
                rtcp = self.rtcp[key] = RtcpRecorder(self._flow(from_client, frame.channel))
            rtcp.add(payload, number, time)

    def _flow(self, from_client: bool, channel: int) -> FlowId:
        source, destination = (
            (self.client, self.server) if from_client else (self.server, self.client)
        )
        return FlowId(self.transport, source, destination, channel)

    def _request(self, request: Request, number: int, time: float) -> None:
        if request.version.startswith("HTTP/"):
            return  # the opening request of a tunnel leg
        exchange = RtspExchange(request.method, request.url, request.cseq, number, time)
        exchange.request = request
        headers = request.headers
        self.user_agent = self.user_agent or headers.get("User-Agent")
        authorization = headers.get("Authorization")
        if authorization is not None:
            exchange.authorization, exchange.username = _scheme_of(authorization)
        exchange.transport_requested = headers.get("Transport")
        if request.method == "ANNOUNCE" and request.body:
            self._sdp(request.body, request.url, headers, number, exchange)
        self.exchanges.append(exchange)
        self.unanswered[exchange.cseq] = exchange

    def _response(self, response: Response, number: int, time: float) -> None:
        if response.version.startswith("HTTP/"):
            return  # the GET leg's answer before the tunnelled RTSP
        exchange = self.unanswered.pop(response.cseq, None)
        if exchange is None:
            if response.cseq is None and len(self.unanswered) == 1:
                exchange = self.unanswered.popitem()[1]
            else:
                self.unmatched_responses.append((number, response.cseq, response.status_code))
                exchange = RtspExchange("?", "", response.cseq)
                self.exchanges.append(exchange)
        exchange.status, exchange.reason = response.status_code, response.reason
        exchange.response = response
        exchange.response_packet, exchange.response_time = number, time
        headers = response.headers
        self.server_agent = self.server_agent or headers.get("Server")
        try:
            exchange.challenges = [
                f"{c.scheme} {c.algorithm}" if c.is_digest else c.scheme
                for c in challenges_from(headers)
            ]
        except RemoteProtocolError as error:
            exchange.notes.append(f"unreadable WWW-Authenticate: {error}")
        session = headers.get("Session")
        if session is not None:
            try:
                parsed = SessionHeader.parse(session)
                exchange.session, exchange.session_timeout = parsed.session_id, parsed.timeout
            except RemoteProtocolError as error:
                exchange.notes.append(str(error))
        if not response.ok:
            return
        method = exchange.method.upper()
        if method == "DESCRIBE" and response.body:
            self._sdp(response.body, exchange.url, headers, number, exchange)
        elif method == "SETUP":
            self.setup_answers.append((number, time))
            self._setup(exchange, headers.get("Transport"), number, time)
        elif method == "PLAY":
            self.play_answers.append((number, time))
            rtp_info = headers.get("RTP-Info")
            if rtp_info is not None:
                exchange.rtp_info = rtp_info
            if headers.get("Range"):
                exchange.notes.append(f"Range: {headers.get('Range')}")

    def _sdp(
        self, body: bytes, url: str, headers: Headers, number: int, exchange: RtspExchange
    ) -> None:
        try:
            self.sdp = SessionDescription.parse(body)
        except SdpError as error:
            exchange.notes.append(f"SDP does not parse: {error}")
            self.malformed.append((number, f"SDP: {error}"))
            return
        self.sdp_base = base_url(url, headers)
        self.sdp_packet = number
        kinds = ", ".join(
            f"{m.media} {f.encoding_name}/{f.clock_rate}"
            for m in self.sdp.media
            for f in m.payload_formats()[:1]
        )
        exchange.notes.append(f"SDP: {kinds}" if kinds else "SDP without media")

    def _setup(self, exchange: RtspExchange, value: str | None, number: int, time: float) -> None:
        if value is None:
            exchange.notes.append("SETUP answer without Transport")
            return
        exchange.transport = value
        try:
            spec = TransportSpec.parse(value.split(",")[0])
        except RemoteProtocolError as error:
            exchange.notes.append(f"unreadable Transport: {error}")
            return
        binding = MediaBinding(
            self.index,
            exchange.url,
            self.media_for(exchange.url),
            spec,
            number,
            time,
            self.client,
            self.server,
        )
        self.bindings.append(binding)

    def media_for(self, url: str, payload_type: int | None = None) -> MediaInfo | None:
        """The SDP media a SETUP URL names, by control URL (the only one when it is plain)."""
        if self.sdp is None:
            return None
        base = self.sdp_base or url
        media = self.sdp.media
        chosen = next(
            (
                description
                for description in media
                if description.control is not None
                and _same_url(resolve_control(base, description.control), url)
            ),
            media[0] if len(media) == 1 else None,
        )
        if chosen is None:
            return None
        try:
            return MediaInfo.from_sdp(chosen, payload_type)
        except SdpError:
            return None  # an rtpmap or fmtp the camera garbled: the payload will be guessed

    def binding_for_channel(self, from_client: bool, channel: int) -> MediaBinding | None:
        for binding in self.bindings:
            channels = binding.transport.interleaved
            if channels is not None and channels.first == channel:
                return binding
        return None

    @property
    def last_exchange_time(self) -> float:
        return max((e.response_time or e.request_time for e in self.exchanges), default=0.0)


def find_boundary(data: bytes, *, final: bool = False) -> tuple[int | None, int]:
    """Where the next message or frame starts in ``data``, or (None, what to keep).

    A ``$`` frame counts only when the bytes after it start another frame or message, so that
    a ``$`` inside media is not taken for one; when they have not arrived yet, the search waits
    for them (keeping the data from that candidate on). With ``final`` nothing more will come,
    and a frame that ends with the data is taken.
    """
    for match in _BOUNDARY_RE.finditer(data):
        start = match.start()
        if data[start] != 0x24:
            return start, start
        end = start + 4 + int.from_bytes(data[start + 2 : start + 4], "big")
        if end >= len(data):
            if final and end == len(data):
                return start, start
            return None, start
        if data[end] == 0x24 or _START_LINE.match(data, end):
            return start, start
        if len(data) - end < 64 and not final:
            return None, start  # perhaps a start line, not all here yet
    return None, max(0, len(data) - 64)


def _same_url(a: str, b: str) -> bool:
    """Control URLs as clients send them back: ignore a trailing slash and user info."""
    return _strip_userinfo(a).rstrip("/") == _strip_userinfo(b).rstrip("/")


def _strip_userinfo(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    authority, slash, path = rest.partition("/")
    return f"{scheme}://{authority.rpartition('@')[2]}{slash}{path}"


def _scheme_of(value: str) -> tuple[str, str | None]:
    """``Digest MD5`` or ``Basic``, and the user name, of an Authorization header."""
    try:
        authorization = Authorization.parse(value)
    except RemoteProtocolError:
        return value.split(" ", 1)[0], None
    scheme = authorization.scheme
    if scheme.lower() == "digest":
        return f"Digest {authorization.params.get('algorithm', 'MD5')}", authorization.params.get(
            "username"
        )
    if scheme.lower() == "basic":
        try:
            return "Basic", authorization.basic_credentials[0]
        except RemoteProtocolError:
            return "Basic", None
    return scheme, None


def _side(from_client: bool) -> str:
    return "client" if from_client else "server"


class RtspConnectionAnalyser:
    """An RTSP dialog over one TCP connection."""

    def __init__(self, info: ConnectionInfo, registry: DialogRegistry) -> None:
        self.dialog = registry.new(info.client, info.server, "tcp")

    def data(self, from_client: bool, chunk: bytes, number: int, time: float) -> None:
        self.dialog.data(from_client, chunk, number, time)

    def hole(self, from_client: bool, hole: Hole) -> None:
        self.dialog.hole(from_client, hole)

    def end(self) -> None:
        self.dialog.finish()


class TunnelLegAnalyser:
    """One leg of an RTSP-over-HTTP tunnel: the GET leg carries the server's RTSP after an
    HTTP answer, the POST leg the client's RTSP in base64 after an HTTP request head."""

    def __init__(self, info: ConnectionInfo, registry: DialogRegistry) -> None:
        self.info = info
        self.registry = registry
        self.dialog: RtspDialog | None = None
        self.method: str | None = None
        self._head = b""
        self._decoder = TunnelDecoder()
        self._pending: list[tuple[bool, bytes, int, float]] = []
        self.malformed: list[tuple[int, str]] = []

    def data(self, from_client: bool, chunk: bytes, number: int, time: float) -> None:
        if self.dialog is None:
            if not from_client:
                self._pending.append((from_client, chunk, number, time))
                return
            self._head += chunk
            try:
                parsed = parse_tunnel_request(self._head, max_head_bytes=16 * 1024)
            except RemoteProtocolError as error:
                self.malformed.append((number, str(error)))
                self._head = b""
                return
            if parsed is None:
                return
            request, rest = parsed
            self.method = request.method
            self.dialog = self.registry.tunnel(request.session_cookie, self.info)
            pending, self._pending = self._pending, []
            if rest:
                self._forward(True, rest, number, time)
            for item in pending:
                self._forward(*item)
            return
        self._forward(from_client, chunk, number, time)

    def _forward(self, from_client: bool, chunk: bytes, number: int, time: float) -> None:
        assert self.dialog is not None
        if from_client and self.method == "POST":
            try:
                chunk = self._decoder.decode(chunk)
            except RemoteProtocolError as error:
                self.dialog.malformed.append((number, f"tunnel POST leg: {error}"))
                self._decoder = TunnelDecoder()
                return
            self.dialog.data(True, chunk, number, time)
        elif not from_client and self.method == "GET":
            self.dialog.data(False, chunk, number, time)

    def hole(self, from_client: bool, hole: Hole) -> None:
        if self.dialog is not None:
            self.dialog.hole(from_client, hole)

    def end(self) -> None:
        pass


class DialogRegistry:
    """Every dialog of the capture; tunnel legs meet here by session cookie."""

    def __init__(self, *, keep_packets: bool = False) -> None:
        self.keep_packets = keep_packets
        self.dialogs: list[RtspDialog] = []
        self._tunnels: dict[tuple[bytes, str], RtspDialog] = {}

    def new(self, client: Endpoint, server: Endpoint, transport: str) -> RtspDialog:
        dialog = RtspDialog(
            len(self.dialogs) + 1, transport, client, server, keep_packets=self.keep_packets
        )
        self.dialogs.append(dialog)
        return dialog

    def tunnel(self, cookie: str, info: ConnectionInfo) -> RtspDialog:
        key = (info.client.address, cookie)
        dialog = self._tunnels.get(key)
        if dialog is None:
            dialog = self._tunnels[key] = self.new(info.client, info.server, "http")
            dialog.tunnel_cookie = cookie
        return dialog
