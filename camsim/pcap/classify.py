"""What a flow carries, recognised from its first bytes rather than its port.

Cameras serve RTSP on 554, 8554, 10554 or 80, encoders publish RTMP to 1935, 443 or anything a
CDN picked, and a capture of a customer's network says nothing about which is which. Each sniffer
here looks at the opening bytes of one direction of a TCP connection and answers with a
:class:`Verdict` (the protocol and whether that direction is the client's), ``None`` when it is
certain the bytes are not its protocol, or :data:`NEED_MORE`.

UDP datagrams are told apart one by one (:func:`udp_kind`): RTP and RTCP by their version bits
and the RTCP packet type range (RFC 5761 §4), anything else is left alone.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum


class Protocol(StrEnum):
    RTSP = "rtsp"
    RTSP_TUNNEL = "rtsp-http-tunnel"
    RTMP = "rtmp"
    TLS = "tls"
    HTTP = "http"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Verdict:
    protocol: Protocol
    client: bool
    """True when the sniffed direction is the client's (the one that speaks first)."""


class _NeedMore:
    def __repr__(self) -> str:
        return "NEED_MORE"


NEED_MORE = _NeedMore()
Sniffed = Verdict | None | _NeedMore
Sniffer = Callable[[bytes], Sniffed]

SNIFF_LIMIT = 4096
"""Bytes of a direction after which a protocol that has not shown itself is taken as absent."""

_RTSP_REQUEST_RE = re.compile(rb"[A-Z_]{3,20} [^\s]+ RTSP/1\.\d\r?\n")
_HTTP_REQUEST_RE = re.compile(rb"(GET|POST|HEAD|PUT|DELETE|OPTIONS|PATCH) [^\s]+ HTTP/1\.\d\r?\n")
_TUNNEL_RE = re.compile(rb"(?i)\r?\n(x-sessioncookie|accept|content-type)[ \t]*:[^\r\n]*")
_RTSP_TUNNELLED = b"application/x-rtsp-tunnelled"
_HEAD_END_RE = re.compile(rb"\r?\n\r?\n")

TLS_HANDSHAKE = 0x16
TLS_CLIENT_HELLO = 1
TLS_SERVER_HELLO = 2
RTMP_VERSION = 3
RTMP_ENCRYPTED_VERSION = 6
RTMP_HANDSHAKE_SIZE = 1536


def sniff_rtsp(data: bytes) -> Sniffed:
    """A request line ending in RTSP/1.x, a status line, or interleaved RTP/RTCP frames."""
    if data.startswith(b"RTSP/1."):
        return Verdict(Protocol.RTSP, client=False)
    if data[:1] == b"$":
        return _sniff_interleaved(data)
    line_end = data.find(b"\n")
    if line_end < 0:
        if len(data) > 256 or not re.fullmatch(
            rb"[A-Z_]*( [^\s]*( R(T(S(P(/(1\.?)?)?)?)?)?)?)?", data
        ):
            return None
        return NEED_MORE
    if _RTSP_REQUEST_RE.match(data, 0, line_end + 1):
        return Verdict(Protocol.RTSP, client=True)
    return None


def _sniff_interleaved(data: bytes) -> Sniffed:
    """Two consecutive ``$`` frames holding RTP or RTCP version 2: a capture that begins
    after the RTSP dialog, in the middle of a TCP-interleaved stream."""
    pos = 0
    for _ in range(2):
        if len(data) < pos + 5:
            return NEED_MORE
        if data[pos] != 0x24 or data[pos + 4] >> 6 != 2:
            return None
        (length,) = struct.unpack_from("!H", data, pos + 2)
        pos += 4 + length
    return Verdict(Protocol.RTSP, client=False)


