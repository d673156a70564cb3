from __future__ import annotations

import base64
import contextlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wire.sdp import (
    Attribute,
    Bandwidth,
    Connection,
    MediaDescription,
    Origin,
    ParameterSets,
    RtpMap,
    SdpError,
    SessionDescription,
    Timing,
    aac_media,
    camera_session,
    h264_media,
    h264_parameter_sets,
    h265_media,
    h265_parameter_sets,
    parse_fmtp_parameters,
)

HIK_SPS = bytes.fromhex("674d002a95a81e0089f96600")
HIK_PPS = bytes.fromhex("68ee3c80")

# Hikvision style: LF only, a space after each fmtp separator, e=NONE, absolute controls,
# session bandwidth, a vendor attribute with a trailing ';', trailing blank lines.
HIKVISION = (
    "\n".join(
        [
            "v=0",
            "o=- 1109162014219182 1109162014219192 IN IP4 192.168.1.64",
            "s=Media Presentation",
            "e=NONE",
            "b=AS:5050",
            "t=0 0",
            "a=control:rtsp://192.168.1.64:554/Streaming/Channels/101/?transportmode=unicast",
            "m=video 0 RTP/AVP 96",
            "c=IN IP4 0.0.0.0",
            "b=AS:5000",
            "a=recvonly",
            "a=x-dimensions:1920,1080",
            "a=control:rtsp://192.168.1.64:554/Streaming/Channels/101/trackID=1?transportmode=unicast",
            "a=rtpmap:96 H264/90000",
            "a=fmtp:96 profile-level-id=420029; packetization-mode=1;"
            " sprop-parameter-sets=Z00AKpWoHgCJ+WYA,aO48gA==",
            "m=audio 0 RTP/AVP 8",
            "c=IN IP4 0.0.0.0",
            "b=AS:50",
            "a=recvonly",
            "a=control:rtsp://192.168.1.64:554/Streaming/Channels/101/trackID=2?transportmode=unicast",
            "a=rtpmap:8 PCMA/8000",
            "a=Media_header:MEDIAINFO=494D4B48010100000400010010710110401F000000FA"
            "000000000000000000000000000000000000;",
            "a=appversion:1.0",
        ]
    )
    + "\n\n"
)

# Axis style: CRLF with trailing whitespace, i= and a GStreamer tool line, AAC with mixed-case
# fmtp keys, relative controls.
AXIS = (
    "v=0\r\n"
    "o=- 1234567890123456789 1 IN IP4 192.168.0.90\r\n"
    "s=Session streamed with GStreamer\r\n"
    "i=rtsp-server\r\n"
    "t=0 0\r\n"
    "a=tool:GStreamer\r\n"
    "a=type:broadcast\r\n"
    "a=range:npt=now-\r\n"
    "a=control:rtsp://192.168.0.90/axis-media/media.amp?videocodec=h264\r\n"
    "m=video 0 RTP/AVP 96\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "b=AS:50000\r\n"
    "a=rtpmap:96 H264/90000 \r\n"
    "a=fmtp:96 packetization-mode=1;profile-level-id=4d0029;"
    "sprop-parameter-sets=Z00AKeKQDwBE/LgLcBAQGkHiRFQ=,aO48gA==\r\n"
    "a=control:stream=0\r\n"
    "a=framerate:30.000000\r\n"
    "m=audio 0 RTP/AVP 97\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "b=AS:32\r\n"
    "a=rtpmap:97 MPEG4-GENERIC/16000/1\r\n"
    "a=fmtp:97 streamtype=5;profile-level-id=15;mode=AAC-hbr;config=1408;sizeLength=13;"
    "indexLength=3;indexDeltaLength=3;profile=1;bitrate=32000\r\n"
    "a=control:stream=1\t\r\n"
)

DAHUA_H265 = (
    "\n".join(
        [
            "v=0",
            "o=- 2251938202 2251938202 IN IP4 0.0.0.0",
            "s=Media Server",
            "c=IN IP4 0.0.0.0",
            "t=0 0",
            "a=control:*",
            "m=video 0 RTP/AVP 98",
            "a=control:trackID=0",
            "a=rtpmap:98 H265/90000",
            "a=fmtp:98 profile-id=1;sprop-sps=QgEBAWAAAAMAsAAAAwAAAwBdoAKAgC0W;"
            "sprop-pps=RAHA8vA8kA==;sprop-vps=QAEMAf//AWAAAAMAsAA=",
            "a=recvonly",
        ]
    )
    + "\n"
)


