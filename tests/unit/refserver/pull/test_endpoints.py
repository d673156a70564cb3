"""Which endpoint each attempt connects to: the URL's port, the alternative ports in order, then
the HTTP tunnel, on a fake clock with no socket.

A port counts as blocked only when the camera never says a word on it (the connect refused or
timed out, or the connection reset, closed or silent before any byte). A camera that answered,
even with 401 or 404, was reached, and the session ends there as it always did.
"""

from __future__ import annotations

import pytest

from refserver.config import PullTransport
from refserver.pull.attempt import AttemptEnded, SessionTimeouts
from refserver.pull.plan import Endpoint, Passed, PlannedAttempt, PullPlan
from tests.unit.refserver.pull.fake_clock import Dialog, RecordingCamera, start
from tests.unit.refserver.pull.scripted_camera import PPS, SPS, ScriptedTrack, h264_packets
from wire.rtsp.headers import Headers
from wire.rtsp.message import Request, Response
from wire.session import Cause, Termination

TIMEOUTS = SessionTimeouts(request=4.0, media=6.0, udp_switch=3.0)
SDP = (
    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=cam\r\nt=0 0\r\n"
    "m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n"
    "a=fmtp:96 packetization-mode=1\r\na=control:trackID=1\r\n"
)
URL_PORT = Endpoint()
ALT_8554 = Endpoint(8554)
ALT_10554 = Endpoint(10554)
TUNNEL_80 = Endpoint(80, tunnel=True)
REFUSED = "cannot connect to 127.0.0.1:554: Connection refused"


def plan(transport: PullTransport = PullTransport.AUTO, *, secure: bool = False) -> PullPlan:
    return PullPlan(
        transport, secure=secure, probe=3.0, alternative_ports=(8554, 10554), tunnel_port=80
    )


def camera() -> RecordingCamera:
    return RecordingCamera(SDP, [ScriptedTrack("trackID=1", h264_packets(SPS, PPS, seconds=2.0))])


class StatusCamera(RecordingCamera):
    """Answers every DESCRIBE with ``status``: a reachable camera that refuses us."""

    def __init__(self, status: int) -> None:
        super().__init__(SDP, [])
        self.status = status

    def answer(self, request: Request) -> Response:
        if request.method != "DESCRIBE":
            return super().answer(request)
        headers = Headers([("CSeq", request.headers.get("CSeq", "0"))])
        if self.status == 401:
            headers.add("WWW-Authenticate", 'Digest realm="cam", nonce="0a4f113b"')
        return Response(self.status, headers=headers)


def ended(dialog: Dialog) -> AttemptEnded:
    result = dialog.ended
    assert result is not None, "the attempt has not ended"
    return result


# -- the order ------------------------------------------------------------------------------------


def test_auto_walks_the_url_port_then_the_alternatives_in_order_then_the_tunnel() -> None:
    p = plan()
    step = p.first()
    assert step == PlannedAttempt(PullTransport.UDP, 3.0, fallback=True, endpoint=URL_PORT)
    walked = [step]
    while (following := p.unreachable(walked[-1], REFUSED)) is not None:
        walked.append(following)
    assert walked == [
        PlannedAttempt(PullTransport.UDP, 3.0, fallback=True, endpoint=URL_PORT),
        PlannedAttempt(PullTransport.UDP, 3.0, fallback=True, endpoint=ALT_8554),
        PlannedAttempt(PullTransport.UDP, 3.0, fallback=True, endpoint=ALT_10554),
        PlannedAttempt(PullTransport.HTTP, endpoint=TUNNEL_80),
    ]
    assert p.passed == [Passed(e, REFUSED) for e in (URL_PORT, ALT_8554, ALT_10554, TUNNEL_80)]


def test_under_tls_auto_tries_tcp_on_each_port_and_the_tunnel_last() -> None:
    p = plan(secure=True)
    steps = [p.first()]
    while (step := p.unreachable(steps[-1], REFUSED)) is not None:
        steps.append(step)
    assert [(s.transport, s.endpoint) for s in steps] == [
        (PullTransport.TCP, URL_PORT),
        (PullTransport.TCP, ALT_8554),
        (PullTransport.TCP, ALT_10554),
        (PullTransport.HTTP, TUNNEL_80),
    ]


@pytest.mark.parametrize(
    ("transport", "endpoints"),
    [
        (PullTransport.TCP, (URL_PORT, ALT_8554, ALT_10554)),
        (PullTransport.UDP, (URL_PORT, ALT_8554, ALT_10554)),
        (PullTransport.HTTP, (TUNNEL_80,)),
    ],
)
def test_a_configured_transport_keeps_to_its_own_endpoints(
    transport: PullTransport, endpoints: tuple[Endpoint, ...]
) -> None:
    p = plan(transport)
    assert p.endpoints == endpoints
    steps = [p.first()]
    while (step := p.unreachable(steps[-1], REFUSED)) is not None:
        steps.append(step)
    assert [s.endpoint for s in steps] == list(endpoints)
    assert {s.transport for s in steps} == {transport}


def test_http_without_a_tunnel_port_tunnels_to_the_urls_port() -> None:
    p = PullPlan(PullTransport.HTTP, secure=False, probe=3.0)
    assert p.first() == PlannedAttempt(PullTransport.HTTP, endpoint=Endpoint(None, tunnel=True))
    assert p.unreachable(p.first(), REFUSED) is None


def test_without_alternatives_auto_has_the_urls_port_alone() -> None:
    p = PullPlan(PullTransport.AUTO, secure=False, probe=3.0)
    assert p.endpoints == (URL_PORT,)
    assert p.unreachable(p.first(), REFUSED) is None


