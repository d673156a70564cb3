"""RTSP over HTTP, the QuickTime way: framing only, so that the I/O layer just moves bytes.

The client opens two HTTP connections sharing an ``x-sessioncookie``. On the GET leg (``Accept:
application/x-rtsp-tunnelled``) the server answers ``200 OK`` and then writes plain RTSP,
interleaved frames included. On the POST leg the client writes RTSP encoded in base64, one piece
per message; the server never answers it. The base64 may carry line breaks and padding between
messages (ONVIF tests both), and TCP may split it anywhere, so :class:`TunnelDecoder` is
incremental.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field

from wire.rtsp.errors import RemoteProtocolError
from wire.rtsp.headers import Headers
from wire.rtsp.message import HEAD_END_RE, MessageHead, Request, Response

TUNNEL_CONTENT_TYPE = "application/x-rtsp-tunnelled"
SESSION_COOKIE = "x-sessioncookie"
HTTP_VERSION = "HTTP/1.0"
# QuickTime announces a body it will never finish; servers ignore the number.
POST_CONTENT_LENGTH = 32767
DEFAULT_MAX_HEAD_BYTES = 8192

_NO_CACHE = (("Pragma", "no-cache"), ("Cache-Control", "no-cache"))
_BASE64_RE = re.compile(rb"[A-Za-z0-9+/=]*")
# One base64 run: data characters and the padding that ends it (several runs may follow).
_BASE64_SEGMENT_RE = re.compile(rb"[A-Za-z0-9+/]*=*")
_WHITESPACE = b" \t\r\n"


def is_tunnel_start(data: bytes) -> bool:
    """Whether the first bytes of a connection open an HTTP tunnel leg rather than RTSP."""
    return data.startswith((b"GET ", b"POST "))


@dataclass(frozen=True)
class TunnelRequest:
    """The HTTP request that opens one leg of a tunnel."""

    method: str
    path: str
    session_cookie: str
    headers: Headers = field(default_factory=Headers)
    version: str = HTTP_VERSION

    @classmethod
    def get(
        cls,
        path: str,
        session_cookie: str,
        user_agent: str | None = None,
        host: str | None = None,
    ) -> TunnelRequest:
        """The GET leg, which carries the server's RTSP to the client.

        ``host`` (``host[:port]``, an IPv6 address in brackets) goes in a ``Host`` header, which
        HTTP/1.0 leaves optional but proxies and name-based virtual hosts on the way need.
        """
        fields = [
            *_host(host),
            (SESSION_COOKIE, session_cookie),
            ("Accept", TUNNEL_CONTENT_TYPE),
            *_NO_CACHE,
        ]
        if user_agent is not None:
            fields.append(("User-Agent", user_agent))
        return cls("GET", path, session_cookie, Headers(fields))

    @classmethod
    def post(
        cls,
        path: str,
        session_cookie: str,
        user_agent: str | None = None,
        host: str | None = None,
    ) -> TunnelRequest:
        """The POST leg, which carries the client's base64-encoded RTSP to the server."""
        fields = [
            *_host(host),
            (SESSION_COOKIE, session_cookie),
            ("Content-Type", TUNNEL_CONTENT_TYPE),
            *_NO_CACHE,
            ("Content-Length", str(POST_CONTENT_LENGTH)),
            ("Expires", "Sun, 9 Jan 1972 00:00:00 GMT"),
        ]
        if user_agent is not None:
            fields.append(("User-Agent", user_agent))
        return cls("POST", path, session_cookie, Headers(fields))

    @classmethod
    def parse(cls, head: bytes) -> TunnelRequest:
        """Parse a complete HTTP request head (up to and including the empty line)."""
        message = MessageHead.parse(head).build(b"", max_headers=100)
        if not isinstance(message, Request) or not message.version.startswith("HTTP/"):
            raise RemoteProtocolError("HTTP tunnel: not an HTTP request")
        if message.method not in ("GET", "POST"):
            raise RemoteProtocolError(f"HTTP tunnel: method {message.method} opens no leg")
        cookie = message.headers.get(SESSION_COOKIE, "").strip()
        if not cookie:
            raise RemoteProtocolError(f"HTTP tunnel: {message.method} without {SESSION_COOKIE}")
        return cls(message.method, message.url, cookie, message.headers, message.version)

    def serialize(self) -> bytes:
        # Only the head: the POST announces a Content-Length that its base64 stream fills.
        start = f"{self.method} {self.path} {self.version}\r\n".encode()
        return start + self.headers.serialize() + b"\r\n"


