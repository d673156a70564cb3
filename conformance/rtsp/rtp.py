"""Judges of a received RTP stream (RFC 3550, RFC 6184, RFC 7798), as pure functions over the
packets of one stream in arrival order, each with its arrival time.

Each judge returns :class:`Finding` objects (what is wrong and where), or figures; none raises
on bad input. Payloads are split with :mod:`wire.payload`'s parsers, never a second parser.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from wire.codec.nal import VideoCodec, is_vcl, nal_type
from wire.payload.errors import PayloadError
from wire.payload.events import VideoAccessUnit
from wire.payload.h264 import FU_A, STAP_A, H264Depacketizer, parse_h264_payload
from wire.payload.h265 import AP, FU, H265Depacketizer, parse_h265_payload
from wire.payload.video import NalFragment
from wire.rtp import RtpError, RtpPacket, TimestampUnwrapper, seq_diff

# H.264 §7.4.1 and H.265 §7.4.2: emulation prevention keeps these three-byte sequences out of
# every NAL unit, so finding one means a start code (or a raw byte stream) is inside it.
FORBIDDEN_IN_NAL = (b"\x00\x00\x00", b"\x00\x00\x01", b"\x00\x00\x02")
MAX_FINDINGS = 50


@dataclass(frozen=True, slots=True)
class Received:
    """One RTP packet of a stream and when it arrived (seconds, any monotonic origin)."""

    arrival: float
    packet: RtpPacket
    size: int
    """Bytes of the whole RTP packet, header included."""


@dataclass(frozen=True, slots=True)
class Finding:
    message: str
    where: str


def parse_all(items: Iterable[tuple[float, bytes]]) -> tuple[list[Received], list[Finding]]:
    """RTP packets from ``(arrival, bytes)``; those that do not parse are findings."""
    packets: list[Received] = []
    problems: list[Finding] = []
    for index, (arrival, data) in enumerate(items):
        try:
            packets.append(Received(arrival, RtpPacket.parse(data), len(data)))
        except RtpError as exc:
            problems.append(Finding(str(exc), f"datagram {index}"))
    return packets, problems


def _where(index: int, item: Received) -> str:
    p = item.packet
    return f"packet {index} (seq {p.sequence_number}, ts {p.timestamp})"


def ssrc_changes(packets: Sequence[Received]) -> list[Finding]:
    """RFC 3550 §5.1/§8: one source keeps one SSRC; every change is a finding."""
    findings = []
    for index in range(1, len(packets)):
        before, now = packets[index - 1].packet.ssrc, packets[index].packet.ssrc
        if before != now:
            findings.append(
                Finding(
                    f"SSRC changed from {before:08X} to {now:08X}", _where(index, packets[index])
                )
            )
    return findings[:MAX_FINDINGS]


@dataclass(frozen=True)
class SequenceReport:
    lost: int
    """Sequence numbers skipped."""
    findings: list[Finding]
    """Gaps, repeats and steps backwards."""


def sequence_report(packets: Sequence[Received]) -> SequenceReport:
    """RFC 3550 §5.1: the sequence number increments by one for each packet sent."""
    findings: list[Finding] = []
    lost = 0
    for index in range(1, len(packets)):
        delta = seq_diff(
            packets[index].packet.sequence_number, packets[index - 1].packet.sequence_number
        )
        if delta == 1:
            continue
        where = _where(index, packets[index])
        if delta > 1:
            lost += delta - 1
            findings.append(Finding(f"{delta - 1} sequence numbers skipped", where))
        elif delta == 0:
            findings.append(Finding("sequence number repeated", where))
        else:
            findings.append(Finding(f"sequence number went back by {-delta}", where))
    return SequenceReport(lost, findings[:MAX_FINDINGS])


@dataclass(frozen=True)
class ClockFit:
    """RTP timestamps against arrival: ``rate`` in ticks per second (least squares), and the
    largest distance of any packet from that line, in seconds of the declared clock."""

    rate: float
    max_residual: float
    worst: str
    packets: int


def clock_fit(packets: Sequence[Received], clock_rate: int) -> ClockFit | None:
    """How the timestamps advance against arrival time (RFC 3550 §5.1: the timestamp reflects
    the sampling instant and increments monotonically and linearly in time)."""
    if len(packets) < 2 or clock_rate <= 0:
        return None
    unwrap = TimestampUnwrapper()
    points = [(r.arrival, float(unwrap.unwrap(r.packet.timestamp))) for r in packets]
    t0, s0 = points[0]
    xs = [t - t0 for t, _ in points]
    ys = [s - s0 for _, s in points]
    if xs[-1] - xs[0] <= 0:
        return None
    n = len(xs)
    mean_x, mean_y = sum(xs) / n, sum(ys) / n
    var = sum((x - mean_x) ** 2 for x in xs)
    cov = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True))
    slope = cov / var if var else 0.0
    # The residual is measured against the declared clock (not the fitted slope), with the
    # line's offset chosen so that the median packet sits on it: network delay only adds.
    offsets = sorted(y / clock_rate - x for x, y in zip(xs, ys, strict=True))
    median = offsets[len(offsets) // 2]
    worst_index, worst = 0, 0.0
    for index, (x, y) in enumerate(zip(xs, ys, strict=True)):
        residual = abs(y / clock_rate - x - median)
        if residual > worst:
            worst_index, worst = index, residual
    return ClockFit(slope, worst, _where(worst_index, packets[worst_index]), n)


def timestamp_steps_back(
    packets: Sequence[Received], clock_rate: int, allowed: float
) -> list[Finding]:
    """Timestamps going backwards by more than ``allowed`` seconds (B-frame reordering moves
    them back by a few frame durations; more than that is a broken clock)."""
    findings = []
    unwrap = TimestampUnwrapper()
    highest: int | None = None
    for index, item in enumerate(packets):
        value = unwrap.unwrap(item.packet.timestamp)
        if highest is not None and (highest - value) / clock_rate > allowed:
            back = (highest - value) / clock_rate
            findings.append(
                Finding(f"timestamp {back:.3f} s behind the highest seen", _where(index, item))
            )
        highest = value if highest is None else max(highest, value)
    return findings[:MAX_FINDINGS]


def _pieces(codec: VideoCodec, payload: bytes) -> list[bytes | NalFragment]:
    return parse_h264_payload(payload) if codec is VideoCodec.H264 else parse_h265_payload(payload)


def _packet_kind(codec: VideoCodec, payload: bytes) -> int:
    if codec is VideoCodec.H264:
        return payload[0] & 0x1F
    return (payload[0] >> 1) & 0x3F if payload else -1


def marker_findings(packets: Sequence[Received], codec: VideoCodec) -> list[Finding]:
    """RFC 6184 §5.1 / RFC 7798 §4.1: the marker bit is set on the last packet of an access unit
    (the last packet of a timestamp) and on no other packet."""
    findings = []
    for index, item in enumerate(packets):
        following = packets[index + 1] if index + 1 < len(packets) else None
        if following is None:
            break  # the end of the recording is not the end of the access unit
        last = following.packet.timestamp != item.packet.timestamp
        if last and not item.packet.marker:
            findings.append(
                Finding("last packet of an access unit without the marker bit", _where(index, item))
            )
        elif not last and item.packet.marker:
            kinds = _nal_types(codec, item.packet.payload)
            findings.append(
                Finding(
                    f"marker bit set before the end of the access unit (NAL types {kinds})",
                    _where(index, item),
                )
            )
    return findings[:MAX_FINDINGS]


def _nal_types(codec: VideoCodec, payload: bytes) -> list[int]:
    try:
        pieces = _pieces(codec, payload)
    except PayloadError:
        return []
    return [nal_type(codec, p.header if isinstance(p, NalFragment) else p) for p in pieces]


def fragmentation_findings(packets: Sequence[Received], codec: VideoCodec) -> list[Finding]:
    """RFC 6184 §5.8 / RFC 7798 §4.4.3: fragments of one NAL unit go in consecutive packets,
    the first with S set, the last with E set, never both in one FU; aggregation packets hold
    whole NAL units with sizes that add up."""
    findings: list[Finding] = []
    open_type: int | None = None
    fu = FU_A if codec is VideoCodec.H264 else FU
    aggregate = STAP_A if codec is VideoCodec.H264 else AP
    previous_seq: int | None = None
    for index, item in enumerate(packets):
        packet = item.packet
        where = _where(index, item)
        contiguous = (
            previous_seq is not None and seq_diff(packet.sequence_number, previous_seq) == 1
        )
        previous_seq = packet.sequence_number
        if not packet.payload:
            findings.append(Finding("empty payload", where))
            continue
        kind = _packet_kind(codec, packet.payload)
        try:
            pieces = _pieces(codec, packet.payload)
        except PayloadError as exc:
            name = "aggregation packet" if kind == aggregate else "payload"
            findings.append(Finding(f"{name}: {exc}", where))
            open_type = None
            continue
        if kind != fu:
            if open_type is not None and contiguous:
                findings.append(
                    Finding("fragmented NAL unit interrupted before its End fragment", where)
                )
            open_type = None
            continue
        fragment = pieces[0]
        assert isinstance(fragment, NalFragment)
        this_type = nal_type(codec, fragment.header)
        if fragment.start and fragment.end:
            findings.append(
                Finding(
                    f"FU with both Start and End set (NAL type {this_type}, "
                    f"{len(fragment.data)} bytes)",
                    where,
                )
            )
            open_type = None
        elif fragment.start:
            if open_type is not None and contiguous:
                findings.append(Finding("FU Start before the previous NAL unit's End", where))
            open_type = this_type
        elif open_type is None:
            if contiguous:
                findings.append(Finding("FU continuation without a Start fragment", where))
        elif this_type != open_type:
            findings.append(
                Finding(f"FU of NAL type {this_type} inside a type {open_type} unit", where)
            )
            open_type = None
        elif fragment.end:
            open_type = None
    return findings[:MAX_FINDINGS]


def nal_unit_findings(packets: Sequence[Received], codec: VideoCodec) -> list[Finding]:
    """Every NAL unit carried is one NAL unit: forbidden_zero_bit clear and no start code or
    other forbidden three-byte sequence inside it (H.264 §7.4.1; RFC 6184 §5.3, §5.6)."""
    findings: list[Finding] = []
    fragments: dict[int, bytearray] = {}
    for index, item in enumerate(packets):
        try:
            pieces = _pieces(codec, item.packet.payload) if item.packet.payload else []
        except PayloadError:
            continue  # judged by fragmentation_findings
        units: list[bytes] = []
        for piece in pieces:
            if isinstance(piece, NalFragment):
                if piece.start:
                    fragments[0] = bytearray(piece.header + piece.data)
                elif 0 in fragments:
                    fragments[0] += piece.data
                if piece.end and 0 in fragments:
                    units.append(bytes(fragments.pop(0)))
            else:
                units.append(piece)
        for unit in units:
            where = _where(index, item)
            if unit[0] & 0x80:
                findings.append(Finding("forbidden_zero_bit set in a NAL unit header", where))
            for sequence in FORBIDDEN_IN_NAL:
                found = unit.find(sequence, 1)
                if found >= 0:
                    findings.append(
                        Finding(
                            f"NAL unit of type {nal_type(codec, unit)} holds {sequence.hex(' ')} "
                            f"at byte {found} (a start code inside a NAL unit)",
                            where,
                        )
                    )
                    break
    return findings[:MAX_FINDINGS]


def access_units(
    packets: Sequence[Received], codec: VideoCodec
) -> list[tuple[float, VideoAccessUnit]]:
    """The stream's access units, through wire.payload's depacketizer, each with the arrival
    time of the packet that completed it."""
    depacketizer = H264Depacketizer() if codec is VideoCodec.H264 else H265Depacketizer()
    units: list[tuple[float, VideoAccessUnit]] = []
    for item in packets:
        for event in depacketizer.receive(item.packet):
            if isinstance(event, VideoAccessUnit):
                units.append((item.arrival, event))
    last = packets[-1].arrival if packets else 0.0
    units += [(last, e) for e in depacketizer.flush() if isinstance(e, VideoAccessUnit)]
    return units


def has_vcl(codec: VideoCodec, unit: VideoAccessUnit) -> bool:
    return any(is_vcl(codec, nal) for nal in unit.nal_units)


def interarrival_jitter(packets: Sequence[Received], clock_rate: int) -> list[tuple[float, float]]:
    """RFC 3550 §6.4.1 / A.8 interarrival jitter after each packet, in seconds, against the
    arrival time (relative to the first packet)."""
    if not packets or clock_rate <= 0:
        return []
    jitter = 0.0
    series = []
    t0 = packets[0].arrival
    unwrap = TimestampUnwrapper()
    previous: tuple[float, int] | None = None
    for item in packets:
        stamp = unwrap.unwrap(item.packet.timestamp)
        if previous is not None and stamp != previous[1]:
            transit_delta = (item.arrival - previous[0]) - (stamp - previous[1]) / clock_rate
            jitter += (abs(transit_delta) - jitter) / 16
        if previous is None or stamp != previous[1]:
            previous = (item.arrival, stamp)
        series.append((item.arrival - t0, jitter))
    return series


@dataclass(frozen=True)
class Burstiness:
    """Packets per 10 ms window against the average: 1 is perfectly even pacing."""

    window: float
    peak_packets: int
    mean_packets: float

    @property
    def ratio(self) -> float:
        return self.peak_packets / self.mean_packets if self.mean_packets else math.nan


def burstiness(packets: Sequence[Received], window: float = 0.01) -> Burstiness | None:
    if len(packets) < 2:
        return None
    start, end = packets[0].arrival, packets[-1].arrival
    if end <= start:
        return None
    counts: dict[int, int] = {}
    for item in packets:
        slot = int((item.arrival - start) / window)
        counts[slot] = counts.get(slot, 0) + 1
    slots = max(1, math.ceil((end - start) / window))
    return Burstiness(window, max(counts.values()), len(packets) / slots)
