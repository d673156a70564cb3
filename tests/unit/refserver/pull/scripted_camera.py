"""A camera that says exactly what a test scripts, sans I/O: requests in, answers and RTP out.

It answers OPTIONS, DESCRIBE (the scripted SDP, as written, quirks and all), SETUP (RTP
interleaved on the channels asked for; TCP only), PLAY (the scripted ``RTP-Info``), TEARDOWN and
keepalives, and after PLAY hands out its media packets as interleaved frames: all at once
(:meth:`ScriptedCamera.media`) or as they fall due (:meth:`ScriptedCamera.due`). Real cameras'
dialogs in the field reports (a TP-Link ``o=`` line of seven fields, ``rtptime=-1``, G.711 audio
beside H.264) are replayed through it without a third-party program.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from wire.codec.h264 import AvcDecoderConfigurationRecord
from wire.payload import packetize_h264
from wire.rtp import RtpPacket
from wire.rtsp.headers import Headers
from wire.rtsp.message import InterleavedFrame, Request, Response
from wire.rtsp.reader import RtspReader
from wire.rtsp.transport import Transport

SESSION_ID = "7FB6A0C1"
H264_CLOCK = 90_000
_RECORD = AvcDecoderConfigurationRecord.parse(
    (Path(__file__).parents[2] / "wire/codec/data/h264_baseline_320x240_avcc.bin").read_bytes()
)
SPS, PPS = _RECORD.sps[0], _RECORD.pps[0]
"""A real camera's parameter sets (320x240 Baseline), for the synthetic pictures."""


@dataclass
class ScriptedTrack:
    """One ``m=`` section's stream: its control suffix and its packets with their send times
    (seconds after PLAY)."""

    control: str
    packets: list[tuple[float, RtpPacket]]
    channel: int | None = None


@dataclass
class ScriptedCamera:
    sdp: str
    tracks: list[ScriptedTrack]
    rtp_info: str | None = None
    """The PLAY answer's RTP-Info; ``{url}`` stands for the presentation URL."""
    requests: list[Request] = field(default_factory=list)
    _reader: RtspReader = field(default_factory=RtspReader)
    _url: str = ""
    _played: bool = False
    _sent: int = 0

    def receive(self, data: bytes) -> bytes:
        """Bytes from the client in; the answers to the requests they complete out."""
        self._reader.receive_data(data)
        out = bytearray()
        while (message := self._reader.next_message()) is not None:
            if isinstance(message, Request):
                self.requests.append(message)
                out += self._answer(message).serialize()
        return bytes(out)

    @property
    def playing(self) -> bool:
        return self._played

    def media(self) -> bytes:
        """Every packet not sent yet, in send order, as interleaved frames."""
        return self.due(float("inf"))

    def due(self, seconds: float) -> bytes:
        """The packets due by ``seconds`` after PLAY and not sent yet."""
        if not self._played:
            return b""
        schedule = sorted(
            (
                (at, n, i, track, packet)
                for n, track in enumerate(self.tracks)
                for i, (at, packet) in enumerate(track.packets)
                if track.channel is not None
            ),
            key=lambda item: item[:3],
        )
        out = bytearray()
        for index, (at, _, _, track, packet) in enumerate(schedule):
            if index < self._sent:
                continue
            if at > seconds:
                break
            assert track.channel is not None
            out += InterleavedFrame(track.channel, packet.serialize()).serialize()
            self._sent = index + 1
        return bytes(out)

    def _answer(self, request: Request) -> Response:
        headers = Headers([("CSeq", request.headers.get("CSeq", "0"))])
        method = request.method
        if method == "OPTIONS":
            headers.add("Public", "OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN, GET_PARAMETER")
            return Response(200, headers=headers)
        if method == "DESCRIBE":
            self._url = request.url.rstrip("/")
            headers.add("Content-Base", self._url + "/")
            headers.add("Content-Type", "application/sdp")
            return Response(200, headers=headers, body=self.sdp.encode())
        headers.add("Session", f"{SESSION_ID};timeout=60")
        if method == "SETUP":
            track = next((t for t in self.tracks if request.url.endswith(t.control)), None)
            transport = Transport.parse(request.headers.get("Transport", "RTP/AVP"))
            channels = transport.first.interleaved
            if track is None or channels is None:
                return Response(461 if track is not None else 404, headers=headers)
            track.channel = channels.first
            headers.add("Transport", transport.first.serialize())
            return Response(200, headers=headers)
        if method == "PLAY":
            self._played = True
            headers.add("Range", "npt=0.000-")
            if self.rtp_info is not None:
                headers.add("RTP-Info", self.rtp_info.format(url=self._url))
            return Response(200, headers=headers)
        return Response(200, headers=headers)  # TEARDOWN, GET_PARAMETER, SET_PARAMETER


def h264_packets(
    sps: bytes,
    pps: bytes,
    *,
    seconds: float,
    fps: int = 15,
    keyframe_bytes: int = 20_000,
    frame_bytes: int = 3_000,
    pt: int = 96,
) -> list[tuple[float, RtpPacket]]:
    """Synthetic H.264 pictures (an IDR each second, in-band SPS/PPS before it), packetized as a
    camera does (FU-A at 1400 bytes), with their send times."""
    packets: list[tuple[float, RtpPacket]] = []
    seq = 1000
    for n in range(round(seconds * fps)):
        keyframe = n % fps == 0
        size = keyframe_bytes if keyframe else frame_bytes
        picture = bytes([0x65 if keyframe else 0x41]) + bytes(
            (n + i) % 251 + 1 for i in range(size)
        )
        nalus = [sps, pps, picture] if keyframe else [picture]
        timestamp = 3_000_000 + n * H264_CLOCK // fps
        for payload in packetize_h264(nalus, 1400):
            packet = RtpPacket(pt, seq & 0xFFFF, timestamp, 0x11, payload.payload, payload.marker)
            packets.append((n / fps, packet))
            seq += 1
    return packets


def audio_packets(
    payloads: list[bytes], *, samples: int, rate: int, pt: int
) -> list[tuple[float, RtpPacket]]:
    """One audio unit per packet, ``samples`` long each, with their send times."""
    return [
        (n * samples / rate, RtpPacket(pt, (500 + n) & 0xFFFF, 77_000 + n * samples, 0x22, data))
        for n, data in enumerate(payloads)
    ]
