"""Captures of a camsim camera session made without a network, for tests and benchmarks.

:func:`camera_capture` plays a sample the way ``camsim run`` serves it (the same packet plan, an
SDP from :mod:`wire.sdp`, the RTSP dialog of a client that pulls it) and returns the IP packets
a capture on the path would hold, each with its time, plus the :class:`Truth` of what was sent:
packets, frames and keyframes per stream. Tests impair the packets (drop, reorder, duplicate,
split and retransmit TCP segments) and check that ``inspect`` reports exactly what was done;
the benchmark loops a sample to a million packets.
"""

from __future__ import annotations

import base64
import struct
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from camsim.camera.plan import Burst, PacketPlan, build_plan
from camsim.media.loader import MediaKind, MediaSample
from wire.codec.nal import VideoCodec
from wire.pcapng import TcpConversation, enhanced_packet, file_header, udp_packet
from wire.rtp import RtcpSdes, RtcpSenderReport, SdesChunk, SdesItem, ntp_from_unix
from wire.rtp.rtcp import SDES_CNAME
from wire.rtsp import Headers, Request, Response
from wire.sdp import aac_media, camera_session, h264_media, h265_media

CLIENT = ("192.0.2.10", 50000)
SERVER = ("192.0.2.20", 554)
SENDER_REPORT_INTERVAL = 5.0
START_NS = 1_700_000_000 * 1_000_000_000
TRANSPORTS = ("udp", "tcp", "http")

Packet = tuple[int, bytes]
"""(capture time in ns, an IP packet)."""


@dataclass
class StreamTruth:
    """What one track sent."""

    track: int
    media: str
    ssrc: int
    clock_rate: int
    first_sequence: int
    packets: int = 0
    frames: int = 0
    keyframes: int = 0
    sender_reports: int = 0
    rtp_ports: tuple[int, int] = (0, 0)
    """UDP: (server port, client port) of its RTP."""
    channel: int = 0
    sequences: list[int] = field(default_factory=list)
    """The sequence number of every RTP packet, in the order sent."""
    packet_indexes: list[int] = field(default_factory=list)
    """Where each RTP packet is in :attr:`CameraCapture.packets` (UDP only)."""


@dataclass
class CameraCapture:
    packets: list[Packet]
    streams: list[StreamTruth]
    transport: str
    url: str


def camera_capture(
    sample: MediaSample,
    *,
    transport: str = "udp",
    seconds: float | None = None,
    max_packets: int | None = None,
    path: str = "/cam1",
    mss: int = 1460,
) -> CameraCapture:
    """A client pulling ``sample`` from a camera over ``transport`` (udp, tcp or http).

    Media plays for ``seconds`` (one pass of the sample by default) or until ``max_packets``
    RTP packets were sent, looping with continuous timestamps as a camera does.
    """
    packets: list[Packet] = []
    url, streams = _play(sample, packets.append, transport, seconds, max_packets, path, mss)
    return CameraCapture(packets, streams, transport, url)


def write_camera_capture(
    output: str | Path,
    sample: MediaSample,
    *,
    transport: str = "udp",
    seconds: float | None = None,
    max_packets: int | None = None,
) -> list[StreamTruth]:
    """:func:`camera_capture` written straight to a pcapng file, for captures too large to
    hold in memory (the benchmark's million packets)."""
    with Path(output).open("wb") as file:
        file.write(file_header("camsim"))

        def emit(packet: Packet) -> None:
            file.write(enhanced_packet(*packet))

        _, streams = _play(sample, emit, transport, seconds, max_packets, "/cam1", 1460)
    return streams


def _play(
    sample: MediaSample,
    emit: Callable[[Packet], None],
    transport: str,
    seconds: float | None,
    max_packets: int | None,
    path: str,
    mss: int,
) -> tuple[str, list[StreamTruth]]:
    if transport not in TRANSPORTS:
        raise ValueError(f"transport {transport!r} is not one of {TRANSPORTS}")
    plan = build_plan(sample)
    url = f"rtsp://{SERVER[0]}:{SERVER[1]}{path}"
    session = _Session(plan, transport, mss, emit)
    sdp = _sdp(sample, plan)
    streams = [
        StreamTruth(
            track,
            "video" if kind.kind is MediaKind.VIDEO else "audio",
            ssrc=0x10000000 + 0x01010101 * (track + 1),
            clock_rate=kind.clock_rate,
            first_sequence=1000 * (track + 1),
            rtp_ports=(6970 + 2 * track, CLIENT[1] + 2 * track),
            channel=2 * track,
        )
        for track, kind in enumerate(plan.tracks)
    ]
    session.dialog(url, path, sdp, streams)
    duration = float(plan.period) if seconds is None else seconds
    session.media(streams, duration, max_packets)
    session.teardown(url)
    return url, streams


