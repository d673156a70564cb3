"""``camsim pcap redact``: a capture a customer can share.

The secrets are found the way ``inspect`` reads the capture: credentials in RTSP and HTTP
``Authorization`` headers (Basic credentials, Digest user names and responses), user names and
passwords in URLs, RTMP stream names (the stream keys of most platforms) and the query strings
of ``connect``'s app and tcUrl (where tokens go), query strings of HTTP requests. Then every
occurrence is overwritten in place with ``x`` of the same length, in every packet, wherever it
is: split over TCP segments or retransmitted (found in each direction's reassembled stream),
cut by an RTMP chunk header, or inside the base64 of an RTSP-over-HTTP POST leg (found in the
decoded text and re-encoded). Keeping every length keeps every TCP sequence number, length
field and AMF string valid, so the result still reads as the same session.

IPv4 and IPv6 addresses are rewritten consistently (private and documentation ranges), in
headers and in text (URLs, SDP, Transport), each to an address written with as many characters;
MAC addresses become locally administered ones. ``drop_media`` zeroes RTP payloads after their
first four bytes (the NAL unit and fragmentation headers that ``inspect`` reads). Checksums are
computed afresh. The output is pcapng with the original timestamps and link types; comments,
name resolution and decryption-secret blocks are not carried over.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import ipaddress
import re
import struct
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from camsim.pcap.capture import CaptureFile, PacketRecord
from camsim.pcap.inspect import Inspector, InspectResult
from camsim.pcap.packet import (
    ETHERTYPE_IPV4,
    ETHERTYPE_IPV6,
    ETHERTYPE_VLAN,
    IPPROTO_TCP,
    IPPROTO_UDP,
    LINKTYPE_ETHERNET,
    LINKTYPE_IPV4,
    LINKTYPE_IPV6,
    LINKTYPE_LINUX_SLL,
    LINKTYPE_LINUX_SLL2,
    LINKTYPE_LOOP,
    LINKTYPE_NULL,
    LINKTYPE_RAW,
    LINKTYPE_RAW_OLD,
    LINKTYPE_RAW_OLD_BSD,
)
from camsim.pcap.tcp import seq_distance
from wire.pcapng import enhanced_packet, interface_description, internet_checksum, section_header
from wire.rtsp import Authorization, RemoteProtocolError

FILLER = ord("x")
_Adder = Callable[[str | bytes | None, str], None]
RTMP_SPLIT_WINDOW = 256 * 1024
"""How far into an RTMP connection secrets are also looked for across chunk headers: the
commands that carry them come first."""
_IPV4_TEXT_RE = re.compile(rb"(?<![0-9.])(?:\d{1,3}\.){3}\d{1,3}(?![0-9])")


@dataclass(frozen=True)
class Secret:
    value: bytes
    kind: str


@dataclass
class RedactionReport:
    packets: int = 0
    secrets: list[Secret] = field(default_factory=list)
    """What was hidden (the values are the secrets themselves: never print them)."""
    occurrences: int = 0
    addresses: dict[str, str] = field(default_factory=dict)
    media_payloads_dropped: int = 0
    notes: list[str] = field(default_factory=list)


# Finding the secrets.


def find_secrets(result: InspectResult) -> list[Secret]:
    """Every credential, key and token the capture's dialogs carry."""
    found: dict[bytes, str] = {}

    def add(value: str | bytes | None, kind: str) -> None:
        if not value:
            return
        raw = value.encode("utf-8", "surrogateescape") if isinstance(value, str) else value
        if len(raw) >= 3:  # shorter ones match everywhere and protect nothing
            found.setdefault(raw, kind)

    for dialog in result.dialogs:
        for exchange in dialog.exchanges:
            messages = [m for m in (exchange.request, exchange.response) if m is not None]
            if exchange.request is not None:
                _url_secrets(exchange.request.url, add)
            for message in messages:
                for name, value in message.headers:
                    lowered = name.lower()
                    if lowered in ("authorization", "proxy-authorization"):
                        _authorization_secrets(value, add)
                    elif lowered in ("content-base", "content-location", "rtp-info", "location"):
                        for url in re.findall(r"[a-z]+://[^\s,;\"]+", value):
                            _url_secrets(url, add)
    for session in result.rtmp:
        for name in session.stream_names:
            add(name, "RTMP stream name")
        for url in (session.app, session.tc_url):
            if url:
                _url_secrets(url, add)
                _query_secrets(url, add)
        for command in session.commands:
            for key in ("swfUrl", "pageUrl"):
                if key in command.details:
                    _query_secrets(command.details[key], add)
    for request in result.http:
        _url_secrets(request.url, add)
        _query_secrets(request.url, add)
    return [Secret(value, kind) for value, kind in found.items()]


