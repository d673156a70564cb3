"""How refserver's RTSP pull reaches a camera: RTSPS, the HTTP tunnel, the switch from UDP to
TCP, and keepalives that cameras refuse or ignore.

Each test drives :class:`RtspPullSession` against camsim's own fleet with a sink that packages
what it receives into HLS in memory, so the playlist is judged as the server would serve it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from refserver.hls import Frame, FrameKind, HlsOptions, HlsSegmenter, MemoryStorage
from refserver.pull.session import (
    CameraAddress,
    PullError,
    RtspPullSession,
    SessionTimeouts,
)
from refserver.pull.tracks import Presentation, Track
from tests.integration.camera.harness import RunningFleet, running_fleet
from tests.integration.refserver.pull.conftest import PASSWORD, USER, fleet_config
from wire.hls.validate import check_playlist
from wire.rtsp import InterleavedFrame, Request, RtspReader

HLS = HlsOptions(target_duration=1.0, window=6)
UDP_SWITCH = 1.0
TIMEOUTS = SessionTimeouts(connect=5.0, request=3.0, media=5.0, udp_switch=UDP_SWITCH)
SWITCHED = "UDP does not work, switching to TCP"


def url(port: int, scheme: str = "rtsp") -> str:
    return f"{scheme}://{USER}:{PASSWORD}@127.0.0.1:{port}/cam1"


class Packager:
    """A sink that packages into HLS in memory, configured as a pulled source does."""

    def __init__(self) -> None:
        self.storage = MemoryStorage()
        self.segmenter: HlsSegmenter | None = None
        self.starts: list[tuple[Presentation, str, float]] = []
        self.frames = {FrameKind.VIDEO: 0, FrameKind.AUDIO: 0}
        self.last_frame = 0.0

    def started(self, presentation: Presentation, peer: str) -> None:
        self.starts.append((presentation, peer, time.monotonic()))

    def frame(self, track: Track, frame: Frame, size: int) -> None:
        self.frames[frame.kind] += 1
        self.last_frame = time.monotonic()
        presentation = self.starts[-1][0]
        if self.segmenter is None:
            video = next((t.video for t in presentation.tracks if t.codec), None)
            audio = next((t.audio for t in presentation.tracks if t.audio), None)
            if video is None:
                return
            self.segmenter = HlsSegmenter(self.storage, video=video, audio=audio, options=HLS)
        self.segmenter.push(frame)

    def warning(self, message: str) -> None:
        pass  # these cameras bend no rule

    @property
    def listed(self) -> int:
        playlist = self.segmenter.playlist if self.segmenter is not None else None
        return 0 if playlist is None else len(playlist.segments)

    def playlist(self) -> str:
        body = self.storage.read(HLS.playlist_name)
        assert body is not None
        return body.decode()


@dataclass
class Outcome:
    sink: Packager
    transport_in_use: str | None
    began: float


async def pull(
    address: str,
    transport: str,
    until: Callable[[Packager], bool],
    *,
    timeout: float,
    tls_verify: bool = True,
) -> Outcome:
    """Pull until ``until(sink)`` holds (failing after ``timeout`` s), then stop cleanly."""
    sink = Packager()
    session = RtspPullSession(
        CameraAddress.parse(address),
        sink,
        timeouts=TIMEOUTS,
        transport=transport,
        tls_verify=tls_verify,
    )
    began = time.monotonic()
    task = asyncio.create_task(session.run())
    try:
        deadline = began + timeout
        while not until(sink):
            if task.done():
                task.result()  # raises the PullError
                raise AssertionError("the session ended by itself")
            assert time.monotonic() < deadline, f"timed out after {timeout} s"
            await asyncio.sleep(0.05)
        session.stop()
        await asyncio.wait_for(task, TIMEOUTS.request + 2)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, PullError):
            await task
    return Outcome(sink, session.transport_in_use, began)


def six_segments(sink: Packager) -> bool:
    return sink.listed >= 6


# -- RTSPS and the HTTP tunnel ---------------------------------------------------------------------


def test_pulls_through_an_http_tunnel_into_a_valid_playlist(fleet: RunningFleet) -> None:
    tunnels: list[int] = []

    def playing(sink: Packager) -> bool:
        if not tunnels and sink.starts:
            tunnels.append(fleet.call(lambda: len(fleet.fleet.servers[0].tunnels)))
        return six_segments(sink)

    outcome = asyncio.run(pull(url(fleet.port), "http", playing, timeout=30))
    sink = outcome.sink
    assert outcome.transport_in_use == "http"
    assert tunnels == [1]  # the camera served us through a tunnel, not a plain connection
    assert [peer for _, peer, _ in sink.starts] == [f"127.0.0.1:{fleet.port}"]
    assert sink.frames[FrameKind.VIDEO] > 60
    assert sink.frames[FrameKind.AUDIO] > 60
    body = sink.playlist()
    assert check_playlist(body) == []
    assert "#EXT-X-DISCONTINUITY" not in body


@pytest.mark.parametrize(("transport", "in_use"), [("auto", "tcp"), ("http", "http")])
def test_pulls_rtsps_from_a_self_signed_camera_without_verification(
    camera_sample: Path, transport: str, in_use: str
) -> None:
    with running_fleet(fleet_config(camera_sample, tls=True)) as cameras:
        assert cameras.urls[0].startswith("rtsps://")
        outcome = asyncio.run(
            pull(url(cameras.port, "rtsps"), transport, six_segments, timeout=30, tls_verify=False)
        )
    assert outcome.transport_in_use == in_use
    assert len(outcome.sink.starts) == 1
    assert outcome.sink.frames[FrameKind.AUDIO] > 60
    assert check_playlist(outcome.sink.playlist()) == []


def test_rtsps_with_verification_refuses_a_self_signed_camera(camera_sample: Path) -> None:
    with running_fleet(fleet_config(camera_sample, tls=True)) as cameras:
        address = url(cameras.port, "rtsps")
        with pytest.raises(PullError) as caught:
            asyncio.run(pull(address, "tcp", lambda sink: False, timeout=10))
    assert str(caught.value) == (
        "the camera's TLS certificate is not trusted: self-signed certificate"
    )


def test_udp_is_refused_for_rtsps() -> None:
    with pytest.raises(PullError) as caught:
        asyncio.run(pull("rtsps://127.0.0.1:1/cam1", "udp", lambda sink: False, timeout=5))
    assert str(caught.value) == (
        "rtsps:// media cannot go over UDP (that needs SRTP); use tcp, http or auto"
    )


def test_plain_rtsp_to_a_tls_camera_is_a_plain_failure(camera_sample: Path) -> None:
    with running_fleet(fleet_config(camera_sample, tls=True)) as cameras:
        address = url(cameras.port, "rtsp")
        with pytest.raises(PullError) as caught:
            asyncio.run(pull(address, "tcp", lambda sink: False, timeout=10))
    assert str(caught.value) in (
        "the camera closed the connection",
        "no answer to a request within 3 s",
    )


# -- auto: UDP first, TCP when UDP does not work ---------------------------------------------------


@dataclass
class RewritingProxy:
    """A TCP proxy in front of the camera that records the requests of each connection and
    rewrites the client ports of UDP SETUPs to ``client_port`` (or leaves them)."""

    camera_port: int
    client_port: str | None = None
    connections: list[list[str]] = field(default_factory=list)
    port: int = 0

    async def start(self) -> asyncio.Server:
        server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        return server

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        methods: list[str] = []
        self.connections.append(methods)
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.camera_port)
        back = asyncio.create_task(self._copy(up_reader, writer))
        parser = RtspReader()
        try:
            while data := await reader.read(65536):
                parser.receive_data(data)
                while (message := parser.next_message()) is not None:
                    if isinstance(message, Request):
                        methods.append(message.method)
                        up_writer.write(self._rewrite(message).serialize())
                    elif isinstance(message, InterleavedFrame):
                        up_writer.write(message.serialize())
        except OSError:
            pass
        finally:
            up_writer.close()
            writer.close()
            back.cancel()

    def _rewrite(self, request: Request) -> Request:
        transport = request.headers.get("Transport")
        if self.client_port is not None and transport is not None:
            rewritten = re.sub(r"client_port=\d+-\d+", f"client_port={self.client_port}", transport)
            request.headers.set("Transport", rewritten)
        return request

    @staticmethod
    async def _copy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while data := await reader.read(65536):
                writer.write(data)
        writer.close()


@contextlib.contextmanager
def udp_pair() -> Iterator[tuple[socket.socket, str]]:
    """Two bound UDP ports that nobody reads: where the camera's RTP goes astray."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rtp:
        rtp.bind(("127.0.0.1", 0))
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rtcp:
            rtcp.bind(("127.0.0.1", 0))
            rtp.setblocking(False)
            yield rtp, f"{rtp.getsockname()[1]}-{rtcp.getsockname()[1]}"


