"""A test-only RTSP puller whose switches each mishandle one camera behaviour.

It exists to prove that every case of the ``rtsp-client`` suite can fail. Without a switch it
pulls one camera as a careful client does (RTSP over TCP with ``wire.rtsp``'s client
connection, RTP interleaved, ``wire.payload`` depacketizers, MPEG-TS segments cut at
keyframes by ``wire.ts``'s muxer, a playlist that marks every new session and every
timestamp jump with EXT-X-DISCONTINUITY, reconnects) and writes HLS into a folder::

    python -m tests.integration.conformance.rtsp_client.puller URL OUT [--udp] [--fault NAME]...

With ``--udp`` it asks for RTP over UDP instead (``RTP/AVP;unicast;client_port=``), orders
datagrams by sequence number in a ``wire.rtp`` jitter buffer, takes them from whatever port
they come from (a NAT may rewrite it), and after a lost packet outputs nothing until the next
keyframe that arrived whole. Each ``--fault`` (see :data:`FAULTS`) is one robustness rule
broken the way real clients break it; the UDP ones (:data:`UDP_FAULTS`) imply ``--udp``.
SIGINT finishes the open segment and the playlist (EXT-X-ENDLIST) and exits.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import signal
import socket
import sys
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from wire.codec.aac import AudioSpecificConfig
from wire.codec.errors import CodecError
from wire.codec.h264 import H264Pps, H264Sps
from wire.codec.nal import H264_NAL_PPS, H264_NAL_SPS, VideoCodec, nal_type
from wire.payload.aac import AacDepacketizer
from wire.payload.events import AudioAccessUnit, PacketLoss, VideoAccessUnit
from wire.payload.h264 import H264Depacketizer, parse_h264_payload
from wire.payload.video import NalFragment
from wire.rtp import RtcpSenderReport, RtpError, parse_compound
from wire.rtp.jitterbuffer import JitterBuffer
from wire.rtp.packet import RtpPacket
from wire.rtp.sequence import seq_diff, timestamp_diff
from wire.rtsp import (
    ClientConfig,
    ConnectionTerminated,
    InterleavedFrameReceived,
    KeepaliveSent,
    ResponseReceived,
    RtspClientConnection,
    TransportSpec,
    UnexpectedResponse,
)
from wire.rtsp.transport import PortRange
from wire.sdp import SessionDescription, h264_parameter_sets, parse_fmtp_parameters
from wire.ts.muxer import TsMuxer

FAULTS = {
    "no-auth": "sends no credentials: a 401 ends the attempt",
    "no-reconnect": "exits when a session ends, or when RTP stops for 3 s",
    "sprop-only": "takes SPS/PPS from the SDP only and drops those in band",
    "strict-sprop": "refuses a camera whose sprop-parameter-sets do not decode",
    "keep-timestamps": "carries RTP timestamps through a jump, with no discontinuity",
    "marker-ends-au": "ends an access unit at every marker bit, dropping units without slices",
    "needs-marker": "gives up when 50 video packets went by without a marker bit",
    "requested-channels": "reads RTP on the interleaved channels it asked for",
    "strict-transport": "refuses a SETUP answer whose Transport lacks RTP/AVP/TCP",
    "await-keepalive": "ends the session when a keepalive is not answered within 2 s",
    "teardown-on-refusal": "ends the session when a keepalive is answered with an error",
    "strict-cseq": "sends SET_PARAMETER after PLAY; ends on an answer with another CSeq",
    "no-keepalive": "never sends a keepalive",
    "strict-ssrc": "refuses a Transport ssrc= that is not eight hex digits",
    "literal-content-base": "uses Content-Base as written, without resolving it",
    "no-early-rtcp": "ends the attempt on interleaved data before the PLAY answer",
    "one-mtu": "drops interleaved frames longer than 1500 bytes, as a 1500-byte UDP read",
    "strict-fu": "drops an FU-A with both its Start and End bits set",
    "trust-rtp-info": "drops packets numbered before RTP-Info's seq",
    "needs-audio": "refuses a camera without an audio track",
    "keyframe-timeout": "exits when no keyframe came within 5 s of PLAY",
    "drop-frames": "drops every 30th video frame",
    "no-wrap": "compares RTP timestamps as plain numbers: a frame stamped below the last is late",
    "aac-only": "refuses a camera whose audio is not AAC (it could not put it in MPEG-TS)",
    "needs-video": "refuses a camera without an H.264 track",
    "arrival-order": "UDP: no jitter buffer and no look at sequence numbers: fragments are "
    "joined in arrival order",
    "keep-damaged": "UDP: ignores sequence gaps: a NAL unit is whatever fragments of it came, "
    "ended by the next start or timestamp, and the damaged access units output",
    "announced-port": "UDP: takes RTP only from the server_port SETUP announced",
    "marker-completes": "UDP: arrival order, an access unit ends at its marker bit, a fragment "
    "that comes after it is joined to what follows, and damaged access units are output",
    "announced-rtcp": "UDP: outputs nothing until an RTCP sender report came from the RTCP "
    "port SETUP announced (to sync audio and video), holding the frames until then",
    "paced": "UDP: plays frames out at the camera's rate, with a delay that grows whenever one "
    "comes later than it was due and never shrinks: a delay on the way is never caught up",
}

UDP_FAULTS = frozenset(
    {
        "arrival-order",
        "keep-damaged",
        "announced-port",
        "marker-completes",
        "announced-rtcp",
        "paced",
    }
)
"""The faults of a puller that pulls over UDP (they imply ``--udp``)."""

CASE_FAULTS: dict[str, tuple[str, ...]] = {
    "RTSPC-PLAY-001": ("drop-frames",),
    "RTSPC-PLAY-002": ("needs-audio",),
    "RTSPC-PLAY-003": ("keyframe-timeout",),
    "RTSPC-AUTH-001": ("no-auth",),
    "RTSPC-RESTART-001": ("no-reconnect",),
    "RTSPC-RTP-001": ("no-wrap",),
    "RTSPC-AUDIO-001": ("aac-only",),
    "RTSPC-AUDIO-002": ("aac-only",),
    "RTSPC-AUDIO-003": ("aac-only",),
    "RTSPC-PARAM-001": ("sprop-only",),
    "RTSPC-PLAY-004": ("needs-video",),
    "RTSPC-QUIRK-CHANGED-INTERLEAVED": ("requested-channels",),
    "RTSPC-QUIRK-FU-START-END": ("strict-fu",),
    "RTSPC-QUIRK-GARBAGE-SPROP": ("strict-sprop",),
    "RTSPC-QUIRK-GET-PARAMETER-454": ("teardown-on-refusal",),
    "RTSPC-QUIRK-INTERLEAVED-WITHOUT-TCP": ("strict-transport",),
    "RTSPC-QUIRK-KEEPALIVE-UNANSWERED": ("await-keepalive",),
    "RTSPC-QUIRK-MARKER-ON-PARAMETER-SETS": ("marker-ends-au",),
    "RTSPC-QUIRK-MEDIA-STALL": ("no-reconnect",),
    "RTSPC-QUIRK-NO-MARKER": ("needs-marker",),
    "RTSPC-QUIRK-NO-SPROP": ("sprop-only",),
    "RTSPC-QUIRK-ODD-SSRC": ("strict-ssrc",),
    "RTSPC-QUIRK-OVERSIZED-NAL": ("one-mtu",),
    "RTSPC-QUIRK-RTP-INFO-MISMATCH": ("trust-rtp-info",),
    "RTSPC-QUIRK-SCHEMELESS-CONTENT-BASE": ("literal-content-base",),
    "RTSPC-QUIRK-SET-PARAMETER-WRONG-CSEQ": ("strict-cseq",),
    "RTSPC-QUIRK-SHORT-SESSION-TIMEOUT": ("no-keepalive",),
    "RTSPC-QUIRK-SPROP-MISSING-PPS": ("sprop-only",),
    "RTSPC-QUIRK-SR-BEFORE-PLAY": ("no-early-rtcp",),
    "RTSPC-QUIRK-TIMESTAMP-JUMP": ("keep-timestamps",),
}
"""The mishandling that each case must catch; ``--faults-for CASE`` applies it."""

CLOCK = 90_000
SEGMENT_SECONDS = 1.0
MEDIA_TIMEOUT = 3.0
RECONNECT_DELAY = 1.0
JUMP_SECONDS = 2.0
READ_SIZE = 65_536
REORDER_WAIT = 0.2
"""How long a missing UDP datagram is waited for before it counts as lost."""
FU_A = 28
MTU = 1500


class SessionEnded(Exception):
    """The session is over; the message says why."""


@dataclass
class Segmenter:
    """MPEG-TS segments cut at keyframes and a playlist listing all of them."""

    out: Path
    segments: list[tuple[str, float, bool]] = field(default_factory=list)
    muxer: TsMuxer | None = None
    data: bytearray = field(default_factory=bytearray)
    start_pts: int | None = None
    last_pts: int = 0
    discontinuity: bool = False

    def configure(
        self, audio: AudioSpecificConfig | None, parameter_sets: list[bytes], video: bool = True
    ) -> None:
        codec = VideoCodec.H264 if video else None
        if self.muxer is None:
            self.muxer = TsMuxer(codec, audio, parameter_sets)
        else:
            self.muxer.configure(codec, audio, parameter_sets)

    def video(self, nals: list[bytes], pts: int, keyframe: bool) -> None:
        assert self.muxer is not None
        if self.start_pts is None and not keyframe:
            return
        long_enough = (pts - (self.start_pts or 0)) / CLOCK >= SEGMENT_SECONDS
        if keyframe and self.start_pts is not None and (long_enough or self.discontinuity):
            self.cut(pts)
        if self.start_pts is None:
            self.start_pts = pts
            self.data += self.muxer.tables()
        self.data += self.muxer.video_access_unit(nals, pts, pts, keyframe)
        self.last_pts = pts

    def audio(self, raw: bytes, pts: int) -> None:
        if self.muxer is not None and self.muxer.video is None:
            # Audio only: every frame starts a segment as well as a keyframe would.
            long_enough = (pts - (self.start_pts or 0)) / CLOCK >= SEGMENT_SECONDS
            if self.start_pts is not None and (long_enough or self.discontinuity):
                self.cut(pts)
            if self.start_pts is None:
                self.start_pts = pts
                self.data += self.muxer.tables()
            self.last_pts = pts
        if self.muxer is not None and self.start_pts is not None:
            self.data += self.muxer.audio_frame(raw, pts)

    def cut(self, next_pts: int | None = None) -> None:
        if self.start_pts is None or not self.data:
            return
        end = next_pts if next_pts is not None else self.last_pts + CLOCK // 15
        name = f"segment{len(self.segments)}.ts"
        (self.out / name).write_bytes(bytes(self.data))
        first_of_session = self.discontinuity and bool(self.segments)
        self.segments.append((name, max(end - self.start_pts, 1) / CLOCK, first_of_session))
        self.discontinuity = False
        self.data = bytearray()
        self.start_pts = None
        self.write_playlist(ended=False)

    def new_session(self) -> None:
        """What comes next follows a discontinuity."""
        self.cut()
        self.discontinuity = True

    def write_playlist(self, *, ended: bool) -> None:
        target = max((math.ceil(d) for _, d, _ in self.segments), default=1)
        lines = ["#EXTM3U", "#EXT-X-VERSION:3", f"#EXT-X-TARGETDURATION:{target}"]
        for name, duration, discontinuity in self.segments:
            if discontinuity:
                lines.append("#EXT-X-DISCONTINUITY")
            lines += [f"#EXTINF:{duration:.3f},", name]
        if ended:
            lines.append("#EXT-X-ENDLIST")
        temporary = self.out / "index.m3u8.tmp"
        temporary.write_text("\n".join(lines) + "\n", encoding="utf-8")
        temporary.replace(self.out / "index.m3u8")


@dataclass
class Clock:
    """RTP timestamps of one track on the output's continuous 90 kHz clock."""

    rate: int
    keep: bool
    base_rtp: int | None = None
    base_out: int = 0
    last_rtp: int = 0
    last_out: int = 0
    step: int = CLOCK // 15

    def out(self, rtp: int) -> int:
        if self.base_rtp is None:
            self.base_rtp, self.last_rtp = rtp, rtp
            self.base_out = self.last_out
        delta = timestamp_diff(rtp, self.last_rtp)
        if not self.keep and abs(delta) > JUMP_SECONDS * self.rate:
            # A camera whose clock jumped: resynchronise one frame after the last output.
            self.base_rtp, self.base_out = rtp, self.last_out + self.step
        elapsed = timestamp_diff(rtp, self.base_rtp)
        out = self.base_out + elapsed * CLOCK // self.rate
        if out > self.last_out:
            self.step = min(out - self.last_out, CLOCK) or self.step
        self.last_rtp, self.last_out = rtp, out
        return out

    def restart(self) -> None:
        self.base_rtp = None
        self.base_out = self.last_out + self.step


