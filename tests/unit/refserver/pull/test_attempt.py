"""Every timer of the sans-IO pull attempt and plan, on a fake clock: no socket, no sleep.

Each deadline is handled at exactly the time the attempt asks for (as the pump's one timer
does), so the tests pin the times themselves: when a request is given up on, when keepalives
and receiver reports go out, when silence ends the attempt, when UDP is given up for TCP, when
the jitter buffer stops waiting, and how long the plan waits before the next session.
"""

from __future__ import annotations

import hashlib
import logging
import random
from typing import Any

import pytest

from refserver.config import PullTransport
from refserver.pull.attempt import (
    GAP_WAIT,
    REPORT_INTERVAL,
    AttemptEnded,
    DatagramOut,
    Phase,
    PullAttempt,
    SessionTimeouts,
    UdpPortsWanted,
)
from refserver.pull.errors import PullError
from refserver.pull.plan import PlannedAttempt, PullPlan
from tests.unit.refserver.pull.fake_clock import Dialog, RecordingCamera, start
from tests.unit.refserver.pull.scripted_camera import (
    PPS,
    SESSION_ID,
    SPS,
    ScriptedTrack,
    h264_packets,
)
from wire.backoff import Backoff, Jitter
from wire.rtp import RtcpReceiverReport, parse_compound
from wire.rtsp import PortRange
from wire.rtsp.headers import Headers
from wire.rtsp.message import Request, Response
from wire.rtsp.transport import Transport
from wire.session import Cause

SDP = (
    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=cam\r\nt=0 0\r\n"
    "m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n"
    "a=fmtp:96 packetization-mode=1\r\na=control:trackID=1\r\n"
)
TIMEOUTS = SessionTimeouts(request=4.0, media=6.0, udp_switch=3.0)
PLAYED = ["OPTIONS", "DESCRIBE", "SETUP", "PLAY"]


def camera(seconds: float = 4.0) -> RecordingCamera:
    return RecordingCamera(
        SDP, [ScriptedTrack("trackID=1", h264_packets(SPS, PPS, seconds=seconds))]
    )


class UdpCamera(RecordingCamera):
    """Answers SETUP for UDP with its own ports (or 461 when ``refuse_udp``)."""

    refuse_udp = False

    def answer(self, request: Request) -> Response:
        transport = Transport.parse(request.headers.get("Transport", "RTP/AVP"))
        if request.method != "SETUP" or transport.first.client_port is None:
            return super().answer(request)
        headers = Headers([("CSeq", request.headers.get("CSeq", "0"))])
        if self.refuse_udp:
            return Response(461, headers=headers)
        headers.add("Session", f"{SESSION_ID};timeout=60")
        headers.add("Transport", f"{transport.first.serialize()};server_port=6970-6971")
        return Response(200, headers=headers)


class DigestCamera(RecordingCamera):
    """Asks for Digest credentials (RFC 2617) and checks them; ``user``/``secret`` pass."""

    def answer(self, request: Request) -> Response:
        headers = Headers([("CSeq", request.headers.get("CSeq", "0"))])
        given = request.headers.get("Authorization")
        if given is None or not self._valid(request, given):
            headers.add("WWW-Authenticate", 'Digest realm="cam", nonce="0a4f113b"')
            return Response(401, headers=headers)
        return super().answer(request)

    @staticmethod
    def _valid(request: Request, given: str) -> bool:
        fields = dict(
            part.strip().split("=", 1) for part in given.removeprefix("Digest ").split(",")
        )
        values = {key: value.strip('"') for key, value in fields.items()}

        def md5(text: str) -> str:
            return hashlib.md5(text.encode()).hexdigest()

        ha1 = md5("user:cam:secret")
        ha2 = md5(f"{request.method}:{values['uri']}")
        if "qop" in values:
            expected = md5(f"{ha1}:0a4f113b:{values['nc']}:{values['cnonce']}:auth:{ha2}")
        else:
            expected = md5(f"{ha1}:0a4f113b:{ha2}")
        return values.get("username") == "user" and values.get("response") == expected