def _url_secrets(url: str, add: _Adder) -> None:
    try:
        parts = urlsplit(url)
        username, password = parts.username, parts.password
    except ValueError:
        return
    add(username, "user name in a URL")
    add(password, "password in a URL")


def _query_secrets(url: str, add: _Adder) -> None:
    _, mark, query = url.partition("?")
    if not mark:
        return
    for item in query.split("&"):
        name, equals, value = item.partition("=")
        add(value if equals else name, "token in a query string")


def _authorization_secrets(value: str, add: _Adder) -> None:
    try:
        authorization = Authorization.parse(value)
    except RemoteProtocolError:
        add(value.partition(" ")[2], "Authorization credentials")
        return
    if authorization.token68 is not None:
        add(authorization.token68, f"{authorization.scheme} credentials")
        try:
            decoded = base64.b64decode(authorization.token68, validate=True)
        except (binascii.Error, ValueError):
            return
        user, _, password = decoded.partition(b":")
        add(decoded, "Basic user:password")
        add(user, "user name")
        add(password, "password")
        return
    for key in ("username", "response", "cnonce"):
        add(authorization.params.get(key), f"{authorization.scheme} {key}")


# Where things are in a frame.


@dataclass
class _Layout:
    link: int
    """Where the link header's addresses are (Ethernet: 0), or -1."""
    ip: int
    version: int
    transport: int
    protocol: int
    payload: int
    end: int
    fragment: bool


def _layout(link_type: int, frame: bytearray) -> _Layout | None:
    link = -1
    if link_type == LINKTYPE_ETHERNET:
        if len(frame) < 14:
            return None
        link = 0
        (ethertype,) = struct.unpack_from("!H", frame, 12)
        pos = 14
        while ethertype in ETHERTYPE_VLAN and pos + 4 <= len(frame):
            (ethertype,) = struct.unpack_from("!H", frame, pos + 2)
            pos += 4
    elif link_type == LINKTYPE_LINUX_SLL and len(frame) >= 16:
        (ethertype,), pos = struct.unpack_from("!H", frame, 14), 16
    elif link_type == LINKTYPE_LINUX_SLL2 and len(frame) >= 20:
        (ethertype,), pos = struct.unpack_from("!H", frame, 0), 20
    elif link_type in (
        LINKTYPE_RAW,
        LINKTYPE_RAW_OLD,
        LINKTYPE_RAW_OLD_BSD,
        LINKTYPE_IPV4,
        LINKTYPE_IPV6,
    ):
        if not frame:
            return None
        ethertype, pos = (ETHERTYPE_IPV4 if frame[0] >> 4 == 4 else ETHERTYPE_IPV6), 0
    elif link_type in (LINKTYPE_NULL, LINKTYPE_LOOP) and len(frame) >= 5:
        ethertype, pos = (ETHERTYPE_IPV4 if frame[4] >> 4 == 4 else ETHERTYPE_IPV6), 4
    else:
        return None
    if ethertype == ETHERTYPE_IPV4 and pos + 20 <= len(frame):
        header = (frame[pos] & 0x0F) * 4
        (total,) = struct.unpack_from("!H", frame, pos + 2)
        (fragment_field,) = struct.unpack_from("!H", frame, pos + 6)
        protocol = frame[pos + 9]
        end = min(len(frame), pos + total) if total else len(frame)
        fragment = bool(fragment_field & 0x3FFF)
        return _transport_layout(link, pos, 4, pos + header, protocol, end, fragment, frame)
    if ethertype == ETHERTYPE_IPV6 and pos + 40 <= len(frame):
        (payload_length,) = struct.unpack_from("!H", frame, pos + 4)
        protocol = frame[pos + 6]
        start = pos + 40
        end = min(len(frame), start + payload_length) if payload_length else len(frame)
        fragment = False
        while protocol in (0, 43, 44, 60) and start + 8 <= end:
            fragment |= protocol == 44
            following = frame[start]
            start += 8 if protocol == 44 else (frame[start + 1] + 1) * 8
            protocol = following
        return _transport_layout(link, pos, 6, start, protocol, end, fragment, frame)
    return _Layout(link, -1, 0, -1, 0, -1, -1, False)