@dataclass
class Track:
    kind: str
    control: str
    payload_type: int
    channel: int
    depacketizer: H264Depacketizer | AacDepacketizer
    clock: Clock
    first_seq: int | None = None
    buffer: JitterBuffer = field(default_factory=JitterBuffer)
    """Over UDP: datagrams put back in sequence order."""
    server_port: int | None = None
    """Over UDP: the RTP port the SETUP answer announced."""
    server_rtcp_port: int | None = None
    """Over UDP: the RTCP port the SETUP answer announced."""
    damaged: bool = False
    """Over UDP: a packet was lost; nothing is output until a keyframe arrives whole."""
    damaged_timestamp: int | None = None
    gap_seen: float | None = None
    next_seq: int = 0
    joiner: NaiveJoiner = field(default_factory=lambda: NaiveJoiner())
    """Over UDP, with sequence numbers ignored: the number the next datagram is given."""
    """When the jitter buffer was first seen holding packets back for a missing one."""


class Puller:
    """One camera, pulled session after session until stopped."""

    def __init__(self, url: str, out: Path, faults: set[str], udp: bool = False) -> None:
        parts = urlsplit(url)
        self.username = parts.username
        self.password = parts.password or ""
        netloc = parts.hostname or ""
        if parts.port:
            netloc += f":{parts.port}"
        self.url = urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 554
        if "marker-completes" in faults:
            faults = faults | {"arrival-order", "keep-damaged"}
        self.faults = faults
        self.udp = udp or bool(faults & UDP_FAULTS)
        self.segmenter = Segmenter(out)
        self.clocks = {
            "video": Clock(CLOCK, "keep-timestamps" in faults),
            "audio": Clock(48_000, "keep-timestamps" in faults),
        }
        self.frames = 0
        self.last_video_rtp = -1
        self.held: list[Callable[[], None]] | None = [] if self.fault("announced-rtcp") else None
        """With announced-rtcp: the output held until a sender report came (None: not held)."""
        self.pacer = Pacer() if self.fault("paced") else None

    def fault(self, name: str) -> bool:
        return name in self.faults

    async def run(self) -> None:
        while True:
            try:
                await self.session()
            except (SessionEnded, OSError, ValueError) as exc:
                print(f"session ended: {exc}", file=sys.stderr, flush=True)
            if self.fault("no-reconnect") or self.fault("keyframe-timeout"):
                return
            self.segmenter.new_session()
            for clock in self.clocks.values():
                clock.restart()
            if self.pacer is not None:
                self.pacer.reset()
            await asyncio.sleep(RECONNECT_DELAY)

    async def session(self) -> None:
        reader, writer = await asyncio.open_connection(self.host, self.port)
        username = None if self.fault("no-auth") else self.username
        connection = RtspClientConnection(
            self.url, ClientConfig(username=username, password=self.password)
        )
        exchange = Exchange(self, connection, reader, writer)
        try:
            await self.play(exchange)
            await exchange.stream()
        finally:
            for endpoint in exchange.endpoints:
                endpoint.close()
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def play(self, exchange: Exchange) -> None:
        connection = exchange.connection
        await exchange.ask(connection.options())
        described = await exchange.ask(connection.describe())
        sdp = SessionDescription.parse(described.response.body)
        base = described.base_url or self.url
        if self.fault("literal-content-base"):
            base = described.response.headers.get("Content-Base", base).strip()
        connection.base_url = base
        tracks = self.tracks(sdp)
        if self.fault("needs-audio") and not any(t.kind == "audio" for t in tracks):
            raise SessionEnded("no audio track")
        for track in tracks:
            requested = TransportSpec(
                lower_transport="TCP",
                delivery="unicast",
                interleaved=PortRange(track.channel, track.channel + 1),
            )
            if self.udp:
                port = await exchange.listen(track)
                requested = TransportSpec(delivery="unicast", client_port=PortRange(port, port + 1))
            url = connection.control_url(track.control) if track.control else base
            if self.fault("literal-content-base") and track.control:
                url = base.rstrip("/") + "/" + track.control
            answer = await exchange.ask(connection.setup(url, requested))
            self.check_transport(answer, track)
        exchange.tracks = {t.channel: t for t in tracks}
        exchange.playing = False
        played = await exchange.ask(connection.play())
        exchange.playing = True
        if played.rtp_info is not None and self.fault("trust-rtp-info"):
            for entry in played.rtp_info.entries:
                for track in tracks:
                    if entry.url.endswith(track.control) and entry.seq is not None:
                        track.first_seq = entry.seq
        if self.fault("strict-cseq"):
            connection.set_parameter(b"camsim: 1\r\n")
            exchange.flush()

    def check_transport(self, answer: ResponseReceived, track: Track) -> None:
        text = answer.response.headers.get("Transport", "")
        if self.fault("strict-transport") and "RTP/AVP/TCP" not in text.upper():
            raise SessionEnded(f"SETUP answered Transport {text!r}: not TCP")
        if self.fault("strict-ssrc"):
            for part in text.split(";"):
                name, _, value = part.partition("=")
                if name.strip().lower() == "ssrc" and (
                    len(value) != 8 or not all(c in "0123456789ABCDEF" for c in value)
                ):
                    raise SessionEnded(f"ssrc {value!r} is not eight hex digits")
        spec = answer.transport.specs[0] if answer.transport is not None else None
        if spec is not None and spec.server_port is not None:
            track.server_port = spec.server_port.first
            track.server_rtcp_port = spec.server_port.last or spec.server_port.first + 1
        answered = spec.interleaved if spec is not None else None
        if answered is not None and not self.fault("requested-channels"):
            track.channel = answered.first

    def tracks(self, sdp: SessionDescription) -> list[Track]:
        tracks: list[Track] = []
        parameter_sets: list[bytes] = []
        audio: AudioSpecificConfig | None = None
        for media in sdp.media:
            payload_type = int(media.formats[0])
            rtpmap = media.rtpmap(payload_type)
            name = rtpmap.encoding_name.upper() if rtpmap is not None else ""
            fmtp = media.fmtp(payload_type)
            channel = 2 * len(tracks)
            if media.media == "video" and name == "H264":
                sets = h264_parameter_sets(fmtp)
                if self.fault("strict-sprop"):
                    strict_sprop(sets.nal_units)
                if not sets.problems or self.fault("sprop-only"):
                    parameter_sets = list(sets.nal_units)
                tracks.append(
                    Track("video", media.control or "", payload_type, channel, H264Depacketizer(),
                          self.clocks["video"])
                )  # fmt: skip
            elif media.media == "audio" and name == "MPEG4-GENERIC" and rtpmap is not None:
                config = parse_fmtp_parameters(";".join(f"{k}={v}" for k, v in fmtp.items()))
                audio = AudioSpecificConfig.parse(bytes.fromhex(config.get("config", "")))
                self.clocks["audio"].rate = rtpmap.clock_rate
                tracks.append(
                    Track("audio", media.control or "", payload_type, channel, AacDepacketizer(),
                          self.clocks["audio"])
                )  # fmt: skip
            elif media.media == "audio" and self.fault("aac-only"):
                raise SessionEnded(f"audio {name or payload_type} is not AAC")
        video = any(t.kind == "video" for t in tracks)
        if not video and (audio is None or self.fault("needs-video")):
            raise SessionEnded("no H.264 track")
        self.segmenter.configure(audio, parameter_sets, video)
        return tracks

    def packet(self, track: Track, data: bytes) -> None:
        if self.fault("one-mtu") and len(data) > MTU:
            return
        packet = RtpPacket.parse(data)
        if packet.payload_type != track.payload_type:
            return
        if track.first_seq is not None:
            if seq_diff(packet.sequence_number, track.first_seq) < 0:
                return
            track.first_seq = None
        payload = packet.payload
        if track.kind == "video" and payload:
            kind = payload[0] & 0x1F
            start_and_end = kind == FU_A and len(payload) > 1 and payload[1] & 0xC0 == 0xC0
            if self.fault("strict-fu") and start_and_end:
                return
            if self.fault("marker-ends-au") and packet.marker and kind in (6, 7, 8):
                return
        for event in track.depacketizer.receive(packet):
            if isinstance(event, VideoAccessUnit):
                self.video(event)
            elif isinstance(event, AudioAccessUnit):
                self.audio(event)

    def datagram(self, track: Track, data: bytes, source_port: int) -> None:
        """One RTP datagram of ``track`` from ``source_port``."""
        if self.fault("announced-port") and source_port != track.server_port:
            return
        try:
            packet = RtpPacket.parse(data)
        except ValueError:
            return
        if packet.payload_type != track.payload_type:
            return
        if self.pacer is not None:
            self.pacer.packet(track.kind, packet.timestamp, track.clock.rate)
        ready = [packet] if self.fault("arrival-order") else track.buffer.push(packet)
        for item in ready:
            self.depacketize(track, item)

    def skip_gaps(self, track: Track, now: float) -> None:
        """Give up on a missing datagram after :data:`REORDER_WAIT` s: it was lost."""
        if not track.buffer.has_gap:
            track.gap_seen = None
        elif track.gap_seen is None:
            track.gap_seen = now
        elif now - track.gap_seen >= REORDER_WAIT:
            track.gap_seen = None
            for item in track.buffer.skip_gap():
                self.depacketize(track, item)

    def depacketize(self, track: Track, packet: RtpPacket) -> None:
        """Packets in sequence order over UDP. A loss damages the access unit it falls in
        (its slices lose a fragment) and every one after it until a keyframe that arrived
        whole: those are not output, since a decoder can only conceal them."""
        if self.fault("keep-damaged") and track.kind == "video":
            for unit in track.joiner.receive(packet):
                self.video(unit)
            return
        keeps_all = self.fault("keep-damaged") or self.fault("arrival-order")
        if keeps_all:
            # Sequence numbers unread: the depacketizer sees every datagram as the next one.
            track.next_seq = (track.next_seq + 1) & 0xFFFF
            packet.sequence_number = track.next_seq
        events = track.depacketizer.receive(packet)
        lost = any(isinstance(e, PacketLoss) for e in events)
        if lost and track.kind == "video" and not keeps_all:
            track.damaged, track.damaged_timestamp = True, packet.timestamp
        for event in events:
            if isinstance(event, VideoAccessUnit):
                if track.damaged:
                    if lost or event.timestamp == track.damaged_timestamp or not event.keyframe:
                        continue
                    track.damaged = False
                self.video(event)
            elif isinstance(event, AudioAccessUnit):
                self.audio(event)

    def rtcp(self, track: Track, data: bytes, source_port: int) -> None:
        """One RTCP datagram of ``track``: with announced-rtcp, the first sender report from
        the announced port releases the output held until then."""
        if self.held is None or source_port != track.server_rtcp_port:
            return
        try:
            packets = parse_compound(data)
        except RtpError:
            return
        if any(isinstance(p, RtcpSenderReport) for p in packets):
            held, self.held = self.held, None
            for output in held:
                output()

    def audio(self, unit: AudioAccessUnit) -> None:
        pts = self.clocks["audio"].out(unit.timestamp)
        self.output("audio", unit.timestamp, lambda: self.segmenter.audio(unit.data, pts))

    def video(self, unit: VideoAccessUnit) -> None:
        self.frames += 1
        if self.fault("drop-frames") and self.frames % 30 == 0:
            return
        if self.fault("no-wrap"):
            if unit.timestamp < self.last_video_rtp:
                return  # "late": after the 32-bit wrap, every frame is
            self.last_video_rtp = unit.timestamp
        nals = list(unit.nal_units)
        if self.fault("sprop-only"):
            nals = [
                n for n in nals if nal_type(VideoCodec.H264, n) not in (H264_NAL_SPS, H264_NAL_PPS)
            ]
        clock = self.clocks["video"]
        # A timestamp jump is resynchronised by the clock: the output stays continuous.
        pts = clock.out(unit.timestamp)
        keyframe = unit.keyframe
        self.output("video", unit.timestamp, lambda: self.segmenter.video(nals, pts, keyframe))

    def output(self, kind: str, timestamp: int, write: Callable[[], None]) -> None:
        """Write one frame (its RTP ``timestamp``) into the segments now, or hold or pace it
        as the faults say."""
        if self.held is not None:
            self.held.append(write)
        elif self.pacer is not None:
            self.pacer.push(kind, timestamp, write)
        else:
            write()


