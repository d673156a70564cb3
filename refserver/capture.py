"""``refserver --capture FILE``: the publishers' connections, written as a pcapng file.

No privilege is needed and nothing is sniffed: each accepted connection's protocol is wrapped,
and what it reads and writes goes through :class:`wire.pcapng.PcapngRecorder` (IP packets with
made-up TCP headers) into the file, which ``camsim pcap inspect`` and ``replay`` read. The RTMPS
listener starts TLS on the accepted connection (``loop.start_tls``), under the recording: its
connections are recorded as the TLS bytes that crossed the socket, as a sniffer would see them
(``inspect`` shows the TLS version, server name and handshake timing, not the publish). refserver
stands alone, so this is its own small adapter; camsim's commands have the same in
:mod:`camsim.pcap.tap`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, cast

from wire.asyncio.transport import ForwardingTransport
from wire.pcapng import PcapngRecorder, RecordedConnection

ProtocolFactory = Callable[[], asyncio.BaseProtocol]


class CaptureFile:
    """The open pcapng file of one server."""

    def __init__(self, path: Path) -> None:
        self.recorder = PcapngRecorder("refserver")
        self._file: BinaryIO | None = path.open("wb")
        self._file.write(self.recorder.header())

    def write(self, blocks: bytes) -> None:
        if self._file is not None and blocks:
            self._file.write(blocks)

    def server(self, factory: ProtocolFactory) -> ProtocolFactory:
        """``factory`` with every connection it serves recorded (the peer is the client)."""
        return lambda: _RecordingProtocol(self, factory())

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class _RecordingTransport(ForwardingTransport):
    # loop.start_tls accepts it: TLS then runs over it, its records recorded both ways, because
    # set_protocol below puts the TLS protocol behind the recording instead of around it.
    _start_tls_compatible = True

    def __init__(
        self,
        transport: asyncio.Transport,
        capture: CaptureFile,
        connection: RecordedConnection,
        recording: _RecordingProtocol,
    ) -> None:
        super().__init__(transport)
        self._capture = capture
        self._connection = connection
        self._recording = recording

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self._capture.write(self._connection.data(time.time_ns(), False, bytes(data)))
        self._transport.write(data)

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._recording.inner = protocol

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._recording.inner


class _RecordingProtocol(asyncio.Protocol):
    def __init__(self, capture: CaptureFile, inner: asyncio.BaseProtocol) -> None:
        self._capture = capture
        self.inner = inner
        """The protocol served: the session, or the TLS protocol once start_tls put it there."""
        self._connection: RecordedConnection | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.Transport, transport)  # uvloop's: no asyncio class
        local = transport.get_extra_info("sockname") or ("127.0.0.1", 0)
        peer = transport.get_extra_info("peername") or ("127.0.0.1", 0)
        self._connection = self._capture.recorder.connection(
            (str(peer[0]), int(peer[1])), (str(local[0]), int(local[1]))
        )
        self._capture.write(self._connection.open(time.time_ns()))
        recorded = _RecordingTransport(transport, self._capture, self._connection, self)
        self.inner.connection_made(recorded)

    def data_received(self, data: bytes) -> None:
        if self._connection is not None:
            self._capture.write(self._connection.data(time.time_ns(), True, data))
        inner = self.inner
        if isinstance(inner, asyncio.BufferedProtocol):  # the TLS protocol reads this way
            view = memoryview(data)
            while view:
                buffer = memoryview(inner.get_buffer(len(view))).cast("B")
                size = min(len(buffer), len(view))
                buffer[:size] = view[:size]
                inner.buffer_updated(size)
                view = view[size:]
        else:
            inner.data_received(data)  # type: ignore[attr-defined]

    def eof_received(self) -> bool | None:
        return self.inner.eof_received()  # type: ignore[attr-defined,no-any-return]

    def connection_lost(self, exc: Exception | None) -> None:
        if self._connection is not None:
            self._capture.write(self._connection.close(time.time_ns(), True))
        self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()
