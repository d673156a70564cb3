"""RTP and RTCP as a receiver would have seen them, from a capture.

:class:`RtpRecorder` keeps, per flow, a 16-byte record of each RTP packet (the fixed header and
the first four payload bytes) and its packet number, capture time and size, appended to two
``bytearray`` objects: the per-packet cost is two slices and one ``struct.pack``. Whole payloads
are kept only for the rare packets whose head cannot say what they carry (parameter sets and
aggregation packets).

When the capture has been read and the dialogs are known, :func:`analyse_stream` walks the
records of each SSRC once: reception statistics with :class:`wire.rtp.ReceiverStatistics`
(RFC 3550 A.1 expected/lost, A.8 jitter), duplicates, reordering, the sequence numbers never
received with the packet where their gap showed, sequence and timestamp jumps, bitrate, frames
and keyframes from the NAL unit heads, parameter sets in band. :class:`RtcpRecorder` parses each
RTCP compound packet with :func:`wire.rtp.parse_compound`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from itertools import pairwise

from camsim.pcap.flow import FlowId
from camsim.pcap.media import (
    AUDIO,
    INTERESTING_FIRST_BYTE,
    VIDEO,
    MediaInfo,
    VideoFormat,
    guess_codec,
    snap_clock_rate,
    static_media,
    summarize_payload,
)
from camsim.pcap.packet import Buffer
from wire.codec.nal import VideoCodec
from wire.rtp import (
    RtcpBye,
    RtcpReceiverReport,
    RtcpSenderReport,
    RtpError,
    parse_compound,
    unix_from_ntp,
)
from wire.rtp.sequence import timestamp_diff
from wire.rtp.stats import MAX_DROPOUT, ReceiverStatistics

RECORD = struct.Struct("!BBHII4s")
"""The fixed RTP header and the first four payload bytes."""
RECORD_SIZE = RECORD.size
META = struct.Struct("<Idi")
"""Packet number, capture time, RTP packet size."""

TIMESTAMP_JUMP_SECONDS = 1.0
"""A timestamp step this far from the capture clock's step is a jump, not jitter."""

_FIXED_HEADER_SIZE = 12
_ZERO_HEAD = bytes(4)


class RtpRecorder:
    """The RTP packets of one flow: a UDP flow in one direction, or one interleaved channel."""

    def __init__(self, flow: FlowId) -> None:
        self.flow = flow
        self.records = bytearray()
        self.meta = bytearray()
        self.payloads: dict[int, bytes] = {}
        """Whole payloads of parameter set and aggregation packets, by packet index."""
        self.count = 0
        self.malformed: list[int] = []
        """Packet numbers of datagrams that looked like RTP but did not parse."""
        self._pack_meta = META.pack

    def add(self, data: Buffer, start: int, end: int, number: int, time: float) -> None:
        """One RTP packet at ``data[start:end]``."""
        first = data[start]
        if first == 0x80 and end - start >= 16:
            # No padding, extension or CSRC: the payload starts right after the fixed header.
            self.records += data[start : start + 16]
            payload_start = start + 12
        else:
            payload_start, payload_end = _payload_bounds(data, start, end)
            if payload_start < 0:
                self.malformed.append(number)
                return
            head = bytes(data[payload_start : min(payload_start + 4, payload_end)])
            self.records += data[start : start + 12]
            self.records += head + _ZERO_HEAD[len(head) :]
            end = payload_end
        if payload_start < end and INTERESTING_FIRST_BYTE[data[payload_start]]:
            self.payloads[self.count] = bytes(data[payload_start:end])
        self.meta += self._pack_meta(number, time, end - start)
        self.count += 1

    def survey(self) -> Survey:
        """Packets per SSRC, how many followed their predecessor's sequence number, and where
        the SSRC changed: one pass over the headers only."""
        survey = Survey()
        counts = survey.counts
        in_sequence = survey.in_sequence
        last_seq: dict[int, int] = {}
        previous = None
        for index, (_, _, seq, _, ssrc, _) in enumerate(RECORD.iter_unpack(self.records)):
            counts[ssrc] = counts.get(ssrc, 0) + 1
            before = last_seq.get(ssrc)
            if before is not None and (seq - before) & 0xFFFF == 1:
                in_sequence[ssrc] = in_sequence.get(ssrc, 0) + 1
            last_seq[ssrc] = seq
            if ssrc != previous:
                if previous is not None:
                    number, time, _ = META.unpack_from(self.meta, index * META.size)
                    survey.changes.append((number, time, previous, ssrc))
                previous = ssrc
        return survey