def _host(host: str | None) -> list[tuple[str, str]]:
    return [] if host is None else [("Host", host)]


def parse_tunnel_request(
    data: bytes, *, max_head_bytes: int = DEFAULT_MAX_HEAD_BYTES
) -> tuple[TunnelRequest, bytes] | None:
    """The leg's opening request and the bytes after it, or None until the head is complete."""
    end = HEAD_END_RE.search(data)
    if end is None or end.end() > max_head_bytes:
        if len(data) > max_head_bytes:
            raise RemoteProtocolError(f"HTTP tunnel: request head exceeds {max_head_bytes} bytes")
        return None
    return TunnelRequest.parse(data[: end.end()]), data[end.end() :]


def tunnel_response(status_code: int = 200, server: str | None = None) -> bytes:
    """The server's answer on the GET leg; RTSP follows it on the same connection."""
    fields = [("Connection", "close"), ("Cache-Control", "no-store"), ("Pragma", "no-cache")]
    if status_code == 200:
        fields.append(("Content-Type", TUNNEL_CONTENT_TYPE))
    if server is not None:
        fields.insert(0, ("Server", server))
    return Response(status_code, headers=Headers(fields), version=HTTP_VERSION).serialize()


def parse_tunnel_response(
    data: bytes, *, max_head_bytes: int = DEFAULT_MAX_HEAD_BYTES
) -> tuple[Response, bytes] | None:
    """The GET leg's HTTP answer and the RTSP bytes after it, or None until complete."""
    end = HEAD_END_RE.search(data)
    if end is None:
        if len(data) > max_head_bytes:
            raise RemoteProtocolError(f"HTTP tunnel: response head exceeds {max_head_bytes} bytes")
        return None
    message = MessageHead.parse(data[: end.end()]).build(b"", max_headers=100)
    if not isinstance(message, Response) or not message.version.startswith("HTTP/"):
        raise RemoteProtocolError("HTTP tunnel: not an HTTP response")
    return message, data[end.end() :]


def encode_tunnel_data(data: bytes, line_length: int | None = None) -> bytes:
    """Base64 for the POST leg, optionally broken into CRLF-ended lines."""
    encoded = base64.b64encode(data)
    if line_length is None:
        return encoded
    lines = [encoded[i : i + line_length] for i in range(0, len(encoded), line_length)]
    return b"".join(line + b"\r\n" for line in lines)


class TunnelDecoder:
    """Turns the POST leg's base64, arriving in any pieces, back into RTSP bytes."""

    def __init__(self) -> None:
        self._carry = b""

    def decode(self, data: bytes) -> bytes:
        """The RTSP bytes that ``data`` completes; a partial quantum waits for more."""
        text = self._carry + data.translate(None, _WHITESPACE)
        if not _BASE64_RE.fullmatch(text):
            raise RemoteProtocolError("HTTP tunnel: POST body is not base64")
        usable = len(text) - len(text) % 4
        self._carry = text[usable:]
        decoded = bytearray()
        for segment in _BASE64_SEGMENT_RE.findall(text[:usable]):
            if not segment:
                continue
            if len(segment) % 4:
                raise RemoteProtocolError("HTTP tunnel: misplaced base64 padding")
            try:
                decoded += binascii.a2b_base64(segment, strict_mode=True)
            except binascii.Error as error:
                raise RemoteProtocolError(f"HTTP tunnel: invalid base64 ({error})") from None
        return bytes(decoded)