def playing(**options: Any) -> tuple[RecordingCamera, Dialog]:
    cam = camera()
    dialog = start(cam, timeouts=TIMEOUTS, **options)
    assert dialog.attempt.phase is Phase.PLAYING
    return cam, dialog


# -- requests -------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["OPTIONS", "DESCRIBE", "SETUP", "PLAY"])
def test_each_request_is_given_up_on_after_the_request_timeout(method: str) -> None:
    cam = camera()
    cam.mute = {method}
    dialog = start(cam, now=100.0, timeouts=TIMEOUTS)
    asked_at = next(t.at for t in cam.timed if t.request.method == method)
    assert dialog.attempt.get_timer() == asked_at + TIMEOUTS.request

    dialog.advance(asked_at + TIMEOUTS.request - 0.001)
    assert dialog.ended is None
    dialog.advance(asked_at + TIMEOUTS.request)
    ended = dialog.ended
    assert ended is not None
    assert ended.termination.cause is Cause.TIMED_OUT
    assert ended.termination.phase == method
    assert ended.termination.detail == "no answer to a request within 4 s"
    assert not ended.udp_unavailable
    assert not ended.stopped
    # A session the camera holds (after SETUP) is torn down; before it there is none.
    assert (cam.methods()[-1] == "TEARDOWN") is (method == "PLAY")
    assert dialog.attempt.get_timer() is None


def test_a_refusal_ends_the_attempt_with_its_status() -> None:
    cam = camera()
    cam.tracks[0].control = "trackID=9"  # SETUP of trackID=1 is answered 404
    dialog = start(cam, timeouts=TIMEOUTS)
    ended = dialog.ended
    assert ended is not None
    assert ended.termination.cause is Cause.REFUSED
    assert ended.termination.status == 404
    assert ended.termination.detail == "the camera refused us (SETUP answered 404 Not Found)"


def test_401_is_answered_with_digest_credentials_and_the_attempt_plays() -> None:
    cam = DigestCamera(SDP, [ScriptedTrack("trackID=1", h264_packets(SPS, PPS, seconds=1.0))])
    dialog = start(cam, url="rtsp://user:secret@127.0.0.1:554/stream1", timeouts=TIMEOUTS)
    assert dialog.attempt.phase is Phase.PLAYING
    assert cam.methods()[:3] == ["OPTIONS", "OPTIONS", "DESCRIBE"]  # the first one refused
    assert cam.requests[0].headers.get("Authorization") is None
    assert all(r.headers.get("Authorization", "").startswith("Digest ") for r in cam.requests[1:])
    dialog.media()
    assert dialog.sink.presentation is not None
    assert dialog.sink.frames


def test_wrong_credentials_end_the_attempt_refused_401() -> None:
    cam = DigestCamera(SDP, [ScriptedTrack("trackID=1", h264_packets(SPS, PPS, seconds=1.0))])
    dialog = start(cam, url="rtsp://user:wrong@127.0.0.1:554/stream1", timeouts=TIMEOUTS)
    ended = dialog.ended
    assert ended is not None
    assert ended.termination.cause is Cause.REFUSED
    assert ended.termination.status == 401
    assert ended.termination.detail == (
        "the camera refused the credentials (DESCRIBE answered 401 Unauthorized)"
    )


# -- while playing --------------------------------------------------------------------------------


def test_keepalives_go_out_every_half_session_timeout() -> None:
    cam = camera(seconds=1.0)
    dialog = start(cam, timeouts=SessionTimeouts(request=4.0, media=1000.0))
    played_at = dialog.now
    dialog.media()
    dialog.advance(played_at + 95.0)
    keepalives = [t for t in cam.timed if t.request.method == "GET_PARAMETER"]
    # Session timeout 60 s (the camera's): min(60 - 5, 60 / 2) = 30 s apart.
    assert [t.at - played_at for t in keepalives] == [30.0, 60.0, 90.0]
    assert dialog.ended is None


