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
import sys
from collections import Counter
from dataclasses import dataclass, field
from itertools import pairwise

import numpy as np
import numpy.typing as npt

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
from camsim.pcap.rtpstats import receiver_figures
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

RECORD = struct.Struct("!BBHII4s")
"""The fixed RTP header and the first four payload bytes."""
RECORD_SIZE = RECORD.size
META = struct.Struct("<Idi")
"""Packet number, capture time, RTP packet size."""

DRIFT_MIN_SECONDS = 20.0
"""Shorter streams say too little about their clock: a sender's burst at the start (TCP
catching up after a keyframe) weighs too much against the capture clock."""
TIMESTAMP_JUMP_SECONDS = 1.0
"""A timestamp step this far from the capture clock's step is a jump, not jitter."""

_FIXED_HEADER_SIZE = 12
_ZERO_HEAD = bytes(4)


class RtpRecorder:
    """The RTP packets of one flow: a UDP flow in one direction, or one interleaved channel."""

    def __init__(self, flow: FlowId, *, keep_packets: bool = False) -> None:
        self.flow = flow
        self.kept: list[bytes] | None = [] if keep_packets else None
        """Every packet whole, in record order, when asked for (``extract`` needs them)."""
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
        if self.kept is not None:
            whole = bytes(data[start:end])
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
        if self.kept is not None:
            self.kept.append(whole)

    def survey(self) -> Survey:
        """Packets per SSRC and where the SSRC changed.

        The counts come from a strided view of the records (the SSRC is bytes 8-11 of each),
        counted in C; only a flow with several SSRCs is walked for where they change.
        """
        ssrcs = memoryview(self.records).cast("I")[2 :: RECORD_SIZE // 4]
        native = Counter(ssrcs)
        counts = {_network_order(ssrc): count for ssrc, count in native.items()}
        survey = Survey(counts)
        if len(counts) > 1:
            previous = None
            for index, ssrc in enumerate(ssrcs):
                if ssrc != previous:
                    if previous is not None:
                        number, time, _ = META.unpack_from(self.meta, index * META.size)
                        change = (number, time, _network_order(previous), _network_order(ssrc))
                        survey.changes.append(change)
                    previous = ssrc
        return survey

    def in_sequence(self, ssrc: int) -> int:
        """Packets of ``ssrc`` that carry the sequence number after the previous one's."""
        count = 0
        previous = None
        for _, _, seq, _, source, _ in RECORD.iter_unpack(self.records):
            if source == ssrc:
                if previous is not None and (seq - previous) & 0xFFFF == 1:
                    count += 1
                previous = seq
        return count


def _network_order(value: int) -> int:
    """A 32-bit value read in the machine's byte order, as the network order number."""
    return int.from_bytes(value.to_bytes(4, sys.byteorder), "big")


@dataclass
class Survey:
    counts: dict[int, int] = field(default_factory=dict)
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
    seconds: float = 0.0
    """When that packet arrived, from the stream's first."""


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
    sender_reports_seen: list[SenderReportSeen] = field(default_factory=list)
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


RECORD_DTYPE = np.dtype(
    [("b0", "u1"), ("b1", "u1"), ("seq", ">u2"), ("ts", ">u4"), ("ssrc", ">u4"), ("head", "u1", 4)]
)
META_DTYPE = np.dtype([("number", "<u4"), ("time", "<f8"), ("size", "<i4")])


def analyse_stream(
    recorder: RtpRecorder,
    ssrc: int,
    media: MediaInfo | None,
    sender_reports: list[SenderReportSeen],
    receiver_reports: list[ReceiverReportSeen],
) -> RtpStreamReport:
    """Everything about the packets of ``ssrc`` in ``recorder``, computed on arrays.

    A capture may hold millions of packets: the records are viewed as numpy arrays and every
    figure is an array operation (:mod:`~camsim.pcap.rtpstats` for RFC 3550's); only the few
    packets whose whole payload was kept (parameter sets, aggregation packets) are looked at
    one by one, with :mod:`wire.payload` and :mod:`wire.codec`.
    """
    if media is None:
        media = _guess_media(recorder, ssrc)
    clock = media.clock_rate
    records = np.frombuffer(recorder.records, dtype=RECORD_DTYPE)
    meta = np.frombuffer(recorder.meta, dtype=META_DTYPE)
    selected = records["ssrc"] == ssrc
    positions = np.nonzero(selected)[0]
    records, meta = records[selected], meta[selected]
    count = len(records)
    numbers, times = meta["number"], meta["time"]
    payload_sizes = meta["size"].astype(np.int64) - _FIXED_HEADER_SIZE
    sequence, timestamps = records["seq"], records["ts"]

    figures, jitter = receiver_figures(sequence, timestamps, times, clock)
    jumps, ticks = _timestamp_jumps(timestamps, times, clock, numbers)
    start = float(times[0]) if count else 0.0
    elapsed = float(times[-1]) - start if count else 0.0
    whole = {
        int(np.searchsorted(positions, index)): payload
        for index, payload in recorder.payloads.items()
        if selected[index]
    }
    media_figures = _media_figures(media, records, numbers, times, whole)
    bitrate, jitter_series = _series(times, payload_sizes, jitter.values, clock)
    scale = 1000 / clock
    types, first_seen = np.unique(records["b1"] & 0x7F, return_index=True)
    return RtpStreamReport(
        flow=recorder.flow,
        ssrc=ssrc,
        media=media,
        payload_types=[
            int(t) for _, t in sorted(zip(first_seen.tolist(), types.tolist(), strict=True))
        ],
        packets=count,
        first_packet=int(numbers[0]) if count else 0,
        last_packet=int(numbers[-1]) if count else 0,
        start=start,
        end=start + elapsed,
        payload_octets=int(payload_sizes.sum()),
        first_sequence=figures.first_sequence,
        first_timestamp=int(timestamps[0]) if count else 0,
        expected=figures.expected,
        lost=figures.lost,
        missing=figures.missing,
        duplicated=figures.duplicated,
        reordered=figures.reordered,
        loss_runs=[
            LossRun(first, run, int(numbers[index]), float(times[index]) - start)
            for first, run, index in figures.loss_runs
        ],
        sequence_jumps=[Jump(int(numbers[i]), before, after) for i, before, after in figures.jumps],
        timestamp_jumps=jumps,
        jitter_ms=jitter.final * scale,
        max_jitter_ms=jitter.maximum * scale,
        mean_jitter_ms=jitter.mean * scale,
        marker_packets=int(np.count_nonzero(records["b1"] & 0x80)),
        frames=media_figures.frames,
        keyframes=len(media_figures.keyframe_times),
        keyframe_times=media_figures.keyframe_times,
        parameter_sets=media_figures.parameter_sets,
        sprop_problems=list(media.sprop_parameter_sets[1]),
        video_format=media_figures.video_format,
        clock_drift_arrival=(
            ticks / clock / elapsed - 1 if elapsed >= DRIFT_MIN_SECONDS and not jumps else None
        ),
        clock_drift_sr=_drift_against_reports(sender_reports, clock),
        sender_reports=len(sender_reports),
        sender_reports_seen=sender_reports,
        receiver_reports=receiver_reports,
        bitrate_series=bitrate,
        jitter_series=jitter_series,
    )


def _timestamp_jumps(
    timestamps: npt.NDArray[np.uint32],
    times: npt.NDArray[np.float64],
    clock: int,
    numbers: npt.NDArray[np.uint32],
) -> tuple[list[Jump], int]:
    """Steps of the RTP clock more than TIMESTAMP_JUMP_SECONDS away from the capture clock's,
    and the RTP clock's elapsed ticks without them."""
    values = timestamps.astype(np.int64)
    steps = (np.diff(values) + 0x80000000) % 0x100000000 - 0x80000000
    off = np.abs(steps - np.diff(times) * clock) > TIMESTAMP_JUMP_SECONDS * clock
    jumps = [
        Jump(int(numbers[i + 1]), int(values[i]), int(values[i + 1]), int(steps[i]) / clock)
        for i in np.nonzero(off)[0].tolist()
    ]
    return jumps, int(steps[~off].sum())


@dataclass
class _MediaFigures:
    frames: int = 0
    keyframe_times: list[tuple[int, float]] = field(default_factory=list)
    parameter_sets: dict[str, int] = field(default_factory=dict)
    video_format: VideoFormat | None = None


def _media_figures(
    media: MediaInfo,
    records: npt.NDArray[np.void],
    numbers: npt.NDArray[np.uint32],
    times: npt.NDArray[np.float64],
    whole: dict[int, bytes],
) -> _MediaFigures:
    """Frames and keyframes from the NAL unit heads; parameter sets from the payloads kept."""
    result = _MediaFigures()
    codec = media.video_codec
    heads = records["head"]
    if codec is None:
        bits = _au_header_bits(media)
        if bits:
            lengths = (heads[:, 0].astype(np.int64) << 8) | heads[:, 1]
            result.frames = int(np.maximum(1, lengths // bits).sum())
        else:
            result.frames = len(records)
        return result
    if codec is VideoCodec.H264:
        kind = heads[:, 0] & 0x1F
        kind = np.where((kind == 28) | (kind == 29), heads[:, 1] & 0x1F, kind)
        vcl = (kind >= 1) & (kind <= 5)
        key = kind == 5
    else:
        kind = (heads[:, 0] >> 1) & 0x3F
        kind = np.where(kind == 49, heads[:, 2] & 0x3F, kind)
        vcl = kind < 32
        key = (kind >= 16) & (kind <= 23)
    sps: bytes | None = None
    for index, payload in whole.items():
        summary = summarize_payload(codec, bytes(heads[index]), payload)
        vcl[index], key[index] = summary.vcl, summary.keyframe
        for name, nal in summary.parameter_sets:
            result.parameter_sets[name] = result.parameter_sets.get(name, 0) + 1
            if name == "SPS" and nal is not None and sps is None:
                sps = nal
    timestamps = records["ts"]
    result.frames = len(np.unique(timestamps[vcl]))
    # A keyframe starts with the first packet of its timestamp, parameter sets included.
    key_timestamps = np.unique(timestamps[vcl & key])
    unique, first = np.unique(timestamps, return_index=True)
    starts = np.sort(first[np.isin(unique, key_timestamps)])
    result.keyframe_times = [(int(numbers[i]), float(times[i])) for i in starts.tolist()]
    if sps is None:
        sps = next((nal for nal in media.sprop_parameter_sets[0] if _is_sps(codec, nal)), None)
    if sps is not None:
        result.video_format = VideoFormat.from_sps(codec, sps)
    return result


def _series(
    times: npt.NDArray[np.float64],
    payload_sizes: npt.NDArray[np.int64],
    jitter: npt.NDArray[np.float64],
    clock: int,
) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    """Bits per second, and the jitter (ms) at the end of each second, from the first packet."""
    if len(times) == 0:
        return [], []
    seconds = (times - times[0]).astype(np.int64)
    bits = np.bincount(seconds, weights=payload_sizes * 8)
    present = np.nonzero(np.bincount(seconds))[0]
    last = np.concatenate((np.nonzero(np.diff(seconds))[0], [len(seconds) - 1]))
    bitrate = [(float(s), float(bits[s])) for s in present.tolist()]
    jitter_ms = [(float(seconds[i]), float(jitter[i]) * 1000 / clock) for i in last.tolist()]
    return bitrate, jitter_ms


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