def _transport_layout(
    link: int,
    ip: int,
    version: int,
    start: int,
    protocol: int,
    end: int,
    fragment: bool,
    frame: bytearray,
) -> _Layout:
    payload = -1
    if not fragment and protocol == IPPROTO_UDP and start + 8 <= end:
        payload = start + 8
    elif not fragment and protocol == IPPROTO_TCP and start + 20 <= end:
        payload = start + (frame[start + 12] >> 4) * 4
    return _Layout(link, ip, version, start, protocol, payload, end, fragment)


# TCP streams.


@dataclass
class _Direction:
    base: int | None = None
    pieces: list[tuple[int, int, int]] = field(default_factory=list)
    """(packet index, stream offset, length) of every segment with data."""
    data: dict[int, bytes] = field(default_factory=dict)

    def add(self, index: int, seq: int, syn: bool, payload: bytes) -> None:
        if syn:
            self.base = (seq + 1) & 0xFFFFFFFF
            seq = self.base
        if not payload:
            return
        if self.base is None:
            self.base = seq
        offset = seq_distance(seq, self.base)
        if offset < 0:
            return
        self.pieces.append((index, offset, len(payload)))
        if len(payload) > len(self.data.get(offset, b"")):
            self.data[offset] = payload

    def stream(self) -> bytearray:
        size = max((o + len(d) for o, d in self.data.items()), default=0)
        stream = bytearray(size)
        for offset, data in sorted(self.data.items()):
            stream[offset : offset + len(data)] = data
        return stream


def _occurrences(haystack: bytes | bytearray, needle: bytes) -> Iterator[int]:
    start = haystack.find(needle)
    while start >= 0:
        yield start
        start = haystack.find(needle, start + 1)


def _split_occurrences(stream: bytearray, secret: bytes) -> Iterator[list[tuple[int, int]]]:
    """``secret`` cut in two by a one-byte RTMP chunk header (fmt 3): the spans of its parts."""
    window = stream[:RTMP_SPLIT_WINDOW]
    for cut in range(1, len(secret)):
        head, tail = secret[:cut], secret[cut:]
        for start in _occurrences(window, head):
            middle = start + cut
            if (
                middle < len(window)
                and window[middle] >> 6 == 3
                and window.startswith(tail, middle + 1)
            ):
                yield [(start, middle), (middle + 1, middle + 1 + len(tail))]