def _sdp(sample: MediaSample, plan: PacketPlan) -> bytes:
    media = []
    for track, kind in enumerate(plan.tracks):
        control = f"trackID={track}"
        if kind.kind is MediaKind.VIDEO:
            video = sample.video
            assert video is not None
            sets = video.parameter_sets
            if video.codec is VideoCodec.H264:
                media.append(h264_media(kind.payload_type, sets[0], sets[1], control=control))
            else:
                media.append(h265_media(kind.payload_type, *sets[:3], control=control))
        else:
            audio = sample.audio
            assert audio is not None
            media.append(
                aac_media(
                    kind.payload_type, audio.asc, audio.sample_rate, audio.channels, control=control
                )
            )
    return camera_session(media, session_id=1, address=SERVER[0]).serialize().encode()


class _Session:
    """Writes the packets of one pull, in time order."""

    def __init__(
        self, plan: PacketPlan, transport: str, mss: int, emit: Callable[[Packet], None]
    ) -> None:
        self.plan = plan
        self.transport = transport
        self.emit = emit
        self.count = 0
        self.now = START_NS
        self.cseq = 0
        self.rtsp = TcpConversation(CLIENT, SERVER, mss=mss)
        # The tunnel's POST leg: the client's requests in base64 (QuickTime's way).
        self.post = TcpConversation(
            (CLIENT[0], CLIENT[1] + 100), SERVER, client_isn=0x5000, mss=mss
        )

    def _add(self, packets: Iterable[bytes]) -> None:
        for packet in packets:
            self.emit((self.now, packet))
            self.count += 1

    def dialog(self, url: str, path: str, sdp: bytes, streams: list[StreamTruth]) -> None:
        self._add(self.rtsp.open())
        if self.transport == "http":
            self._add(self.post.open())
            cookie = "c8a1b2d3e4f5"
            self._client_raw(
                f"GET {path} HTTP/1.0\r\nx-sessioncookie: {cookie}\r\n"
                "Accept: application/x-rtsp-tunnelled\r\n\r\n".encode(),
                tunnel_head=True,
            )
            self._server_raw(
                b"HTTP/1.0 200 OK\r\nContent-Type: application/x-rtsp-tunnelled\r\n\r\n"
            )
            self._add(
                self.post.send(
                    True,
                    f"POST {path} HTTP/1.0\r\nx-sessioncookie: {cookie}\r\n"
                    "Content-Type: application/x-rtsp-tunnelled\r\n"
                    "Content-Length: 32767\r\n\r\n".encode(),
                )
            )
        self._exchange(
            Request("OPTIONS", url),
            Response(
                200, headers=Headers([("Public", "OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN")])
            ),
        )
        self._exchange(
            Request("DESCRIBE", url, Headers([("Accept", "application/sdp")])),
            Response(
                200,
                headers=Headers([("Content-Base", url + "/"), ("Content-Type", "application/sdp")]),
                body=sdp,
            ),
        )
        for stream in streams:
            if self.transport == "udp":
                client = (
                    f"RTP/AVP;unicast;client_port={stream.rtp_ports[1]}-{stream.rtp_ports[1] + 1}"
                )
                server = f"{client};server_port={stream.rtp_ports[0]}-{stream.rtp_ports[0] + 1}"
            else:
                client = f"RTP/AVP/TCP;unicast;interleaved={stream.channel}-{stream.channel + 1}"
                server = client
            self._exchange(
                Request("SETUP", f"{url}/trackID={stream.track}", Headers([("Transport", client)])),
                Response(
                    200,
                    headers=Headers(
                        [
                            ("Transport", f"{server};ssrc={stream.ssrc:08X}"),
                            ("Session", "12345678;timeout=60"),
                        ]
                    ),
                ),
            )
        rtp_info = ",".join(
            f"url={url}/trackID={s.track};seq={s.first_sequence};rtptime={s.first_sequence * 10}"
            for s in streams
        )
        self._exchange(
            Request("PLAY", url + "/", Headers([("Session", "12345678"), ("Range", "npt=0.000-")])),
            Response(200, headers=Headers([("Session", "12345678"), ("RTP-Info", rtp_info)])),
        )

    def teardown(self, url: str) -> None:
        self._exchange(
            Request("TEARDOWN", url + "/", Headers([("Session", "12345678")])), Response(200)
        )
        self._add(self.rtsp.close())
        if self.transport == "http":
            self._add(self.post.close())

    def _exchange(self, request: Request, response: Response) -> None:
        self.cseq += 1
        request.headers.set("CSeq", str(self.cseq))
        response.headers.set("CSeq", str(self.cseq))
        self.now += 2_000_000
        self._client_raw(request.serialize())
        self.now += 3_000_000
        self._server_raw(response.serialize())

    def _client_raw(self, data: bytes, tunnel_head: bool = False) -> None:
        if self.transport == "http" and not tunnel_head:
            self._add(self.post.send(True, base64.b64encode(data)))
        else:
            self._add(self.rtsp.send(True, data))

    def _server_raw(self, data: bytes) -> None:
        self._add(self.rtsp.send(False, data))

    def media(self, streams: list[StreamTruth], duration: float, max_packets: int | None) -> None:
        plan = self.plan
        start = self.now + 5_000_000
        sent = 0
        next_report = [START_NS / 1e9 + SENDER_REPORT_INTERVAL for _ in streams]
        octets = [0 for _ in streams]
        for loop, burst in _bursts(plan):
            due = start + round((loop * float(plan.period) + burst.offset) * 1e9)
            if due - start >= duration * 1e9 or (max_packets is not None and sent >= max_packets):
                break
            self.now = due
            stream = streams[burst.track]
            track = plan.tracks[burst.track]
            timestamp = (
                stream.first_sequence * 10 + loop * track.period_ticks + burst.ticks
            ) & 0xFFFFFFFF
            if self.now / 1e9 >= next_report[burst.track]:
                next_report[burst.track] += SENDER_REPORT_INTERVAL
                self._sender_report(stream, timestamp, octets[burst.track])
            stream.frames += 1
            stream.keyframes += burst.keyframe and track.kind is MediaKind.VIDEO
            for planned in burst.packets:
                sequence = (stream.first_sequence + stream.packets) & 0xFFFF
                rtp = bytearray(planned.data)
                struct.pack_into("!HII", rtp, 2, sequence, timestamp, stream.ssrc)
                stream.packets += 1
                stream.sequences.append(sequence)
                octets[burst.track] += len(rtp) - 12
                if self.transport == "udp":
                    stream.packet_indexes.append(self.count)
                    self._add(
                        [
                            udp_packet(
                                SERVER[0],
                                stream.rtp_ports[0],
                                CLIENT[0],
                                stream.rtp_ports[1],
                                bytes(rtp),
                            )
                        ]
                    )
                else:
                    frame = struct.pack("!cBH", b"$", stream.channel, len(rtp)) + rtp
                    self._server_raw(frame)
                sent += 1
                if max_packets is not None and sent >= max_packets:
                    break
        self.now += 10_000_000

    def _sender_report(self, stream: StreamTruth, timestamp: int, octets: int) -> None:
        report = RtcpSenderReport(
            stream.ssrc, ntp_from_unix(self.now / 1e9), timestamp, stream.packets, octets
        )
        sdes = RtcpSdes([SdesChunk(stream.ssrc, [SdesItem(SDES_CNAME, b"cam1@camsim")])])
        data = report.serialize() + sdes.serialize()
        stream.sender_reports += 1
        if self.transport == "udp":
            self._add(
                [
                    udp_packet(
                        SERVER[0], stream.rtp_ports[0] + 1, CLIENT[0], stream.rtp_ports[1] + 1, data
                    )
                ]
            )
        else:
            self._server_raw(struct.pack("!cBH", b"$", stream.channel + 1, len(data)) + data)


def _bursts(plan: PacketPlan) -> Iterator[tuple[int, Burst]]:
    loop = 0
    while True:
        for burst in plan.bursts:
            yield loop, burst
        loop += 1


def write_capture(path: str | Path, packets: Iterable[Packet], application: str = "camsim") -> Path:
    """Write (time, IP packet) pairs as a pcapng file."""
    path = Path(path)
    with path.open("wb") as file:
        file.write(file_header(application))
        for timestamp, packet in packets:
            file.write(enhanced_packet(timestamp, packet))
    return path
