"""CameraConnection with a fake clock: every deadline of a camera-server connection (the first
bytes, the request deadline, idleness, each session's timeout and what keeps it, the RTCP
sender-report interval, the media stall, the tunnel legs, the refusal grace) is a timer, served
by ``handle_timer(now)``. No socket, no event loop, no sleeping."""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, cast

import pytest

from camsim.camera.connection import (
    REFUSAL_GRACE,
    CameraConnection,
    ConnectionEnded,
    LegChanged,
    Phase,
)
from camsim.camera.control import ServerSettings
from camsim.camera.device import Camera
from camsim.camera.quirks import resolve
from camsim.camera.quirks.base import Quirks
from camsim.camera.sender import Address, RtpSender
from wire.rtp import (
    RtcpReceiverReport,
    RtcpSenderReport,
    ntp_from_unix,
    parse_compound,
    serialize_compound,
)
from wire.rtsp import PortRange
from wire.rtsp.tunnel import encode_tunnel_data
from wire.session import Cause, Termination

URL = "rtsp://127.0.0.1:8554/cam1"
WALLCLOCK = 1_700_000_000.25
SETTINGS = ServerSettings(
    session_timeout=60,
    request_timeout=10.0,
    idle_timeout=30.0,
    report_interval=5.0,
    wallclock=lambda: WALLCLOCK,
    loop_clock=lambda: 0.0,  # loop time 0 is WALLCLOCK
)


class FakeCamera:
    """What a connection asks of a camera: its description, clock and subscribers."""

    def __init__(self, quirks: Quirks | None = None, session_timeout: int = 60) -> None:
        self.name = "cam1"
        self.path = "/cam1"
        self.quirks = quirks or Quirks()
        self.session_timeout = self.quirks.session_timeout(session_timeout)
        self.plan = SimpleNamespace(tracks=[SimpleNamespace(clock_rate=90000)])
        self.track_count = 1
        self.subscribed: list[RtpSender] = []

    def session_description(self, address: str) -> bytes:
        return b"v=0\r\n"

    def media_ticks(self, track: int, now: float) -> int:
        return int(now * 90000)

    def subscribe(self, senders: Iterable[RtpSender], now: float) -> dict[int, tuple[int, int]]:
        senders = list(senders)
        self.subscribed += senders
        return {s.track: (s.sequence, s.timestamp(self.media_ticks(s.track, now))) for s in senders}

    def unsubscribe(self, senders: Iterable[RtpSender]) -> None:
        for sender in senders:
            if sender in self.subscribed:
                self.subscribed.remove(sender)


@dataclass
class FakeSink:
    rtcp: list[bytes] = field(default_factory=list)
    dropped: int = 0

    def send_rtp(self, packets: Any, sequence: int, timestamp: int, ssrc: int) -> bool:
        return True

    def send_rtcp(self, data: bytes) -> None:
        self.rtcp.append(data)


class FakePorts:
    """The server's UDP pair: sinks, and the RTCP watches that keep sessions alive."""

    def __init__(self) -> None:
        self.server_port = PortRange(6970, 6971)
        self.sinks: list[FakeSink] = []
        self.watches: dict[Address, Callable[[float], None]] = {}

    def sink(self, rtp: Address, rtcp: Address) -> FakeSink:
        self.sinks.append(FakeSink())
        return self.sinks[-1]

    def watch(self, rtcp: Address, ssrc: int, callback: Callable[[float], None]) -> None:
        self.watches[rtcp] = callback

    def unwatch(self, rtcp: Address, ssrc: int) -> None:
        self.watches.pop(rtcp, None)