class RefusingKeepaliveCamera(RecordingCamera):
    """Answers GET_PARAMETER 454 Session Not Found, as some cameras do (retina#133)."""

    def answer(self, request: Request) -> Response:
        if request.method != "GET_PARAMETER":
            return super().answer(request)
        return Response(454, headers=Headers([("CSeq", request.headers.get("CSeq", "0"))]))


def test_a_refused_keepalive_switches_to_options_and_the_session_plays_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cam = RefusingKeepaliveCamera(SDP, [ScriptedTrack("trackID=1", [])])
    dialog = start(cam, timeouts=SessionTimeouts(request=4.0, media=1000.0))
    played_at = dialog.now
    with caplog.at_level(logging.INFO, logger="refserver.pull.attempt"):
        dialog.advance(played_at + 95.0)
    keepalives = [(t.at - played_at, t.request.method) for t in cam.timed[len(PLAYED) :]]
    assert keepalives == [(30.0, "GET_PARAMETER"), (60.0, "OPTIONS"), (90.0, "OPTIONS")]
    assert dialog.ended is None
    (record,) = [r for r in caplog.records if r.getMessage() == "request refused while playing"]
    assert record.__dict__["status"] == "454 Session Not Found"
    assert record.__dict__["keepalive"] == "OPTIONS"


def test_unanswered_keepalives_do_not_end_the_session(caplog: pytest.LogCaptureFixture) -> None:
    cam = camera(seconds=1.0)
    cam.mute = {"GET_PARAMETER"}
    dialog = start(cam, timeouts=SessionTimeouts(request=4.0, media=1000.0))
    played_at = dialog.now
    with caplog.at_level(logging.INFO, logger="refserver.pull.attempt"):
        dialog.advance(played_at + 95.0)
    keepalives = [(t.at - played_at, t.request.method) for t in cam.timed[len(PLAYED) :]]
    assert keepalives == [(30.0, "GET_PARAMETER"), (60.0, "GET_PARAMETER"), (90.0, "GET_PARAMETER")]
    assert dialog.ended is None
    assert [r for r in caplog.records if r.getMessage() == "request refused while playing"] == []


def test_receiver_reports_go_out_every_report_interval_on_the_rtcp_channel() -> None:
    cam, dialog = playing(probe=None)
    played_at = dialog.now
    dialog.media(0.5)
    dialog.advance(played_at + 4 * REPORT_INTERVAL + 0.5)  # media timeout is 6 s: feed it
    reports = [(at, frame) for at, frame in cam.interleaved if frame.channel == 1]
    assert dialog.ended is not None  # no more media: the media timeout came first, at 6 s
    assert [at - played_at for at, _ in reports] == [REPORT_INTERVAL]
    (report, _) = parse_compound(reports[0][1].payload)
    assert isinstance(report, RtcpReceiverReport)
    assert report.ssrc == 0x5EED


def test_receiver_report_cadence_over_a_long_play() -> None:
    cam = camera(seconds=23.0)
    dialog = start(cam, timeouts=TIMEOUTS)
    played_at = dialog.now
    for half in range(1, 45):
        dialog.advance(played_at + half / 2)
        dialog.media(half / 2)
    times = [round(at - played_at, 6) for at, frame in cam.interleaved if frame.channel == 1]
    assert times == [5.0, 10.0, 15.0, 20.0]
    assert dialog.ended is None