class Pacer:
    """Frames played out at the camera's rate behind a playout delay that only grows, as a
    player's adaptive jitter buffer that never shrinks does. Every RTP packet's transit (its
    arrival less its timestamp's time) is measured against the fastest one's: the delay is the
    most a packet was ever late. A frame goes out at its timestamp's time plus the fastest
    transit plus that delay, so once packets held up on the way arrive together, the frames
    still go out one frame time apart and the delay is never caught up. Frames still waiting
    when the puller stops are lost."""

    def __init__(self) -> None:
        self.clocks: dict[str, tuple[float, int, int]] = {}
        """For each track: the first packet's arrival, RTP timestamp and clock rate."""
        self.fastest: dict[str, float] = {}
        self.delay = 0.0
        self.queue: deque[tuple[float, Callable[[], None]]] = deque()
        self.timer: asyncio.TimerHandle | None = None

    def reset(self) -> None:
        """A new session: new timestamps, and the delay measured again."""
        self.clocks.clear()
        self.fastest.clear()

    def media_time(self, kind: str, timestamp: int, rate: int, now: float) -> float:
        """``timestamp`` on the loop's clock, as if every packet took no time on the way."""
        if kind not in self.clocks:
            self.clocks[kind] = (now, timestamp, rate)
        first_arrival, first_timestamp, rate = self.clocks[kind]
        elapsed = timestamp_diff(timestamp, first_timestamp)
        return first_arrival + elapsed / rate

    def packet(self, kind: str, timestamp: int, rate: int) -> None:
        now = asyncio.get_running_loop().time()
        transit = now - self.media_time(kind, timestamp, rate, now)
        fastest = self.fastest[kind] = min(self.fastest.get(kind, transit), transit)
        self.delay = max(self.delay, transit - fastest)

    def push(self, kind: str, timestamp: int, write: Callable[[], None]) -> None:
        now = asyncio.get_running_loop().time()
        if kind not in self.clocks:
            write()  # no packet of it measured (TCP): nothing to pace by
            return
        rate = self.clocks[kind][2]
        due = self.media_time(kind, timestamp, rate, now) + self.fastest[kind] + self.delay
        self.queue.append((due, write))
        if self.timer is None:
            self.drain()

    def drain(self) -> None:
        loop = asyncio.get_running_loop()
        self.timer = None
        while self.queue and self.queue[0][0] <= loop.time():
            self.queue.popleft()[1]()
        if self.queue:
            self.timer = loop.call_at(self.queue[0][0], self.drain)