@dataclass
class Survey:
    counts: dict[int, int] = field(default_factory=dict)
    in_sequence: dict[int, int] = field(default_factory=dict)
    changes: list[tuple[int, float, int, int]] = field(default_factory=list)
    """(packet, time, previous SSRC, new SSRC) each time the SSRC differs from the last."""


def _payload_bounds(data: Buffer, start: int, end: int) -> tuple[int, int]:
    """Start and end of the payload (after CSRCs and extension, before padding); -1 if bad."""
    if end - start < _FIXED_HEADER_SIZE or data[start] >> 6 != 2:
        return -1, -1
    first = data[start]
    pos = start + _FIXED_HEADER_SIZE + 4 * (first & 0x0F)
    if first & 0x10:
        if pos + 4 > end:
            return -1, -1
        pos += 4 + 4 * int.from_bytes(data[pos + 2 : pos + 4], "big")
    if first & 0x20 and end > pos:
        end -= data[end - 1]
    if pos > end:
        return -1, -1
    return pos, end


@dataclass
class SenderReportSeen:
    number: int
    time: float
    ntp: float
    """The SR's NTP time as a Unix time."""
    rtp_timestamp: int
    packet_count: int
    octet_count: int


@dataclass
class ReceiverReportSeen:
    number: int
    time: float
    reporter: int
    fraction_lost: float
    cumulative_lost: int
    jitter: int


@dataclass
class RtcpRecorder:
    """RTCP from one flow or channel: SRs by sender SSRC, RR blocks by reported SSRC."""

    flow: FlowId
    packets: int = 0
    sender_reports: dict[int, list[SenderReportSeen]] = field(default_factory=dict)
    receiver_reports: dict[int, list[ReceiverReportSeen]] = field(default_factory=dict)
    byes: list[tuple[int, int]] = field(default_factory=list)
    """(packet number, SSRC) of each BYE."""
    malformed: list[tuple[int, str]] = field(default_factory=list)

    def add(self, data: bytes, number: int, time: float) -> None:
        self.packets += 1
        try:
            packets = parse_compound(data)
        except RtpError as exc:
            self.malformed.append((number, str(exc)))
            return
        for packet in packets:
            if isinstance(packet, RtcpSenderReport):
                seen = SenderReportSeen(
                    number,
                    time,
                    unix_from_ntp(packet.ntp_timestamp),
                    packet.rtp_timestamp,
                    packet.packet_count,
                    packet.octet_count,
                )
                self.sender_reports.setdefault(packet.ssrc, []).append(seen)
            if isinstance(packet, RtcpSenderReport | RtcpReceiverReport):
                for block in packet.reports:
                    self.receiver_reports.setdefault(block.ssrc, []).append(
                        ReceiverReportSeen(
                            number,
                            time,
                            packet.ssrc,
                            block.fraction_lost / 256,
                            block.packets_lost,
                            block.jitter,
                        )
                    )
            elif isinstance(packet, RtcpBye):
                self.byes += [(number, ssrc) for ssrc in packet.sources]


@dataclass
class LossRun:
    """Consecutive sequence numbers never received."""

    first_sequence: int
    count: int
    before_packet: int
    """The packet that arrived after the gap."""


@dataclass
class Jump:
    packet: int
    previous: int
    value: int
    seconds: float = 0.0