def test_hikvision_style_session():
    session = SessionDescription.parse(HIKVISION)
    assert session.origin == Origin(
        "-", "1109162014219182", "1109162014219192", "IN", "IP4", "192.168.1.64"
    )
    assert session.session_name == "Media Presentation"
    assert session.emails == ["NONE"]
    assert session.bandwidths == [Bandwidth("AS", 5050)]
    assert session.timings == [Timing(0, 0)]
    assert (
        session.control == "rtsp://192.168.1.64:554/Streaming/Channels/101/?transportmode=unicast"
    )
    video, audio = session.media
    assert (video.media, video.port, video.proto, video.formats) == ("video", 0, "RTP/AVP", ["96"])
    assert video.connections == [Connection("IN", "IP4", "0.0.0.0")]
    assert video.control == (
        "rtsp://192.168.1.64:554/Streaming/Channels/101/trackID=1?transportmode=unicast"
    )
    assert video.attribute("recvonly") == ""
    assert video.attribute("x-dimensions") == "1920,1080"
    assert video.fmtp(96) == {
        "profile-level-id": "420029",
        "packetization-mode": "1",
        "sprop-parameter-sets": "Z00AKpWoHgCJ+WYA,aO48gA==",
    }
    assert h264_parameter_sets(video.fmtp(96)) == ParameterSets((HIK_SPS, HIK_PPS), ())
    [pcma] = audio.payload_formats()
    assert (pcma.payload_type, pcma.codec, pcma.clock_rate, pcma.channels) == (
        8,
        "PCMA",
        8000,
        None,
    )
    assert audio.attribute("Media_header") == (
        "MEDIAINFO=494D4B48010100000400010010710110401F000000FA000000000000000000000000000000000000;"
    )
    assert audio.attribute("appversion") == "1.0"


def test_axis_style_session():
    session = SessionDescription.parse(AXIS)
    assert session.information == "rtsp-server"
    assert session.attribute_values("tool") == ["GStreamer"]
    video, audio = session.media
    assert video.rtpmap(96) == RtpMap(96, "H264", 90000)
    assert video.control == "stream=0"
    assert audio.control == "stream=1"
    [aac] = audio.payload_formats()
    assert (aac.codec, aac.clock_rate, aac.channels) == ("MPEG4-GENERIC", 16000, 1)
    assert aac.parameters["sizelength"] == "13"
    assert aac.parameters["indexdeltalength"] == "3"
    assert aac.parameters["config"] == "1408"
    assert list(aac.parameters)[:3] == ["streamtype", "profile-level-id", "mode"]
    sets = h264_parameter_sets(video.fmtp(96))
    assert [n[0] for n in sets.nal_units] == [0x67, 0x68]
    assert sets.problems == ()


def test_h265_session_parameter_sets_in_vps_sps_pps_order():
    session = SessionDescription.parse(DAHUA_H265)
    [video] = session.media
    [fmt] = video.payload_formats()
    assert fmt.codec == "H265"
    sets = h265_parameter_sets(fmt.parameters)
    assert [(n[0] >> 1) & 0x3F for n in sets.nal_units] == [32, 33, 34]
    assert sets.problems == ()


def test_the_captured_camera_sdp(shared_dir: Path):
    path = shared_dir / "captures/camera-h264-udp-digest.pcapng"
    if not path.exists():
        pytest.skip(f"{path} is not present")
    scapy_all = pytest.importorskip("scapy.all")
    messages = [bytes(p[scapy_all.Raw]) for p in scapy_all.rdpcap(str(path)) if scapy_all.Raw in p]
    bodies = [
        message.split(b"\r\n\r\n", 1)[1]
        for message in messages
        if message.startswith(b"RTSP/1.0 200") and b"Content-Type: application/sdp" in message
    ]
    assert len(bodies) == 1
    session = SessionDescription.parse(bodies[0])
    assert session.serialize().encode() == bodies[0]
    assert session.control == "*"
    assert session.attribute("packetization-supported") == "DH"
    [video] = session.media
    assert video.control == "trackID=0"
    [fmt] = video.payload_formats()
    assert (fmt.codec, fmt.clock_rate, fmt.parameters["profile-level-id"]) == (
        "H264",
        90000,
        "4D4028",
    )
    sets = h264_parameter_sets(fmt.parameters)
    assert [n[:4].hex() for n in sets.nal_units] == ["674d4028", "68ee3880"]
    assert sets.problems == ()