def sniff_http(data: bytes) -> Sniffed:
    """An HTTP/1.x request or response; an RTSP tunnel leg when its head says so."""
    if data.startswith(b"HTTP/1."):
        head = _head(data)
        if head is None:
            return NEED_MORE
        if _RTSP_TUNNELLED in head.lower():
            return Verdict(Protocol.RTSP_TUNNEL, client=False)
        return Verdict(Protocol.HTTP, client=False)
    line_end = data.find(b"\n")
    if line_end < 0:
        return NEED_MORE if len(data) < 256 and re.fullmatch(rb"[A-Z]*( .*)?", data) else None
    if not _HTTP_REQUEST_RE.match(data, 0, line_end + 1):
        return None
    head = _head(data)
    if head is None:
        return NEED_MORE
    for match in _TUNNEL_RE.finditer(head):
        name = match.group(1).lower()
        if name == b"x-sessioncookie" or _RTSP_TUNNELLED in match.group(0).lower():
            return Verdict(Protocol.RTSP_TUNNEL, client=True)
    return Verdict(Protocol.HTTP, client=True)


def _head(data: bytes) -> bytes | None:
    end = _HEAD_END_RE.search(data)
    if end is None:
        return None if len(data) < SNIFF_LIMIT else data
    return data[: end.end()]


def sniff_tls(data: bytes) -> Sniffed:
    """A TLS handshake record (RFC 8446 §5.1) opening with a ClientHello or ServerHello."""
    if len(data) < 6:
        return (
            NEED_MORE
            if data == b"\x16\x03"[: len(data)]
            or (len(data) >= 2 and data[0] == TLS_HANDSHAKE and data[1] == 3)
            else None
        )
    if data[0] != TLS_HANDSHAKE or data[1] != 3 or data[2] > 4:
        return None
    if data[5] == TLS_CLIENT_HELLO:
        return Verdict(Protocol.TLS, client=True)
    if data[5] == TLS_SERVER_HELLO:
        return Verdict(Protocol.TLS, client=False)
    return None


def sniff_rtmp(data: bytes) -> Sniffed:
    """C0 (version 3, or 6 for RTMPE) followed by a 1536-byte C1 whose 4 bytes after the
    timestamp are zero (simple handshake) or a Flash version (complex); S0+S1+S2 likewise."""
    if data[0] not in (RTMP_VERSION, RTMP_ENCRYPTED_VERSION):
        return None
    if len(data) < 1 + 8:
        return NEED_MORE
    # Nothing else decides it before C1 ends: take the version byte and the sizes.
    if len(data) < 1 + RTMP_HANDSHAKE_SIZE:
        return NEED_MORE
    return Verdict(Protocol.RTMP, client=True)


SNIFFERS: tuple[Sniffer, ...] = (sniff_tls, sniff_rtsp, sniff_http, sniff_rtmp)
"""In the order they are tried; the first certain answer wins."""


def sniff(data: bytes, *, final: bool = False) -> Sniffed:
    """The verdict of the first sniffer that is sure about ``data``.

    NEED_MORE while some sniffer still waits and ``final`` is false; None when none matches.
    """
    if not data:
        return NEED_MORE if not final else None
    waiting = False
    for sniffer in SNIFFERS:
        verdict = sniffer(data)
        if isinstance(verdict, Verdict):
            return verdict
        if verdict is NEED_MORE:
            waiting = True
    if waiting and not final and len(data) < SNIFF_LIMIT:
        return NEED_MORE
    return None


UDP_RTP = 1
UDP_RTCP = 2
UDP_OTHER = 0


def udp_kind(first: int, second: int, length: int) -> int:
    """RTP, RTCP or neither, from the first two bytes of a datagram and its length.

    RTCP packet types 200-207 (SR, RR, SDES, BYE, APP, RTPFB, PSFB, XR) sit where RTP's marker
    bit and payload types 72-79 would be, which RTP never uses for that reason (RFC 5761 §4).
    """
    if first >> 6 != 2:
        return UDP_OTHER
    if 200 <= second <= 207:
        return UDP_RTCP if length >= 8 else UDP_OTHER
    return UDP_RTP if length >= 12 else UDP_OTHER
