"""Bad input costs only the connection that sent it: answers where the protocol allows, limits and
timeouts where it does not, and the other cameras' streams never miss a packet."""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import urlsplit

from camsim.camera.fleet import FleetConfig
from tests.integration.camera.client import RtspTestClient, read_raw_responses
from tests.integration.camera.harness import running_fleet
from wire.rtp import RtpPacket, seq_diff
from wire.rtsp import ReaderLimits, Response


def run(coroutine: Coroutine[Any, Any, None]) -> None:
    asyncio.run(asyncio.wait_for(coroutine, 40))


async def raw(url: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    parts = urlsplit(url)
    return await asyncio.open_connection(parts.hostname, parts.port)


async def responses(reader: asyncio.StreamReader, count: int) -> list[Response]:
    messages = await read_raw_responses(reader, count)
    assert all(isinstance(m, Response) for m in messages), messages
    return [m for m in messages if isinstance(m, Response)]


async def closed(reader: asyncio.StreamReader, timeout: float = 5.0) -> bool:
    """True once the server has closed the connection (whatever it wrote before)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        data = await asyncio.wait_for(reader.read(65536), deadline - time.monotonic())
        if not data:
            return True
    return False


class Watcher:
    """A client of another camera whose stream must not notice anything."""

    def __init__(self, client: RtspTestClient) -> None:
        self.client = client
        self.packets: list[RtpPacket] = []

    async def collect(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.packets += await self.client.rtp(0, 1)

    def assert_unbroken(self, seconds: float) -> None:
        steps = {seq_diff(b.sequence_number, a.sequence_number) for a, b in self._pairs()}
        assert steps == {1}
        # 15 fps for `seconds`: at least the frames, each one packet or more.
        assert len(self.packets) >= 15 * seconds * 0.8

    def _pairs(self) -> list[tuple[RtpPacket, RtpPacket]]:
        return list(zip(self.packets, self.packets[1:], strict=False))


def test_malformed_requests_get_400_and_the_connection_stays_usable(config: FleetConfig) -> None:
    async def scenario(url: str) -> None:
        reader, writer = await raw(url)
        writer.write(b"OPTIONS\r\nCSeq: 1\r\n\r\n")  # no URL, no version
        writer.write(b"OPTIONS * RTSP/1.0\r\nCSeq: 2\r\nBad Header Line\r\n\r\n")
        writer.write(b"OPTIONS * RTSP/1.0\r\n\r\n")  # no CSeq
        writer.write(b"OPTIONS * RTSP/1.0\r\nCSeq: 4\r\n\r\n")
        first, second, third, fourth = await responses(reader, 4)
        assert (first.status_code, first.cseq) == (400, 1)
        assert (second.status_code, second.cseq) == (400, 2)
        assert (third.status_code, third.cseq) == (400, None)
        assert (fourth.status_code, fourth.cseq) == (200, 4)
        writer.close()

    with running_fleet(config) as fleet:
        run(scenario(fleet.urls[0]))


def test_unknown_method_version_and_session(config: FleetConfig) -> None:
    async def scenario(url: str) -> None:
        reader, writer = await raw(url)
        writer.write(f"BREW {url} RTSP/1.0\r\nCSeq: 1\r\n\r\n".encode())
        writer.write(f"RECORD {url} RTSP/1.0\r\nCSeq: 2\r\n\r\n".encode())
        writer.write(f"OPTIONS {url} RTSP/2.0\r\nCSeq: 3\r\n\r\n".encode())
        writer.write(f"PLAY {url} RTSP/1.0\r\nCSeq: 4\r\nSession: nope\r\n\r\n".encode())
        writer.write(f"PLAY {url} RTSP/1.0\r\nCSeq: 5\r\n\r\n".encode())
        writer.write(f"SETUP {url}/trackID=0 RTSP/1.0\r\nCSeq: 6\r\n\r\n".encode())
        answers = await responses(reader, 6)
        assert [(a.status_code, a.cseq) for a in answers] == [
            (501, 1),
            (405, 2),
            (505, 3),
            (454, 4),
            (455, 5),
            (400, 6),
        ]
        assert answers[1].headers["Allow"].startswith("DESCRIBE, GET_PARAMETER, OPTIONS")
        writer.close()

    with running_fleet(config) as fleet:
        run(scenario(fleet.urls[0]))


def test_oversized_headers_close_only_that_connection(config: FleetConfig) -> None:
    async def scenario(bad_url: str, good_url: str) -> None:
        async with RtspTestClient(good_url) as good:
            await good.start_tcp()
            watcher = Watcher(good)
            await good.rtp(0, 1)
            reader, writer = await raw(bad_url)
            writer.write(b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nX-Filler: " + b"a" * 9000)
            collect = asyncio.create_task(watcher.collect(2.0))
            (answer,) = await responses(reader, 1)
            assert answer.status_code == 400
            assert await closed(reader)
            await collect
            watcher.assert_unbroken(2.0)

    limits = ReaderLimits(max_head_bytes=4096)
    with running_fleet(config, limits=limits) as fleet:
        run(scenario(fleet.urls[0], fleet.urls[1]))


def test_garbage_on_interleaved_channels_is_ignored(config: FleetConfig) -> None:
    async def scenario(url: str, malformed: Callable[[], int]) -> None:
        async with RtspTestClient(url) as client:
            await client.start_tcp()
            await client.rtp(0, 1)
            for channel in (0, 1, 3, 9, 200):
                client.send_interleaved(channel, os.urandom(100))
                client.send_interleaved(channel, b"")
            client.send_interleaved(1, b"\x80\xc9\x00\x07" + b"\x00" * 4)  # RR that lies
            answer = await client.request("GET_PARAMETER")
            assert answer.response.status_code == 200
            assert len(await client.rtp(0, 10)) == 10
            # On the two RTCP channels (1 and 3): random bytes and an empty frame each, and the
            # lying RR; frames on RTP or unknown channels are not even parsed.
            assert malformed() == 5

    with running_fleet(config) as fleet:

        def malformed() -> int:
            controls = fleet.call(lambda: list(fleet.fleet.servers[0].controls))
            return sum(c.counters.malformed_rtcp for c in controls)

        run(scenario(fleet.urls[0], malformed))


def test_binary_garbage_closes_the_connection(config: FleetConfig) -> None:
    async def scenario(bad_url: str, good_url: str) -> None:
        async with RtspTestClient(good_url) as good:
            await good.start_tcp()
            watcher = Watcher(good)
            await good.rtp(0, 1)
            reader, writer = await raw(bad_url)
            writer.write(b"\x00\x01\x02\xff" * 64)
            collect = asyncio.create_task(watcher.collect(1.5))
            (answer,) = await responses(reader, 1)
            assert answer.status_code == 400
            assert await closed(reader)
            await collect
            watcher.assert_unbroken(1.5)

    with running_fleet(config) as fleet:
        run(scenario(fleet.urls[0], fleet.urls[1]))


def test_slowloris_request_times_out(config: FleetConfig) -> None:
    async def scenario(bad_url: str, good_url: str) -> None:
        async with RtspTestClient(good_url) as good:
            await good.start_tcp()
            watcher = Watcher(good)
            await good.rtp(0, 1)
            reader, writer = await raw(bad_url)
            collect = asyncio.create_task(watcher.collect(2.5))
            started = time.monotonic()
            writer.write(b"DESCRIBE " + bad_url.encode() + b" RTSP/1.0\r\nCSe")
            (answer,) = await responses(reader, 1)
            assert answer.status_code == 408
            assert await closed(reader)
            # request_timeout is 1 s in these tests
            assert 0.9 <= time.monotonic() - started < 3.0
            await collect
            watcher.assert_unbroken(2.5)

    with running_fleet(config) as fleet:
        run(scenario(fleet.urls[0], fleet.urls[1]))


def test_trickled_first_bytes_and_silence_are_bounded(config: FleetConfig) -> None:
    async def scenario(url: str) -> None:
        # "G" could start an HTTP tunnel: the server waits for more, but not forever.
        reader, writer = await raw(url)
        writer.write(b"G")
        started = time.monotonic()
        assert await closed(reader, timeout=4)
        assert time.monotonic() - started < 3.0
        # A connection that says nothing at all is closed after the idle timeout (2 s here).
        reader, writer = await raw(url)
        started = time.monotonic()
        assert await closed(reader, timeout=5)
        assert 1.8 <= time.monotonic() - started < 4.5

    with running_fleet(config, idle_timeout=2.0) as fleet:
        run(scenario(fleet.urls[0]))


def test_a_client_that_stops_reading_loses_bursts_not_the_camera(config: FleetConfig) -> None:
    async def scenario(stuck_url: str, good_url: str) -> None:
        parts = urlsplit(stuck_url)
        stuck = socket.socket()
        stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stuck.connect((parts.hostname, parts.port))
        stuck.setblocking(False)
        loop = asyncio.get_running_loop()
        requests = [
            f"SETUP {stuck_url}/trackID=0 RTSP/1.0\r\nCSeq: 1\r\n"
            "Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n",
        ]
        await loop.sock_sendall(stuck, requests[0].encode())
        head = await asyncio.wait_for(loop.sock_recv(stuck, 4096), 5)
        session = next(
            line.split(":", 1)[1].split(";")[0].strip()
            for line in head.decode().split("\r\n")
            if line.lower().startswith("session:")
        )
        play = f"PLAY {stuck_url} RTSP/1.0\r\nCSeq: 2\r\nSession: {session}\r\n\r\n"
        await loop.sock_sendall(stuck, play.encode())
        async with RtspTestClient(good_url) as good:
            await good.start_tcp()
            watcher = Watcher(good)
            await good.rtp(0, 1)
            await watcher.collect(4.0)
            watcher.assert_unbroken(4.0)
        stuck.close()

    with running_fleet(config, max_buffered=20_000) as fleet:
        run(scenario(fleet.urls[0], fleet.urls[1]))
