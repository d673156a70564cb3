"""RTP as received over every transport: the header fields (RFC 3550), the H.264/H.265 payload
formats (RFC 6184, RFC 7798) and RTP-Info."""

from __future__ import annotations

from collections.abc import Callable

from conformance.case import RECOMMENDED, REQUIRED, CaseRecord, case, fail, not_applicable
from conformance.rtsp import rtp
from conformance.rtsp.observe import UDP
from conformance.rtsp.spec import rfc2326, rfc3550, rfc6184, rfc7798, rfc7826, rfc8085
from conformance.rtsp.streams import Stream
from conformance.rtsp.view import RELIABLE, CameraView
from reports.model import ChartKind, Detail, Series
from wire.rtp import TimestampUnwrapper, seq_diff, timestamp_diff

MAX_UDP_LOSS = 0.01
"""Loss over UDP blamed on the network, not the camera (loopback loses nothing unless busy)."""
MAX_CLOCK_ERROR = 0.02
"""Timestamps may run 2 % fast or slow against arrival over the observation."""
MAX_CLOCK_RESIDUAL = 1.0
"""Seconds any packet may sit off the declared clock's line (arrival jitter, a late burst)."""
MAX_STEP_BACK = 0.5
"""Seconds a timestamp may go back (B-frame reordering)."""
IP_UDP_HEADERS = 28
CHART_POINTS = 200


def _streams(camera: CameraView) -> list[Stream]:
    streams = [s for s in camera.streams if s.packets]
    if not streams:
        not_applicable("no session received RTP")
    return streams


def _video(camera: CameraView) -> list[Stream]:
    streams = [s for s in camera.video_streams() if s.packets]
    if not streams:
        not_applicable("no H.264 or H.265 RTP received")
    return streams


def _details(stream: Stream, findings: list[rtp.Finding]) -> list[Detail]:
    return [Detail(f.message, f"{stream.name}, {f.where}") for f in findings]


def _judge(
    streams: list[Stream], judge: Callable[[Stream], list[rtp.Finding]], message: str
) -> None:
    details: list[Detail] = []
    for stream in streams:
        details += _details(stream, judge(stream))
    if details:
        fail(message, details)


@case(
    "RTSP-RTP-001",
    "Every packet is RTP version 2 with a payload type the SDP offers for its track",
    level=REQUIRED,
    spec=[rfc3550("5.1"), rfc3550("5.3")],
)
def test_header(camera: CameraView) -> None:
    def judge(stream: Stream) -> list[rtp.Finding]:
        offered = stream.format.payload_types
        findings = list(stream.unparsed)
        findings += [
            rtp.Finding(
                f"payload type {r.packet.payload_type} not in m= {offered}",
                f"seq {r.packet.sequence_number}",
            )
            for r in stream.packets
            if r.packet.payload_type not in offered
        ][: rtp.MAX_FINDINGS]
        return findings

    _judge(_streams(camera), judge, "packets that are not this track's RTP")


@case(
    "RTSP-RTP-002",
    "The SSRC of a stream does not change",
    level=REQUIRED,
    spec=[rfc3550("5.1"), rfc3550("8.2")],
)
def test_ssrc_stable(camera: CameraView) -> None:
    _judge(_streams(camera), lambda s: rtp.ssrc_changes(s.packets), "SSRC changed mid-stream")


@case(
    "RTSP-RTP-003",
    "Sequence numbers increase by one per packet (over UDP, up to 1 % loss is the network's)",
    level=REQUIRED,
    spec=[rfc3550("5.1")],
)
def test_sequence(camera: CameraView) -> None:
    details: list[Detail] = []
    for stream in _streams(camera):
        report = rtp.sequence_report(stream.packets)
        steps = [f for f in report.findings if "skipped" not in f.message]
        if stream.transport in RELIABLE:
            details += _details(stream, report.findings)
        else:
            details += _details(stream, steps)
            if report.lost > MAX_UDP_LOSS * (len(stream.packets) + report.lost):
                details.append(Detail(f"{report.lost} packets lost", stream.name))
    if details:
        fail("sequence numbers not contiguous", details)


@case(
    "RTSP-RTP-004",
    "Timestamps do not go backwards beyond frame reordering",
    level=REQUIRED,
    spec=[rfc3550("5.1"), rfc6184("5.1")],
)
def test_timestamps_monotonic(camera: CameraView) -> None:
    _judge(
        _streams(camera),
        lambda s: rtp.timestamp_steps_back(s.packets, s.format.clock_rate, MAX_STEP_BACK),
        "timestamps step back",
    )


@case(
    "RTSP-RTP-005",
    "Timestamps advance at the clock rate the SDP declares, in step with arrival",
    level=REQUIRED,
    spec=[rfc3550("5.1"), rfc3550("6.4.1")],
)
def test_clock_rate(camera: CameraView, case_record: CaseRecord) -> None:
    details = []
    series = []
    for stream in _streams(camera):
        series.append(_clock_series(stream))
        fit = rtp.clock_fit(stream.packets, stream.format.clock_rate)
        if fit is None:
            continue
        clock = stream.format.clock_rate
        error = fit.rate / clock - 1
        if abs(error) > MAX_CLOCK_ERROR:
            details.append(
                Detail(
                    f"{fit.rate:.0f} ticks/s against {clock} declared ({error:+.1%})", stream.name
                )
            )
        if fit.max_residual > MAX_CLOCK_RESIDUAL:
            details.append(
                Detail(
                    f"a packet {fit.max_residual:.3f} s off the clock line",
                    f"{stream.name}, {fit.worst}",
                )
            )
    case_record.chart(
        "RTP time ahead of arrival time",
        ChartKind.LINE,
        [s for s in series if s.x],
        x_label="s after the first packet",
        y_label="s",
    )
    if details:
        fail("timestamps do not follow the declared clock", details)


