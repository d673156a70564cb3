"""``camsim pcap inspect``: one pass over a capture, then the analysis of what it held.

:class:`Inspector` reads every record (:mod:`~camsim.pcap.capture`), decodes it
(:mod:`~camsim.pcap.packet`), and hands UDP datagrams to their flow and TCP segments to their
connection (:mod:`~camsim.pcap.connection`), whose content picks its analyser. The per-packet
path is a handful of ``struct`` calls and dictionary lookups; everything costlier waits for
:meth:`Inspector.result`, when the dialogs are known and each RTP stream can be analysed with the
media its SETUP negotiated.
"""

from __future__ import annotations

import struct
import time as clock
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from camsim.pcap.capture import CaptureFile
from camsim.pcap.classify import UDP_OTHER, UDP_RTCP, UDP_RTP, Protocol, udp_kind
from camsim.pcap.connection import (
    AnalyserFactory,
    ConnectionInfo,
    ConnectionSummary,
    StreamAnalyser,
    TcpConnection,
)
from camsim.pcap.findings import Finding, find_problems
from camsim.pcap.flow import Endpoint, FlowId
from camsim.pcap.http import HttpConnectionAnalyser, HttpExchange
from camsim.pcap.media import INTERESTING_FIRST_BYTE
from camsim.pcap.packet import (
    IPPROTO_UDP,
    LINKTYPE_ETHERNET,
    LINKTYPE_RAW,
    TCP_ACK,
    TCP_SYN,
    Buffer,
    DecodeCounters,
    PacketDecoder,
)
from camsim.pcap.rtmp import RtmpConnectionAnalyser, RtmpSession
from camsim.pcap.rtp import (
    META,
    ReceiverReportSeen,
    RtcpRecorder,
    RtpRecorder,
    RtpStreamReport,
    SenderReportSeen,
    Survey,
    analyse_stream,
)
from camsim.pcap.rtsp import (
    DialogRegistry,
    MediaBinding,
    RtspConnectionAnalyser,
    RtspDialog,
    TunnelLegAnalyser,
)
from camsim.pcap.tls import TlsConnectionAnalyser, TlsSession

_ETHERNET_IPV4_UDP_RTP = struct.Struct("!12xHBxHxxHxB2x4s4sHHH2xBB")
"""Ethernet type; IPv4 version/IHL, total length, flags/fragment offset, protocol, addresses;
UDP ports and length; the first two bytes of the payload."""
_IPV4_UDP_RTP = struct.Struct("!BxHxxHxB2x4s4sHHH2xBB")

MIN_UNBOUND_PACKETS = 8
"""An RTP-looking UDP flow no SETUP announced must hold this many packets of one SSRC..."""
MIN_IN_SEQUENCE = 0.8
"""...this share of them one sequence number after the previous, to be taken as RTP."""


@dataclass
class UdpFlow:
    """The datagrams from one endpoint to another."""

    source: Endpoint
    destination: Endpoint
    first_packet: int
    start: float
    packets: int = 0
    octets: int = 0
    other: int = 0
    """Datagrams that are neither RTP nor RTCP (NAT punch packets, STUN, DNS, ...)."""
    other_packets: list[int] = field(default_factory=list)
    rtp: RtpRecorder | None = None
    rtcp: RtcpRecorder | None = None

    @property
    def flow_id(self) -> FlowId:
        return FlowId("udp", self.source, self.destination)


@dataclass
class SsrcChange:
    flow: FlowId
    packet: int
    time: float
    previous: int
    ssrc: int


@dataclass
class InspectResult:
    """Everything ``inspect`` found in one capture."""

    path: Path
    format: str
    link_types: list[int]
    packets: int
    start: float
    end: float
    truncated: str | None
    decode: DecodeCounters
    fragmented: list[tuple[int, int]]
    dialogs: list[RtspDialog]
    rtp_streams: list[RtpStreamReport]
    ssrc_changes: list[SsrcChange]
    rtmp: list[RtmpSession]
    tls: list[TlsSession]
    http: list[HttpExchange]
    connections: list[ConnectionSummary]
    udp_flows: list[UdpFlow]
    findings: list[Finding] = field(default_factory=list)
    seconds: float = 0.0
    """How long the analysis took."""

    @property
    def duration(self) -> float:
        return self.end - self.start


