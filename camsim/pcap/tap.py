"""``--capture FILE`` for camsim's commands: what they send and receive, as a pcapng file.

Nothing is sniffed and no privilege is needed: the application hands its own bytes to a
:class:`CaptureTap`, which writes them as IP packets with made-up TCP and UDP headers
(:class:`wire.pcapng.PcapngRecorder`, through :class:`~camsim.pcap.writer.CaptureWriter`).
``inspect`` and ``replay`` read the result like any capture. TLS connections (RTSPS, RTMPS) are
recorded as the cleartext the application reads and writes, on their own ports: a capture of
what was said, not of the ciphertext.

Servers wrap their protocol factory (:meth:`CaptureTap.server`), clients their transport
(:meth:`CaptureTap.client`), camera UDP senders their sink (:meth:`CaptureTap.udp_sink`).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, cast

from camsim.pcap.writer import Address, CapturedConnection, CaptureWriter
from wire.asyncio.transport import ForwardingTransport

ProtocolFactory = Callable[[], asyncio.BaseProtocol]


class RtpSink(Protocol):
    """What a camera's RTP sender writes to (:class:`camsim.camera.sender.RtpSink`)."""

    def send_rtp(self, packets: Any, sequence: int, timestamp: int, ssrc: int) -> bool: ...

    def send_rtcp(self, data: bytes) -> None: ...


class CaptureTap:
    """One capture file shared by every connection and socket of a process."""

    def __init__(self, path: str | Path, *, application: str = "camsim") -> None:
        self.writer = CaptureWriter(path, application=application)

    def server(self, factory: ProtocolFactory) -> ProtocolFactory:
        """A protocol factory whose connections (accepted: the peer is the client) are
        recorded."""
        return lambda: _RecordingProtocol(self.writer, factory(), server_side=True)

    def client(self, transport: asyncio.Transport) -> TappedTransport:
        """A transport of an outgoing connection, recording what is written to it; call
        :meth:`TappedTransport.received` with what arrives."""
        local, peer = _addresses(transport)
        return TappedTransport(transport, self.writer.connection(local, peer), from_client=True)

    def udp_sink(self, sink: RtpSink, local: Address) -> RtpSink:
        """A camera's UDP sink that records every RTP and RTCP datagram it sends."""
        return _RecordingSink(sink, self.writer, local)

    def sinks_of(self, rtp_socket: socket.socket) -> Callable[[Any], Any]:
        """The ``tap`` of a camera's :class:`~camsim.camera.udp.UdpMedia`: every sink it makes
        records, from the address of its RTP socket."""
        local = socket_address(rtp_socket)
        return lambda sink: self.udp_sink(sink, local)

    def close(self) -> None:
        self.writer.close()


class TappedTransport(ForwardingTransport):
    """A transport whose writes are recorded; everything else is the transport's own."""

    def __init__(
        self, transport: asyncio.Transport, connection: CapturedConnection, *, from_client: bool
    ) -> None:
        super().__init__(transport)
        self._connection = connection
        self._from_client = from_client

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self._connection.sent(self._from_client, bytes(data))
        self._transport.write(data)

    def over(self, transport: asyncio.Transport) -> TappedTransport:
        """The same recording around another transport (TLS started on this one)."""
        return TappedTransport(transport, self._connection, from_client=self._from_client)

    def received(self, data: bytes) -> None:
        """Bytes the other side sent."""
        self._connection.sent(not self._from_client, data)

    def closed(self) -> None:
        self._connection.close(self._from_client)


class _RecordingProtocol(asyncio.Protocol):
    """Around an accepted connection's protocol: records both directions."""

    def __init__(
        self, writer: CaptureWriter, inner: asyncio.BaseProtocol, *, server_side: bool
    ) -> None:
        self._writer = writer
        self._inner = inner
        self._server_side = server_side
        self._tapped: TappedTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.Transport, transport)  # uvloop's: no asyncio class
        local, peer = _addresses(transport)
        client, server = (peer, local) if self._server_side else (local, peer)
        connection = self._writer.connection(client, server)
        self._tapped = TappedTransport(transport, connection, from_client=not self._server_side)
        self._inner.connection_made(self._tapped)

    def data_received(self, data: bytes) -> None:
        if self._tapped is not None:
            self._tapped.received(data)
        self._inner.data_received(data)  # type: ignore[attr-defined]

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()  # type: ignore[attr-defined,no-any-return]

    def connection_lost(self, exc: Exception | None) -> None:
        if self._tapped is not None:
            self._tapped.closed()
        self._inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()


class _RecordingSink:
    def __init__(self, sink: Any, writer: CaptureWriter, local: Address) -> None:
        self._sink = sink
        self._writer = writer
        self._rtp_from = local
        self._rtcp_from = (local[0], local[1] + 1)

    def send_rtp(self, packets: Any, sequence: int, timestamp: int, ssrc: int) -> bool:
        sent = bool(self._sink.send_rtp(packets, sequence, timestamp, ssrc))
        if sent:
            for index, (head, payload) in enumerate(packets):
                header = _rtp_header(head, (sequence + index) & 0xFFFF, timestamp, ssrc)
                self._writer.udp(self._rtp_from, self._sink.rtp_address, header + bytes(payload))
        return sent

    def send_rtcp(self, data: bytes) -> None:
        self._sink.send_rtcp(data)
        self._writer.udp(self._rtcp_from, self._sink.rtcp_address, data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sink, name)


def _rtp_header(head: int, sequence: int, timestamp: int, ssrc: int) -> bytes:
    return (
        head.to_bytes(2, "big")
        + sequence.to_bytes(2, "big")
        + timestamp.to_bytes(4, "big")
        + ssrc.to_bytes(4, "big")
    )


def _addresses(transport: asyncio.BaseTransport) -> tuple[Address, Address]:
    local = transport.get_extra_info("sockname") or ("127.0.0.1", 0)
    peer = transport.get_extra_info("peername") or ("127.0.0.1", 0)
    return (str(local[0]), int(local[1])), (str(peer[0]), int(peer[1]))


def socket_address(sock: socket.socket) -> Address:
    """(host, port) a socket is bound to."""
    name = sock.getsockname()
    return str(name[0]), int(name[1])