def test_udp_that_fails_on_an_alternative_port_falls_back_to_tcp_on_that_port() -> None:
    p = plan()
    step = p.unreachable(p.first(), REFUSED)
    assert step is not None
    udp_failed = AttemptEnded(Termination.timed_out("the UDP probe", "no RTP"), True)
    assert p.after(step, udp_failed) == PlannedAttempt(PullTransport.TCP, endpoint=ALT_8554)


# -- what counts as blocked -----------------------------------------------------------------------


def test_a_camera_that_accepts_and_never_answers_moves_the_plan_on() -> None:
    cam = camera()
    cam.mute = {"OPTIONS"}  # a DROP-like middlebox: the connect succeeds, nothing comes back
    p = plan(PullTransport.TCP)
    step = p.first()
    dialog = start(cam, timeouts=TIMEOUTS, transport=step.lower)
    dialog.advance(TIMEOUTS.request)
    end = ended(dialog)
    assert end.termination.cause is Cause.TIMED_OUT
    assert end.silent
    assert dialog.now == TIMEOUTS.request  # given up at the request timeout, not later
    assert p.after(step, end) == PlannedAttempt(PullTransport.TCP, endpoint=ALT_8554)
    assert p.passed == [Passed(URL_PORT, end.termination.detail)]


@pytest.mark.parametrize(
    "exc", [ConnectionResetError(104, "Connection reset by peer"), None], ids=["reset", "closed"]
)
def test_a_connection_that_ends_before_any_answer_moves_the_plan_on(
    exc: Exception | None,
) -> None:
    cam = camera()
    cam.mute = {"OPTIONS"}
    p = plan()
    step = p.first()
    dialog = start(cam, transport=step.lower, timeouts=TIMEOUTS, probe=step.probe)
    dialog.attempt.connection_lost(0.5, exc)
    dialog.pump()
    end = ended(dialog)
    assert end.termination.cause is Cause.PEER_CLOSED
    assert end.silent
    assert p.after(step, end) == PlannedAttempt(
        PullTransport.UDP, 3.0, fallback=True, endpoint=ALT_8554
    )


@pytest.mark.parametrize(
    "exc", [ConnectionResetError(104, "Connection reset by peer"), None], ids=["reset", "closed"]
)
def test_a_connection_that_ends_after_an_answer_does_not_move_the_plan(
    exc: Exception | None,
) -> None:
    p = plan()
    step = p.first()
    dialog = start(camera(), transport=step.lower, timeouts=TIMEOUTS, probe=step.probe)
    assert dialog.camera.methods()[:1] == ["OPTIONS"]  # answered: the port is open
    dialog.attempt.connection_lost(0.5, exc)
    dialog.pump()
    end = ended(dialog)
    assert end.termination.cause is Cause.PEER_CLOSED
    assert not end.silent
    assert p.after(step, end) is None


@pytest.mark.parametrize("status", [401, 404, 503])
def test_a_camera_that_answers_with_a_status_does_not_move_the_plan(status: int) -> None:
    p = plan()
    step = p.first()
    dialog = start(StatusCamera(status), transport=step.lower, timeouts=TIMEOUTS, probe=step.probe)
    end = ended(dialog)
    assert end.termination.cause is Cause.REFUSED
    assert end.termination.status == status
    assert not end.silent
    assert p.after(step, end) is None
    assert p.passed == []


def test_a_camera_that_answered_then_went_silent_does_not_move_the_plan() -> None:
    cam = camera()
    cam.mute = {"DESCRIBE"}  # OPTIONS answered: the port is open, the camera is slow
    p = plan()
    step = p.first()
    dialog = start(cam, transport=step.lower, timeouts=TIMEOUTS, probe=step.probe)
    dialog.advance(TIMEOUTS.request)
    end = ended(dialog)
    assert end.termination.cause is Cause.TIMED_OUT
    assert not end.silent
    assert p.after(step, end) is None


def test_a_stopped_attempt_does_not_move_the_plan() -> None:
    cam = camera()
    cam.mute = {"OPTIONS"}
    p = plan()
    step = p.first()
    dialog = start(cam, transport=step.lower, timeouts=TIMEOUTS, probe=step.probe)
    dialog.attempt.stop(1.0)
    dialog.pump()
    end = ended(dialog)
    assert end.stopped
    assert p.after(step, end) is None


# -- between sessions -----------------------------------------------------------------------------


def test_the_next_session_starts_on_the_endpoint_that_played_and_wraps_around() -> None:
    p = plan()
    step = p.first()
    for _ in range(3):
        next_step = p.unreachable(step, REFUSED)
        assert next_step is not None
        step = next_step
    assert step.endpoint == TUNNEL_80
    p.played()

    again = p.first()
    assert again == PlannedAttempt(PullTransport.HTTP, endpoint=TUNNEL_80)
    assert p.passed == []  # a new session: nothing passed over yet
    walked = [again.endpoint]
    step = again
    while (next_step := p.unreachable(step, REFUSED)) is not None:
        step = next_step
        walked.append(step.endpoint)
    assert walked == [TUNNEL_80, URL_PORT, ALT_8554, ALT_10554]  # each once, then the session ends


def test_a_session_that_never_played_starts_again_at_the_urls_port() -> None:
    p = plan()
    step = p.first()
    assert p.unreachable(step, REFUSED) is not None
    p.failed(10.0)
    assert p.handle_timer(20.0)
    assert p.first().endpoint == URL_PORT


def test_describe_names_the_kind_and_the_port() -> None:
    assert URL_PORT.describe(554) == "rtsp port 554"
    assert ALT_8554.describe(554) == "rtsp port 8554"
    assert TUNNEL_80.describe(554) == "http tunnel port 80"
    assert Endpoint(None, tunnel=True).describe(8554) == "http tunnel port 8554"
