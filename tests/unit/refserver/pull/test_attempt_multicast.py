"""The sans-IO pull attempt over UDP multicast, on a fake clock: no socket, no sleep.

The attempt SETUPs with ``multicast`` and no ports, asks its owner to join the group the answer
names (:class:`MulticastGroupWanted`), sends no punch packets, takes only the camera's
datagrams through the jitter buffer, and reports to the group's RTCP port; the plan never
tries multicast unless asked, and never under TLS.
"""

from __future__ import annotations

import pytest

from refserver.config import PullTransport
from refserver.pull.attempt import (
    REPORT_INTERVAL,
    DatagramOut,
    MulticastGroupWanted,
    Phase,
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
GROUP = "239.255.42.1"
CAMERA_HOST = "127.0.0.1"


class MulticastCamera(RecordingCamera):
    """Answers a multicast SETUP with ``reply`` (its group), or 461."""

    reply: str | None = f"RTP/AVP;multicast;destination={GROUP};port=8002-8003;ttl=1"

    def answer(self, request: Request) -> Response:
        if request.method != "SETUP":
            return super().answer(request)
        self.asked = Transport.parse(request.headers.get("Transport", "RTP/AVP")).first
        headers = Headers([("CSeq", request.headers.get("CSeq", "0"))])
        if self.reply is None:
            return Response(461, headers=headers)
        headers.add("Session", f"{SESSION_ID};timeout=60")
        headers.add("Transport", self.reply)
        return Response(200, headers=headers)


def multicast_dialog(cam: MulticastCamera) -> Dialog:
    return start(cam, timeouts=TIMEOUTS, transport=PullTransport.MULTICAST)


def joined(cam: MulticastCamera) -> Dialog:
    dialog = multicast_dialog(cam)
    (wanted,) = dialog.of(MulticastGroupWanted)
    assert wanted == MulticastGroupWanted(0, GROUP, PortRange(8002, 8003))
    assert dialog.attempt.phase is Phase.BINDING
    assert cam.methods() == ["OPTIONS", "DESCRIBE", "SETUP"]  # PLAY waits for the join
    dialog.attempt.multicast_joined(0, CAMERA_HOST, dialog.now)
    dialog.pump()
    return dialog


def test_setup_asks_for_multicast_and_the_answer_names_the_group_to_join() -> None:
    cam = MulticastCamera(SDP, [ScriptedTrack("trackID=1", [])])
    dialog = joined(cam)
    assert cam.asked.is_multicast
    assert cam.asked.client_port is None  # the camera chooses the ports
    assert cam.asked.destination is None
    assert dialog.of(UdpPortsWanted) == []
    assert cam.methods() == ["OPTIONS", "DESCRIBE", "SETUP", "PLAY"]
    assert dialog.of(DatagramOut) == []  # no punch packets: a group opens no NAT mapping


def test_the_cameras_datagrams_go_through_the_jitter_buffer() -> None:
    cam = MulticastCamera(SDP, [ScriptedTrack("trackID=1", [])])
    dialog = joined(cam)
    attempt = dialog.attempt
    packets = [p for _, p in h264_packets(SPS, PPS, seconds=2.0)]
    # Another sender on the group (or our own report looped back) is not the camera.
    for packet in packets:
        attempt.receive_datagram(packet.serialize(), ("10.0.0.9", 40000), dialog.now, 0, False)
    assert dialog.sink.frames == []
    late, rest = packets[3], packets[:3] + packets[4:]
    rest.insert(8, late)  # reordered on the way
    for packet in rest:
        attempt.receive_datagram(packet.serialize(), (CAMERA_HOST, 40000), dialog.now, 0, False)
    assert len(dialog.sink.frames) == 30  # each picture once, in order
    dialog.advance(dialog.now + 3.0)
    assert dialog.ended is None


def test_receiver_reports_go_to_the_groups_rtcp_port() -> None:
    cam = MulticastCamera(SDP, [ScriptedTrack("trackID=1", [])])
    dialog = joined(cam)
    played_at = dialog.now
    packets = [p for _, p in h264_packets(SPS, PPS, seconds=6.0)]
    for n, packet in enumerate(packets):
        dialog.advance(played_at + 5.5 * n / len(packets))
        dialog.attempt.receive_datagram(
            packet.serialize(), (CAMERA_HOST, 40000), dialog.now, 0, False
        )
    dialog.advance(played_at + REPORT_INTERVAL + 0.5)
    reports = [d for d in dialog.of(DatagramOut) if d.rtcp]
    assert [(d.channel, d.addr) for d in reports] == [(0, (GROUP, 8003))]
    assert isinstance(parse_compound(reports[0].data)[0], RtcpReceiverReport)


def test_a_camera_that_refuses_multicast_ends_the_attempt_461_with_no_fallback() -> None:
    cam = MulticastCamera(SDP, [ScriptedTrack("trackID=1", [])])
    cam.reply = None
    dialog = multicast_dialog(cam)
    ended = dialog.ended
    assert ended is not None
    assert ended.termination.cause is Cause.REFUSED
    assert ended.termination.status == 461
    assert not ended.udp_unavailable
    plan = PullPlan(PullTransport.MULTICAST, secure=False, probe=3.0)
    assert plan.after(plan.first(), ended) is None


@pytest.mark.parametrize(
    "reply",
    [
        "RTP/AVP;unicast;client_port=5000-5001;server_port=6970-6971",
        "RTP/AVP;multicast;port=8002-8003",
        f"RTP/AVP;multicast;destination={GROUP}",
    ],
)
def test_an_answer_without_a_group_and_ports_is_a_protocol_error(reply: str) -> None:
    cam = MulticastCamera(SDP, [ScriptedTrack("trackID=1", [])])
    cam.reply = reply
    dialog = multicast_dialog(cam)
    ended = dialog.ended
    assert ended is not None
    assert ended.termination.cause is Cause.PROTOCOL_ERROR
    assert dialog.of(MulticastGroupWanted) == []


def test_a_group_that_cannot_be_joined_ends_the_attempt() -> None:
    cam = MulticastCamera(SDP, [ScriptedTrack("trackID=1", [])])
    dialog = multicast_dialog(cam)
    dialog.attempt.udp_ports_failed(0, OSError(19, "No such device"), dialog.now)
    dialog.pump()
    ended = dialog.ended
    assert ended is not None
    assert ended.termination.detail == "cannot open UDP ports: No such device"


def test_the_plan_tries_multicast_only_when_asked_and_never_under_tls() -> None:
    plan = PullPlan(PullTransport.MULTICAST, secure=False, probe=3.0)
    first = plan.first()
    assert first == PlannedAttempt(PullTransport.MULTICAST)
    assert first.lower is PullTransport.MULTICAST
    auto = PullPlan(PullTransport.AUTO, secure=False, probe=3.0).first()
    assert auto.lower is PullTransport.UDP
    with pytest.raises(PullError):
        PullPlan(PullTransport.MULTICAST, secure=True, probe=3.0).first()
