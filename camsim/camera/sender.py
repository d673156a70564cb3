"""RTP to one client: the per-stream header state, and the two ways packets leave.

An :class:`RtpSender` is one stream of one session: its own SSRC, sequence numbers and timestamp
origin (RFC 3550 §5.1: both start random), the counters of its sender reports, and a
:class:`RtpSink` that is either interleaved on the RTSP connection (RFC 2326 §10.12) or the
server's shared UDP sockets. Planned payloads are shared by every client and never copied: a sink
writes each client's 12-byte header in front of them (one ``writev``-style join for TCP, one
``sendmsg`` with two buffers per datagram for UDP).
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass
from typing import Protocol

from camsim.camera.plan import Wire
from wire import speedups
from wire.rtp import (
    RtcpBye,
    RtcpPacket,
    RtcpSdes,
    RtcpSenderReport,
    SdesChunk,
    SdesItem,
    serialize_compound,
)
from wire.rtp.rtcp import SDES_CNAME

# The fixed header after its first two bytes: sequence number, timestamp, SSRC (RFC 3550 §5.1).
_RTP_HEADER = struct.Struct("!HHII")
# The same behind the interleaved frame header: "$", channel, length (RFC 2326 §10.12).
_FRAMED_RTP_HEADER = struct.Struct("!BBHHHII")
_INTERLEAVED_HEADER = struct.Struct("!BBH")
INTERLEAVED_MAGIC = 0x24
RTP_HEADER_SIZE = _RTP_HEADER.size
DEFAULT_MAX_BUFFERED = 2 * 1024 * 1024
"""Bytes queued for a TCP client beyond which its bursts are dropped until it catches up."""

Address = tuple[str, int]


class RtpSink(Protocol):
    """Where one stream's RTP and RTCP go."""

    dropped: int

    def send_rtp(self, packets: Wire, sequence: int, timestamp: int, ssrc: int) -> bool:
        """Send packets numbered from ``sequence``; False when they were dropped."""

    def send_rtcp(self, data: bytes) -> None:
        """Send one compound RTCP packet."""


class StreamWriter(Protocol):
    """Where an RTSP connection's bytes go, in order: an ``asyncio.WriteTransport``, or the
    ordered output of a :class:`~camsim.camera.connection.CameraConnection` in front of one."""

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Queue ``data`` after everything written before."""

    def is_closing(self) -> bool:
        """True once nothing more can be written."""

    def get_write_buffer_size(self) -> int:
        """Bytes written and not yet taken by the peer."""


class InterleavedSink:
    """``$``-framed packets on the RTSP connection; a client that stops reading loses bursts."""

    def __init__(
        self,
        transport: StreamWriter,
        rtp_channel: int,
        rtcp_channel: int,
        *,
        max_buffered: int = DEFAULT_MAX_BUFFERED,
    ) -> None:
        self.transport = transport
        self.rtp_channel = rtp_channel
        self.rtcp_channel = rtcp_channel
        self.max_buffered = max_buffered
        self.dropped = 0

    def send_rtp(self, packets: Wire, sequence: int, timestamp: int, ssrc: int) -> bool:
        transport = self.transport
        if transport.is_closing() or transport.get_write_buffer_size() > self.max_buffered:
            self.dropped += len(packets)
            return False
        transport.write(frame_interleaved(packets, self.rtp_channel, sequence, timestamp, ssrc))
        return True

    def send_rtcp(self, data: bytes) -> None:
        if not self.transport.is_closing():
            header = _INTERLEAVED_HEADER.pack(INTERLEAVED_MAGIC, self.rtcp_channel, len(data))
            self.transport.write(header + data)


def _frame_interleaved_py(
    packets: Wire, channel: int, sequence: int, timestamp: int, ssrc: int
) -> bytes:
    """A burst as one write on the RTSP connection: per packet the interleaved frame header
    (RFC 2326 §10.12), the RTP fixed header numbered from ``sequence`` (RFC 3550 §5.1) and the
    shared payload. Out-of-range numbers raise :class:`struct.error`."""
    pack = _FRAMED_RTP_HEADER.pack
    parts: list[bytes | bytearray | memoryview] = []
    for head, payload in packets:
        size = RTP_HEADER_SIZE + len(payload)
        parts.append(pack(INTERLEAVED_MAGIC, channel, size, head, sequence, timestamp, ssrc))
        parts.append(payload)
        sequence = (sequence + 1) & 0xFFFF
    return b"".join(parts)


class UdpSink:
    """Datagrams from the server's shared RTP and RTCP sockets; a full socket buffer drops."""

    def __init__(
        self, rtp_socket: socket.socket, rtcp_socket: socket.socket, rtp: Address, rtcp: Address
    ) -> None:
        self._rtp_socket = rtp_socket
        self._rtcp_socket = rtcp_socket
        self.rtp_address = rtp
        self.rtcp_address = rtcp
        self.dropped = 0

    def send_rtp(self, packets: Wire, sequence: int, timestamp: int, ssrc: int) -> bool:
        sendmsg = self._rtp_socket.sendmsg
        pack = _RTP_HEADER.pack
        address = self.rtp_address
        for index, (head, payload) in enumerate(packets):
            try:
                sendmsg((pack(head, sequence, timestamp, ssrc), payload), (), 0, address)
            except (BlockingIOError, InterruptedError):
                self.dropped += len(packets) - index
                return False
            except OSError:  # e.g. ICMP port unreachable reported on a later send
                self.dropped += 1
            sequence = (sequence + 1) & 0xFFFF
        return True

    def send_rtcp(self, data: bytes) -> None:
        try:
            self._rtcp_socket.sendto(data, self.rtcp_address)
        except OSError:
            self.dropped += 1


