"""A client and a server connection wired together in memory, as the asyncio pumps will be."""

import itertools
from collections.abc import Callable
from typing import Any

import pytest

from wire.rtsp.authenticator import Authenticator
from wire.rtsp.client import ClientConfig, RtspClientConnection
from wire.rtsp.events import (
    AuthenticationRetried,
    Event,
    InterleavedFrameReceived,
    RequestReceived,
    ResponseReceived,
)
from wire.rtsp.headers import Headers, SessionHeader
from wire.rtsp.message import Response
from wire.rtsp.range import Range
from wire.rtsp.server import RtspServerConfig, RtspServerConnection
from wire.rtsp.state import AggregateControl, SessionState
from wire.rtsp.transport import PortRange, Transport, TransportSpec

URL = "rtsp://127.0.0.1:8554/cam1"
SDP = (
    b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=camsim\r\nt=0 0\r\na=control:*\r\n"
    b"m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=control:trackID=0\r\n"
)
RTP = [bytes([0x80, 0x60, 0, n]) + bytes(8) + b"payload" for n in range(5)]
RTCP_RR = b"\x81\xc9\x00\x07" + bytes(28)


def counter_source() -> Callable[[int], bytes]:
    counter = itertools.count()
    return lambda n: bytes((next(counter) + i) % 256 for i in range(n))


def state_of(client: RtspClientConnection) -> SessionState:
    return client.state


def server_state(server: RtspServerConnection) -> SessionState:
    return server.sessions["C0FFEE"].state


class Camera:
    """The application side of the server: answers what the connection hands it."""

    def __init__(self, server: RtspServerConnection) -> None:
        self.server = server
        self.log: list[tuple[str, Any]] = []

    def handle(self, event: Event) -> None:
        if isinstance(event, InterleavedFrameReceived):
            self.log.append(("frame", event.channel))
            if event.channel == 1 and self.server.sessions:
                self.server.refresh_session(next(iter(self.server.sessions)), 0.0)
            return
        if not isinstance(event, RequestReceived):
            self.log.append(("event", type(event).__name__))
            return
        request = event.request
        self.log.append(("request", request.method))
        headers = Headers()
        body = b""
        if request.method == "OPTIONS":
            headers.add("Public", "OPTIONS, DESCRIBE, SETUP, PLAY, PAUSE, TEARDOWN, GET_PARAMETER")
        elif request.method == "DESCRIBE":
            headers.add("Content-Base", URL + "/")
            headers.add("Content-Type", "application/sdp")
            body = SDP
        elif request.method == "SETUP":
            spec = Transport.parse(request.headers["Transport"]).first
            headers.add("Transport", spec.serialize() + ";ssrc=1A2B3C4D")
            headers.add("Session", "C0FFEE;timeout=20")
        elif request.method == "PLAY":
            headers.add("Range", "npt=0.000-")
            headers.add("RTP-Info", f"url={URL}/trackID=0;seq=0;rtptime=0")
        self.server.send_response(request, Response(200, headers=headers, body=body))
        if request.method == "PLAY":
            for packet in RTP[:3]:
                self.server.send_interleaved(0, packet)


class Wire:
    """Moves bytes both ways in chunks of ``chunk`` bytes."""

    def __init__(self, chunk: int) -> None:
        self.chunk = chunk
        authenticator = Authenticator(
            "camsim",
            {"admin": "pw"},
            random_source=counter_source(),
            digest_algorithms=(
                "SHA-256",
                "MD5",
            ),
            qop=True,
        )
        config = RtspServerConfig(
            authenticator=authenticator,
            unauthenticated_methods=frozenset({"OPTIONS"}),
            aggregate_control=AggregateControl.AGGREGATE_ONLY,
        )
        self.server = RtspServerConnection(config)
        self.camera = Camera(self.server)
        client_config = ClientConfig(
            username="admin", password="pw", cnonce_source=counter_source()
        )
        self.client = RtspClientConnection(URL, client_config)
        self.client_events: list[Any] = []

    def pump(self, now: float = 0.0) -> None:
        while True:
            to_server = self.client.data_to_send()
            for start in range(0, len(to_server), self.chunk):
                self.server.receive_data(to_server[start : start + self.chunk], now)
                while (event := self.server.next_event()) is not None:
                    self.camera.handle(event)
            to_client = self.server.data_to_send()
            for start in range(0, len(to_client), self.chunk):
                self.client.receive_data(to_client[start : start + self.chunk], now)
            while (event := self.client.next_event()) is not None:
                self.client_events.append(event)
            if not to_server and not to_client:
                return

    def take(self) -> list[Any]:
        events, self.client_events = self.client_events, []
        return events


@pytest.mark.parametrize("chunk", [1, 7, 65536])
def test_full_exchange_over_tcp_interleaved(chunk) -> None:
    wire = Wire(chunk)
    client, server = wire.client, wire.server

    client.options()
    wire.pump()
    (options,) = wire.take()
    assert options.response.status_code == 200
    assert client.public is not None
    assert "GET_PARAMETER" in client.public

    describe_cseq = client.describe()
    wire.pump()
    retried, described = wire.take()
    assert retried == AuthenticationRetried(describe_cseq, 3, "Digest")
    assert isinstance(described, ResponseReceived)
    assert described.cseq == describe_cseq
    assert described.response.body == SDP
    assert "algorithm=SHA-256" in described.request.headers["Authorization"]
    assert client.control_url("trackID=0") == URL + "/trackID=0"

    spec = TransportSpec(lower_transport="TCP", delivery="unicast", interleaved=PortRange(0, 1))
    client.setup(client.control_url("trackID=0"), spec)
    wire.pump(now=1.0)
    (setup,) = wire.take()
    assert setup.transport.first.interleaved == PortRange(0, 1)
    assert setup.transport.first.ssrc == 0x1A2B3C4D
    assert client.session == SessionHeader("C0FFEE", 20)
    assert server_state(server) is SessionState.READY
    assert state_of(client) is SessionState.READY
    assert server.get_timer() == 21.0
    assert client.get_timer() == 11.0

    client.play(range=Range.npt(0))
    client.send_interleaved(1, RTCP_RR)
    wire.pump(now=2.0)
    played, *frames = wire.take()
    assert played.rtp_info.entries[0].url == URL + "/trackID=0"
    assert played.range == Range.npt("0.000")
    assert frames == [InterleavedFrameReceived(0, packet) for packet in RTP[:3]]
    assert state_of(client) is SessionState.PLAYING
    assert server_state(server) is SessionState.PLAYING
    assert ("frame", 1) in wire.camera.log

    client.handle_timer(12.0)
    wire.pump(now=12.0)
    keepalive_sent, keepalive = wire.take()
    assert keepalive_sent.method == "GET_PARAMETER"
    assert keepalive.response.status_code == 200
    assert server.get_timer() == 32.0

    client.teardown()
    for packet in RTP[3:]:
        server.send_interleaved(0, packet)
    wire.pump(now=13.0)
    *frames, torn_down = wire.take()
    assert frames == [InterleavedFrameReceived(0, packet) for packet in RTP[3:]]
    assert torn_down.request.method == "TEARDOWN"
    assert client.session is None
    assert server.sessions == {}
    assert client.get_timer() is None
    assert server.get_timer() is None
    assert [entry for entry in wire.camera.log if entry[0] == "request"] == [
        ("request", m)
        for m in ("OPTIONS", "DESCRIBE", "SETUP", "PLAY", "GET_PARAMETER", "TEARDOWN")
    ]