class NaiveJoiner:
    """H.264 access units put together the way a receiver that never reads sequence numbers
    does: the fragments of a NAL unit that came are joined, whatever is missing between or
    after them, and an access unit ends at the marker bit or a new timestamp."""

    def __init__(self) -> None:
        self.timestamp: int | None = None
        self.nals: list[bytes] = []
        self.fragment: bytearray | None = None

    def receive(self, packet: RtpPacket) -> list[VideoAccessUnit]:
        done: list[VideoAccessUnit] = []
        if self.timestamp is not None and packet.timestamp != self.timestamp:
            done += self.finish()
        self.timestamp = packet.timestamp
        try:
            pieces = parse_h264_payload(packet.payload)
        except ValueError:
            pieces = []
        for piece in pieces:
            if isinstance(piece, NalFragment):
                if piece.start or self.fragment is None:
                    self.end_fragment()
                    self.fragment = bytearray(piece.header)
                self.fragment += piece.data
                if piece.end:
                    self.end_fragment()
            else:
                self.end_fragment()
                self.nals.append(piece)
        if packet.marker:
            done += self.finish()
        return done

    def end_fragment(self) -> None:
        if self.fragment is not None:
            self.nals.append(bytes(self.fragment))
            self.fragment = None

    def finish(self) -> list[VideoAccessUnit]:
        self.end_fragment()
        nals, self.nals = self.nals, []
        slices = [n for n in nals if nal_type(VideoCodec.H264, n) in range(1, 6)]
        if not slices or self.timestamp is None:
            self.nals = nals  # parameter sets wait for their slices
            return []
        keyframe = any(nal_type(VideoCodec.H264, n) == 5 for n in slices)
        return [VideoAccessUnit(tuple(nals), self.timestamp, keyframe)]