def _tunnel_spans(
    stream: bytearray, secrets: list[bytes], text_pairs: list[tuple[bytes, bytes]]
) -> list[tuple[int, int, bytes]]:
    """Secrets and addresses inside the base64 of a tunnel's POST leg: (start, end, new
    base64) for each character of base64 text to rewrite."""
    head_end = stream.find(b"\r\n\r\n")
    if head_end < 0:
        return []
    positions = [i for i in range(head_end + 4, len(stream)) if stream[i] not in b" \t\r\n"]
    text = bytes(stream[i] for i in positions)
    changes: list[tuple[int, int, bytes]] = []
    for run in re.finditer(rb"[A-Za-z0-9+/]*=*", text):
        if not run.group() or len(run.group()) % 4:
            continue
        try:
            decoded = bytearray(base64.b64decode(run.group()))
        except binascii.Error:
            continue
        touched = False
        for secret in secrets:
            for start in list(_occurrences(decoded, secret)):
                decoded[start : start + len(secret)] = bytes([FILLER]) * len(secret)
                touched = True
        for original, mapped in text_pairs:
            for start in list(_occurrences(decoded, original)):
                if _standalone(decoded, start, len(original)):
                    decoded[start : start + len(original)] = mapped
                    touched = True
        if touched:
            encoded = base64.b64encode(bytes(decoded))
            for index, value in enumerate(encoded):
                at = positions[run.start() + index]
                if stream[at] != value:
                    changes.append((at, at + 1, bytes([value])))
    return changes


# Addresses.


class AddressMap:
    """Each address to one stand-in, written with as many characters when it is text."""

    def __init__(self, salt: bytes) -> None:
        self.salt = salt
        self.binary: dict[bytes, bytes] = {}
        self._used: set[bytes] = set()

    def map(self, address: bytes) -> bytes:
        mapped = self.binary.get(address)
        if mapped is not None:
            return mapped
        if len(address) == 4:
            mapped = self._ipv4(address)
        else:
            mapped = self._ipv6(address)
        self.binary[address] = mapped
        return mapped

    def _ipv4(self, address: bytes) -> bytes:
        ip = ipaddress.IPv4Address(address)
        if (
            ip.is_loopback
            or ip.is_unspecified
            or ip.is_multicast
            or ip == ipaddress.IPv4Address("255.255.255.255")
        ):
            return address
        length = len(str(ip))
        for attempt in range(1 << 16):
            candidate = _ipv4_of_length(length, self._digest(address, attempt))
            if candidate not in self._used and candidate != address:
                self._used.add(candidate)
                return candidate
        return address

    def _ipv6(self, address: bytes) -> bytes:
        ip = ipaddress.IPv6Address(address)
        if ip.is_loopback or ip.is_unspecified or ip.is_multicast:
            return address
        digest = hashlib.sha256(self.salt + address).digest()
        return bytes.fromhex("20010db8") + digest[:12]

    def _digest(self, address: bytes, attempt: int) -> int:
        return int.from_bytes(
            hashlib.sha256(self.salt + address + attempt.to_bytes(4, "big")).digest()[:8], "big"
        )

    def text_pairs(self) -> list[tuple[bytes, bytes]]:
        """(original, stand-in) as text, for addresses whose stand-in has the same length."""
        pairs = []
        for original, mapped in self.binary.items():
            if original == mapped:
                continue
            if len(original) == 4:
                pairs.append(
                    (
                        str(ipaddress.IPv4Address(original)).encode(),
                        str(ipaddress.IPv4Address(mapped)).encode(),
                    )
                )
            else:
                text = str(ipaddress.IPv6Address(original)).encode()
                stand_in = _ipv6_text_of_length(len(text), mapped)
                if stand_in is not None:
                    pairs.append((text, stand_in))
        return sorted(pairs, key=lambda pair: -len(pair[0]))


def _ipv4_of_length(length: int, seed: int) -> bytes:
    """A private (10/8), shared (100.64/10) or "this network" (0/8) IPv4 address written with
    ``length`` characters, chosen by ``seed``."""
    if length == 7:
        first, widths = 0, (1, 1, 1)
    elif length == 15:
        first, widths = 100, (3, 3, 3)
    else:
        first = 10
        digits = length - 2 - 3
        widths = next(w for w in _widths(digits))
    octets = [first]
    for position, width in enumerate(widths):
        low, high = (0, 9) if width == 1 else (10, 99) if width == 2 else (100, 255)
        if first == 100 and position == 0:
            low, high = 100, 127  # keep inside 100.64.0.0/10
        octets.append(low + seed % (high - low + 1))
        seed //= high - low + 1
    return bytes(octets)


