"""A raw RTMP client for the suite: every byte and message of one connection, under control.

:class:`RtmpProbe` speaks RTMP on :class:`wire.rtmp.ChunkWriter` and :class:`wire.rtmp.ChunkReader`
directly rather than through :class:`wire.rtmp.RtmpClientConnection`, because the cases need
what an encoder never does on purpose: hold C2 back, send C0 alone, announce a window, change
the chunk size between two frames, ping. It records every message the server sends with the
time it arrived, and answers only what a client must answer (a PingRequest).
"""

from __future__ import annotations

import asyncio
import os
import ssl
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from urllib.parse import urlsplit

from wire.amf0 import Amf0Error, Amf0Value
from wire.rtmp import ChunkReader, ChunkWriter, RtmpError, RtmpMessage
from wire.rtmp.handshake import (
    CLIENT_VERSION,
    DIGEST_SIZE,
    FP_KEY_TEXT_SIZE,
    GENUINE_FMS_KEY,
    GENUINE_FP_KEY,
    HANDSHAKE_SIZE,
    RANDOM_SIZE,
    RTMP_VERSION,
    SCHEMA0_DIGEST_BASE,
    SCHEMA1_DIGEST_BASE,
    digest_position,
    find_digest,
    make_digested_packet,
    make_signed_response,
)
from wire.rtmp.messages import (
    Command,
    DataMessage,
    MessageType,
    SetChunkSize,
    UserControl,
    UserControlType,
    WindowAckSize,
    to_message,
)

RTMP_PORT = 1935
RTMPS_PORT = 443
"""FFmpeg's default for rtmps://, and what the large platforms listen on."""

CSID_CONTROL = 2
CSID_COMMAND = 3
CSID_AUDIO = 4
CSID_VIDEO = 6
CSID_STREAM = 8
"""Chunk stream ids as FFmpeg assigns them."""

MAX_RECORDED_BYTES = 8 * 1024 * 1024
"""A server that floods a probe is not followed further: the probe closes."""


class ProbeError(Exception):
    """The probe could not reach the server (TCP, TLS); one line saying why."""


@dataclass(frozen=True)
class Endpoint:
    """Where the suite publishes: ``rtmp[s]://host[:port]/app``."""

    url: str
    host: str
    port: int
    app: str
    tls: bool
    ssl_context: ssl.SSLContext | None = None

    @classmethod
    def parse(cls, url: str, ssl_context: ssl.SSLContext | None = None) -> Endpoint:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("rtmp", "rtmps"):
            raise ValueError(f"{url}: the scheme must be rtmp:// or rtmps://")
        if not parts.hostname:
            raise ValueError(f"{url}: no host")
        try:
            port = parts.port
        except ValueError as exc:
            raise ValueError(f"{url}: {exc}") from None
        app = parts.path.strip("/")
        if not app:
            raise ValueError(f"{url}: no application (rtmp://host/app)")
        tls = scheme == "rtmps"
        default = RTMPS_PORT if tls else RTMP_PORT
        return cls(url, parts.hostname, port or default, app, tls, ssl_context)

    @property
    def tc_url(self) -> str:
        scheme = "rtmps" if self.tls else "rtmp"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}/{self.app}"

    def publish_url(self, name: str) -> str:
        """The URL camsim's encoder publishes ``name`` to (a query stays on the name)."""
        return f"{self.tc_url}/{name}"


class HandshakeStyle(Enum):
    SIMPLE = "simple"
    """C1 with a zero version field (RTMP 1.0 §5.2.3)."""
    COMPLEX = "complex"
    """C1 with Flash Player's version and digest at base 8 (schema 1), as FFmpeg sends."""
    COMPLEX_SCHEMA0 = "complex, schema 0"
    """The digest block second, at base 772."""


@dataclass
class HandshakeRecord:
    """One handshake as the probe saw it."""

    style: HandshakeStyle
    c1: bytes = b""
    s0: int | None = None
    s1: bytes = b""
    s2: bytes = b""
    c1_digest: bytes = b""
    before_c1: int | None = None
    """Bytes the server sent while it had C0 only (held back on purpose)."""
    before_c2: int | None = None
    """Bytes the server sent past S0, S1 and S2 before C2 was sent (held back on purpose)."""
    early: bytes = b""
    """Those bytes."""
    error: str = ""

    @property
    def complete(self) -> bool:
        return self.s0 is not None and len(self.s2) == HANDSHAKE_SIZE


