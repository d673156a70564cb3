"""The media itself: it decodes, at the size and rate the SDP says, it keeps coming; and the
measured figures (first frame, keyframe interval, jitter, pacing)."""

from __future__ import annotations

import statistics
from itertools import pairwise

from conformance.case import INFO, REQUIRED, CaseRecord, case, fail, not_applicable
from conformance.rtsp import rtp
from conformance.rtsp.decode import DecodeResult, decode_units
from conformance.rtsp.spec import rfc2326, rfc3550, rfc4566, rfc6184, rfc7798
from conformance.rtsp.streams import Stream
from conformance.rtsp.view import CameraView
from reports.model import ChartKind, Detail, Series
from wire.codec.errors import CodecError
from wire.codec.h264 import H264Sps
from wire.codec.h265 import H265Sps
from wire.codec.nal import VideoCodec, nal_type

MAX_GAP = 2.0
"""Seconds without a video packet that count as the media stopping."""
MAX_RATE_ERROR = 0.05
CHART_POINTS = 200
"""Points per chart series: enough to see a trend, few enough for a light report."""
SPS_TYPES = {VideoCodec.H264: 7, VideoCodec.H265: 33}


def _reference(camera: CameraView) -> Stream:
    stream = camera.reference_video()
    if stream is None or stream.format.video_codec is None:
        not_applicable("no H.264 or H.265 RTP received")
    return stream


def _decoded(camera: CameraView) -> DecodeResult:
    stream = _reference(camera)
    codec = stream.format.video_codec
    assert codec is not None
    if camera.decoded is None:
        sprop = camera.sprop(stream.format)
        units = [unit for _, unit in camera.reference_units]
        camera.decoded = decode_units(codec, units, sprop.nal_units if sprop else ())
    return camera.decoded


@case(
    "RTSP-MEDIA-001",
    "The video decodes from its first keyframe without errors",
    level=REQUIRED,
    spec=[rfc6184("8.1"), rfc7798("7.1")],
)
def test_decodes(camera: CameraView) -> None:
    stream = _reference(camera)
    result = _decoded(camera)
    where = f"{stream.name}, {result.units} access units from the first keyframe"
    if result.error:
        fail(f"the video does not decode: {result.error}", [Detail(result.error, where)])
    if not result.frames:
        fail("no frame decoded", [Detail("0 frames", where)])


def _sdp_size(camera: CameraView, stream: Stream) -> tuple[str, tuple[int, int] | None]:
    """What the SDP says of the picture size: its sprop SPS, else a=framesize."""
    codec = stream.format.video_codec
    sprop = camera.sprop(stream.format)
    if codec is not None and sprop is not None:
        for nal in sprop.nal_units:
            if nal_type(codec, nal) == SPS_TYPES[codec]:
                try:
                    sps = H264Sps.parse(nal) if codec is VideoCodec.H264 else H265Sps.parse(nal)
                except CodecError:
                    break  # RTSP-SDP-004 judges an SPS that does not decode
                return "sprop SPS", (sps.width, sps.height)
    sdp = camera.observation.sdp
    media = sdp.media[stream.track] if sdp is not None else None
    framesize = media.attribute("framesize") if media is not None else None
    if framesize:
        _, _, size = framesize.partition(" ")
        width, _, height = size.partition("-")
        if width.isdigit() and height.isdigit():
            return "a=framesize", (int(width), int(height))
    return "", None


@case(
    "RTSP-MEDIA-002",
    "Decoded pictures have the size the SDP announces, at the a=framerate it gives",
    level=REQUIRED,
    spec=[rfc4566("6"), rfc6184("8.1")],
)
def test_dimensions(camera: CameraView) -> None:
    stream = _reference(camera)
    result = _decoded(camera)
    if not result.frames:
        not_applicable("nothing decoded (RTSP-MEDIA-001)")
    source, size = _sdp_size(camera, stream)
    details = []
    if size is not None and size != (result.width, result.height):
        details.append(
            Detail(
                f"{source} {size[0]}x{size[1]}, decoded {result.width}x{result.height}", stream.name
            )
        )
    sdp = camera.observation.sdp
    rate_text = sdp.media[stream.track].attribute("framerate") if sdp is not None else None
    measured = _frame_rate(camera)
    if rate_text and measured:
        try:
            declared = float(rate_text)
        except ValueError:
            details.append(Detail(f"a=framerate:{rate_text} is not a number", stream.name))
        else:
            if declared > 0 and abs(measured / declared - 1) > MAX_RATE_ERROR:
                details.append(
                    Detail(f"a=framerate:{rate_text}, measured {measured:.2f}", stream.name)
                )
    if size is None and not rate_text:
        not_applicable("the SDP states neither size (sprop SPS, a=framesize) nor a=framerate")
    if details:
        fail("the stream is not what the SDP describes", details)


def _frame_rate(camera: CameraView) -> float | None:
    stream = _reference(camera)
    clock = stream.format.clock_rate
    stamps = sorted({unit.timestamp for _, unit in camera.reference_units})
    if len(stamps) < 3 or not clock:
        return None
    span = (stamps[-1] - stamps[0]) / clock
    return (len(stamps) - 1) / span if span > 0 else None