def _widths(digits: int) -> Iterator[tuple[int, int, int]]:
    for a in (3, 2, 1):
        for b in (3, 2, 1):
            c = digits - a - b
            if 1 <= c <= 3:
                yield a, b, c


def _ipv6_text_of_length(length: int, mapped: bytes) -> bytes | None:
    groups = [f"{int.from_bytes(mapped[i : i + 2], 'big'):x}" for i in range(0, 16, 2)]
    full = ":".join(groups)
    if len(full) >= length:
        # Compress zero-free groups from the middle into "::" until it fits exactly.
        for keep_head in range(2, 8):
            for keep_tail in range(8 - keep_head):
                text = (
                    ":".join(groups[:keep_head])
                    + "::"
                    + ":".join(groups[8 - keep_tail :] if keep_tail else [])
                )
                if len(text) == length:
                    return text.encode()
        return None
    padded = [g.rjust(4, "0") for g in groups]
    extra = length - len(full)
    result = []
    for group, pad in zip(groups, padded, strict=True):
        take = min(extra, len(pad) - len(group))
        result.append(pad[len(pad) - len(group) - take :])
        extra -= take
    text = ":".join(result)
    return text.encode() if len(text) == length else None


# The rewrite.


def redact(
    source: str | Path,
    output: str | Path,
    *,
    drop_media: bool = False,
    keep_addresses: bool = False,
    salt: bytes = b"camsim",
) -> RedactionReport:
    """Write ``source`` to ``output`` with its secrets (and addresses) replaced."""
    report = RedactionReport()
    with CaptureFile.open(source) as capture:
        inspector = Inspector()
        inspector.read(capture)
        result = inspector.result(capture)
        report.secrets = find_secrets(result)
        secrets = sorted({s.value for s in report.secrets}, key=len, reverse=True)
        records = list(capture.packets())
        frames = [
            bytearray(capture.buffer[r.offset : r.offset + r.captured_length]) for r in records
        ]
        layouts = [_layout(r.link_type, frame) for r, frame in zip(records, frames, strict=True)]
        interfaces = sorted({(r.interface, r.link_type) for r in records})
    rtp_ports = {
        (f.destination.address, f.destination.port) for f in result.udp_flows if f.rtp is not None
    }
    addresses = AddressMap(salt)
    if not keep_addresses:
        for layout, frame in zip(layouts, frames, strict=True):
            if layout is not None and layout.ip >= 0:
                size = 4 if layout.version == 4 else 16
                first = layout.ip + (12 if layout.version == 4 else 8)
                addresses.map(bytes(frame[first : first + size]))
                addresses.map(bytes(frame[first + size : first + 2 * size]))
    text_pairs = addresses.text_pairs() if not keep_addresses else []

    _edit_tcp(frames, layouts, secrets, text_pairs, drop_media, report)
    for layout, frame in zip(layouts, frames, strict=True):
        if layout is None or layout.payload < 0 or layout.protocol != IPPROTO_UDP:
            if layout is not None and layout.fragment:
                _replace_all(frame, layout.transport, layout.end, secrets, text_pairs, report)
            continue
        _replace_all(frame, layout.payload, layout.end, secrets, text_pairs, report)
        if drop_media and _is_media(frame, layout, rtp_ports):
            frame[layout.payload + 16 : layout.end] = bytes(layout.end - layout.payload - 16)
            report.media_payloads_dropped += 1
    for layout, frame in zip(layouts, frames, strict=True):
        if layout is None or layout.ip < 0:
            continue
        if not keep_addresses:
            if layout.link >= 0:
                _rewrite_macs(frame, layout.link, salt)
            _rewrite_ip(frame, layout, addresses)
        _fix_checksums(frame, layout)
    report.addresses = {
        _text(original): _text(mapped)
        for original, mapped in addresses.binary.items()
        if original != mapped
    }
    report.packets = len(frames)
    _write(Path(output), records, frames, interfaces)
    return report


