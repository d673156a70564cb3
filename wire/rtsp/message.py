"""RTSP messages (RFC 2326 §4, §6, §7) and interleaved binary frames (§10.12).

A message is a start line, header fields, an empty line and a body whose length is given by
``Content-Length`` ("if it is missing, a default value of zero is assumed", §12.14). Parsing is
split in two so that a byte-stream reader can keep its framing after a bad message: a
:class:`MessageHead` is framed first and never fails; it then yields the body length (failing
fatally when that cannot be known) and finally the validated :class:`Request` or :class:`Response`.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field
from enum import StrEnum

from wire.digits import bounded_decimal, is_digits, shown_digits
from wire.rtsp.errors import LocalProtocolError, RemoteProtocolError
from wire.rtsp.headers import TOKEN_RE, Headers, parse_cseq
from wire.rtsp.status import StatusCode, reason_phrase

RTSP_VERSION = "RTSP/1.0"
INTERLEAVED_MAGIC = 0x24  # "$", §10.12
INTERLEAVED_HEADER_SIZE = 4
MAX_INTERLEAVED_PAYLOAD = 0xFFFF

# The end of a header block; LF-only line endings occur in the field and are accepted.
HEAD_END_RE = re.compile(rb"\n\r?\n")
# What a header value cannot hold once lines are split on LF (RFC 2326 §4.2, via RFC 2616).
_FORBIDDEN_IN_VALUE = re.compile(r"[\r\x00]")
_VERSION = r"[A-Z]+/\d+\.\d+"
_STATUS_LINE_RE = re.compile(rf"({_VERSION})[ \t]+(\d{{3}})(?:[ \t]+(.*?))?[ \t]*")
_REQUEST_LINE_RE = re.compile(rf"(\S+)[ \t]+(\S+)[ \t]+({_VERSION})[ \t]*")


class Method(StrEnum):
    """The methods of RFC 2326 §10."""

    DESCRIBE = "DESCRIBE"
    ANNOUNCE = "ANNOUNCE"
    GET_PARAMETER = "GET_PARAMETER"
    OPTIONS = "OPTIONS"
    PAUSE = "PAUSE"
    PLAY = "PLAY"
    RECORD = "RECORD"
    REDIRECT = "REDIRECT"
    SETUP = "SETUP"
    SET_PARAMETER = "SET_PARAMETER"
    TEARDOWN = "TEARDOWN"


METHODS = frozenset(m.value for m in Method)


def _serialize(start_line: str, headers: Headers, body: bytes) -> bytes:
    declared = headers.get("Content-Length")
    if declared is None and body:
        headers = headers.copy()
        headers.add("Content-Length", str(len(body)))
    elif declared is not None and declared.strip() != str(len(body)):
        raise LocalProtocolError(f"Content-Length {declared} but the body has {len(body)} bytes")
    head = start_line.encode("utf-8", "surrogateescape") + b"\r\n" + headers.serialize()
    return head + b"\r\n" + body


@dataclass
class Request:
    """An RTSP request."""

    method: str
    url: str
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""
    version: str = RTSP_VERSION

    @property
    def cseq(self) -> int | None:
        """The CSeq, or None when absent or unreadable."""
        return parse_cseq(self.headers.get("CSeq"))

    @classmethod
    def parse(cls, data: bytes) -> Request:
        """Parse exactly one complete request."""
        message = _parse_one(data)
        if not isinstance(message, Request):
            raise RemoteProtocolError("expected a request, got a response")
        return message

    def serialize(self) -> bytes:
        """The request on the wire; ``Content-Length`` is added when a body needs one."""
        if not TOKEN_RE.fullmatch(self.method):
            raise LocalProtocolError(f"method {self.method!r} is not a token")
        if not self.url or any(c.isspace() for c in self.url):
            raise LocalProtocolError(f"request URL {self.url!r} is empty or contains whitespace")
        return _serialize(f"{self.method} {self.url} {self.version}", self.headers, self.body)


@dataclass
class Response:
    """An RTSP response; an empty ``reason`` becomes the RFC's phrase for the code."""

    status_code: int
    reason: str = ""
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""
    version: str = RTSP_VERSION

    def __post_init__(self) -> None:
        if not self.reason:
            self.reason = reason_phrase(self.status_code)

    @property
    def cseq(self) -> int | None:
        """The CSeq, or None when absent or unreadable."""
        return parse_cseq(self.headers.get("CSeq"))

    @property
    def ok(self) -> bool:
        """True for a 2xx answer."""
        return 200 <= self.status_code < 300

    @classmethod
    def parse(cls, data: bytes) -> Response:
        """Parse exactly one complete response."""
        message = _parse_one(data)
        if not isinstance(message, Response):
            raise RemoteProtocolError("expected a response, got a request")
        return message

    def serialize(self) -> bytes:
        """The response on the wire; ``Content-Length`` is added when a body needs one."""
        if not 100 <= self.status_code <= 999:
            raise LocalProtocolError(f"status code {self.status_code} is not three digits")
        if any(c in self.reason for c in "\r\n"):
            raise LocalProtocolError(f"reason phrase {self.reason!r} contains a line break")
        start = f"{self.version} {self.status_code} {self.reason}"
        return _serialize(start, self.headers, self.body)