def test_serialize_is_rfc_order_with_crlf_and_round_trips():
    session = SessionDescription.parse(HIKVISION)
    text = session.serialize()
    assert text == HIKVISION.rstrip("\n").replace("\n", "\r\n") + "\r\n"
    assert SessionDescription.parse(text) == session
    assert bytes(session) == text.encode()


def test_lenient_whitespace_and_line_ends():
    messy = "v=0  \n\no=- 1 1 IN IP4 1.2.3.4\r\ns=x\t\r\n\r\nt=0 0\nm=video 0 RTP/AVP 96  \r\n"
    session = SessionDescription.parse(messy)
    assert session.media[0].formats == ["96"]
    assert session.serialize() == (
        "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=x\r\nt=0 0\r\nm=video 0 RTP/AVP 96\r\n"
    )


def test_missing_t_line_is_tolerated_and_lines_out_of_order_within_a_section():
    session = SessionDescription.parse(
        "v=0\ns=x\na=control:*\no=- 1 1 IN IP4 1.2.3.4\nc=IN IP4 0.0.0.0\n"
    )
    assert session.timings == []
    assert session.control == "*"
    assert session.connection == Connection()


def test_latin1_bytes_are_decoded():
    session = SessionDescription.parse(b"v=0\no=- 1 1 IN IP4 1.2.3.4\ns=Cam\xe9ra\nt=0 0\n")
    assert session.session_name == "Caméra"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "SDP: empty description"),
        ("\r\n\n", "SDP: empty description"),
        ("m=video 0 RTP/AVP 96\nv=0\n", "SDP line 1: the first line must be v=, got m="),
        ("o=- 1 1 IN IP4 1.2.3.4\n", "SDP line 1: the first line must be v=, got o="),
        (
            "v=0\no=- 1 1 IN IP4 1.2.3.4\nsession\n",
            "SDP line 3: expected '<type>=<value>', got 'session'",
        ),
        ("v=0\no=- 1 1 IN IP4 1.2.3.4\n=x\n", "SDP line 3: expected '<type>=<value>', got '=x'"),
        ("v=0\no=- 1 1 IN IP4 1.2.3.4\nx=1\n", "SDP line 3: unknown type 'x'"),
        ("v=1\n", "SDP line 1: unsupported version v=1"),
        ("v=0\no=- 1 1 IN IP4 a\no=- 1 1 IN IP4 a\n", "SDP line 3: more than one o= line"),
        ("v=0\no=- 1 1 IN IP4 a\ns=x\nr=1 2 3\n", "SDP line 4: r= without a preceding t="),
        (
            "v=0\no=- 1 1 IN IP4 a\ns=x\nt=now 0\n",
            "SDP line 4: t= needs two decimal times, got 'now 0'",
        ),
        (
            "v=0\no=- 1 1 IN IP4 a\ns=x\nb=AS\n",
            "SDP line 4: b= must be <bwtype>:<bandwidth>, got 'AS'",
        ),
        (
            "v=0\no=- 1 1 IN IP4 a\ns=x\nc=IN IP4\n",
            "SDP line 4: c= needs 3 fields, got 2: 'IN IP4'",
        ),
        (
            "v=0\no=- 1 1 IN IP4 a\ns=x\nm=video 0\n",
            "SDP line 4: m= needs <media> <port> <proto> <fmt>..., got 'video 0'",
        ),
        (
            "v=0\no=- 1 1 IN IP4 a\ns=x\nm=video x RTP/AVP 96\n",
            "SDP line 4: m= port must be <port>[/<count>], got 'x'",
        ),
        (
            "v=0\no=- 1 1 IN IP4 a\ns=x\nm=video 0 RTP/AVP 96\nt=0 0\n",
            "SDP line 5: t= is not allowed in a media description",
        ),
        (
            "v=0\no=- 1 1 IN IP4 a\ns=x\nm=video 0 RTP/AVP 96\ni=a\ni=b\n",
            "SDP line 6: more than one i= line",
        ),
    ],
)
def test_structural_errors(text, message):
    with pytest.raises(SdpError) as info:
        SessionDescription.parse(text)
    assert str(info.value) == message