class FakeServer:
    """The camera server as a connection sees it."""

    def __init__(self, camera: FakeCamera, settings: ServerSettings = SETTINGS) -> None:
        self.settings = settings
        self.camera = camera
        self.ports = FakePorts()
        self.multicast = None  # multicast refused
        self.tunnels: dict[str, CameraConnection] = {}
        self.controls: set[CameraConnection] = set()

    @property
    def udp(self) -> FakePorts:
        return self.ports

    def find(self, url: str) -> tuple[Camera, str] | None:
        path = url.split("://", 1)[-1].partition("/")[2]
        first, _, rest = path.partition("/")
        return (cast(Camera, self.camera), rest) if first == "cam1" else None

    def url_of(self, camera: Camera, request_url: str) -> str:
        return URL

    def adopt(self, connection: CameraConnection) -> None:
        self.controls.add(connection)

    def forget(self, connection: CameraConnection) -> None:
        self.controls.discard(connection)


class FakeTransport:
    def __init__(self) -> None:
        self.written = bytearray()

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += data

    def is_closing(self) -> bool:
        return False

    def get_write_buffer_size(self) -> int:
        return 0


class Client:
    """One accepted connection and what it sent, driven like the pump drives it."""

    def __init__(self, server: FakeServer, now: float = 0.0, *, over: str | None = None) -> None:
        self.server = server
        self.transport = FakeTransport()
        self.connection = CameraConnection(server, now, rng=random.Random(7))
        self.connection.accepted("127.0.0.1", self.transport, now, over=over)
        self.cseq = 0
        self.events: list[object] = []

    def pump(self) -> None:
        """What StreamPump does after each call: write what is queued, take the events."""
        self.transport.written += self.connection.data_to_send()
        while (event := self.connection.next_event()) is not None:
            self.events.append(event)

    def send(self, data: bytes, now: float) -> None:
        self.connection.receive_data(data, now)
        self.pump()

    def request(self, method: str, now: float, *headers: str, url: str = URL) -> str:
        self.cseq += 1
        lines = [f"{method} {url} RTSP/1.0", f"CSeq: {self.cseq}", *headers, "", ""]
        self.transport.written.clear()
        self.send("\r\n".join(lines).encode(), now)
        return self.transport.written.decode("latin-1")

    def timer(self) -> float | None:
        return self.connection.get_timer()

    def fire(self, now: float) -> None:
        self.connection.handle_timer(now)
        self.pump()

    @property
    def ended(self) -> Termination | None:
        return self.connection.termination

    def setup(self, now: float, transport: str = "RTP/AVP/TCP;unicast;interleaved=0-1") -> str:
        answer = self.request("SETUP", now, f"Transport: {transport}", url=f"{URL}/trackID=0")
        assert answer.startswith("RTSP/1.0 200 OK"), answer
        match = re.search(r"Session: (\w+);timeout=(\d+)", answer)
        assert match is not None
        return match.group(1)


@pytest.fixture
def camera() -> FakeCamera:
    return FakeCamera()


@pytest.fixture
def server(camera: FakeCamera) -> FakeServer:
    return FakeServer(camera)


def playing(client: Client, now: float) -> str:
    session = client.setup(now)
    assert client.request("PLAY", now, f"Session: {session}").startswith("RTSP/1.0 200 OK")
    return session


# -- before the first request ---------------------------------------------------------------------


def test_a_silent_connection_ends_after_the_idle_timeout(server: FakeServer) -> None:
    client = Client(server, now=100.0)
    assert client.timer() == 130.0
    client.fire(129.9)
    assert client.ended is None
    client.fire(130.0)
    assert client.ended is not None
    assert client.ended.cause is Cause.TIMED_OUT
    assert client.ended.phase == Phase.OPENING.value
    assert client.events == [ConnectionEnded(client.ended)]


def test_first_bytes_that_may_start_a_tunnel_get_the_request_timeout(server: FakeServer) -> None:
    client = Client(server)
    client.send(b"GE", 2.0)
    assert client.timer() == 12.0
    client.fire(12.0)
    assert client.ended is not None
    assert client.ended.cause is Cause.TIMED_OUT


# -- RTSP: request deadline and idleness ----------------------------------------------------------