@dataclass(frozen=True, slots=True)
class TimestampJumpPlan:
    """Add ``ticks`` to every RTP timestamp sent from loop time ``due`` on."""

    due: float
    ticks: int


class RtpSender:
    """One stream of one session."""

    def __init__(
        self,
        track: int,
        clock_rate: int,
        ssrc: int,
        sink: RtpSink,
        *,
        first_sequence: int,
        timestamp_offset: int,
        cname: str,
    ) -> None:
        self.track = track
        self.clock_rate = clock_rate
        self.ssrc = ssrc
        self.sink = sink
        self.sequence = first_sequence & 0xFFFF  # of the next packet
        self.timestamp_offset = timestamp_offset
        self.cname = cname
        self.packet_count = 0
        self.octet_count = 0
        self.start: tuple[int, int] | None = None  # (loop, burst) of the first burst to send
        self.jump: TimestampJumpPlan | None = None

    def timestamp(self, ticks: int) -> int:
        """The RTP timestamp of media time ``ticks`` (in the camera's continuous clock)."""
        return (ticks + self.timestamp_offset) & 0xFFFFFFFF

    def deliver(self, packets: Wire, ticks: int, due: float, octets: int) -> int:
        """Send one burst (``octets`` payload bytes); returns the packets handed to the sink."""
        jump = self.jump
        if jump is not None and due >= jump.due:
            self.timestamp_offset += jump.ticks
            self.jump = None
        timestamp = (ticks + self.timestamp_offset) & 0xFFFFFFFF
        if not self.sink.send_rtp(packets, self.sequence, timestamp, self.ssrc):
            return 0
        # Dropped bursts keep their sequence numbers unused: the client sees the loss.
        count = len(packets)
        self.sequence = (self.sequence + count) & 0xFFFF
        self.packet_count = (self.packet_count + count) & 0xFFFFFFFF
        self.octet_count = (self.octet_count + octets) & 0xFFFFFFFF
        return count

    def sender_report(self, ntp_timestamp: int, rtp_timestamp: int) -> list[RtcpPacket]:
        """SR and SDES CNAME, the compound packet every RTCP interval (RFC 3550 §6.1)."""
        report = RtcpSenderReport(
            self.ssrc, ntp_timestamp, rtp_timestamp, self.packet_count, self.octet_count
        )
        cname = SdesChunk(self.ssrc, [SdesItem(SDES_CNAME, self.cname.encode())])
        return [report, RtcpSdes([cname])]

    def send_report(self, ntp_timestamp: int, rtp_timestamp: int) -> None:
        self.sink.send_rtcp(serialize_compound(self.sender_report(ntp_timestamp, rtp_timestamp)))

    def send_bye(self, ntp_timestamp: int, rtp_timestamp: int, reason: bytes) -> None:
        """SR, SDES and BYE: a compound packet must still start with a report (§6.1)."""
        packets = self.sender_report(ntp_timestamp, rtp_timestamp)
        packets.append(RtcpBye([self.ssrc], reason))
        self.sink.send_rtcp(serialize_compound(packets))


_ext = speedups.extension("wire.rtp._send")
frame_interleaved = _ext.frame_interleaved if _ext is not None else _frame_interleaved_py