@dataclass
class Received:
    """A message from the server and when it arrived (monotonic seconds)."""

    at: float
    message: RtmpMessage
    command: Command | None = None
    data: DataMessage | None = None

    @property
    def type_id(self) -> int:
        return self.message.type_id


def status_info(received: Received) -> dict[str, Amf0Value] | None:
    """The info object of an ``onStatus`` (or of a ``_result``/``_error``), if it has one."""
    command = received.command
    if command is None:
        return None
    for value in command.arguments:
        if isinstance(value, dict):
            return value
    return None


@dataclass
class ProbeLog:
    """What one probe connection saw; kept in the observation for the cases."""

    label: str
    handshake: HandshakeRecord | None = None
    received: list[Received] = field(default_factory=list)
    bytes_sent: int = 0
    opened_at: float = 0.0
    closed_by_server_at: float | None = None
    error: str = ""
    """A protocol error in what the server sent (the probe stopped reading)."""
    sent: list[tuple[float, str]] = field(default_factory=list)
    """(time, what) for each step the probe took, for failure messages."""
    calls: list[tuple[float, str]] = field(default_factory=list)
    """(transaction id, command name) of each command the probe sent."""

    def answer_to(self, method: str) -> Received | None:
        """The ``_result`` or ``_error`` to the first ``method`` command the probe sent."""
        transaction = next((t for t, name in self.calls if name == method), None)
        if transaction is None:
            return None
        return next(
            (
                r
                for r in self.received
                if r.command is not None
                and r.command.name in ("_result", "_error")
                and r.command.transaction_id == transaction
            ),
            None,
        )

    def commands(self, name: str | None = None) -> list[Received]:
        return [
            r
            for r in self.received
            if r.command is not None and (name is None or r.command.name == name)
        ]

    def of_type(self, type_id: int) -> list[Received]:
        return [r for r in self.received if r.type_id == type_id]

    def statuses(self) -> list[tuple[Received, dict[str, Amf0Value]]]:
        found = []
        for received in self.commands("onStatus"):
            info = status_info(received)
            if info is not None:
                found.append((received, info))
        return found

    def index_of(self, received: Received) -> int:
        return self.received.index(received)