def video_flows(sink: Packager) -> bool:
    return sink.frames[FrameKind.VIDEO] >= 30


PLAYED = ["OPTIONS", "DESCRIBE", "DESCRIBE", "SETUP", "SETUP", "PLAY"]
"""What a set-up sends: DESCRIBE goes again with Digest credentials after its 401."""


def test_auto_switches_to_tcp_when_setup_is_answered_461(
    fleet: RunningFleet, caplog: pytest.LogCaptureFixture
) -> None:
    # camsim answers 461 to client_port=0-1, as to any UDP transport it cannot serve.
    proxy = RewritingProxy(fleet.port, client_port="0-1")

    async def scenario() -> Outcome:
        server = await proxy.start()
        async with server:
            return await pull(url(proxy.port), "auto", video_flows, timeout=20)

    with caplog.at_level(logging.WARNING, logger="refserver.pull.session"):
        outcome = asyncio.run(scenario())
    assert outcome.transport_in_use == "tcp"
    assert len(outcome.sink.starts) == 1
    # No session on the first connection, so nothing to tear down; all over again on a new one.
    assert proxy.connections[0] == ["OPTIONS", "DESCRIBE", "DESCRIBE", "SETUP"]
    assert proxy.connections[1][:6] == PLAYED
    assert len(proxy.connections) == 2
    (record,) = [r for r in caplog.records if r.getMessage() == SWITCHED]
    assert record.__dict__["reason"] == (
        "the camera refused UDP (SETUP answered 461 Unsupported Transport)"
    )