def _clock_series(stream: Stream) -> Series:
    """How far each packet's timestamp is ahead of its arrival, from the first packet: flat
    when the clock is right, a slope when its rate is wrong, a step where it jumps."""
    clock = stream.format.clock_rate
    packets = stream.packets[:: max(1, len(stream.packets) // CHART_POINTS)]
    if not packets or not clock:
        return Series(stream.name, (), ())
    unwrap = TimestampUnwrapper()
    t0, s0 = packets[0].arrival, unwrap.unwrap(packets[0].packet.timestamp)
    xs, ys = [], []
    for item in packets:
        elapsed = item.arrival - t0
        xs.append(elapsed)
        ys.append((unwrap.unwrap(item.packet.timestamp) - s0) / clock - elapsed)
    return Series(stream.name, tuple(xs), tuple(ys))


@case(
    "RTSP-RTP-006",
    "The marker bit is set on the last packet of each access unit, and only there",
    level=REQUIRED,
    spec=[rfc6184("5.1"), rfc7798("4.1")],
)
def test_marker(camera: CameraView) -> None:
    def judge(stream: Stream) -> list[rtp.Finding]:
        assert stream.format.video_codec is not None
        return rtp.marker_findings(stream.packets, stream.format.video_codec)

    _judge(_video(camera), judge, "marker bits that do not end access units")


@case(
    "RTSP-RTP-007",
    "Fragmentation units and aggregation packets are well formed (FU-A, FU, STAP-A, AP)",
    level=REQUIRED,
    spec=[rfc6184("5.7.1"), rfc6184("5.8"), rfc7798("4.4.2"), rfc7798("4.4.3")],
)
def test_fragmentation(camera: CameraView) -> None:
    def judge(stream: Stream) -> list[rtp.Finding]:
        assert stream.format.video_codec is not None
        return rtp.fragmentation_findings(stream.packets, stream.format.video_codec)

    _judge(_video(camera), judge, "malformed fragmentation or aggregation")


@case(
    "RTSP-RTP-008",
    "Each NAL unit carried is one NAL unit: no start code or forbidden byte sequence inside",
    level=REQUIRED,
    spec=[rfc6184("1.3"), rfc6184("5.6"), rfc7798("1.1.4")],
)
def test_nal_units(camera: CameraView) -> None:
    def judge(stream: Stream) -> list[rtp.Finding]:
        assert stream.format.video_codec is not None
        return rtp.nal_unit_findings(stream.packets, stream.format.video_codec)

    _judge(_video(camera), judge, "NAL units that are not single NAL units")


@case(
    "RTSP-RTP-009",
    "RTP over UDP fits the path MTU (1500 bytes unless --set mtu=)",
    level=RECOMMENDED,
    spec=[rfc8085("3.2"), rfc6184("5.8")],
)
def test_mtu(camera: CameraView, mtu: int) -> None:
    limit = mtu - IP_UDP_HEADERS
    details = []
    for stream in _streams(camera):
        if stream.transport != UDP:
            continue
        big = [r for r in stream.packets if r.size > limit]
        if big:
            largest = max(r.size for r in big)
            details.append(
                Detail(f"{len(big)} packets over {limit} bytes, up to {largest}", stream.name)
            )
    if details:
        fail(f"RTP packets larger than a {mtu}-byte MTU allows (IP fragmentation)", details)


@case(
    "RTSP-RTP-010",
    "RTP-Info of the PLAY answer gives each track's first sequence number and timestamp",
    level=REQUIRED,
    spec=[rfc2326("12.33"), rfc7826("18.45")],
)
def test_rtp_info(camera: CameraView) -> None:
    details = []
    judged = 0
    for run in camera.played:
        answer = run.play.answer if run.play is not None else None
        info = answer.rtp_info if answer is not None else None
        if info is None:
            continue
        streams = {s.track: s for s in camera.streams if s.transport == run.name}
        for track in run.tracks:
            entry = next((e for e in info.entries if _same_track(e.url, track.url)), None)
            stream = streams.get(track.index)
            if entry is None or stream is None or not stream.packets:
                continue
            judged += 1
            first = stream.packets[0].packet
            where = f"{run.name} track {track.index}"
            if entry.seq is not None and seq_diff(first.sequence_number, entry.seq) != 0:
                details.append(
                    Detail(f"RTP-Info seq={entry.seq}, first packet {first.sequence_number}", where)
                )
            if entry.rtptime is not None and timestamp_diff(first.timestamp, entry.rtptime) != 0:
                details.append(
                    Detail(
                        f"RTP-Info rtptime={entry.rtptime}, first packet {first.timestamp}", where
                    )
                )
    if not judged:
        not_applicable("no RTP-Info entry matched a track that received RTP")
    if details:
        fail("RTP-Info does not describe the first packets", details)


def _same_track(info_url: str, track_url: str) -> bool:
    a, b = info_url.rstrip("/"), track_url.rstrip("/")
    return a == b or a.rsplit("/", 1)[-1] == b.rsplit("/", 1)[-1]