class Inspector:
    """Feeds packets to flows and connections; builds the result at the end."""

    def __init__(self, *, keep_packets: bool = False) -> None:
        self.keep_packets = keep_packets
        """Keep every RTP packet and RTMP media message whole (for ``extract``), which also
        sends every packet the general way."""
        self.decoder = PacketDecoder()
        self.dialogs = DialogRegistry(keep_packets=keep_packets)
        self.rtmp: list[RtmpSession] = []
        self.tls: list[TlsSession] = []
        self.http: list[HttpExchange] = []
        self.connections: list[TcpConnection] = []
        self.udp: dict[tuple[bytes, int, bytes, int], UdpFlow] = {}
        self._tcp: dict[tuple[bytes, int, bytes, int], tuple[TcpConnection, int]] = {}
        self.packets = 0
        self._first_time: float | None = None
        self.start = 0.0
        self.end = 0.0
        self.factories: dict[Protocol, AnalyserFactory] = {
            Protocol.RTSP: self._analyser(RtspConnectionAnalyser),
            Protocol.RTSP_TUNNEL: self._analyser(TunnelLegAnalyser),
            Protocol.RTMP: lambda info: RtmpConnectionAnalyser(
                info, self.rtmp, keep_media=keep_packets
            ),
            Protocol.TLS: lambda info: TlsConnectionAnalyser(info, self.tls),
            Protocol.HTTP: lambda info: HttpConnectionAnalyser(info, self.http),
        }

    def _analyser(
        self, kind: Callable[[ConnectionInfo, DialogRegistry], StreamAnalyser]
    ) -> AnalyserFactory:
        return lambda info: kind(info, self.dialogs)

    def read(self, capture: CaptureFile) -> None:
        """Every packet of ``capture``, in file order.

        Most packets of a camera capture are RTP over UDP over IPv4 over Ethernet (or raw IP).
        Those are taken apart with one ``struct`` call and recorded here, inline, once their
        flow is known to carry RTP; every other packet goes through :meth:`_packet`, the
        general path of :class:`~camsim.pcap.packet.PacketDecoder`.
        """
        buffer = capture.buffer
        udp = self.udp
        ethernet = _ETHERNET_IPV4_UDP_RTP.unpack_from
        raw = _IPV4_UDP_RTP.unpack_from
        pack_meta = META.pack
        interesting = INTERESTING_FIRST_BYTE
        number = self.packets
        time = 0.0
        for time, link_type, offset, length in capture.records():
            number += 1
            if self.keep_packets:
                self._packet(link_type, buffer, offset, length, number, time)
                continue
            if link_type == LINKTYPE_ETHERNET and length >= _ETHERNET_IPV4_UDP_RTP.size:
                fields = ethernet(buffer, offset)
                ip = offset + 14
            elif link_type == LINKTYPE_RAW and length >= _IPV4_UDP_RTP.size:
                fields = (0x0800, *raw(buffer, offset))
                ip = offset
            else:
                self._packet(link_type, buffer, offset, length, number, time)
                continue
            (
                ethertype,
                version,
                total,
                fragment,
                protocol,
                src,
                dst,
                sport,
                dport,
                udp_length,
                first,
                second,
            ) = fields
            flow = udp.get((src, sport, dst, dport))
            if (
                ethertype != 0x0800
                or version != 0x45
                or protocol != IPPROTO_UDP
                or fragment & 0x3FFF
                or flow is None
                or flow.rtp is None
                or first != 0x80
                or 200 <= second <= 207
                or udp_length < 8 + 16
                or udp_length > total - 20
                or ip + total > offset + length
            ):
                self._packet(link_type, buffer, offset, length, number, time)
                continue
            start = ip + 28
            size = udp_length - 8
            flow.packets += 1
            flow.octets += size
            recorder = flow.rtp
            recorder.records += buffer[start : start + 16]
            if interesting[buffer[start + 12]]:
                recorder.payloads[recorder.count] = bytes(buffer[start + 12 : start + size])
            recorder.meta += pack_meta(number, time, size)
            recorder.count += 1
        self.packets = number
        self.end = time
        self.start = self._first_time if self._first_time is not None else 0.0

    def _packet(
        self, link_type: int, buffer: Buffer, offset: int, length: int, number: int, time: float
    ) -> None:
        """One packet the long way: any link type, IPv6, fragments, TCP, the first datagram
        of a flow."""
        if self._first_time is None:
            self._first_time = time
        segment = self.decoder.decode(link_type, buffer, offset, length, number)
        if segment is None:
            return
        protocol, src, sport, dst, dport, data, start, end, seq, ack, flags = segment
        if protocol == IPPROTO_UDP:
            self._datagram(src, sport, dst, dport, data, start, end, number, time)
        else:
            self._tcp_segment(
                src, sport, dst, dport, seq, ack, flags, bytes(data[start:end]), number, time
            )

    def _datagram(
        self,
        src: bytes,
        sport: int,
        dst: bytes,
        dport: int,
        data: Buffer,
        start: int,
        end: int,
        number: int,
        time: float,
    ) -> None:
        key = (src, sport, dst, dport)
        flow = self.udp.get(key)
        if flow is None:
            flow = self.udp[key] = UdpFlow(Endpoint(src, sport), Endpoint(dst, dport), number, time)
        size = end - start
        flow.packets += 1
        flow.octets += size
        kind = udp_kind(data[start], data[start + 1], size) if size >= 2 else UDP_OTHER
        if kind == UDP_RTP:
            recorder = flow.rtp
            if recorder is None:
                recorder = flow.rtp = RtpRecorder(flow.flow_id, keep_packets=self.keep_packets)
            recorder.add(data, start, end, number, time)
        elif kind == UDP_RTCP:
            rtcp = flow.rtcp
            if rtcp is None:
                rtcp = flow.rtcp = RtcpRecorder(flow.flow_id)
            rtcp.add(bytes(data[start:end]), number, time)
        else:
            flow.other += 1
            if len(flow.other_packets) < 16:
                flow.other_packets.append(number)

    def _tcp_segment(
        self,
        src: bytes,
        sport: int,
        dst: bytes,
        dport: int,
        seq: int,
        ack: int,
        flags: int,
        payload: bytes,
        number: int,
        time: float,
    ) -> None:
        key = (src, sport, dst, dport)
        found = self._tcp.get(key)
        opening = flags & TCP_SYN and not flags & TCP_ACK
        if found is not None and opening and found[0].closed:
            found[0].finish()  # the 4-tuple is reused by a new connection
            found = None
        if found is None:
            connection = TcpConnection(
                len(self.connections) + 1,
                Endpoint(src, sport),
                Endpoint(dst, dport),
                number,
                time,
                self.factories,
            )
            self.connections.append(connection)
            self._tcp[key] = (connection, 0)
            self._tcp[(dst, dport, src, sport)] = (connection, 1)
            found = (connection, 0)
        connection, direction = found
        connection.segment(direction, seq, ack, flags, payload, number, time)

    def result(self, capture: CaptureFile) -> InspectResult:
        """Finish every connection, analyse every stream, and judge."""
        finished: set[int] = set()
        for connection, _ in self._tcp.values():
            if id(connection) not in finished:
                finished.add(id(connection))
                connection.finish()
        streams, changes = self._streams()
        result = InspectResult(
            path=capture.path,
            format=capture.format.value,
            link_types=sorted(capture.link_types),
            packets=self.packets,
            start=self.start,
            end=self.end,
            truncated=capture.truncated,
            decode=self.decoder.counters,
            fragmented=self.decoder.fragmented_packets,
            dialogs=self.dialogs.dialogs,
            rtp_streams=streams,
            ssrc_changes=changes,
            rtmp=self.rtmp,
            tls=self.tls,
            http=self.http,
            connections=[c.summary() for c in self.connections],
            udp_flows=list(self.udp.values()),
        )
        result.findings = find_problems(result)
        return result

    # RTP streams.

    def _streams(self) -> tuple[list[RtpStreamReport], list[SsrcChange]]:
        sender_reports: dict[int, list[SenderReportSeen]] = {}
        receiver_reports: dict[int, list[ReceiverReportSeen]] = {}
        rtcp = [flow.rtcp for flow in self.udp.values() if flow.rtcp is not None]
        rtcp += [r for dialog in self.dialogs.dialogs for r in dialog.rtcp.values()]
        for rtcp_recorder in rtcp:
            for ssrc, reports in rtcp_recorder.sender_reports.items():
                sender_reports.setdefault(ssrc, []).extend(reports)
            for ssrc, blocks in rtcp_recorder.receiver_reports.items():
                receiver_reports.setdefault(ssrc, []).extend(blocks)
        for reports in sender_reports.values():
            reports.sort(key=lambda r: r.number)

        candidates: list[tuple[RtpRecorder, MediaBinding | None]] = []
        bindings = [b for dialog in self.dialogs.dialogs for b in dialog.bindings]
        for flow in self.udp.values():
            if flow.rtp is not None:
                candidates.append((flow.rtp, _udp_binding(flow, bindings)))
        for dialog in self.dialogs.dialogs:
            for (from_client, channel), channel_rtp in dialog.rtp.items():
                candidates.append((channel_rtp, dialog.binding_for_channel(from_client, channel)))

        streams: list[RtpStreamReport] = []
        changes: list[SsrcChange] = []
        for recorder, binding in candidates:
            survey = recorder.survey()
            if binding is None and not _looks_like_rtp(recorder, survey):
                continue
            changes += [SsrcChange(recorder.flow, *change) for change in survey.changes]
            for ssrc, count in survey.counts.items():
                if binding is None and count < MIN_UNBOUND_PACKETS:
                    continue
                report = analyse_stream(
                    recorder,
                    ssrc,
                    binding.media if binding is not None else None,
                    sender_reports.get(ssrc, []),
                    receiver_reports.get(ssrc, []),
                )
                report.malformed = len(recorder.malformed)
                if binding is not None:
                    report.setup = binding.describe()
                streams.append(report)
        streams.sort(key=lambda s: s.first_packet)
        return streams, changes