def test_silence_after_play_ends_the_attempt_at_the_media_timeout() -> None:
    cam, dialog = playing()
    played_at = dialog.now
    dialog.media(0.5)  # the first packets, then nothing
    last = dialog.now
    assert dialog.attempt.get_timer() == min(last + 6.0, played_at + REPORT_INTERVAL)
    dialog.advance(last + 6.0 - 0.001)
    assert dialog.ended is None
    dialog.advance(last + 6.0)
    ended = dialog.ended
    assert ended is not None
    assert ended.termination.cause is Cause.TIMED_OUT
    assert ended.termination.phase == "media"
    assert ended.termination.detail == "the camera sent no media for 6 s"
    assert cam.methods()[-1] == "TEARDOWN"  # told, not waited for


def test_media_timeout_leads_to_a_reconnect_after_the_backoff() -> None:
    plan = PullPlan(PullTransport.TCP, secure=False, probe=3.0, backoff=Backoff(jitter=Jitter.NONE))
    step = plan.first()
    cam = camera()
    dialog = start(cam, timeouts=TIMEOUTS, transport=step.lower, probe=step.probe)
    dialog.advance(dialog.now + 6.0)
    ended = dialog.ended
    assert isinstance(ended, AttemptEnded)
    assert ended.termination.cause is Cause.TIMED_OUT
    assert plan.after(step, ended) is None  # nothing else to try in this session
    assert plan.failed(dialog.now) == 1.0
    assert plan.get_timer() == dialog.now + 1.0
    assert plan.handle_timer(dialog.now + 0.5) is False
    assert plan.handle_timer(dialog.now + 1.0) is True
    assert plan.get_timer() is None


# -- UDP and the switch to TCP --------------------------------------------------------------------


def udp_dialog(cam: UdpCamera, **options: Any) -> Dialog:
    dialog = start(cam, timeouts=TIMEOUTS, transport=PullTransport.UDP, probe=3.0, **options)
    (wanted,) = dialog.of(UdpPortsWanted)
    assert wanted == UdpPortsWanted(0)
    assert dialog.attempt.phase is Phase.BINDING
    dialog.attempt.udp_ports_bound(0, PortRange(5000, 5001), "127.0.0.1", dialog.now)
    dialog.pump()
    return dialog


def test_no_rtp_over_udp_within_the_probe_switches_to_tcp() -> None:
    cam = UdpCamera(SDP, [ScriptedTrack("trackID=1", [])])
    dialog = udp_dialog(cam)
    setup = cam.requests[2]
    assert "client_port=5000-5001" in setup.headers.get("Transport", "")
    punches = dialog.of(DatagramOut)
    assert {(d.rtcp, d.addr) for d in punches} == {
        (False, ("127.0.0.1", 6970)),
        (True, ("127.0.0.1", 6971)),
    }
    played_at = dialog.now
    assert dialog.attempt.get_timer() == played_at + 3.0
    dialog.advance(played_at + 3.0)
    ended = dialog.ended
    assert ended is not None
    assert ended.udp_unavailable
    assert ended.termination.cause is Cause.TIMED_OUT
    assert ended.termination.detail == "no RTP over UDP within 3 s of PLAY"
    assert dialog.sink.presentation is None  # never announced
    assert cam.methods() == [*PLAYED, "TEARDOWN"]

    plan = PullPlan(PullTransport.AUTO, secure=False, probe=3.0)
    first = plan.first()
    assert first == PlannedAttempt(PullTransport.UDP, 3.0, fallback=True)
    assert plan.after(first, ended) == PlannedAttempt(PullTransport.TCP)


def test_setup_answered_461_switches_to_tcp_at_once() -> None:
    cam = UdpCamera(SDP, [ScriptedTrack("trackID=1", [])])
    cam.refuse_udp = True
    dialog = udp_dialog(cam)
    ended = dialog.ended
    assert ended is not None
    assert ended.udp_unavailable
    assert ended.termination.cause is Cause.REFUSED
    assert ended.termination.status == 461