def strict_sprop(nal_units: tuple[bytes, ...]) -> None:
    """End the session unless every sprop SPS and PPS parses whole."""
    sps = None
    for nal in nal_units:
        try:
            if nal_type(VideoCodec.H264, nal) == H264_NAL_SPS:
                sps = H264Sps.parse(nal)
            elif nal_type(VideoCodec.H264, nal) == H264_NAL_PPS:
                H264Pps.parse(nal)
        except (CodecError, ValueError, IndexError) as exc:
            raise SessionEnded(f"sprop-parameter-sets do not decode: {exc}") from None
    if sps is None:
        raise SessionEnded("sprop-parameter-sets carry no SPS")


class Exchange:
    """One RTSP connection's reads and writes, driven by the puller."""

    def __init__(
        self,
        puller: Puller,
        connection: RtspClientConnection,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        self.puller = puller
        self.connection = connection
        self.reader = reader
        self.writer = writer
        self.tracks: dict[int, Track] = {}
        self.playing = False
        self.keepalives: dict[int, float] = {}
        self.last_media = 0.0
        self.markers = 0
        self.video_packets = 0
        self.keyframe_seen = False
        self.endpoints: list[asyncio.DatagramTransport] = []

    async def listen(self, track: Track) -> int:
        """Bind an even RTP port and the RTCP port above it (RFC 3550 §11) for ``track``;
        returns the RTP port."""
        loop = asyncio.get_running_loop()
        for _ in range(50):
            rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            rtp.bind((self.puller.host, 0))
            port = int(rtp.getsockname()[1])
            rtcp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                if port % 2:
                    raise OSError("odd port")
                rtcp.bind((self.puller.host, port + 1))
            except OSError:
                rtp.close()
                rtcp.close()
                continue
            media, _ = await loop.create_datagram_endpoint(lambda: Datagrams(self, track), sock=rtp)
            control, _ = await loop.create_datagram_endpoint(
                lambda: ControlDatagrams(self, track), sock=rtcp
            )
            self.endpoints += [media, control]
            return port
        raise SessionEnded("no free pair of UDP ports")

    def datagram(self, track: Track, data: bytes, source_port: int) -> None:
        self.last_media = asyncio.get_running_loop().time()
        self.puller.datagram(track, data, source_port)

    def flush(self) -> None:
        data = self.connection.data_to_send()
        if data:
            self.writer.write(data)

    async def ask(self, cseq: int) -> ResponseReceived:
        self.flush()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10.0
        while True:
            for event in await self.read(deadline - loop.time()):
                if isinstance(event, ResponseReceived) and event.cseq == cseq:
                    if event.response.status_code >= 300:
                        raise SessionEnded(
                            f"{event.request.method} answered {event.response.status_code}"
                        )
                    return event

    async def read(self, timeout: float) -> list[object]:
        if timeout <= 0:
            raise SessionEnded("no answer in time")
        try:
            # Not asyncio.wait_for: on Python 3.11 it returns a read that completed in the same
            # loop pass as a cancellation of this task, and the cancellation is lost.
            async with asyncio.timeout(timeout):
                data = await self.reader.read(READ_SIZE)
        except TimeoutError:
            return []
        loop = asyncio.get_running_loop()
        if not data:
            raise SessionEnded("the camera closed the connection")
        self.connection.receive_data(data, loop.time())
        events: list[object] = []
        while (event := self.connection.next_event()) is not None:
            events.append(event)
            self.handle(event, loop.time())
        self.flush()
        return events

    def handle(self, event: object, now: float) -> None:
        puller = self.puller
        if isinstance(event, InterleavedFrameReceived):
            if not self.playing and puller.fault("no-early-rtcp"):
                raise SessionEnded("interleaved data before the PLAY answer")
            track = self.tracks.get(event.channel)
            if track is not None and self.playing:
                self.last_media = now
                if track.kind == "video":
                    self.video_packets += 1
                    if len(event.payload) > 1 and event.payload[1] & 0x80:
                        self.markers += 1
                puller.packet(track, event.payload)
        elif isinstance(event, KeepaliveSent):
            self.keepalives[event.cseq] = now
        elif isinstance(event, ResponseReceived) and event.cseq in self.keepalives:
            del self.keepalives[event.cseq]
            if event.response.status_code >= 300 and puller.fault("teardown-on-refusal"):
                raise SessionEnded(f"keepalive answered {event.response.status_code}")
        elif isinstance(event, ResponseReceived) and puller.fault("strict-cseq"):
            if event.response.cseq != event.request.cseq:
                raise SessionEnded(f"an answer with CSeq {event.response.cseq}")
        elif isinstance(event, UnexpectedResponse) and puller.fault("strict-cseq"):
            raise SessionEnded("an answer that matches no request")
        elif isinstance(event, ConnectionTerminated):
            raise SessionEnded(f"connection ended: {event.termination.detail}")

    async def stream(self) -> None:
        loop = asyncio.get_running_loop()
        played = self.last_media = loop.time()
        puller = self.puller
        while True:
            now = loop.time()
            if not puller.fault("no-keepalive"):
                self.connection.handle_timer(now)
                self.flush()
            if now - self.last_media > MEDIA_TIMEOUT:
                raise SessionEnded(f"no RTP for {MEDIA_TIMEOUT:g} s")
            if puller.fault("await-keepalive") and any(
                now - t > 2.0 for t in self.keepalives.values()
            ):
                raise SessionEnded("a keepalive went unanswered")
            if puller.fault("needs-marker") and self.video_packets >= 50 and not self.markers:
                raise SessionEnded("no marker bit in 50 video packets")
            for track in self.tracks.values():
                puller.skip_gaps(track, now)
            no_keyframe = puller.segmenter.start_pts is None and not puller.segmenter.segments
            if puller.fault("keyframe-timeout") and now - played > 5.0 and no_keyframe:
                raise SessionEnded("no keyframe within 5 s")
            await self.read(REORDER_WAIT / 2 if puller.udp else 0.5)


class ControlDatagrams(asyncio.DatagramProtocol):
    """RTCP datagrams of one track, handed to the puller as they arrive."""

    def __init__(self, exchange: Exchange, track: Track) -> None:
        self.exchange = exchange
        self.track = track

    def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
        self.exchange.puller.rtcp(self.track, data, int(addr[1]))


class Datagrams(asyncio.DatagramProtocol):
    """RTP datagrams of one track, handed to the exchange as they arrive."""

    def __init__(self, exchange: Exchange, track: Track) -> None:
        self.exchange = exchange
        self.track = track

    def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
        self.exchange.datagram(self.track, data, int(addr[1]))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url")
    parser.add_argument("out", type=Path)
    parser.add_argument("--udp", action="store_true", help="pull RTP over UDP")
    parser.add_argument("--fault", action="append", default=[], choices=sorted(FAULTS))
    parser.add_argument(
        "--faults-for", metavar="CASE", help="the faults of CASE_FAULTS for this case ID"
    )
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    faults = set(args.fault)
    if args.faults_for:
        faults.update(CASE_FAULTS.get(args.faults_for.upper(), ()))
    puller = Puller(args.url, args.out, faults, args.udp)

    async def run() -> None:
        loop = asyncio.get_running_loop()
        task = asyncio.ensure_future(puller.run())
        loop.add_signal_handler(signal.SIGINT, task.cancel)
        loop.add_signal_handler(signal.SIGTERM, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(run())
    puller.segmenter.cut()
    puller.segmenter.write_playlist(ended=True)


if __name__ == "__main__":
    main()