def test_repeated_lines_allowed_per_section():
    text = (
        "v=0\no=- 1 1 IN IP4 a\ns=x\nt=0 0\nr=7d 1h 0 25h\nt=1 2\n"
        "m=audio 0 RTP/AVP 0\ni=a\nm=video 0 RTP/AVP 96\ni=b\n"
    )
    session = SessionDescription.parse(text)
    assert session.timings == [Timing(0, 0, ["7d 1h 0 25h"]), Timing(1, 2)]
    assert [m.information for m in session.media] == ["a", "b"]
    assert session.serialize() == text.replace("\n", "\r\n")


def test_port_count_and_empty_formats():
    media = MediaDescription.parse_m_line("video 49170/2 RTP/AVP")
    assert (media.port, media.port_count, media.formats) == (49170, 2, [])
    assert media.serialize_lines() == ["m=video 49170/2 RTP/AVP"]


def test_fmtp_parsing_is_tolerant():
    assert parse_fmtp_parameters(" a=1 ;B=2;; c ; d=x=y= ;") == {
        "a": "1",
        "b": "2",
        "c": "",
        "d": "x=y=",
    }
    media = MediaDescription("video", 0, "RTP/AVP", ["96"], attributes=[Attribute("fmtp", "96")])
    assert media.fmtp(96) == {}
    assert media.fmtp(97) == {}


def test_rtpmap_errors_and_property_attribute():
    with pytest.raises(SdpError) as info:
        RtpMap.parse("96 H264")
    assert str(info.value) == "rtpmap must be '<pt> <name>/<rate>[/<channels>]', got '96 H264'"
    assert Attribute.parse("recvonly") == Attribute("recvonly", None)
    assert Attribute.parse("control:rtsp://h/x") == Attribute("control", "rtsp://h/x")


def test_non_standard_names_and_payload_types_map_to_codecs():
    media = MediaDescription(
        "video",
        0,
        "RTP/AVP",
        ["35", "50", "26", "99"],
        attributes=[
            Attribute("rtpmap", "35 smart/1/90000"),
            Attribute("fmtp", "35 packetization-mode=1"),
            Attribute("rtpmap", "50 HEVC/90000"),
        ],
    )
    formats = media.payload_formats()
    assert [(f.payload_type, f.codec) for f in formats] == [
        (35, "H264"),
        (50, "H265"),
        (26, "JPEG"),
    ]
    assert media.payload_format(99) is None


def test_sprop_problems_are_reported_not_raised():
    assert h264_parameter_sets({}) == ParameterSets((), ("no sprop-parameter-sets",))
    sps_only = h264_parameter_sets({"sprop-parameter-sets": "Z00AKpWoHgCJ+WYA"})
    assert sps_only == ParameterSets((HIK_SPS,), ("no PPS in sprop-parameter-sets",))
    garbage = h264_parameter_sets({"sprop-parameter-sets": "!!!,,BgUBAg==,Z00AKpWoHgCJ+WYA,aO48gA"})
    assert garbage.nal_units == (HIK_SPS, HIK_PPS)  # unpadded base64 is accepted
    assert garbage.problems == (
        "sprop-parameter-sets item 1 is not base64: '!!!'",
        "sprop-parameter-sets item 2 is shorter than a NAL unit header",
        "sprop-parameter-sets item 3 is NAL unit type 6, not a parameter set",
    )
    assert h265_parameter_sets({"sprop-sps": "QgEBAWAAAAMAsAAAAwAAAwBdoAKAgC0W"}).problems == (
        "no VPS in sprop-vps/sps/pps",
        "no PPS in sprop-vps/sps/pps",
    )
    assert h265_parameter_sets({}).problems == ("no sprop-vps, sprop-sps or sprop-pps",)
    assert h265_parameter_sets({"sprop-pps": "RAHA8vA8kA==,é"}).problems[0] == (
        "sprop-pps item 2 is not base64: 'é'"
    )
    assert (
        h265_parameter_sets({"sprop-vps": "QA=="}).problems[0]
        == "sprop-vps item 1 is shorter than a NAL unit header"
    )