def test_a_trickled_request_is_answered_408_at_the_request_deadline(server: FakeServer) -> None:
    client = Client(server)
    client.send(b"OPTIONS rtsp://127.0.0.1:8554/cam1 RTSP/1.0\r\nCSeq: 1\r\n", 1.0)
    assert client.connection.phase is Phase.RTSP
    assert client.timer() == 11.0
    client.send(b"User-Agent: slow", 5.0)  # more bytes do not move the deadline
    assert client.timer() == 11.0
    client.fire(11.0)
    assert client.transport.written.startswith(b"RTSP/1.0 408 ")
    assert client.ended is not None
    assert (client.ended.cause, client.ended.phase) == (Cause.TIMED_OUT, "a request")


def test_a_connection_without_session_closes_when_idle(server: FakeServer) -> None:
    client = Client(server)
    assert client.request("OPTIONS", 5.0).startswith("RTSP/1.0 200 OK")
    assert client.timer() == 35.0  # idle from the last request
    client.request("OPTIONS", 20.0)
    assert client.timer() == 50.0
    client.fire(50.0)
    assert client.ended is not None
    assert client.ended.cause is Cause.TIMED_OUT
    assert client.connection not in server.controls


def test_a_connection_with_a_session_is_not_idle(server: FakeServer) -> None:
    client = Client(server)
    client.setup(0.0)
    assert client.timer() == 60.0  # the session's timeout, not idle_timeout (30 s)
    client.fire(30.0)
    assert client.ended is None


# -- session timeout and keepalives -------------------------------------------------------------


def test_a_session_expires_after_its_timeout_and_stops_its_media(
    server: FakeServer, camera: FakeCamera
) -> None:
    client = Client(server)
    playing(client, 0.0)
    assert len(camera.subscribed) == 1
    first = client.timer()
    assert first is not None
    assert first <= 60.0
    while (due := client.timer()) is not None and due < 60.0:
        client.fire(due)  # sender reports on the way
    assert client.connection.control is not None
    assert client.connection.control.sessions
    client.fire(60.0)
    assert client.connection.control.sessions == {}
    assert camera.subscribed == []
    assert client.ended is None  # the connection stays, idle from the expiry
    assert client.timer() == 90.0
    client.fire(90.0)
    assert client.ended is not None
    assert client.ended.cause is Cause.TIMED_OUT


@pytest.mark.parametrize(
    "keepalive",
    [
        ("GET_PARAMETER", ""),
        ("SET_PARAMETER", ""),
        ("OPTIONS", ""),
    ],
)
def test_requests_on_the_session_keep_it_alive(
    server: FakeServer, keepalive: tuple[str, str]
) -> None:
    client = Client(server)
    session = client.setup(0.0)
    method, _ = keepalive
    assert client.request(method, 50.0, f"Session: {session}").startswith("RTSP/1.0 200 OK")
    assert client.timer() == 110.0
    client.fire(60.0)
    assert client.connection.control is not None
    assert session in client.connection.control.sessions
    client.fire(110.0)
    assert session not in client.connection.control.sessions


def receiver_report(ssrc: int = 0x1234) -> bytes:
    return serialize_compound([RtcpReceiverReport(ssrc, [])])


def test_an_interleaved_receiver_report_keeps_the_session_alive(server: FakeServer) -> None:
    client = Client(server)
    session = client.setup(0.0)
    report = receiver_report()
    client.send(b"$\x01" + len(report).to_bytes(2, "big") + report, 45.0)
    assert client.timer() == 105.0
    client.fire(60.0)
    assert client.connection.control is not None
    assert session in client.connection.control.sessions
    # RTCP on the RTP channel, or garbage on the RTCP channel, keeps nothing.
    client.send(b"$\x00" + len(report).to_bytes(2, "big") + report, 100.0)
    client.send(b"$\x01\x00\x03abc", 101.0)
    assert client.connection.counters.malformed_rtcp == 1
    client.fire(105.0)
    assert session not in client.connection.control.sessions


