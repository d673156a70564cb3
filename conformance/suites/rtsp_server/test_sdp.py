"""The session description of DESCRIBE: syntax, the payload formats it offers, and the
parameter sets it announces against those in the stream."""

from __future__ import annotations

from conformance.case import RECOMMENDED, REQUIRED, case, fail, not_applicable
from conformance.rtsp.spec import rfc2326, rfc3551, rfc3640, rfc4566, rfc6184, rfc7798
from conformance.rtsp.streams import MediaFormat
from conformance.rtsp.view import CameraView
from reports.model import Detail
from wire.codec.errors import CodecError
from wire.codec.h264 import H264Sps
from wire.codec.h265 import H265Sps
from wire.codec.nal import VideoCodec, nal_type, parameter_set_types
from wire.sdp import SessionDescription

FIRST_DYNAMIC = 96
AAC_NEEDED = ("mode", "config")
AAC_HBR_NEEDED = ("sizelength", "indexlength", "indexdeltalength")
AAC_RECOMMENDED = ("streamtype", "profile-level-id")
SPS_TYPES = {VideoCodec.H264: 7, VideoCodec.H265: 33}


def _sdp(camera: CameraView) -> SessionDescription:
    sdp = camera.observation.sdp
    if sdp is None:
        not_applicable("the session description does not parse (RTSP-SDP-001)")
    return sdp


@case(
    "RTSP-SDP-001",
    "DESCRIBE answers application/sdp with v=0 first and o=, s=, t=, c= and m= lines",
    level=REQUIRED,
    spec=[rfc4566("5"), rfc2326("10.2")],
)
def test_syntax(camera: CameraView) -> None:
    describe = camera.observation.describe
    assert describe is not None
    problems = []
    kind = (describe.header("Content-Type") or "").split(";")[0].strip().lower()
    if kind != "application/sdp":
        problems.append(Detail(f"Content-Type {kind or 'missing'}", "DESCRIBE answer"))
    if camera.observation.sdp_error:
        problems.append(Detail(camera.observation.sdp_error, "session description"))
    lines = [line for line in camera.observation.sdp_text.splitlines() if line.strip()]
    if not lines or lines[0].strip() != "v=0":
        problems.append(Detail(f"first line {lines[0] if lines else ''!r}", "line 1"))
    for kind_letter in ("o", "s", "t", "m"):
        if not any(line.startswith(kind_letter + "=") for line in lines):
            problems.append(Detail(f"no {kind_letter}= line", "session description"))
    sdp = camera.observation.sdp
    if sdp is not None and sdp.connection is None:
        without = [m.media for m in sdp.media if not m.connections]
        if without:
            problems.append(Detail(f"no c= for {', '.join(without)}", "session description"))
    if problems:
        fail("the session description is malformed", problems)


@case(
    "RTSP-SDP-002",
    "Every payload type offered is described: rtpmap for dynamic ones, and the fmtp "
    "parameters its payload format cannot do without",
    level=REQUIRED,
    spec=[rfc4566("6"), rfc3551("6"), rfc3640("4.1"), rfc6184("8.1")],
)
def test_payload_formats(camera: CameraView) -> None:
    problems = []
    for index, media in enumerate(_sdp(camera).media):
        where = f"m={media.media} (media {index})"
        for text in media.formats:
            if not text.isdigit():
                problems.append(Detail(f"format {text!r} is not a payload type", where))
                continue
            payload_type = int(text)
            rtpmap = media.rtpmap(payload_type)
            if payload_type >= FIRST_DYNAMIC and rtpmap is None:
                problems.append(
                    Detail(f"dynamic payload type {payload_type} without rtpmap", where)
                )
            if rtpmap is not None and rtpmap.encoding_name.upper() == "MPEG4-GENERIC":
                parameters = {k.lower(): v for k, v in media.fmtp(payload_type).items()}
                needed = list(AAC_NEEDED)
                if parameters.get("mode", "").lower() == "aac-hbr":
                    needed += AAC_HBR_NEEDED
                missing = [name for name in needed if name not in parameters]
                if missing:
                    problems.append(Detail(f"fmtp lacks {', '.join(missing)}", where))
    if problems:
        fail("payload formats the description does not describe", problems)