def _text(address: bytes) -> str:
    return str(ipaddress.ip_address(address))


def _replace_all(
    frame: bytearray,
    start: int,
    end: int,
    secrets: Iterable[bytes],
    text_pairs: Iterable[tuple[bytes, bytes]],
    report: RedactionReport,
) -> None:
    region = frame[start:end]
    changed = False
    for secret in secrets:
        for at in list(_occurrences(region, secret)):
            region[at : at + len(secret)] = bytes([FILLER]) * len(secret)
            report.occurrences += 1
            changed = True
    for original, mapped in text_pairs:
        for at in list(_occurrences(region, original)):
            if _standalone(region, at, len(original)):
                region[at : at + len(original)] = mapped
                changed = True
    if changed:
        frame[start:end] = region


def _standalone(data: bytes | bytearray, start: int, length: int) -> bool:
    """An address in text, not part of a longer number or address."""
    before = data[start - 1 : start]
    after = data[start + length : start + length + 1]
    return not (before and before in b"0123456789.:abcdefABCDEF") and not (
        (after and after in b"0123456789abcdefABCDEF")
        or (after == b"." and data[start + length + 1 : start + length + 2].isdigit())
    )


def _edit_tcp(
    frames: list[bytearray],
    layouts: list[_Layout | None],
    secrets: list[bytes],
    text_pairs: list[tuple[bytes, bytes]],
    drop_media: bool,
    report: RedactionReport,
) -> None:
    directions: dict[tuple[bytes, ...], _Direction] = {}
    for index, (layout, frame) in enumerate(zip(layouts, frames, strict=True)):
        if layout is None or layout.protocol != IPPROTO_TCP or layout.payload < 0:
            continue
        size = 4 if layout.version == 4 else 16
        first = layout.ip + (12 if layout.version == 4 else 8)
        key = (
            bytes(frame[first : first + 2 * size]),
            bytes(frame[layout.transport : layout.transport + 4]),
        )
        (seq,) = struct.unpack_from("!I", frame, layout.transport + 4)
        syn = bool(frame[layout.transport + 13] & 0x02)
        direction = directions.setdefault(key, _Direction())
        direction.add(index, seq, syn, bytes(frame[layout.payload : layout.end]))
    for direction in directions.values():
        stream = direction.stream()
        original = bytes(stream)
        for secret in secrets:
            for start in list(_occurrences(stream, secret)):
                stream[start : start + len(secret)] = bytes([FILLER]) * len(secret)
                report.occurrences += 1
            for spans in list(_split_occurrences(stream, secret)):
                for begin, end in spans:
                    stream[begin:end] = bytes([FILLER]) * (end - begin)
                report.occurrences += 1
        if stream.startswith(b"POST "):
            for begin, end, value in _tunnel_spans(stream, secrets, text_pairs):
                stream[begin:end] = value
                report.occurrences += 1
        for original_text, mapped in text_pairs:
            for start in list(_occurrences(stream, original_text)):
                if _standalone(stream, start, len(original_text)):
                    stream[start : start + len(original_text)] = mapped
        if drop_media:
            report.media_payloads_dropped += _drop_interleaved(stream)
        if stream == original:
            continue
        for index, offset, length in direction.pieces:
            layout = layouts[index]
            assert layout is not None
            frames[index][layout.payload : layout.payload + length] = stream[
                offset : offset + length
            ]


def _drop_interleaved(stream: bytearray) -> int:
    """Zero the RTP payloads (after 4 bytes) of every ``$`` frame of an RTSP stream."""
    dropped = 0
    pos = 0
    while pos + 4 <= len(stream):
        if stream[pos] == 0x24:
            (length,) = struct.unpack_from("!H", stream, pos + 2)
            body = pos + 4
            if length >= 16 and stream[body] >> 6 == 2 and not 200 <= stream[body + 1] <= 207:
                stream[body + 16 : body + length] = bytes(
                    max(0, min(length, len(stream) - body) - 16)
                )
                dropped += 1
            pos = body + length
            continue
        head_end = stream.find(b"\r\n\r\n", pos)
        if head_end < 0:
            break
        match = re.search(rb"(?im)^content-length:\s*(\d+)", bytes(stream[pos:head_end]))
        pos = head_end + 4 + (int(match.group(1)) if match else 0)
    return dropped


