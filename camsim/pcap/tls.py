"""TLS connections seen from outside: version, server name and handshake timing.

The content of RTSPS or RTMPS is encrypted, but the opening is not: the ClientHello names the
server (SNI, RFC 6066 §3) and the versions the client offers (``supported_versions``, RFC 8446
§4.2.1), the ServerHello the version chosen. The record layer (RFC 8446 §5.1) also shows when
the handshake ended: the first application data record of the client after the server's hello.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from camsim.pcap.connection import ConnectionInfo
from camsim.pcap.flow import Endpoint
from camsim.pcap.tcp import Hole

RECORD_CHANGE_CIPHER_SPEC = 20
RECORD_ALERT = 21
RECORD_HANDSHAKE = 22
RECORD_APPLICATION_DATA = 23

HANDSHAKE_CLIENT_HELLO = 1
HANDSHAKE_SERVER_HELLO = 2

EXTENSION_SERVER_NAME = 0
EXTENSION_ALPN = 16
EXTENSION_SUPPORTED_VERSIONS = 43

VERSION_NAMES = {
    0x0300: "SSL 3.0",
    0x0301: "TLS 1.0",
    0x0302: "TLS 1.1",
    0x0303: "TLS 1.2",
    0x0304: "TLS 1.3",
}

_RECORD_HEADER = struct.Struct("!BHH")


def version_name(version: int) -> str:
    return VERSION_NAMES.get(version, f"0x{version:04x}")


@dataclass
class TlsSession:
    """One TLS connection."""

    connection: int
    client: Endpoint
    server: Endpoint
    first_packet: int
    start: float
    server_name: str | None = None
    offered_versions: list[int] = field(default_factory=list)
    alpn: list[str] = field(default_factory=list)
    version: int | None = None
    """The version the server chose."""
    cipher_suite: int | None = None
    client_hello_time: float | None = None
    server_hello_time: float | None = None
    first_data_time: float | None = None
    """When the client sent its first application data after the handshake."""
    alerts: list[tuple[bool, int]] = field(default_factory=list)
    """(from client, packet) of each alert record seen before encryption hid them."""
    bytes_from_client: int = 0
    bytes_from_server: int = 0
    malformed: str | None = None

    @property
    def hello_rtt(self) -> float | None:
        if self.client_hello_time is None or self.server_hello_time is None:
            return None
        return self.server_hello_time - self.client_hello_time

    @property
    def handshake_time(self) -> float | None:
        if self.client_hello_time is None or self.first_data_time is None:
            return None
        return self.first_data_time - self.client_hello_time


class TlsConnectionAnalyser:
    """Reads the record layer of both directions until the handshake is over."""

    def __init__(self, info: ConnectionInfo, sessions: list[TlsSession]) -> None:
        self.session = TlsSession(
            info.index, info.client, info.server, info.first_packet, info.first_time
        )
        sessions.append(self.session)
        self._buffers = {True: b"", False: b""}
        self._done = {True: False, False: False}
        self._data_records = 0

    def data(self, from_client: bool, chunk: bytes, number: int, time: float) -> None:
        session = self.session
        if from_client:
            session.bytes_from_client += len(chunk)
        else:
            session.bytes_from_server += len(chunk)
        if self._done[from_client]:
            return
        buffer = self._buffers[from_client] + chunk
        pos = 0
        while len(buffer) - pos >= 5:
            kind, _, length = _RECORD_HEADER.unpack_from(buffer, pos)
            if len(buffer) - pos < 5 + length:
                break
            body = buffer[pos + 5 : pos + 5 + length]
            pos += 5 + length
            self._record(from_client, kind, body, number, time)
            if self._done[from_client]:
                break
        self._buffers[from_client] = b"" if self._done[from_client] else buffer[pos:]

    def _record(self, from_client: bool, kind: int, body: bytes, number: int, time: float) -> None:
        session = self.session
        if kind == RECORD_HANDSHAKE and body:
            if (
                body[0] == HANDSHAKE_CLIENT_HELLO
                and from_client
                and session.client_hello_time is None
            ):
                session.client_hello_time = time
                self._client_hello(body)
            elif (
                body[0] == HANDSHAKE_SERVER_HELLO
                and not from_client
                and session.server_hello_time is None
            ):
                session.server_hello_time = time
                self._server_hello(body)
        elif kind == RECORD_ALERT:
            session.alerts.append((from_client, number))
        elif kind == RECORD_APPLICATION_DATA and from_client:
            self._data_records += 1
            # TLS 1.3 sends the client's Finished as application data; its data comes next.
            needed = 2 if session.version == 0x0304 else 1
            if self._data_records >= needed and session.first_data_time is None:
                session.first_data_time = time
                self._done[True] = True
        if (
            not from_client
            and session.server_hello_time is not None
            and kind == RECORD_APPLICATION_DATA
        ):
            self._done[False] = True

    def _client_hello(self, body: bytes) -> None:
        session = self.session
        try:
            pos = 4 + 2 + 32  # handshake header, legacy_version, random
            pos += 1 + body[pos]  # session id
            (suites,) = struct.unpack_from("!H", body, pos)
            pos += 2 + suites
            pos += 1 + body[pos]  # compression methods
            (version,) = struct.unpack_from("!H", body, 4)
            session.offered_versions = [version]
            for code, value in _extensions(body, pos):
                if code == EXTENSION_SERVER_NAME and len(value) > 5:
                    (length,) = struct.unpack_from("!H", value, 3)
                    session.server_name = value[5 : 5 + length].decode("ascii", "replace")
                elif code == EXTENSION_SUPPORTED_VERSIONS and value:
                    session.offered_versions = [
                        struct.unpack_from("!H", value, 1 + i)[0] for i in range(0, value[0], 2)
                    ]
                elif code == EXTENSION_ALPN and len(value) > 2:
                    session.alpn = _alpn(value[2:])
        except (IndexError, struct.error):
            session.malformed = "ClientHello does not parse"

    def _server_hello(self, body: bytes) -> None:
        session = self.session
        try:
            (version,) = struct.unpack_from("!H", body, 4)
            pos = 4 + 2 + 32
            pos += 1 + body[pos]
            (session.cipher_suite,) = struct.unpack_from("!H", body, pos)
            pos += 3
            session.version = version
            for code, value in _extensions(body, pos):
                if code == EXTENSION_SUPPORTED_VERSIONS and len(value) == 2:
                    (session.version,) = struct.unpack("!H", value)
        except (IndexError, struct.error):
            session.malformed = "ServerHello does not parse"

    def hole(self, from_client: bool, hole: Hole) -> None:
        self._done[from_client] = True

    def end(self) -> None:
        pass


def _extensions(body: bytes, pos: int) -> list[tuple[int, bytes]]:
    if pos + 2 > len(body):
        return []
    (total,) = struct.unpack_from("!H", body, pos)
    pos += 2
    end = min(len(body), pos + total)
    found = []
    while pos + 4 <= end:
        code, length = struct.unpack_from("!HH", body, pos)
        found.append((code, body[pos + 4 : pos + 4 + length]))
        pos += 4 + length
    return found


def _alpn(data: bytes) -> list[str]:
    names = []
    pos = 0
    while pos < len(data):
        length = data[pos]
        names.append(data[pos + 1 : pos + 1 + length].decode("ascii", "replace"))
        pos += 1 + length
    return names