def test_camera_builders_produce_the_exact_text():
    vps = base64.b64decode("QAEMAf//AWAAAAMAsAA=")
    sps = base64.b64decode("QgEBAWAAAAMAsAAAAwAAAwBdoAKAgC0W")
    pps = base64.b64decode("RAHA8vA8kA==")
    session = camera_session(
        [
            h264_media(96, HIK_SPS, HIK_PPS, control="trackID=0"),
            h265_media(98, vps, sps, pps, control="trackID=1"),
            aac_media(97, bytes.fromhex("1190"), 48000, 2, control="trackID=2"),
        ],
        session_id=42,
        address="127.0.0.1",
    )
    assert session.serialize() == (
        "v=0\r\n"
        "o=- 42 42 IN IP4 127.0.0.1\r\n"
        "s=camsim\r\n"
        "c=IN IP4 0.0.0.0\r\n"
        "t=0 0\r\n"
        "a=control:*\r\n"
        "a=range:npt=now-\r\n"
        "m=video 0 RTP/AVP 96\r\n"
        "a=rtpmap:96 H264/90000\r\n"
        "a=fmtp:96 packetization-mode=1;profile-level-id=4D002A;"
        "sprop-parameter-sets=Z00AKpWoHgCJ+WYA,aO48gA==\r\n"
        "a=control:trackID=0\r\n"
        "m=video 0 RTP/AVP 98\r\n"
        "a=rtpmap:98 H265/90000\r\n"
        "a=fmtp:98 sprop-vps=QAEMAf//AWAAAAMAsAA=;sprop-sps=QgEBAWAAAAMAsAAAAwAAAwBdoAKAgC0W;"
        "sprop-pps=RAHA8vA8kA==\r\n"
        "a=control:trackID=1\r\n"
        "m=audio 0 RTP/AVP 97\r\n"
        "a=rtpmap:97 MPEG4-GENERIC/48000/2\r\n"
        "a=fmtp:97 streamtype=5;profile-level-id=1;mode=AAC-hbr;sizelength=13;indexlength=3;"
        "indexdeltalength=3;config=1190\r\n"
        "a=control:trackID=2\r\n"
    )
    parsed = SessionDescription.parse(session.serialize())
    assert parsed == session
    h264, h265, aac = parsed.media
    assert h264_parameter_sets(h264.fmtp(96)).nal_units == (HIK_SPS, HIK_PPS)
    assert h265_parameter_sets(h265.fmtp(98)).nal_units == (vps, sps, pps)
    assert aac.payload_formats()[0].parameters["config"] == "1190"


sdp_lines = st.lists(
    st.one_of(
        st.sampled_from(
            [
                "v=0",
                "o=- 1 1 IN IP4 a",
                "s=x",
                "t=0 0",
                "r=1",
                "c=IN IP4 0.0.0.0",
                "b=AS:1",
                "m=video 0 RTP/AVP 96",
                "a=rtpmap:96 H264/90000",
                "a=fmtp:96 a=b",
                "i=x",
                "k=y",
                "z=0 0",
                "e=x",
                "p=y",
                "u=z",
            ]
        ),
        st.text(max_size=20),
    ),
    max_size=12,
)


@settings(max_examples=500)
@given(sdp_lines)
def test_any_text_parses_or_raises_sdp_error(lines):
    try:
        session = SessionDescription.parse("\n".join(lines))
    except SdpError:
        return
    assert SessionDescription.parse(session.serialize()) == session
    for media in session.media:
        with contextlib.suppress(SdpError):
            media.payload_formats()


@settings(max_examples=200)
@given(st.binary(max_size=100))
def test_any_bytes_parse_or_raise_sdp_error(data):
    with contextlib.suppress(SdpError):
        SessionDescription.parse(b"v=0\n" + data)


def test_every_prefix_parses_or_raises_sdp_error():
    complete = SessionDescription.parse(AXIS)
    for size in range(len(AXIS) + 1):
        try:
            session = SessionDescription.parse(AXIS[:size])
        except SdpError:
            continue
        assert len(session.media) <= len(complete.media)
    assert SessionDescription.parse(AXIS + "a=extra:1\r\n").media[1].attribute("extra") == "1"


@settings(max_examples=500)
@given(st.text(max_size=60))
def test_sprop_helpers_never_raise(text):
    assert isinstance(h264_parameter_sets({"sprop-parameter-sets": text}), ParameterSets)
    sets = h265_parameter_sets({"sprop-vps": text, "sprop-sps": text, "sprop-pps": text})
    assert len(sets.nal_units) + len(sets.problems) >= 1
