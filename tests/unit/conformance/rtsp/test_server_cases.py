"""rtsp-server cases judged on observations built by hand: what each says about answers that
break its rule, and that a broken session description is a failed case, not an unreachable
target."""

from __future__ import annotations

import pytest

from conformance.case import CaseFailure
from conformance.rtsp.link import Exchange, Target
from conformance.rtsp.observe import TCP, CameraObservation, Track, TransportRun
from conformance.rtsp.view import CameraView
from conformance.suites.rtsp_server import test_methods, test_sdp
from wire.rtsp import Headers, Request, Response, ResponseReceived, SessionHeader
from wire.sdp import SessionDescription

URL = "rtsp://127.0.0.1:8554/cam1"


def _exchange(
    method: str, status: int, headers: list[tuple[str, str]], body: bytes = b"", cseq: int = 2
) -> Exchange:
    request = Request(method, URL, Headers([("CSeq", str(cseq))]))
    response = Response(status, headers=Headers(headers), body=body)
    value = response.headers.get("Session")
    session = SessionHeader.parse(value) if value is not None else None  # as the client parses
    answer = ResponseReceived(cseq, request, response, session=session)
    return Exchange(method, URL, answer, cseq, 0.0, 0.01, 5.0)


def _view(describe: Exchange, sdp_text: str, sdp_error: str = "") -> CameraView:
    observation = CameraObservation(Target.parse(URL), 10.0)
    observation.describe = describe
    observation.sdp_text = sdp_text
    observation.sdp_error = sdp_error
    return CameraView(observation)


def test_an_sdp_that_does_not_parse_fails_the_syntax_case() -> None:
    text = "o=- 1 1 IN IP4 127.0.0.1\r\ngarbage\r\n"
    describe = _exchange(
        "DESCRIBE", 200, [("CSeq", "2"), ("Content-Type", "text/plain")], text.encode()
    )
    view = _view(describe, text, "SDP line 1: the first line must be v=, got o=")
    with pytest.raises(CaseFailure) as failure:
        test_sdp.test_syntax(view)
    messages = [d.message for d in failure.value.details]
    assert messages[:3] == [
        "Content-Type text/plain",
        "SDP line 1: the first line must be v=, got o=",
        "first line 'o=- 1 1 IN IP4 127.0.0.1'",
    ]
    assert "no t= line" in messages


def test_an_answer_with_another_cseq_fails_the_cseq_case() -> None:
    describe = _exchange("DESCRIBE", 200, [("CSeq", "2")])
    wrong = _exchange("SET_PARAMETER", 400, [("CSeq", "8")], cseq=7)
    view = _view(describe, "v=0\r\n")
    view.observation.options = wrong
    with pytest.raises(CaseFailure) as failure:
        test_methods.test_cseq_echo(view)
    assert [d.message for d in failure.value.details] == ["request CSeq 7, answer CSeq 8"]


@pytest.mark.parametrize(
    ("base", "fails"),
    [("rtsp://127.0.0.1:8554/cam1/", False), ("127.0.0.1:8554/cam1/", True), ("/cam1/", True)],
)
def test_content_base_must_be_absolute(base: str, fails: bool) -> None:
    describe = _exchange("DESCRIBE", 200, [("CSeq", "2"), ("Content-Base", base)])
    view = _view(describe, "v=0\r\n")
    if fails:
        with pytest.raises(CaseFailure, match="not an absolute rtsp URL"):
            test_methods.test_content_base(view)
    else:
        test_methods.test_content_base(view)


TWO_TRACKS = (
    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=cam\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\n"
    "m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=control:trackID=0\r\n"
    "m=audio 0 RTP/AVP 97\r\na=rtpmap:97 MPEG4-GENERIC/48000/2\r\n"
    "a=fmtp:97 streamtype=5;profile-level-id=1;mode=AAC-hbr;sizelength=13;indexlength=3;"
    "indexdeltalength=3;config=1190\r\na=control:trackID=1\r\n"
)


def _sdp_view(text: str) -> CameraView:
    describe = _exchange("DESCRIBE", 200, [("CSeq", "2"), ("Content-Type", "application/sdp")])
    observation = CameraObservation(Target.parse(URL), 10.0)
    observation.describe = describe
    observation.sdp_text = text
    observation.sdp = SessionDescription.parse(text)
    return CameraView(observation)