def test_auto_switches_to_tcp_when_no_udp_arrives(
    fleet: RunningFleet, caplog: pytest.LogCaptureFixture
) -> None:
    with udp_pair() as (astray, ports):
        proxy = RewritingProxy(fleet.port, client_port=ports)

        async def scenario() -> Outcome:
            server = await proxy.start()
            async with server:
                return await pull(url(proxy.port), "auto", video_flows, timeout=20)

        with caplog.at_level(logging.WARNING, logger="refserver.pull.session"):
            outcome = asyncio.run(scenario())
        assert len(astray.recv(65536)) > 12  # the camera did send RTP over UDP, elsewhere
    assert outcome.transport_in_use == "tcp"
    (start,) = outcome.sink.starts
    assert start[2] - outcome.began < UDP_SWITCH + 2.0
    assert proxy.connections[0] == [*PLAYED, "TEARDOWN"]
    assert proxy.connections[1][:6] == PLAYED
    assert len(proxy.connections) == 2
    (record,) = [r for r in caplog.records if r.getMessage() == SWITCHED]
    assert record.__dict__["reason"] == f"no RTP over UDP within {UDP_SWITCH:g} s of PLAY"


def test_auto_stays_on_udp_when_it_works(fleet: RunningFleet) -> None:
    outcome = asyncio.run(pull(url(fleet.port), "auto", video_flows, timeout=20))
    assert outcome.transport_in_use == "udp"
    assert len(outcome.sink.starts) == 1


# -- keepalives ------------------------------------------------------------------------------------


# The keepalive's cadence, a refused keepalive and unanswered ones are pinned on a fake clock
# (tests/unit/refserver/pull/test_attempt.py); this one runs camsim's refusing camera for real.
@pytest.mark.parametrize(
    ("quirks", "session_timeout", "keepalive"),
    [(("get-parameter-454",), 4, "OPTIONS")],
)
def test_refused_or_unanswered_keepalives_do_not_end_the_session(
    camera_sample: Path,
    caplog: pytest.LogCaptureFixture,
    quirks: tuple[str, ...],
    session_timeout: int,
    keepalive: str,
) -> None:
    """The camera drops a session after 4 or 5 s without a request (receiver reports come
    every 5 s): playing for 11 s takes several keepalives, each refused or ignored."""
    config = fleet_config(camera_sample, quirks=quirks, session_timeout=session_timeout)
    with running_fleet(config) as cameras:
        proxy = RewritingProxy(cameras.port)

        async def scenario() -> Outcome:
            server = await proxy.start()
            async with server:
                started = time.monotonic()

                def long_enough(sink: Packager) -> bool:
                    return time.monotonic() - started > 11.0

                return await pull(url(proxy.port), "tcp", long_enough, timeout=20)

        with caplog.at_level(logging.INFO, logger="refserver.pull.attempt"):
            outcome = asyncio.run(scenario())
    sink = outcome.sink
    assert len(sink.starts) == 1
    assert time.monotonic() - sink.last_frame < 2.0  # still playing at the end
    (methods,) = proxy.connections
    assert methods[:6] == PLAYED
    assert methods[-1] == "TEARDOWN"
    keepalives = methods[6:-1]
    assert len(keepalives) >= 4
    assert keepalives[0] == "GET_PARAMETER"
    assert set(keepalives[1:]) == {keepalive}
    refused = [r for r in caplog.records if r.getMessage() == "request refused while playing"]
    if keepalive == "OPTIONS":
        (record,) = refused
        assert record.__dict__["status"] == "454 Session Not Found"
        assert record.__dict__["keepalive"] == "OPTIONS"
    else:
        assert refused == []