@dataclass(frozen=True)
class InterleavedFrame:
    """One binary packet on the RTSP connection: ``$``, channel, 16-bit length (§10.12)."""

    channel: int
    payload: bytes

    @classmethod
    def parse(cls, data: bytes) -> InterleavedFrame:
        """Parse exactly one frame."""
        if len(data) < INTERLEAVED_HEADER_SIZE:
            raise RemoteProtocolError(
                f"interleaved frame: {len(data)} bytes, shorter than the 4-byte header"
            )
        magic, channel, length = struct.unpack_from("!BBH", data)
        if magic != INTERLEAVED_MAGIC:
            raise RemoteProtocolError(f"interleaved frame: starts with 0x{magic:02x}, not '$'")
        if len(data) != INTERLEAVED_HEADER_SIZE + length:
            raise RemoteProtocolError(
                f"interleaved frame: length field says {length} payload bytes, "
                f"got {len(data) - INTERLEAVED_HEADER_SIZE}"
            )
        return cls(channel, bytes(data[INTERLEAVED_HEADER_SIZE:]))

    def serialize(self) -> bytes:
        if not 0 <= self.channel <= 0xFF:
            raise LocalProtocolError(f"interleaved channel {self.channel} is not in 0..255")
        if len(self.payload) > MAX_INTERLEAVED_PAYLOAD:
            raise LocalProtocolError(
                f"interleaved payload of {len(self.payload)} bytes exceeds "
                f"{MAX_INTERLEAVED_PAYLOAD}"
            )
        header = struct.pack("!BBH", INTERLEAVED_MAGIC, self.channel, len(self.payload))
        return header + self.payload


Message = Request | Response


@dataclass(frozen=True)
class MessageHead:
    """A framed header block: the start line and fields, not yet validated.

    ``problem`` names the first malformed header line. Building the message reports it, but only
    after the caller has learnt the body length, so that the stream stays framed.
    """

    start_line: str
    fields: tuple[tuple[str, str], ...]
    problem: str | None = None

    @classmethod
    def parse(cls, head: bytes) -> MessageHead:
        """Split a header block (start line to empty line); never raises."""
        text = head.decode("utf-8", "surrogateescape")
        lines = [line.removesuffix("\r") for line in text.split("\n")]
        while lines and not lines[-1]:
            lines.pop()
        start_line = lines[0] if lines else ""
        fields: list[tuple[str, str]] = []
        problem = None
        for line in lines[1:]:
            if line[:1] in (" ", "\t") and fields:
                # Obsolete line folding (RFC 2616 §2.2 LWS, which RFC 2326 inherits).
                name, value = fields[-1]
                continuation = line.strip(" \t")
                if _FORBIDDEN_IN_VALUE.search(continuation):
                    problem = problem or f"malformed header line {line[:80]!r}"
                    continue
                fields[-1] = (name, f"{value} {continuation}".strip(" \t"))
                continue
            name, colon, value = line.partition(":")
            name = name.strip(" \t")
            if not colon or not TOKEN_RE.fullmatch(name) or _FORBIDDEN_IN_VALUE.search(value):
                problem = problem or f"malformed header line {line[:80]!r}"
                continue
            fields.append((name, value.strip(" \t")))
        return cls(start_line, tuple(fields), problem)

    @property
    def cseq(self) -> int | None:
        return parse_cseq(next((v for n, v in self.fields if n.lower() == "cseq"), None))

    def content_length(self, max_body_bytes: int) -> int:
        """The body length; a fatal error when it cannot be known or is too large."""
        values = {v for n, v in self.fields if n.lower() == "content-length"}
        if not values:
            return 0
        if len(values) > 1:
            raise RemoteProtocolError(
                f"conflicting Content-Length values {sorted(values)}", fatal=True, cseq=self.cseq
            )
        (value,) = values
        if not is_digits(value):
            raise RemoteProtocolError(
                f"Content-Length {shown_digits(value)} is not a number", fatal=True, cseq=self.cseq
            )
        # Compared as text first: int() of thousands of digits is slow, and fails past 4300.
        length = bounded_decimal(value, max_body_bytes)
        if length is None:
            size = value.lstrip("0") if len(value) <= 24 else shown_digits(value)
            raise RemoteProtocolError(
                f"body of {size} bytes exceeds the limit of {max_body_bytes}",
                status_code=StatusCode.REQUEST_ENTITY_TOO_LARGE,
                fatal=True,
                cseq=self.cseq,
            )
        return length

    def build(self, body: bytes, *, max_headers: int) -> Message:
        """The validated message; a recoverable error when the head is malformed."""
        if self.problem is not None:
            raise RemoteProtocolError(self.problem, cseq=self.cseq)
        if len(self.fields) > max_headers:
            raise RemoteProtocolError(
                f"{len(self.fields)} header fields exceed the limit of {max_headers}",
                cseq=self.cseq,
            )
        headers = Headers(self.fields)
        if status := _STATUS_LINE_RE.fullmatch(self.start_line):
            version, code, reason = status.groups()
            return Response(int(code), reason or "", headers, body, version)
        if request := _REQUEST_LINE_RE.fullmatch(self.start_line):
            method, url, version = request.groups()
            if TOKEN_RE.fullmatch(method):
                return Request(method, url, headers, body, version)
        raise RemoteProtocolError(f"malformed start line {self.start_line[:80]!r}", cseq=self.cseq)


def _parse_one(data: bytes) -> Message:
    end = HEAD_END_RE.search(data)
    if end is None:
        raise RemoteProtocolError("incomplete message: no empty line after the header block")
    head = MessageHead.parse(data[: end.end()])
    length = head.content_length(len(data))
    body = data[end.end() :]
    if len(body) != length:
        raise RemoteProtocolError(f"Content-Length is {length} but {len(body)} body bytes follow")
    return head.build(bytes(body), max_headers=len(head.fields))
