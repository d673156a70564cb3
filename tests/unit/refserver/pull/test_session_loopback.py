"""The pull attempt's asyncio owner over loopback: the pump, the UDP pairs, stop and TEARDOWN.

The timers themselves are pinned on a fake clock (test_attempt.py); these few tests only show
that the owner wires the sans-IO attempt to real sockets: bytes both ways through the
StreamPump, the UDP pair bound on request and its datagrams fed back, and a stop that ends
:meth:`RtspPullSession.run` after the TEARDOWN is answered. Loopback only, each bounded in time.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import cast

from refserver.config import PullTransport
from refserver.pull.address import CameraAddress
from refserver.pull.attempt import SessionTimeouts
from refserver.pull.errors import PullError
from refserver.pull.session import RtspPullSession
from tests.unit.refserver.pull.fake_clock import RecordingCamera, RecordingSink
from tests.unit.refserver.pull.scripted_camera import (
    PPS,
    SESSION_ID,
    SPS,
    ScriptedTrack,
    h264_packets,
)
from wire.rtsp.headers import Headers
from wire.rtsp.message import Request, Response
from wire.rtsp.transport import Transport

SDP = (
    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=cam\r\nt=0 0\r\n"
    "m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n"
    "a=fmtp:96 packetization-mode=1\r\na=control:trackID=1\r\n"
)
TIMEOUTS = SessionTimeouts(connect=2.0, request=2.0, media=5.0, udp_switch=2.0)
LIMIT = 10.0
"""Seconds any one of these tests may take."""


class UdpAnsweringCamera(RecordingCamera):
    """Answers a UDP SETUP with its own ports and remembers the client's."""

    client_port: tuple[str, int] | None = None

    def answer(self, request: Request) -> Response:
        transport = Transport.parse(request.headers.get("Transport", "RTP/AVP"))
        client = transport.first.client_port
        if request.method != "SETUP" or client is None:
            return super().answer(request)
        self.client_port = ("127.0.0.1", client.first)
        headers = Headers([("CSeq", request.headers.get("CSeq", "0"))])
        headers.add("Session", f"{SESSION_ID};timeout=60")
        headers.add("Transport", f"{transport.first.serialize()};server_port=6970-6971")
        return Response(200, headers=headers)


class CameraProtocol(asyncio.Protocol):
    """Serves ``camera`` on one TCP connection; media interleaved once it plays (TCP)."""

    def __init__(self, camera: RecordingCamera, interleave: bool) -> None:
        self.camera = camera
        self.interleave = interleave
        self.transport: asyncio.Transport | None = None
        self.closed = asyncio.Event()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.Transport, transport)  # uvloop's: no asyncio class
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.write(self.camera.receive(data))
        if self.interleave and self.camera.playing:
            self.transport.write(self.camera.media())

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed.set()


async def pull(camera: RecordingCamera, transport: PullTransport, *, udp: bool) -> RecordingSink:
    loop = asyncio.get_running_loop()
    served: list[CameraProtocol] = []

    def accept() -> CameraProtocol:
        served.append(CameraProtocol(camera, interleave=not udp))
        return served[-1]

    server = await loop.create_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    sink = RecordingSink()
    session = RtspPullSession(
        CameraAddress.parse(f"rtsp://127.0.0.1:{port}/cam"),
        sink,
        timeouts=TIMEOUTS,
        transport=transport,
    )
    running = asyncio.create_task(session.run())
    sender: asyncio.DatagramTransport | None = None
    try:
        async with asyncio.timeout(LIMIT):
            while len(sink.frames) < 30:
                if udp and camera.playing and sender is None:
                    assert isinstance(camera, UdpAnsweringCamera)
                    assert camera.client_port is not None
                    sender, _ = await loop.create_datagram_endpoint(
                        asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0)
                    )
                    for _, packet in camera.tracks[0].packets:
                        sender.sendto(packet.serialize(), camera.client_port)
                assert not running.done(), running.result()
                await asyncio.sleep(0.02)
            session.stop()
            await running
            await served[-1].closed.wait()
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
        if sender is not None:
            sender.close()
        server.close()
        await server.wait_closed()
    return sink


def test_tcp_through_the_pump_plays_and_stops_with_a_teardown() -> None:
    track = ScriptedTrack("trackID=1", h264_packets(SPS, PPS, seconds=2.0))
    camera = RecordingCamera(SDP, [track])
    sink = asyncio.run(pull(camera, PullTransport.TCP, udp=False))
    assert sink.presentation is not None
    assert len(sink.frames) == 30
    assert camera.methods() == ["OPTIONS", "DESCRIBE", "SETUP", "PLAY", "TEARDOWN"]


def test_udp_pairs_are_bound_and_their_datagrams_reach_the_attempt() -> None:
    track = ScriptedTrack("trackID=1", h264_packets(SPS, PPS, seconds=2.0))
    camera = UdpAnsweringCamera(SDP, [track])
    sink = asyncio.run(pull(camera, PullTransport.AUTO, udp=True))
    assert camera.client_port is not None
    assert camera.client_port[1] % 2 == 0  # RTP on the even port of the pair (RFC 3550 §11)
    assert len(sink.frames) == 30
    assert camera.methods()[-1] == "TEARDOWN"


def test_a_camera_that_hangs_up_at_once_ends_the_session_at_once() -> None:
    """Its end of stream may come before the link is handed to the pump: the attempt hears of
    it all the same, instead of waiting for an answer on a closed connection."""

    async def scenario() -> tuple[str, float]:
        loop = asyncio.get_running_loop()

        def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.close()

        server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        session = RtspPullSession(
            CameraAddress.parse(f"rtsp://127.0.0.1:{port}/cam"),
            RecordingSink(),
            timeouts=SessionTimeouts(connect=2.0, request=5.0),
            transport=PullTransport.TCP,
        )
        began = loop.time()
        try:
            async with asyncio.timeout(LIMIT):
                await session.run()
        except PullError as exc:
            return str(exc), loop.time() - began
        finally:
            server.close()
            await server.wait_closed()
        raise AssertionError("the session ended without an error")

    for _ in range(5):  # the hang-up races the hand-over; a few tries meet both orders
        reason, took = asyncio.run(scenario())
        assert reason == "the camera closed the connection"
        assert took < 2.0  # not the 5 s request timeout