def _is_media(frame: bytearray, layout: _Layout, rtp_ports: set[tuple[bytes, int]]) -> bool:
    if layout.end - layout.payload < 16 or frame[layout.payload] >> 6 != 2:
        return False
    size = 4 if layout.version == 4 else 16
    first = layout.ip + (12 if layout.version == 4 else 8)
    destination = bytes(frame[first + size : first + 2 * size])
    (port,) = struct.unpack_from("!H", frame, layout.transport + 2)
    return (destination, port) in rtp_ports and not 200 <= frame[layout.payload + 1] <= 207


def _rewrite_macs(frame: bytearray, at: int, salt: bytes) -> None:
    for position in (at, at + 6):
        mac = bytes(frame[position : position + 6])
        if mac == b"\xff" * 6 or mac[0] & 1:
            continue  # broadcast and multicast say nothing about the devices
        digest = hashlib.sha256(salt + mac).digest()
        frame[position : position + 6] = bytes([0x02, 0x00]) + digest[:4]


def _rewrite_ip(frame: bytearray, layout: _Layout, addresses: AddressMap) -> None:
    size = 4 if layout.version == 4 else 16
    first = layout.ip + (12 if layout.version == 4 else 8)
    for position in (first, first + size):
        frame[position : position + size] = addresses.map(bytes(frame[position : position + size]))


def _fix_checksums(frame: bytearray, layout: _Layout) -> None:
    if layout.version == 4:
        header = (frame[layout.ip] & 0x0F) * 4
        frame[layout.ip + 10 : layout.ip + 12] = b"\x00\x00"
        checksum = internet_checksum(bytes(frame[layout.ip : layout.ip + header]))
        struct.pack_into("!H", frame, layout.ip + 10, checksum)
    if layout.fragment or layout.payload < 0 or layout.end > len(frame):
        return
    size = 4 if layout.version == 4 else 16
    first = layout.ip + (12 if layout.version == 4 else 8)
    addresses = bytes(frame[first : first + 2 * size])
    segment_length = layout.end - layout.transport
    if layout.version == 4:
        pseudo = addresses + struct.pack("!BBH", 0, layout.protocol, segment_length)
    else:
        pseudo = addresses + struct.pack("!IxxxB", segment_length, layout.protocol)
    field_at = layout.transport + (6 if layout.protocol == IPPROTO_UDP else 16)
    if layout.protocol == IPPROTO_UDP and frame[field_at : field_at + 2] == b"\x00\x00":
        return  # no checksum was sent (IPv4 allows that): none is added
    frame[field_at : field_at + 2] = b"\x00\x00"
    checksum = internet_checksum(pseudo + bytes(frame[layout.transport : layout.end]))
    if layout.protocol == IPPROTO_UDP and checksum == 0:
        checksum = 0xFFFF
    struct.pack_into("!H", frame, field_at, checksum)


def _write(
    output: Path,
    records: list[PacketRecord],
    frames: list[bytearray],
    interfaces: list[tuple[int, int]],
) -> None:
    numbering = {key: index for index, key in enumerate(interfaces)}
    with output.open("wb") as file:
        file.write(section_header("camsim pcap redact"))
        for _, link_type in interfaces:
            file.write(interface_description(link_type))
        for record, frame in zip(records, frames, strict=True):
            interface = numbering[(record.interface, record.link_type)]
            file.write(
                enhanced_packet(
                    record.timestamp_ns,
                    bytes(frame),
                    interface=interface,
                    original_length=max(record.original_length, len(frame)),
                )
            )
