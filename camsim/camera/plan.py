"""Packet plans: a sample packetized once into RTP packets that every camera and client shares.

Each access unit becomes a :class:`Burst`: the RTP packets that carry it (serialized with
sequence number, timestamp and SSRC zero), when it is due relative to the start of the loop, and
its RTP timestamp within the loop. Video access units carry their parameter sets in band before
every keyframe, as cameras send them. The offset of the SEI wallclock stamp inside each packet is
recorded so that the sender can rewrite it at send time.

Senders never copy a planned payload: per send they write a fresh 12-byte header (the planned
first two bytes, then their own sequence number, timestamp and SSRC) in front of the shared
payload, with scatter-gather I/O where the socket allows it.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction

from camsim.camera.audio import audio_payload_type, packetize_audio
from camsim.media.loader import AccessUnit, MediaKind, MediaSample
from wire.codec.nal import VideoCodec, nal_type, parameter_set_types
from wire.codec.stamp import find_stamp
from wire.payload import PayloadPacket, packetize_h264, packetize_h265
from wire.rtp import RTP_HEADER_SIZE, RtpPacket

# An Ethernet MTU less IP, UDP and RTP headers, with room to spare for tunnels (as cameras do).
DEFAULT_MAX_PAYLOAD_SIZE = 1400
VIDEO_PAYLOAD_TYPE = 96
AUDIO_PAYLOAD_TYPE = 97

VideoPacketizer = Callable[[VideoCodec, Sequence[bytes], int], list[PayloadPacket]]
"""Packetizes one access unit: (codec, NAL units, max payload size) -> payloads and markers."""


def packetize_video(
    codec: VideoCodec, nal_units: Sequence[bytes], max_payload_size: int
) -> list[PayloadPacket]:
    """RFC 6184 packetization mode 1 or RFC 7798, the way well-behaved cameras send."""
    if codec is VideoCodec.H264:
        return packetize_h264(nal_units, max_payload_size)
    return packetize_h265(nal_units, max_payload_size)


@dataclass(frozen=True, slots=True)
class PlannedPacket:
    """A serialized RTP packet and the offset of the stamp UUID in it (-1 without one).

    ``head`` is its first two header bytes (version, marker, payload type) as a 16-bit number
    and ``payload`` a view of what follows the fixed header.
    """

    data: bytes
    stamp_offset: int = -1

    @property
    def head(self) -> int:
        return (self.data[0] << 8) | self.data[1]

    @property
    def payload(self) -> memoryview:
        return memoryview(self.data)[RTP_HEADER_SIZE:]


Wire = tuple[tuple[int, bytes | bytearray | memoryview], ...]
"""A burst as senders take it: (head, payload) per packet."""


@dataclass(frozen=True, slots=True)
class Burst:
    """The packets of one access unit, sent together ``offset`` seconds into the loop."""

    offset: float
    track: int
    ticks: int
    keyframe: bool
    packets: tuple[PlannedPacket, ...]
    wire: Wire = ()
    """The packets as (head, payload), computed once."""
    payload_octets: int = 0
    stamped: bool = False
    stamps: tuple[int, ...] = ()
    """The indexes of the packets that carry a stamp."""

    @classmethod
    def of(
        cls,
        offset: float,
        track: int,
        ticks: int,
        keyframe: bool,
        packets: tuple[PlannedPacket, ...],
    ) -> Burst:
        wire = tuple((p.head, p.payload) for p in packets)
        octets = sum(len(payload) for _, payload in wire)
        stamps = tuple(index for index, p in enumerate(packets) if p.stamp_offset >= 0)
        return cls(offset, track, ticks, keyframe, packets, wire, octets, bool(stamps), stamps)


@dataclass(frozen=True, slots=True)
class TrackPlan:
    """One RTP stream of the plan."""

    kind: MediaKind
    clock_rate: int
    payload_type: int
    period_ticks: int


class PacketPlan:
    """A whole sample as bursts in send order; loops every ``period`` seconds."""

    def __init__(
        self, tracks: tuple[TrackPlan, ...], bursts: tuple[Burst, ...], period: Fraction
    ) -> None:
        if not bursts:
            raise ValueError("a packet plan needs at least one burst")
        self.tracks = tracks
        self.bursts = bursts
        self.period = period
        self._offsets = [b.offset for b in bursts]

    @property
    def period_seconds(self) -> float:
        return float(self.period)

    @property
    def video_track(self) -> int | None:
        return next((i for i, t in enumerate(self.tracks) if t.kind is MediaKind.VIDEO), None)

    def index_at(self, position: float) -> int:
        """The first burst due at or after ``position`` seconds into the loop (may be len)."""
        return bisect.bisect_left(self._offsets, position)

    def first_of_track(self, start: int, track: int, keyframe: bool = False) -> int:
        """Bursts from ``start`` (counted across loops) to the first of ``track``; -1 if none.

        With ``keyframe`` the burst must also be a keyframe.
        """
        count = len(self.bursts)
        for step in range(count):
            burst = self.bursts[(start + step) % count]
            if burst.track == track and (burst.keyframe or not keyframe):
                return step
        return -1

    @property
    def bitrate(self) -> float:
        """Bits per second of RTP sent to one client."""
        size = sum(len(p.data) for b in self.bursts for p in b.packets)
        return 8 * size / self.period_seconds


def build_plan(
    sample: MediaSample,
    *,
    max_payload_size: int = DEFAULT_MAX_PAYLOAD_SIZE,
    video_packetizer: VideoPacketizer = packetize_video,
) -> PacketPlan:
    """Packetize every access unit of ``sample`` once."""
    period = sample.duration
    tracks: list[TrackPlan] = []
    bursts: list[Burst] = []
    if sample.video is not None:
        video = sample.video
        tracks.append(
            TrackPlan(
                MediaKind.VIDEO,
                video.clock_rate,
                VIDEO_PAYLOAD_TYPE,
                _period_ticks(period, video.clock_rate),
            )
        )
        track = len(tracks) - 1
        for unit in sample.video_units:
            nal_units = _in_band(video.codec, video.parameter_sets, unit)
            payloads = video_packetizer(video.codec, nal_units, max_payload_size)
            bursts.append(_burst(unit, track, VIDEO_PAYLOAD_TYPE, payloads))
    if sample.audio is not None:
        audio = sample.audio
        payload_type = audio_payload_type(audio, AUDIO_PAYLOAD_TYPE)
        tracks.append(
            TrackPlan(
                MediaKind.AUDIO,
                audio.clock_rate,
                payload_type,
                _period_ticks(period, audio.clock_rate),
            )
        )
        track = len(tracks) - 1
        for unit in sample.audio_units:
            # As MediaSample.loop does: a frame overlapping the next repetition is left out.
            if Fraction(unit.pts + unit.duration, unit.clock_rate) > period:
                continue
            payloads = packetize_audio(audio, unit, max_payload_size)
            bursts.append(_burst(unit, track, payload_type, payloads))
    # Decode order across tracks; video first when both are due together.
    bursts.sort(key=lambda b: (b.offset, tracks[b.track].kind is MediaKind.AUDIO))
    return PacketPlan(tuple(tracks), tuple(bursts), period)


def _period_ticks(period: Fraction, clock_rate: int) -> int:
    ticks = period * clock_rate
    if ticks.denominator != 1:
        raise ValueError(f"loop period {period} s is not a whole number of {clock_rate} Hz ticks")
    return int(ticks)


def _in_band(codec: VideoCodec, parameter_sets: tuple[bytes, ...], unit: AccessUnit) -> list[bytes]:
    """The unit's NAL units with the parameter sets in front of a keyframe, unless present."""
    if not unit.keyframe:
        return list(unit.nalus)
    wanted = set(parameter_set_types(codec))
    if wanted <= {nal_type(codec, nal) for nal in unit.nalus}:
        return list(unit.nalus)
    return [*parameter_sets, *unit.nalus]


def _burst(unit: AccessUnit, track: int, payload_type: int, payloads: list[PayloadPacket]) -> Burst:
    packets = []
    for payload in payloads:
        data = RtpPacket(payload_type, 0, 0, 0, payload.payload, payload.marker).serialize()
        stamp = find_stamp(payload.payload)
        packets.append(PlannedPacket(data, stamp + RTP_HEADER_SIZE if stamp >= 0 else -1))
    # One access unit per packetizer call: every packet carries the unit's presentation time.
    return Burst.of(float(unit.decode_time), track, unit.pts, unit.keyframe, tuple(packets))