def test_a_complete_description_passes_the_sdp_cases() -> None:
    view = _sdp_view(TWO_TRACKS)
    test_sdp.test_syntax(view)
    test_sdp.test_payload_formats(view)
    test_sdp.test_control(view)
    test_sdp.test_mpeg4_generic_parameters(view)


def test_undescribed_payload_types_fail() -> None:
    text = TWO_TRACKS.replace("a=rtpmap:96 H264/90000\r\n", "").replace("config=1190", "x=1")
    with pytest.raises(CaseFailure) as failure:
        test_sdp.test_payload_formats(_sdp_view(text))
    assert [d.message for d in failure.value.details] == [
        "dynamic payload type 96 without rtpmap",
        "fmtp lacks config",
    ]


def test_a_media_section_without_control_fails() -> None:
    text = TWO_TRACKS.replace("a=control:trackID=1\r\n", "")
    with pytest.raises(CaseFailure) as failure:
        test_sdp.test_control(_sdp_view(text))
    assert [(d.message, d.where) for d in failure.value.details] == [
        ("no a=control", "m=audio (media 1)")
    ]


def test_options_without_the_methods_a_client_needs_fails() -> None:
    view = _sdp_view(TWO_TRACKS)
    view.observation.options = _exchange("OPTIONS", 200, [("CSeq", "2"), ("Public", "OPTIONS")])
    with pytest.raises(CaseFailure, match="Public lacks DESCRIBE, SETUP, PLAY, TEARDOWN"):
        test_methods.test_options(view)
    view.observation.options = _exchange("OPTIONS", 200, [("CSeq", "2")])
    with pytest.raises(CaseFailure, match="no Public header"):
        test_methods.test_options(view)


def _played(view: CameraView) -> TransportRun:
    run = TransportRun(TCP)
    run.play = _exchange("PLAY", 200, [("CSeq", "4")])
    run.pause = _exchange("PAUSE", 200, [("CSeq", "8")])
    run.teardown = _exchange("TEARDOWN", 200, [("CSeq", "9")])
    track = Track(0, "video", "trackID=0", URL + "/trackID=0")
    track.setup = _exchange("SETUP", 200, [("CSeq", "3"), ("Session", "abc;timeout=60")])
    run.tracks = [track]
    view.observation.runs[TCP] = run
    return run


def test_session_pause_and_teardown_cases_pass_a_well_behaved_session() -> None:
    view = _sdp_view(TWO_TRACKS)
    _played(view)
    test_methods.test_session_header(view)
    test_methods.test_pause(view)
    test_methods.test_teardown(view)


def test_setup_without_session_fails() -> None:
    view = _sdp_view(TWO_TRACKS)
    run = _played(view)
    run.tracks[0].setup = _exchange("SETUP", 200, [("CSeq", "3")])
    with pytest.raises(CaseFailure, match="without a usable Session header"):
        test_methods.test_session_header(view)


def test_media_after_pause_and_a_refused_teardown_fail() -> None:
    view = _sdp_view(TWO_TRACKS)
    run = _played(view)
    run.after_pause = 12
    with pytest.raises(CaseFailure) as failure:
        test_methods.test_pause(view)
    assert failure.value.details[0].message == "tcp: 12 RTP packets after the answer"
    run.teardown = _exchange("TEARDOWN", 454, [("CSeq", "9")])
    with pytest.raises(CaseFailure, match="TEARDOWN of a live session failed"):
        test_methods.test_teardown(view)


def test_a_setup_refused_for_another_reason_than_the_transport_fails() -> None:
    view = _sdp_view(TWO_TRACKS)
    run = _played(view)
    run.tracks[0].setup = _exchange("SETUP", 461, [("CSeq", "3")])
    test_methods.test_setup_every_track(view)  # 461: the transport is not offered
    run.tracks[0].setup = _exchange("SETUP", 404, [("CSeq", "3")])
    with pytest.raises(CaseFailure, match="SETUP of a track failed"):
        test_methods.test_setup_every_track(view)