@dataclass
class RtpStreamReport:
    """Everything ``inspect`` says about one SSRC of one flow."""

    flow: FlowId
    ssrc: int
    media: MediaInfo
    payload_types: list[int]
    packets: int
    first_packet: int
    last_packet: int
    start: float
    end: float
    payload_octets: int
    first_sequence: int
    """The lowest sequence number received (the first one sent, but for losses)."""
    first_timestamp: int
    expected: int
    lost: int
    """RFC 3550 A.3: expected minus received (negative with duplicates)."""
    missing: int
    """Sequence numbers never received."""
    duplicated: int
    reordered: int
    loss_runs: list[LossRun]
    sequence_jumps: list[Jump]
    timestamp_jumps: list[Jump]
    jitter_ms: float
    max_jitter_ms: float
    mean_jitter_ms: float
    marker_packets: int
    frames: int
    keyframes: int
    keyframe_times: list[tuple[int, float]]
    """(packet number, capture time) of the first packet of each keyframe."""
    parameter_sets: dict[str, int]
    """In-band parameter sets seen, by name, counted."""
    sprop_problems: list[str]
    video_format: VideoFormat | None
    clock_drift_arrival: float | None
    """How much faster (positive) the RTP clock ran than the capture clock, as a fraction."""
    clock_drift_sr: float | None
    """The same against the NTP times of the source's RTCP sender reports."""
    sender_reports: int
    receiver_reports: list[ReceiverReportSeen]
    bitrate_series: list[tuple[float, float]]
    """(seconds from the stream's start, bits per second) per second."""
    jitter_series: list[tuple[float, float]]
    """(seconds from the stream's start, jitter in ms) per second."""
    malformed: int = 0
    setup: str | None = None
    """The dialog and SETUP that negotiated the stream, when one did."""

    @property
    def duration(self) -> float:
        return self.end - self.start

    @property
    def bitrate(self) -> float:
        """Payload bits per second over the stream's duration."""
        return 8 * self.payload_octets / self.duration if self.duration > 0 else 0.0

    @property
    def keyframe_interval(self) -> float | None:
        """Mean seconds between keyframes, with two or more."""
        times = [t for _, t in self.keyframe_times]
        if len(times) < 2:
            return None
        return (times[-1] - times[0]) / (len(times) - 1)

    @property
    def max_keyframe_interval(self) -> float | None:
        times = [t for _, t in self.keyframe_times]
        if len(times) < 2:
            return None
        return max(b - a for a, b in pairwise(times))


class _AccessUnit:
    """The packets of one timestamp: whether they hold a slice, and a keyframe's."""

    __slots__ = ("keyframe", "number", "time", "vcl")

    def __init__(self, number: int, time: float) -> None:
        self.number = number
        self.time = time
        self.vcl = False
        self.keyframe = False