def test_the_first_datagram_settles_the_probe_and_media_flows() -> None:
    cam = UdpCamera(SDP, [ScriptedTrack("trackID=1", [])])
    dialog = udp_dialog(cam)
    packets = [p for _, p in h264_packets(SPS, PPS, seconds=2.0)]
    attempt = dialog.attempt
    dialog.advance(dialog.now + 1.0)
    attempt.receive_datagram(packets[0].serialize(), ("10.0.0.9", 6970), dialog.now, 0, False)
    assert dialog.sink.presentation is None  # not the camera's address: ignored
    for packet in packets:
        attempt.receive_datagram(packet.serialize(), ("127.0.0.1", 6970), dialog.now, 0, False)
    assert dialog.sink.presentation is not None
    assert len(dialog.sink.frames) == 30  # each picture, complete at its marker bit
    dialog.advance(dialog.now + 3.0)
    assert dialog.ended is None


def test_a_gap_in_udp_rtp_is_given_up_on_gap_wait_after_it_opened() -> None:
    cam = UdpCamera(SDP, [ScriptedTrack("trackID=1", [])])
    dialog = udp_dialog(cam)
    attempt = dialog.attempt
    packets = [p for _, p in h264_packets(SPS, PPS, seconds=2.0)]
    lost = len(packets) // 2
    for packet in packets[:lost]:
        attempt.receive_datagram(packet.serialize(), ("127.0.0.1", 6970), dialog.now, 0, False)
    delivered = len(dialog.sink.frames)
    gap_at = dialog.now = dialog.now + 0.1
    for packet in packets[lost + 1 :]:
        attempt.receive_datagram(packet.serialize(), ("127.0.0.1", 6970), dialog.now, 0, False)
    assert len(dialog.sink.frames) == delivered  # held behind the missing packet
    assert attempt.get_timer() == gap_at + GAP_WAIT
    dialog.advance(gap_at + GAP_WAIT - 0.001)
    assert len(dialog.sink.frames) == delivered
    dialog.advance(gap_at + GAP_WAIT)
    assert len(dialog.sink.frames) > delivered + 10  # the rest, released


def test_receiver_reports_over_udp_go_to_the_cameras_rtcp_port() -> None:
    cam = UdpCamera(SDP, [ScriptedTrack("trackID=1", [])])
    dialog = udp_dialog(cam)
    packets = [p for _, p in h264_packets(SPS, PPS, seconds=6.0)]
    played_at = dialog.now
    for n, packet in enumerate(packets):
        dialog.advance(played_at + 5.5 * n / len(packets))
        dialog.attempt.receive_datagram(
            packet.serialize(), ("127.0.0.1", 6970), dialog.now, 0, False
        )
    dialog.advance(played_at + 5.5)
    reports = [d for d in dialog.of(DatagramOut) if d.rtcp and len(d.data) > 8]
    assert [(d.channel, d.addr) for d in reports] == [(0, ("127.0.0.1", 6971))]
    assert isinstance(parse_compound(reports[0].data)[0], RtcpReceiverReport)


def test_udp_ports_that_cannot_be_bound_end_the_attempt() -> None:
    cam = UdpCamera(SDP, [ScriptedTrack("trackID=1", [])])
    dialog = start(cam, timeouts=TIMEOUTS, transport=PullTransport.UDP, probe=3.0)
    dialog.attempt.udp_ports_failed(0, OSError(98, "Address in use"), dialog.now)
    dialog.pump()
    ended = dialog.ended
    assert ended is not None
    assert ended.termination.cause is Cause.OVERLOAD
    assert ended.termination.detail == "cannot open UDP ports: Address in use"


# -- the plan -------------------------------------------------------------------------------------