@case(
    "RTSP-SDP-003",
    "Every media section names its control URL (a=control) when there are several",
    level=REQUIRED,
    spec=[rfc2326("C.1.1"), rfc2326("C.3")],
)
def test_control(camera: CameraView) -> None:
    media = _sdp(camera).media
    if len(media) < 2:
        not_applicable("one media section: the aggregate URL controls it")
    missing = [
        Detail("no a=control", f"m={m.media} (media {i})")
        for i, m in enumerate(media)
        if not m.control
    ]
    if missing:
        fail("media sections without a control URL", missing)


def _video_formats(camera: CameraView) -> list[MediaFormat]:
    formats = [f for f in camera.formats if f.video_codec is not None]
    if not formats:
        not_applicable("no H.264 or H.265 media")
    return formats


def _parse_sps(codec: VideoCodec, nal: bytes) -> str:
    """The SPS's picture size, or raises CodecError."""
    sps = H264Sps.parse(nal) if codec is VideoCodec.H264 else H265Sps.parse(nal)
    return f"{sps.width}x{sps.height}"


@case(
    "RTSP-SDP-004",
    "sprop parameter sets, when given, decode and are those of the stream",
    level=REQUIRED,
    spec=[rfc6184("8.1"), rfc7798("7.1")],
)
def test_sprop_matches(camera: CameraView) -> None:
    problems = []
    announced = 0
    for fmt in _video_formats(camera):
        codec = fmt.video_codec
        sprop = camera.sprop(fmt)
        if codec is None or sprop is None or not sprop.nal_units:
            continue
        announced += 1
        where = f"{fmt.label} sprop"
        garbled = [p for p in sprop.problems if not p.startswith("no ")]
        problems += [Detail(p, where) for p in garbled]
        inband = camera.inband_parameter_sets(codec)
        for nal in sprop.nal_units:
            kind = nal_type(codec, nal)
            if kind == SPS_TYPES[codec]:
                try:
                    _parse_sps(codec, nal)
                except CodecError as exc:
                    problems.append(Detail(f"the SPS does not decode: {exc}", where))
            if kind in inband and inband[kind] != nal:
                problems.append(
                    Detail(
                        f"NAL type {kind} differs from the stream's "
                        f"({len(nal)} bytes {nal[:8].hex()}..., in band {len(inband[kind])} "
                        f"bytes {inband[kind][:8].hex()}...)",
                        where,
                    )
                )
    if not announced:
        not_applicable("no sprop parameter sets (RTSP-SDP-005 recommends them)")
    if problems:
        fail("sprop parameter sets a decoder cannot start from", problems)


@case(
    "RTSP-SDP-005",
    "sprop parameter sets carry every parameter set the stream needs (SPS and PPS; VPS, SPS "
    "and PPS)",
    level=RECOMMENDED,
    spec=[rfc6184("8.2.1"), rfc7798("7.1")],
)
def test_sprop_complete(camera: CameraView) -> None:
    problems = []
    for fmt in camera.formats:
        codec = fmt.video_codec
        if codec is not None:
            sprop = camera.sprop(fmt)
            kinds = {nal_type(codec, n) for n in sprop.nal_units} if sprop else set()
            missing = [k for k in parameter_set_types(codec) if k not in kinds]
            if missing:
                problems.append(Detail(f"no NAL types {missing} in sprop", fmt.label))
    if not any(fmt.video_codec for fmt in camera.formats):
        not_applicable("no H.264 or H.265 media")
    if problems:
        fail("the description leaves parameter sets to the stream", problems)


@case(
    "RTSP-SDP-006",
    "mpeg4-generic fmtp names streamType and profile-level-id too",
    level=RECOMMENDED,
    spec=[rfc3640("4.1")],
)
def test_mpeg4_generic_parameters(camera: CameraView) -> None:
    problems = []
    generic = [
        fmt
        for fmt in camera.formats
        if fmt.format is not None and fmt.format.encoding_name.upper() == "MPEG4-GENERIC"
    ]
    if not generic:
        not_applicable("no mpeg4-generic media")
    for fmt in generic:
        assert fmt.format is not None
        parameters = {k.lower() for k in fmt.format.parameters}
        absent = [name for name in AAC_RECOMMENDED if name not in parameters]
        if absent:
            problems.append(Detail(f"fmtp lacks {', '.join(absent)}", fmt.label))
    if problems:
        fail("RFC 3640 lists these among the required parameters; receivers infer them", problems)