def test_a_receiver_report_over_udp_keeps_the_session_alive(server: FakeServer) -> None:
    client = Client(server)
    session = client.setup(0.0, "RTP/AVP;unicast;client_port=5000-5001")
    (refresh,) = server.ports.watches.values()
    refresh(40.0)  # UdpMedia calls it with the time of the report
    assert client.timer() == 100.0
    client.fire(100.0)
    assert client.connection.control is not None
    assert session not in client.connection.control.sessions
    assert server.ports.watches == {}  # the expired session stopped watching


def test_a_quirk_session_timeout_is_the_one_that_expires(server: FakeServer) -> None:
    server.camera = FakeCamera(resolve(["short-session-timeout"]))
    client = Client(server)
    answer = client.request(
        "SETUP", 0.0, "Transport: RTP/AVP/TCP;unicast;interleaved=0-1", url=f"{URL}/trackID=0"
    )
    match = re.search(r"Session: (\w+);timeout=5\r\n", answer)
    assert match is not None, answer
    assert client.timer() == 5.0
    client.fire(5.0)
    assert client.connection.control is not None
    assert match.group(1) not in client.connection.control.sessions


# -- RTCP sender reports and the media stall -----------------------------------------------------


def rtcp_frames(data: bytes, channel: int) -> list[bytes]:
    frames = []
    while data:
        assert data[0] == 0x24, data[:20]
        size = int.from_bytes(data[2:4], "big")
        if data[1] == channel:
            frames.append(data[4 : 4 + size])
        data = data[4 + size :]
    return frames


def test_sender_reports_leave_every_half_to_one_and_a_half_interval(server: FakeServer) -> None:
    client = Client(server)
    playing(client, 0.0)
    control = client.connection.control
    assert control is not None
    (media,) = control.sessions.values()
    for stream in media.streams.values():
        stream.sender.packet_count = 10  # it has sent RTP: reports are due
    client.transport.written.clear()
    previous, sent = 0.0, 0
    while (due := client.timer()) is not None and due < 40.0:
        assert 2.5 <= due - previous <= 7.5  # report_interval 5 s times [0.5, 1.5]
        client.fire(due)
        previous = due
        reports = rtcp_frames(bytes(client.transport.written), channel=1)
        assert len(reports) == sent + 1
        report = parse_compound(reports[-1])[0]
        assert isinstance(report, RtcpSenderReport)
        assert report.ntp_timestamp == ntp_from_unix(WALLCLOCK + due)  # the clocks it was given
        assert report.rtp_timestamp == media.streams[0].sender.timestamp(int(due * 90000))
        sent += 1
    assert sent >= 5


def test_no_sender_reports_while_paused(server: FakeServer) -> None:
    client = Client(server)
    session = playing(client, 0.0)
    client.request("PAUSE", 1.0, f"Session: {session}")
    assert client.timer() == 61.0  # only the session timeout is left


def test_the_media_stall_quirk_stops_the_rtp_and_keeps_the_reports(server: FakeServer) -> None:
    camera = server.camera = FakeCamera(resolve(["media-stall"]))
    client = Client(server)
    playing(client, 10.0)
    stall = camera.quirks.media_stall()
    assert stall is not None
    assert len(camera.subscribed) == 1
    while (due := client.timer()) is not None and due < 10.0 + stall:
        client.fire(due)
        assert len(camera.subscribed) == 1
    client.fire(10.0 + stall)
    assert camera.subscribed == []
    control = client.connection.control
    assert control is not None
    (media,) = control.sessions.values()
    assert media.playing
    assert media.report_due is not None
    assert client.ended is None


def test_a_sender_report_before_play_leaves_before_the_answer(server: FakeServer) -> None:
    server.camera = FakeCamera(resolve(["sr-before-play"]))
    client = Client(server)
    session = client.setup(0.0)
    answer = client.request("PLAY", 0.0, f"Session: {session}")
    assert answer.startswith("$\x01")
    assert "RTSP/1.0 200 OK" in answer


