"""Session descriptions that break a rule no client depends on are read, with a warning.

FFmpeg, live555 and gortsplib play cameras whose ``o=`` line has seven fields or none at all;
refusing the description would leave the camera unplayable for no benefit. Numbers are bounded
before conversion, like everywhere else a peer writes them.
"""

from __future__ import annotations

import pytest

from wire.sdp import Origin, RtpMap, SdpError, SessionDescription

BODY = (
    's=Session streamed by "nessyMediaServer"\r\n'
    "t=0 0\r\n"
    "a=control:*\r\n"
    "m=video 0 RTP/AVP 96\r\n"
    "a=rtpmap:96 H264/90000\r\n"
    "a=fmtp:96 packetization-mode=1\r\n"
    "a=control:track1\r\n"
    "m=audio 0 RTP/AVP 8\r\n"
    "a=rtpmap:8 PCMA/8000\r\n"
    "a=control:track2\r\n"
)
HUGE = "9" * 5000


def test_an_origin_with_seven_fields_is_read_with_a_warning() -> None:
    session = SessionDescription.parse(f"v=0\r\no=RTSP Session 1 1 IN IP4 192.168.0.60\r\n{BODY}")
    assert session.origin == Origin("RTSP Session", "1", "1", "IN", "IP4", "192.168.0.60")
    assert session.warnings == [
        "SDP line 2: o= has 7 fields, not the 6 of RFC 8866 §5.2: read as "
        "'RTSP Session 1 1 IN IP4 192.168.0.60'"
    ]
    assert [m.control for m in session.media] == ["track1", "track2"]


def test_a_description_without_an_origin_is_read_with_a_warning() -> None:
    session = SessionDescription.parse(f"v=0\r\n{BODY}")
    assert session.origin == Origin()
    assert session.warnings == ["SDP: no o= line, RFC 8866 §5 requires one"]
    assert [m.media for m in session.media] == ["video", "audio"]


def test_a_description_without_a_session_name_is_read_with_a_warning() -> None:
    session = SessionDescription.parse("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nt=0 0\r\n")
    assert session.session_name == "-"
    assert session.warnings == ["SDP: no s= line, RFC 8866 §5 requires one"]


@pytest.mark.parametrize(
    ("value", "origin"),
    [
        ("- 1001 1 IN", Origin("-", "1001", "1", "IN", "IP4", "0.0.0.0")),  # Uniview
        ("- 1700166548 1700166549 IN IP4", Origin("-", "1700166548", "1700166549")),
        ("- 1 1 IN IP6", Origin("-", "1", "1", "IN", "IP6", "::")),
        ("- 1 1 IN IP4 10.0.0.1 extra", Origin("-", "1", "1", "IN", "IP4", "10.0.0.1")),
        ("a b c 1 2 IN IP4 h", Origin("a b c", "1", "2", "IN", "IP4", "h")),
        ("- 1 IN IP4 h", Origin("-", "1", "0", "IN", "IP4", "h")),
        ("", Origin()),
        ("x y", Origin("x", "y")),
        ("a b c d e f g", Origin("a", "b", "c", "d", "e", "f")),
    ],
)
def test_origins_with_more_or_fewer_fields(value: str, origin: Origin) -> None:
    read, warning = Origin.read(value)
    assert read == origin
    assert warning is not None
    assert warning.endswith(f"read as {origin.serialize()!r}")
    # What was read writes back as fields that read back the same (six of them, so without a
    # warning, unless the username has a space).
    again, warning = Origin.read(read.serialize())
    assert again == read
    assert (warning is None) is (" " not in read.username)


def test_the_strict_origin_parser_still_refuses() -> None:
    with pytest.raises(SdpError, match="o= needs 6 fields, got 7"):
        Origin.parse("RTSP Session 1 1 IN IP4 192.168.0.60")


def test_an_unreadable_rtpmap_is_a_warning_and_does_not_hide_the_others() -> None:
    session = SessionDescription.parse(
        "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=x\r\nt=0 0\r\n"
        "m=audio 0 RTP/AVP 101 0\r\n"
        "a=rtpmap:101 telephone-event\r\n"
        "a=rtpmap:0 PCMU/8000\r\n"
    )
    assert session.warnings == [
        "SDP line 6: rtpmap must be '<pt> <name>/<rate>[/<channels>]', "
        "got '101 telephone-event', ignored"
    ]
    [audio] = session.media
    assert audio.rtpmap(101) is None
    assert [(f.payload_type, f.encoding_name) for f in audio.payload_formats()] == [(0, "PCMU")]


@pytest.mark.parametrize(
    "line",
    [
        f"b=AS:{HUGE}",
        f"t={HUGE} 0",
        f"m=video {HUGE} RTP/AVP 96",
        f"m=video 0/{HUGE} RTP/AVP 96",
        "m=video 65536 RTP/AVP 96",
    ],
)
def test_numbers_of_5000_digits_are_sdp_errors(line: str) -> None:
    with pytest.raises(SdpError, match="SDP line 4: "):
        SessionDescription.parse(f"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=x\r\n{line}\r\n")


@pytest.mark.parametrize(
    "value",
    [f"{HUGE} H264/90000", f"96 H264/{HUGE}", f"96 L16/44100/{HUGE}", "128 H264/90000"],
)
def test_rtpmap_numbers_out_of_range_are_sdp_errors(value: str) -> None:
    with pytest.raises(SdpError, match="rtpmap must be"):
        RtpMap.parse(value)


def test_a_format_of_5000_digits_on_the_m_line_is_not_a_payload_type() -> None:
    session = SessionDescription.parse(
        f"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=x\r\nm=audio 0 RTP/AVP {HUGE} 0\r\n"
    )
    assert [f.payload_type for f in session.media[0].payload_formats()] == [0]


def test_warnings_do_not_count_in_equality_or_in_the_written_description() -> None:
    session = SessionDescription.parse(f"v=0\r\n{BODY}")
    again = SessionDescription.parse(session.serialize())
    assert again == session
    assert again.warnings == []