def test_the_reconnect_backoff_sequence_is_the_seeded_backoffs() -> None:
    plan = PullPlan(
        PullTransport.TCP,
        secure=False,
        probe=3.0,
        backoff=Backoff(initial=1.0, cap=30.0, random=random.Random(7).random),
    )
    draws = random.Random(7)
    expected = []
    for ceiling in (1, 2, 4, 8, 16, 30, 30):
        expected.append(ceiling / 2 + ceiling / 2 * draws.random())
    now, delays = 1000.0, []
    for _ in expected:
        delays.append(plan.failed(now))
        assert plan.get_timer() == now + delays[-1]
        assert plan.handle_timer(now + delays[-1])
        now += delays[-1]
    assert delays == expected
    plan.played()
    assert 0.5 <= plan.failed(now) <= 1.0  # a session that played starts the sequence over


def test_offline_camera_times_out_and_is_retried_later() -> None:
    cam = camera()
    cam.mute = {"OPTIONS"}  # connected, and nothing ever answers
    plan = PullPlan(PullTransport.AUTO, secure=True, probe=3.0, backoff=Backoff(jitter=Jitter.NONE))
    step = plan.first()
    assert step == PlannedAttempt(PullTransport.TCP)  # rtsps://: no UDP
    dialog = start(cam, timeouts=TIMEOUTS, transport=step.lower)
    dialog.advance(TIMEOUTS.request)
    ended = dialog.ended
    assert ended is not None
    assert ended.termination.phase == "OPTIONS"
    assert plan.after(step, ended) is None
    retries = [plan.failed(t) for t in (4.0, 10.0, 20.0)]
    assert retries == [1.0, 2.0, 4.0]


def test_udp_is_refused_under_tls() -> None:
    plan = PullPlan(PullTransport.UDP, secure=True, probe=3.0)
    with pytest.raises(PullError, match="rtsps:// media cannot go over UDP"):
        plan.first()


# -- the end --------------------------------------------------------------------------------------


def test_stop_sends_a_teardown_and_ends_when_it_is_answered() -> None:
    cam, dialog = playing()
    dialog.attempt.stop(dialog.now)
    dialog.pump()
    assert cam.methods() == [*PLAYED, "TEARDOWN"]
    ended = dialog.ended
    assert ended is not None
    assert ended.stopped
    assert ended.termination.cause is Cause.LOCAL_CLOSE


def test_stop_gives_up_on_an_unanswered_teardown_after_the_request_timeout() -> None:
    cam, dialog = playing()
    cam.mute = {"TEARDOWN"}
    dialog.attempt.stop(dialog.now)
    dialog.pump()
    assert dialog.ended is None
    assert dialog.attempt.get_timer() == dialog.now + TIMEOUTS.request
    dialog.advance(dialog.now + TIMEOUTS.request)
    ended = dialog.ended
    assert ended is not None
    assert ended.stopped
    assert ended.termination.cause is Cause.LOCAL_CLOSE


def test_stop_before_a_session_ends_at_once_without_teardown() -> None:
    cam = camera()
    cam.mute = {"DESCRIBE"}
    dialog = start(cam, timeouts=TIMEOUTS)
    dialog.attempt.stop(dialog.now)
    dialog.pump()
    assert cam.methods() == ["OPTIONS", "DESCRIBE"]
    ended = dialog.ended
    assert ended is not None
    assert ended.stopped


def test_the_camera_hanging_up_is_peer_closed() -> None:
    _, dialog = playing()
    dialog.attempt.receive_eof(dialog.now)
    dialog.pump()
    ended = dialog.ended
    assert ended is not None
    assert ended.termination.cause is Cause.PEER_CLOSED
    assert ended.termination.detail == "the camera closed the connection"
    assert not ended.stopped


def test_an_attempt_runs_over_tcp_or_udp_only() -> None:
    from refserver.pull.address import CameraAddress
    from tests.unit.refserver.pull.fake_clock import RecordingSink

    with pytest.raises(ValueError, match="tcp or udp"):
        PullAttempt(
            CameraAddress.parse("rtsp://h/c"),
            RecordingSink(),
            now=0.0,
            transport=PullTransport.HTTP,
        )