def analyse_stream(
    recorder: RtpRecorder,
    ssrc: int,
    media: MediaInfo | None,
    sender_reports: list[SenderReportSeen],
    receiver_reports: list[ReceiverReportSeen],
) -> RtpStreamReport:
    """One pass over the records of ``ssrc`` in ``recorder``.

    The loop runs once per packet of a capture that may hold millions, so the arithmetic of
    :mod:`wire.rtp.sequence` is written out inline here; the RFC 3550 statistics themselves are
    :class:`wire.rtp.ReceiverStatistics`.
    """
    if media is None:
        media = _guess_media(recorder, ssrc)
    clock = media.clock_rate
    codec = media.video_codec
    h264 = codec is VideoCodec.H264
    payloads = recorder.payloads
    stats = ReceiverStatistics(ssrc, min_sequential=0)
    update = stats.update
    jump_ticks = TIMESTAMP_JUMP_SECONDS * clock
    missing: dict[int, int] = {}  # extended sequence number -> the packet after its gap
    extended = highest = lowest = 0
    packets = duplicated = reordered = markers = octets = 0
    sequence_jumps: list[Jump] = []
    timestamp_jumps: list[Jump] = []
    payload_types: list[int] = []
    last_payload_type = -1
    first_number = first_timestamp = first_sequence = 0
    start = previous_time = 0.0
    previous_timestamp = 0
    ticks = 0  # RTP clock elapsed, jumps excluded
    jumped = False
    max_jitter = jitter_sum = 0.0
    units: dict[int, _AccessUnit] = {}
    parameter_sets: dict[str, int] = {}
    sps: bytes | None = None
    audio_frames = 0
    au_bits = _au_header_bits(media)
    bitrate_series: list[tuple[float, float]] = []
    jitter_series: list[tuple[float, float]] = []
    bucket_end = 0.0
    bucket_bits = 0
    number = 0
    time = 0.0

    records = zip(
        RECORD.iter_unpack(recorder.records), META.iter_unpack(recorder.meta), strict=True
    )
    for index, ((_, second, seq, timestamp, source, head), (number, time, size)) in enumerate(
        records
    ):
        if source != ssrc:
            continue
        packets += 1
        payload = size - _FIXED_HEADER_SIZE
        if packets == 1:
            first_number, start, first_timestamp, first_sequence = number, time, timestamp, seq
            extended = highest = lowest = seq
            previous_timestamp, previous_time = timestamp, time
            bucket_end = time + 1.0
        else:
            # Sequence: extend to 64 bits, then new, duplicate, late or a jump.
            step = ((seq - extended + 0x8000) & 0xFFFF) - 0x8000
            if step >= MAX_DROPOUT or step <= -MAX_DROPOUT:
                sequence_jumps.append(Jump(number, extended & 0xFFFF, seq))
                extended += step
                highest = lowest = extended
            else:
                extended += step
                if extended > highest:
                    for lost in range(highest + 1, extended):
                        missing[lost] = number
                    highest = extended
                elif extended in missing:
                    del missing[extended]
                    reordered += 1
                elif extended < lowest:
                    for lost in range(extended + 1, lowest):
                        missing[lost] = number
                    lowest = extended
                    first_sequence = seq
                    reordered += 1
                else:
                    duplicated += 1
            # Timing: a timestamp step far from the capture clock's step is a jump.
            step = ((timestamp - previous_timestamp + 0x80000000) & 0xFFFFFFFF) - 0x80000000
            if abs(step - (time - previous_time) * clock) > jump_ticks:
                timestamp_jumps.append(Jump(number, previous_timestamp, timestamp, step / clock))
                jumped = True
            else:
                ticks += step
            previous_timestamp, previous_time = timestamp, time
        if second & 0x80:
            markers += 1
        if second & 0x7F != last_payload_type:
            last_payload_type = second & 0x7F
            if last_payload_type not in payload_types:
                payload_types.append(last_payload_type)
        octets += payload
        update(seq, timestamp, time * clock)
        jitter = stats.jitter
        if jitter > max_jitter:
            max_jitter = jitter
        jitter_sum += jitter
        if time >= bucket_end:
            second_of_stream = float(int(bucket_end - 1.0 - start))
            bitrate_series.append((second_of_stream, float(bucket_bits)))
            jitter_series.append((second_of_stream, jitter * 1000 / clock))
            bucket_bits = 0
            while bucket_end <= time:
                bucket_end += 1.0
        bucket_bits += payload * 8

        # Media: access units from the NAL unit heads.
        if codec is not None:
            unit = units.get(timestamp)
            if unit is None:
                unit = units[timestamp] = _AccessUnit(number, time)
            whole = payloads.get(index)
            if whole is None:
                # The common packets, classified inline: slices and fragments of slices.
                if h264:
                    kind = head[0] & 0x1F
                    if kind == 28:
                        kind = head[1] & 0x1F
                    if 1 <= kind <= 5:
                        unit.vcl = True
                        if kind == 5:
                            unit.keyframe = True
                        continue
                else:
                    kind = (head[0] >> 1) & 0x3F
                    if kind == 49:
                        kind = head[2] & 0x3F
                    if kind < 32:
                        unit.vcl = True
                        if 16 <= kind <= 23:
                            unit.keyframe = True
                        continue
            summary = summarize_payload(codec, head, whole)
            if summary.vcl:
                unit.vcl = True
            if summary.keyframe:
                unit.keyframe = True
            for name, nal in summary.parameter_sets:
                parameter_sets[name] = parameter_sets.get(name, 0) + 1
                if name == "SPS" and nal is not None and sps is None:
                    sps = nal
        elif au_bits:
            audio_frames += max(1, int.from_bytes(head[:2], "big") // au_bits)
        else:
            audio_frames += 1
    if packets:
        bitrate_series.append((float(int(bucket_end - 1.0 - start)), float(bucket_bits)))
        jitter_series.append((float(int(bucket_end - 1.0 - start)), stats.jitter * 1000 / clock))

    sprop, problems = media.sprop_parameter_sets
    if sps is None and codec is not None:
        sps = next((nal for nal in sprop if _is_sps(codec, nal)), None)
    video_format = VideoFormat.from_sps(codec, sps) if codec is not None and sps else None
    if codec is not None:
        vcl_units = [u for u in units.values() if u.vcl]
        frame_count = len(vcl_units)
        keyframe_times = [(u.number, u.time) for u in vcl_units if u.keyframe]
    else:
        frame_count, keyframe_times = audio_frames, []
    elapsed = time - start
    arrival_drift = ticks / clock / elapsed - 1 if elapsed >= 5 and not jumped else None
    scale = 1000 / clock
    return RtpStreamReport(
        flow=recorder.flow,
        ssrc=ssrc,
        media=media,
        payload_types=payload_types,
        packets=packets,
        first_packet=first_number,
        last_packet=number,
        start=start,
        end=time,
        payload_octets=octets,
        first_sequence=first_sequence,
        first_timestamp=first_timestamp,
        expected=stats.expected,
        lost=stats.lost,
        missing=len(missing),
        duplicated=duplicated,
        reordered=reordered,
        loss_runs=_loss_runs(missing),
        sequence_jumps=sequence_jumps,
        timestamp_jumps=timestamp_jumps,
        jitter_ms=stats.jitter * scale,
        max_jitter_ms=max_jitter * scale,
        mean_jitter_ms=jitter_sum / packets * scale if packets else 0.0,
        marker_packets=markers,
        frames=frame_count,
        keyframes=len(keyframe_times),
        keyframe_times=keyframe_times,
        parameter_sets=parameter_sets,
        sprop_problems=list(problems),
        video_format=video_format,
        clock_drift_arrival=arrival_drift,
        clock_drift_sr=_drift_against_reports(sender_reports, clock),
        sender_reports=len(sender_reports),
        receiver_reports=receiver_reports,
        bitrate_series=bitrate_series,
        jitter_series=jitter_series,
    )


def _is_sps(codec: VideoCodec, nal: bytes) -> bool:
    if codec is VideoCodec.H264:
        return bool(nal) and nal[0] & 0x1F == 7
    return len(nal) > 1 and (nal[0] >> 1) & 0x3F == 33


def _au_header_bits(media: MediaInfo) -> int:
    """Bits per AU header of an ``mpeg4-generic`` stream (0 for other codecs)."""
    if media.codec != "MPEG4-GENERIC":
        return 0
    try:
        size = int(media.parameters.get("sizelength", "13"))
        index = int(media.parameters.get("indexlength", "3"))
    except ValueError:
        return 16
    return size + index or 16


def _loss_runs(missing: dict[int, int]) -> list[LossRun]:
    runs: list[LossRun] = []
    for sequence in sorted(missing):
        last = runs[-1] if runs else None
        if last is not None and last.first_sequence + last.count == sequence:
            last.count += 1
        else:
            runs.append(LossRun(sequence, 1, missing[sequence]))
    for run in runs:
        run.first_sequence &= 0xFFFF
    return runs


def _drift_against_reports(reports: list[SenderReportSeen], clock: int) -> float | None:
    """RTP clock against the sender's NTP clock, from its first and last sender reports."""
    if len(reports) < 2:
        return None
    first, last = reports[0], reports[-1]
    elapsed = last.ntp - first.ntp
    if elapsed < 2:
        return None
    return timestamp_diff(last.rtp_timestamp, first.rtp_timestamp) / clock / elapsed - 1


def _guess_media(recorder: RtpRecorder, ssrc: int) -> MediaInfo:
    """The media of a stream no SDP announced: a static payload type, else guessed."""
    heads: list[bytes] = []
    payload_type = 0
    first: tuple[int, float] | None = None
    last = (0, 0.0)
    for record, meta in zip(
        RECORD.iter_unpack(recorder.records), META.iter_unpack(recorder.meta), strict=True
    ):
        if record[4] != ssrc:
            continue
        if first is None:
            first = (record[3], meta[1])
            payload_type = record[1] & 0x7F
        if len(heads) < 200:
            heads.append(record[5])
        last = (record[3], meta[1])
    static = static_media(payload_type)
    if static is not None:
        return static
    codec = guess_codec(heads) or f"PT{payload_type}"
    clock = None
    if first is not None and last[1] - first[1] >= 1:
        clock = snap_clock_rate(timestamp_diff(last[0], first[0]) / (last[1] - first[1]))
    kind = VIDEO if codec in ("H264", "H265") else AUDIO if codec == "MPEG4-GENERIC" else "unknown"
    return MediaInfo(kind, codec, clock or 90000, payload_type, source="payload")
