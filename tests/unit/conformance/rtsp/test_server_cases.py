"""rtsp-server cases judged on observations built by hand: what each says about answers that
break its rule, and that a broken session description is a failed case, not an unreachable
target."""

from __future__ import annotations

import pytest

from conformance.case import CaseFailure
from conformance.rtsp.link import Exchange, Target
from conformance.rtsp.observe import CameraObservation
from conformance.rtsp.view import CameraView
from conformance.suites.rtsp_server import test_methods, test_sdp
from wire.rtsp import Headers, Request, Response, ResponseReceived

URL = "rtsp://127.0.0.1:8554/cam1"


def _exchange(
    method: str, status: int, headers: list[tuple[str, str]], body: bytes = b"", cseq: int = 2
) -> Exchange:
    request = Request(method, URL, Headers([("CSeq", str(cseq))]))
    response = Response(status, headers=Headers(headers), body=body)
    return Exchange(method, URL, ResponseReceived(cseq, request, response), cseq, 0.0, 0.01, 5.0)


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