class RtmpProbe:
    """One client connection; ``async with RtmpProbe(endpoint, "label") as probe``."""

    def __init__(self, endpoint: Endpoint, label: str, *, timeout: float = 10.0) -> None:
        self.endpoint = endpoint
        self.timeout = timeout
        self.log = ProbeLog(label)
        self.writer = ChunkWriter()
        self.reader = ChunkReader()
        self._stream_reader: asyncio.StreamReader | None = None
        self._stream_writer: asyncio.StreamWriter | None = None
        self._raw = bytearray()
        self._chunked = False
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._next_transaction = 1
        self._received_bytes = 0

    async def __aenter__(self) -> RtmpProbe:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @property
    def closed(self) -> bool:
        return self.log.closed_by_server_at is not None

    # -- transport --------------------------------------------------------------------------------

    async def open(self) -> None:
        endpoint = self.endpoint
        context = endpoint.ssl_context if endpoint.tls else None
        if endpoint.tls and context is None:
            context = ssl.create_default_context()
        try:
            async with asyncio.timeout(self.timeout):
                self._stream_reader, self._stream_writer = await asyncio.open_connection(
                    endpoint.host,
                    endpoint.port,
                    ssl=context,
                    server_hostname=endpoint.host if context is not None else None,
                    limit=1 << 20,
                )
        except TimeoutError:
            raise ProbeError(f"{endpoint.url}: no connection within {self.timeout:g} s") from None
        except ssl.SSLCertVerificationError as exc:
            raise ProbeError(
                f"{endpoint.url}: TLS certificate rejected: {exc.verify_message} "
                "(--ca to trust its CA, --insecure not to verify)"
            ) from None
        except (OSError, ssl.SSLError) as exc:
            raise ProbeError(f"{endpoint.url}: {exc.strerror or exc}") from None
        self.log.opened_at = time.monotonic()
        self._task = asyncio.create_task(self._read())

    async def close(self) -> None:
        writer = self._stream_writer
        if writer is not None and not writer.is_closing():
            writer.close()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if writer is not None:
            try:
                async with asyncio.timeout(2):
                    await writer.wait_closed()
            except (TimeoutError, OSError, ssl.SSLError):
                pass

    def write(self, data: bytes) -> None:
        writer = self._stream_writer
        if writer is None or writer.is_closing() or self.closed:
            return
        writer.write(data)
        self.log.bytes_sent += len(data)

    async def drain(self) -> None:
        writer = self._stream_writer
        if writer is None or writer.is_closing() or self.closed:
            return
        try:
            async with asyncio.timeout(self.timeout):
                await writer.drain()
        except (TimeoutError, OSError):
            self._server_closed()

    def step(self, what: str) -> None:
        self.log.sent.append((time.monotonic(), what))

    async def _read(self) -> None:
        assert self._stream_reader is not None
        try:
            while True:
                data = await self._stream_reader.read(65536)
                if not data:
                    break
                self._received_bytes += len(data)
                self._raw += data
                if self._chunked:
                    self._parse()
                self._changed.set()
                if self._received_bytes > MAX_RECORDED_BYTES or self.log.error:
                    break
        except (OSError, ssl.SSLError):
            pass
        self._server_closed()

    def _server_closed(self) -> None:
        if self.log.closed_by_server_at is None:
            self.log.closed_by_server_at = time.monotonic()
        self._changed.set()

    def _parse(self) -> None:
        data = bytes(self._raw)
        self._raw.clear()
        now = time.monotonic()
        try:
            for message in self.reader.messages(data):
                self._on_message(Received(now, message))
        except RtmpError as exc:
            self.log.error = f"malformed RTMP from the server: {exc}"

    def _on_message(self, received: Received) -> None:
        message = received.message
        if message.type_id in (MessageType.COMMAND_AMF0, MessageType.COMMAND_AMF3):
            body = message.payload[1:] if message.type_id == MessageType.COMMAND_AMF3 else None
            try:
                received.command = Command.parse(body if body is not None else message.payload)
            except (RtmpError, Amf0Error):
                received.command = None
        elif message.type_id == MessageType.DATA_AMF0:
            try:
                received.data = DataMessage.parse(message.payload)
            except (RtmpError, Amf0Error):
                received.data = None
        elif message.type_id == MessageType.USER_CONTROL:
            try:
                control = UserControl.parse(message.payload)
            except RtmpError:
                control = None
            # A client answers the server's ping (RTMP 1.0 §7.1.7).
            if control is not None and control.event_type == UserControlType.PING_REQUEST:
                self.send(CSID_CONTROL, UserControl.ping_response(control.value))
        self.log.received.append(received)

    # -- waiting ----------------------------------------------------------------------------------

    async def wait_for(
        self, predicate: Callable[[Received], bool], timeout: float | None = None, start: int = 0
    ) -> Received | None:
        """The first message from index ``start`` on that ``predicate`` accepts, or None when
        the server closes or ``timeout`` passes first."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        index = start
        while True:
            received = self.log.received
            while index < len(received):
                if predicate(received[index]):
                    return received[index]
                index += 1
            remaining = deadline - time.monotonic()
            if self.closed or self.log.error or remaining <= 0:
                return None
            self._changed.clear()
            try:
                async with asyncio.timeout(remaining):
                    await self._changed.wait()
            except TimeoutError:
                return None

    async def wait_closed(self, timeout: float) -> bool:
        """True when the server closed the connection within ``timeout``."""
        deadline = time.monotonic() + timeout
        while not self.closed:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self._changed.clear()
            try:
                async with asyncio.timeout(remaining):
                    await self._changed.wait()
            except TimeoutError:
                return self.closed
        return True

    async def _raw_bytes(self, count: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while len(self._raw) < count:
            remaining = deadline - time.monotonic()
            if self.closed or remaining <= 0:
                return False
            self._changed.clear()
            try:
                async with asyncio.timeout(remaining):
                    await self._changed.wait()
            except TimeoutError:
                return len(self._raw) >= count
        return True

    # -- handshake --------------------------------------------------------------------------------

    async def handshake(
        self,
        style: HandshakeStyle = HandshakeStyle.COMPLEX,
        *,
        hold_c1: float = 0.0,
        hold_c2: float = 0.0,
    ) -> HandshakeRecord:
        """Run the handshake; with ``hold_c1``/``hold_c2`` the probe waits that long before
        sending C1 (after C0) or C2 (after S2) and records what the server sent meanwhile."""
        record = HandshakeRecord(style)
        self.log.handshake = record
        random_bytes = os.urandom(RANDOM_SIZE)
        if style is HandshakeStyle.SIMPLE:
            record.c1 = struct.pack(">II", int(time.monotonic() * 1000) & 0xFFFFFFFF, 0)
            record.c1 += random_bytes
        else:
            base = SCHEMA1_DIGEST_BASE if style is HandshakeStyle.COMPLEX else SCHEMA0_DIGEST_BASE
            key = GENUINE_FP_KEY[:FP_KEY_TEXT_SIZE]
            record.c1 = make_digested_packet(0, CLIENT_VERSION, random_bytes, key, base)
            position = digest_position(record.c1, base)
            record.c1_digest = record.c1[position : position + DIGEST_SIZE]
        c0 = bytes((RTMP_VERSION,))
        if hold_c1:
            self.step("C0 alone")
            self.write(c0)
            await asyncio.sleep(hold_c1)
            record.before_c1 = len(self._raw)
            self.step("C1")
            self.write(record.c1)
        else:
            self.step("C0 and C1")
            self.write(c0 + record.c1)
        await self.drain()
        if not await self._raw_bytes(1 + 2 * HANDSHAKE_SIZE, self.timeout):
            got = len(self._raw)
            record.error = (
                "the server closed the connection during the handshake"
                if self.closed
                else f"S0, S1 and S2 did not arrive within {self.timeout:g} s ({got} bytes)"
            )
            if got:
                record.s0 = self._raw[0]
            return record
        record.s0 = self._raw[0]
        record.s1 = bytes(self._raw[1 : 1 + HANDSHAKE_SIZE])
        record.s2 = bytes(self._raw[1 + HANDSHAKE_SIZE : 1 + 2 * HANDSHAKE_SIZE])
        del self._raw[: 1 + 2 * HANDSHAKE_SIZE]
        if hold_c2:
            await asyncio.sleep(hold_c2)
            record.before_c2 = len(self._raw)
            record.early = bytes(self._raw[:64])
        self.step("C2")
        self.write(self._c2(record))
        # Anything after S2 is chunk stream data (the early bytes too: they are judged, and
        # parsed as the server meant them).
        self._chunked = True
        if self._raw:
            self._parse()
        return record

    def _c2(self, record: HandshakeRecord) -> bytes:
        if record.style is not HandshakeStyle.SIMPLE and record.s1[4:8] != bytes(4):
            found = find_digest(record.s1, GENUINE_FMS_KEY[:36])
            if found is not None:
                position = found[1]
                digest = record.s1[position : position + DIGEST_SIZE]
                random_bytes = os.urandom(HANDSHAKE_SIZE - DIGEST_SIZE)
                return make_signed_response(digest, GENUINE_FP_KEY, random_bytes)
        return record.s1  # the echo of RTMP 1.0 §5.2.4

    # -- messages ---------------------------------------------------------------------------------

    def send(
        self,
        csid: int,
        payload: SetChunkSize | WindowAckSize | UserControl | Command | DataMessage,
        *,
        stream_id: int = 0,
        timestamp: int = 0,
    ) -> None:
        self.send_message(csid, to_message(payload, stream_id=stream_id, timestamp=timestamp))

    def send_message(self, csid: int, message: RtmpMessage) -> None:
        self.write(self.writer.write(csid, message))

    def set_chunk_size(self, size: int) -> None:
        """Announce ``size`` and use it from the next message on (RTMP 1.0 §5.4.1)."""
        self.step(f"Set Chunk Size {size}")
        self.send(CSID_CONTROL, SetChunkSize(size))
        self.writer.set_chunk_size(size)

    def call(
        self,
        name: str,
        *arguments: Amf0Value,
        command_object: Amf0Value = None,
        stream_id: int = 0,
        csid: int = CSID_COMMAND,
    ) -> float:
        """Send a command with the next transaction id; returns that id."""
        transaction = float(self._next_transaction)
        self._next_transaction += 1
        self.step(name)
        self.log.calls.append((transaction, name))
        command = Command(name, transaction, command_object, list(arguments))
        self.send(csid, command, stream_id=stream_id)
        return transaction

    async def answer(self, transaction: float, timeout: float | None = None) -> Received | None:
        """The ``_result`` or ``_error`` to ``transaction``."""
        return await self.wait_for(
            lambda r: (
                r.command is not None
                and r.command.name in ("_result", "_error")
                and r.command.transaction_id == transaction
            ),
            timeout,
        )

    async def status(
        self, timeout: float | None = None, start: int = 0, stream_id: int | None = None
    ) -> Received | None:
        """The next ``onStatus`` (on ``stream_id`` when given)."""
        return await self.wait_for(
            lambda r: (
                r.command is not None
                and r.command.name == "onStatus"
                and (stream_id is None or r.message.stream_id == stream_id)
            ),
            timeout,
            start,
        )