@case(
    "RTSP-MEDIA-003",
    "Video keeps coming for the whole session, with no pause of 2 s or more",
    level=REQUIRED,
    spec=[rfc2326("10.5"), rfc3550("6.3.5")],
)
def test_media_flows(camera: CameraView) -> None:
    details = []
    for run in camera.played:
        for stream in camera.video_streams():
            if stream.transport != run.name:
                continue
            arrivals = [r.arrival for r in stream.packets]
            if not arrivals:
                details.append(Detail("no video at all", stream.name))
                continue
            points = [run.play_sent, *arrivals, run.ended]
            gaps = [(b - a, a) for a, b in pairwise(points) if b - a >= MAX_GAP]
            for gap, at in gaps[:5]:
                details.append(
                    Detail(
                        f"{gap:.1f} s without video",
                        f"{stream.name}, at +{at - run.play_sent:.1f} s after PLAY",
                    )
                )
    if details:
        fail("the video stopped while the session played", details)


@case(
    "RTSP-MEDIA-004",
    "Keyframe interval",
    level=INFO,
    spec=[rfc6184("8.1")],
)
def test_keyframe_interval(camera: CameraView, case_record: CaseRecord) -> None:
    stream = _reference(camera)
    clock = stream.format.clock_rate
    keys = [unit.timestamp for _, unit in camera.reference_units if unit.keyframe]
    if len(keys) < 2:
        case_record.measure("keyframes", len(keys))
        case_record.summary = f"{len(keys)} keyframe in the observation: interval longer than it"
        return
    intervals = [(b - a) / clock for a, b in pairwise(keys)]
    case_record.measure("keyframe interval (median)", round(statistics.median(intervals), 3), "s")
    case_record.measure("keyframe interval (max)", round(max(intervals), 3), "s")
    case_record.summary = (
        f"median {statistics.median(intervals):.2f} s over {len(intervals)} intervals"
    )


@case(
    "RTSP-MEDIA-005",
    "First frame after PLAY: time to the first packet and to the first whole keyframe",
    level=INFO,
    spec=[rfc2326("10.5")],
)
def test_first_frame(camera: CameraView, case_record: CaseRecord) -> None:
    stream = _reference(camera)
    run = camera.observation.runs[stream.transport]
    first_packet = stream.packets[0].arrival - run.play_sent
    key = next((arrival for arrival, unit in camera.reference_units if unit.keyframe), None)
    case_record.measure("first RTP packet", round(first_packet * 1000, 1), "ms")
    if key is not None:
        case_record.measure("first keyframe complete", round((key - run.play_sent) * 1000, 1), "ms")
    shown = f"{(key - run.play_sent) * 1000:.0f} ms" if key is not None else "none"
    case_record.summary = (
        f"first packet {first_packet * 1000:.0f} ms, first keyframe {shown} ({stream.transport})"
    )


@case(
    "RTSP-MEDIA-006",
    "Interarrival jitter (RFC 3550 A.8) of each stream",
    level=INFO,
    spec=[rfc3550("6.4.1"), rfc3550("A.8")],
)
def test_jitter(camera: CameraView, case_record: CaseRecord) -> None:
    series = []
    for stream in camera.streams:
        points = rtp.interarrival_jitter(stream.packets, stream.format.clock_rate)
        if not points:
            continue
        final = points[-1][1] * 1000
        case_record.measure(f"jitter {stream.name}", round(final, 2), "ms")
        step = max(1, len(points) // CHART_POINTS)
        sampled = points[::step]
        series.append(
            Series(stream.name, tuple(x for x, _ in sampled), tuple(y * 1000 for _, y in sampled))
        )
    if not series:
        not_applicable("no RTP received")
    case_record.chart(
        "Interarrival jitter",
        ChartKind.LINE,
        series,
        x_label="s after the first packet",
        y_label="ms",
    )
    case_record.summary = ", ".join(
        f"{m.name.removeprefix('jitter ')} {m.value} ms" for m in case_record.measurements
    )


@case(
    "RTSP-MEDIA-007",
    "Pacing: the busiest 10 ms against the average (1 = perfectly even)",
    level=INFO,
    spec=[rfc3550("6.4.1")],
)
def test_burstiness(camera: CameraView, case_record: CaseRecord) -> None:
    shown = []
    for stream in camera.video_streams():
        found = rtp.burstiness(stream.packets)
        if found is None:
            continue
        case_record.measure(f"peak/mean {stream.name}", round(found.ratio, 1))
        case_record.measure(f"peak packets in 10 ms {stream.name}", found.peak_packets)
        shown.append(f"{stream.transport} {found.ratio:.1f}x ({found.peak_packets} in 10 ms)")
    reference = camera.reference_video()
    if reference is not None and reference.packets:
        t0 = reference.packets[0].arrival
        shown_packets = reference.packets[:: max(1, len(reference.packets) // CHART_POINTS)]
        xs = tuple(r.arrival - t0 for r in shown_packets)
        ys = tuple(float(r.packet.sequence_number) for r in shown_packets)
        case_record.chart(
            "Sequence number over time",
            ChartKind.SCATTER,
            [Series(reference.name, xs, ys)],
            x_label="s after the first packet",
            y_label="sequence number",
        )
    if not shown:
        not_applicable("no video RTP received")
    case_record.summary = "; ".join(shown)