# -- over the caps --------------------------------------------------------------------------------


def test_over_a_cap_a_request_gets_503_with_its_cseq(server: FakeServer) -> None:
    client = Client(server, over="2 connections")
    client.send(b"OPTIONS * RTSP/1.0\r\nCSeq: 42\r\n", 0.1)
    assert client.transport.written == b""
    client.send(b"\r\n", 0.2)
    assert client.transport.written.startswith(b"RTSP/1.0 503 Service Unavailable\r\nCSeq: 42")
    assert client.ended is not None
    assert client.ended.cause is Cause.OVERLOAD


def test_over_a_cap_a_silent_connection_goes_after_the_grace(server: FakeServer) -> None:
    client = Client(server, 5.0, over="2 connections")
    assert client.timer() == 5.0 + REFUSAL_GRACE
    client.fire(5.0 + REFUSAL_GRACE)
    assert client.ended is not None
    assert client.ended.cause is Cause.TIMED_OUT


def test_under_tls_the_first_request_time_runs_from_the_handshake(server: FakeServer) -> None:
    # The pump accepts TCP at 0, and the handshake it runs (bounded by its own deadline)
    # ends at 0.8: a refused peer still has the whole grace, a silent one the idle timeout.
    refused = CameraConnection(server, 0.0)
    refused.accepted("127.0.0.1", None, 0.0, over="1 connections")
    assert refused.get_timer() == REFUSAL_GRACE
    transport = FakeTransport()
    refused.secured(transport, 0.8)
    assert refused.get_timer() == 0.8 + REFUSAL_GRACE
    assert refused.output.transport is transport
    silent = CameraConnection(server, 0.0)
    silent.accepted("127.0.0.1", None, 0.0)
    silent.secured(FakeTransport(), 0.8)
    assert silent.get_timer() == 30.8


# -- HTTP tunnel legs -----------------------------------------------------------------------------


def leg(method: str, cookie: str = "c00kie") -> bytes:
    return (
        f"{method} /cam1 HTTP/1.0\r\nx-sessioncookie: {cookie}\r\n"
        "Content-Type: application/x-rtsp-tunnelled\r\n\r\n"
    ).encode()


def tunnelled(request: str) -> bytes:
    return encode_tunnel_data(request.encode())


def test_a_get_leg_waits_request_timeout_for_its_post_leg(server: FakeServer) -> None:
    get = Client(server)
    get.send(leg("GET"), 1.0)
    assert get.transport.written.startswith(b"HTTP/1.0 200 OK")
    assert get.connection.phase is Phase.TUNNEL_GET
    assert server.tunnels == {"c00kie": get.connection}
    assert get.timer() == 11.0
    get.transport.written.clear()
    get.send(f"OPTIONS {URL} RTSP/1.0\r\nCSeq: 1\r\n\r\n".encode(), 2.0)
    assert get.transport.written == b""  # RTSP comes on POST legs; a GET leg's bytes are ignored
    assert get.ended is None
    get.fire(11.0)
    assert get.ended is not None
    assert (get.ended.cause, get.ended.phase) == (Cause.TIMED_OUT, "a POST leg")
    assert server.tunnels == {}


def test_a_post_leg_feeds_the_get_leg_and_then_its_timeouts_apply(server: FakeServer) -> None:
    get, post = Client(server), Client(server)
    get.send(leg("GET"), 0.0)
    get.transport.written.clear()
    post.send(leg("POST") + tunnelled(f"OPTIONS {URL} RTSP/1.0\r\nCSeq: 1\r\n\r\n"), 2.0)
    assert post.events == [LegChanged(get.connection)]
    get.pump()  # what the owner does on LegChanged
    assert get.transport.written.startswith(b"RTSP/1.0 200 OK")
    assert post.transport.written == b""  # a POST leg is never answered
    assert get.timer() == 32.0  # the control's idle deadline, no more the POST wait
    assert post.timer() == 62.0  # max(idle_timeout, session_timeout) of silence