def _udp_binding(flow: UdpFlow, bindings: list[MediaBinding]) -> MediaBinding | None:
    """The SETUP whose ports this flow's destination (or, for RECORD, source) matches."""
    for binding in bindings:
        spec = binding.transport
        client_port = spec.client_port
        server_port = spec.server_port
        destination = flow.destination
        if (
            client_port is not None
            and destination.port == client_port.first
            and destination.address == binding.client.address
        ):
            return binding
        if (
            spec.mode == "RECORD"
            and server_port is not None
            and destination.port == server_port.first
            and destination.address == binding.server.address
        ):
            return binding
    return None


def _looks_like_rtp(recorder: RtpRecorder, survey: Survey) -> bool:
    """Enough packets of one SSRC, mostly in sequence: RTP nobody announced."""
    if not survey.counts:
        return False
    ssrc, count = max(survey.counts.items(), key=lambda item: item[1])
    if count < MIN_UNBOUND_PACKETS:
        return False
    return recorder.in_sequence(ssrc) >= (count - 1) * MIN_IN_SEQUENCE


def inspect_capture(path: str | Path) -> InspectResult:
    """Read and analyse one capture file."""
    began = clock.perf_counter()
    with CaptureFile.open(path) as capture:
        inspector = Inspector()
        inspector.read(capture)
        result = inspector.result(capture)
    result.seconds = clock.perf_counter() - began
    return result
