"""HTTP/1.x exchanges, with what an HLS viewer fetched: playlists and segments.

Heads are split with :class:`wire.rtsp.message.MessageHead` (RTSP borrowed HTTP's syntax);
bodies are framed by ``Content-Length``, chunked transfer coding (RFC 9112 §7.1) or the end of
the connection. A playlist body is read with :func:`wire.hls.parse` so the report can say what
the server offered (target duration, media sequence, segments).
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field

from camsim.pcap.connection import ConnectionInfo
from camsim.pcap.flow import Endpoint
from camsim.pcap.tcp import Hole
from wire.hls import PlaylistError, parse
from wire.rtsp.message import HEAD_END_RE, MessageHead

MAX_HEAD = 64 * 1024
_STATUS_RE = re.compile(r"HTTP/\d\.\d\s+(\d{3})\s*(.*)")
_REQUEST_RE = re.compile(r"(\S+)\s+(\S+)\s+HTTP/\d\.\d")
PLAYLIST_TYPES = ("application/vnd.apple.mpegurl", "application/x-mpegurl", "audio/mpegurl")


@dataclass
class HttpExchange:
    """One request and its answer."""

    connection: int
    client: Endpoint
    server: Endpoint
    method: str
    url: str
    request_packet: int
    request_time: float
    status: int | None = None
    reason: str = ""
    response_packet: int = 0
    response_time: float = 0.0
    content_type: str | None = None
    size: int = 0
    playlist: dict[str, object] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        """``playlist``, ``segment`` or ``other``, from the URL and the content type."""
        path = self.url.split("?", 1)[0].lower()
        content = (self.content_type or "").lower()
        if path.endswith(".m3u8") or content.startswith(PLAYLIST_TYPES):
            return "playlist"
        if path.endswith((".ts", ".m4s", ".mp4", ".aac")) or content.startswith(
            ("video/", "audio/")
        ):
            return "segment"
        return "other"


class _Reader:
    """Frames the messages of one direction."""

    def __init__(self) -> None:
        self.buffer = b""
        self.head: MessageHead | None = None
        self.remaining = 0
        self.chunked = False
        self.body = bytearray()
        self.broken = False


class HttpConnectionAnalyser:
    """Pairs requests and responses on one connection, in order (no pipelining assumed)."""

    def __init__(self, info: ConnectionInfo, exchanges: list[HttpExchange]) -> None:
        self.info = info
        self.exchanges = exchanges
        self.open: deque[HttpExchange] = deque()
        self._readers = {True: _Reader(), False: _Reader()}

    def data(self, from_client: bool, chunk: bytes, number: int, time: float) -> None:
        reader = self._readers[from_client]
        if reader.broken:
            return
        reader.buffer += chunk
        while self._step(from_client, reader, number, time):
            pass

    def _step(self, from_client: bool, reader: _Reader, number: int, time: float) -> bool:
        if reader.head is None:
            end = HEAD_END_RE.search(reader.buffer)
            if end is None:
                if len(reader.buffer) > MAX_HEAD:
                    reader.broken = True
                return False
            reader.head = MessageHead.parse(reader.buffer[: end.end()])
            reader.buffer = reader.buffer[end.end() :]
            self._head(from_client, reader, number, time)
            return True
        if reader.chunked:
            return self._chunk(from_client, reader, number, time)
        take = min(reader.remaining, len(reader.buffer))
        reader.body += reader.buffer[:take]
        reader.buffer = reader.buffer[take:]
        reader.remaining -= take
        if reader.remaining == 0:
            self._complete(from_client, reader, number, time)
            return True
        return False

    def _chunk(self, from_client: bool, reader: _Reader, number: int, time: float) -> bool:
        if reader.remaining > 0:
            take = min(reader.remaining, len(reader.buffer))
            reader.body += reader.buffer[:take]
            reader.buffer = reader.buffer[take:]
            reader.remaining -= take
            return reader.remaining == 0
        line_end = reader.buffer.find(b"\n")
        if line_end < 0:
            return False
        line = reader.buffer[:line_end].strip()
        reader.buffer = reader.buffer[line_end + 1 :]
        if not line:
            return True  # the CRLF after a chunk's data
        try:
            size = int(line.split(b";")[0], 16)
        except ValueError:
            reader.broken = True
            return False
        if size == 0:
            reader.buffer = (
                reader.buffer.split(b"\r\n\r\n", 1)[-1]
                if b"\r\n\r\n" in reader.buffer
                else reader.buffer.lstrip(b"\r\n")
            )
            self._complete(from_client, reader, number, time)
            return True
        reader.remaining = size
        return True

    def _head(self, from_client: bool, reader: _Reader, number: int, time: float) -> None:
        head = reader.head
        assert head is not None
        fields = {name.lower(): value for name, value in head.fields}
        reader.chunked = "chunked" in fields.get("transfer-encoding", "").lower()
        try:
            reader.remaining = int(fields.get("content-length", "0"))
        except ValueError:
            reader.remaining = 0
        if from_client:
            match = _REQUEST_RE.match(head.start_line)
            if match:
                exchange = HttpExchange(
                    self.info.index,
                    self.info.client,
                    self.info.server,
                    match[1],
                    match[2],
                    number,
                    time,
                )
                self.exchanges.append(exchange)
                self.open.append(exchange)
        else:
            match = _STATUS_RE.match(head.start_line)
            if match and self.open:
                exchange = self.open[0]
                exchange.status, exchange.reason = int(match[1]), match[2]
                exchange.response_packet, exchange.response_time = number, time
                exchange.content_type = fields.get("content-type")
                if "content-length" not in fields and not reader.chunked:
                    reader.remaining = 1 << 62  # the body runs to the end of the connection
        if reader.remaining == 0 and not reader.chunked:
            self._complete(from_client, reader, number, time)

    def _complete(self, from_client: bool, reader: _Reader, number: int, time: float) -> None:
        if not from_client and self.open:
            exchange = self.open.popleft()
            exchange.size = len(reader.body)
            if exchange.kind == "playlist":
                exchange.playlist = _playlist_summary(bytes(reader.body))
        reader.head = None
        reader.body = bytearray()
        reader.chunked = False
        reader.remaining = 0

    def hole(self, from_client: bool, hole: Hole) -> None:
        self._readers[from_client].broken = True

    def end(self) -> None:
        reader = self._readers[False]
        if reader.head is not None and self.open:
            self._complete(False, reader, 0, 0.0)


def _playlist_summary(body: bytes) -> dict[str, object]:
    """Target duration, media sequence and segment count of a media playlist."""
    text = body.decode("utf-8", "replace")
    if "#EXT-X-STREAM-INF" in text:
        return {"variants": text.count("#EXT-X-STREAM-INF")}
    try:
        playlist = parse(text)
    except PlaylistError as error:
        return {"error": str(error)}
    return {
        "target_duration": playlist.target_duration,
        "media_sequence": playlist.media_sequence,
        "segments": len(playlist.segments),
        "discontinuity_sequence": playlist.discontinuity_sequence,
    }