def test_a_silent_post_leg_goes_and_the_tunnel_stays(server: FakeServer) -> None:
    get, post = Client(server), Client(server)
    get.send(leg("GET"), 0.0)
    post.send(leg("POST"), 1.0)
    post.send(tunnelled(f"SETUP {URL}/trackID=0 RTSP/1.0\r\nCSeq: 1\r\n"), 2.0)
    post.send(tunnelled("Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n"), 3.0)
    get.pump()
    match = re.search(rb"Session: (\w+)", bytes(get.transport.written))
    assert match is not None
    session = match.group(1).decode()
    assert post.timer() == 63.0  # from its last bytes
    post.fire(61.0)
    assert post.ended is None
    post.fire(63.0)
    assert post.ended is not None
    assert post.ended.cause is Cause.TIMED_OUT
    assert get.ended is None
    assert get.connection.control is not None
    assert session in get.connection.control.sessions
    # A new POST leg carries on with the same session.
    again = Client(server)
    again.send(leg("POST") + tunnelled(f"PLAY {URL} RTSP/1.0\r\nCSeq: 2\r\n"), 64.0)
    again.send(tunnelled(f"Session: {session}\r\n\r\n"), 64.0)
    get.pump()
    assert b"RTSP/1.0 200 OK\r\nCSeq: 2" in get.transport.written


def test_post_legs_end_with_their_get_leg(server: FakeServer) -> None:
    get, post = Client(server), Client(server)
    get.send(leg("GET"), 0.0)
    post.send(leg("POST"), 1.0)
    get.connection.receive_eof(5.0)
    get.pump()
    assert get.ended is not None
    assert get.ended.cause is Cause.PEER_CLOSED
    assert LegChanged(post.connection) in get.events  # so that its owner closes it
    assert post.ended is not None
    assert post.ended.cause is Cause.LOCAL_CLOSE
    assert server.tunnels == {}
    assert server.controls == set()


def test_a_post_leg_without_its_get_leg_is_404(server: FakeServer) -> None:
    post = Client(server)
    post.send(leg("POST", "nobody"), 0.0)
    assert post.transport.written.startswith(b"HTTP/1.0 404 Not Found")
    assert post.ended is not None
    assert post.ended.cause is Cause.REFUSED


def test_a_tunnel_head_not_complete_in_time_is_408(server: FakeServer) -> None:
    client = Client(server)
    client.send(b"GET /cam1 HTTP/1.0\r\n", 3.0)
    assert client.timer() == 13.0
    client.fire(13.0)
    assert client.transport.written.startswith(b"HTTP/1.0 408 ")
    assert client.ended is not None
    assert client.ended.cause is Cause.TIMED_OUT


# -- the end --------------------------------------------------------------------------------------


def test_shutdown_says_bye_then_closes(server: FakeServer, camera: FakeCamera) -> None:
    client = Client(server)
    playing(client, 0.0)
    client.transport.written.clear()
    client.connection.shutdown(1.0)
    client.pump()
    (bye,) = rtcp_frames(bytes(client.transport.written), channel=1)
    assert [type(p).__name__ for p in parse_compound(bye)] == [
        "RtcpSenderReport",
        "RtcpSdes",
        "RtcpBye",
    ]
    assert client.ended is not None
    assert client.ended.cause is Cause.LOCAL_CLOSE
    assert camera.subscribed == []
    assert client.timer() is None


def test_a_lost_connection_releases_its_sessions(server: FakeServer, camera: FakeCamera) -> None:
    client = Client(server)
    playing(client, 0.0)
    client.connection.connection_lost(2.0, ConnectionResetError())
    client.pump()
    assert client.ended is not None
    assert client.ended.cause is Cause.PEER_CLOSED
    assert camera.subscribed == []
    assert server.controls == set()
    assert client.timer() is None
