"""What a camera server holds for how long: tunnel legs that stall, and connection caps (in all
and per client address) that answer 503 without disturbing the connections already served."""

from __future__ import annotations

import asyncio
import base64
import ssl
import time
from collections.abc import Coroutine
from typing import Any
from urllib.parse import urlsplit

import pytest

from camsim.camera import server as camera_server
from camsim.camera.fleet import FleetConfig
from camsim.camera.server import ConnectionCaps
from tests.integration.camera.client import read_raw_responses
from tests.integration.camera.harness import running_fleet
from wire.rtsp import Response
from wire.rtsp.tunnel import TunnelRequest, parse_tunnel_response

Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


def run(coroutine: Coroutine[Any, Any, None]) -> None:
    asyncio.run(asyncio.wait_for(coroutine, 40))


async def connect(url: str, source: str = "127.0.0.1") -> Connection:
    parts = urlsplit(url)
    return await asyncio.open_connection(parts.hostname, parts.port, local_addr=(source, 0))


async def closed_after(reader: asyncio.StreamReader, timeout: float) -> float:
    """Seconds until the server closes the connection (whatever it wrote before)."""
    started = time.monotonic()
    while await asyncio.wait_for(reader.read(65536), timeout):
        pass
    return time.monotonic() - started


async def still_open(reader: asyncio.StreamReader, seconds: float) -> bool:
    """True when nothing ends the connection for ``seconds`` (data may arrive meanwhile)."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            if not await asyncio.wait_for(reader.read(65536), left):
                return False
        except TimeoutError:
            return True
    return True


async def get_leg(url: str, cookie: str) -> Connection:
    reader, writer = await connect(url)
    writer.write(TunnelRequest.get(urlsplit(url).path, cookie).serialize())
    head = b""
    while (parsed := parse_tunnel_response(head)) is None:
        head += await asyncio.wait_for(reader.read(4096), 5)
    assert parsed[0].status_code == 200
    return reader, writer


async def post_leg(url: str, cookie: str) -> Connection:
    reader, writer = await connect(url)
    writer.write(TunnelRequest.post(urlsplit(url).path, cookie).serialize())
    return reader, writer


def rtsp(method: str, url: str, cseq: int) -> bytes:
    return base64.b64encode(f"{method} {url} RTSP/1.0\r\nCSeq: {cseq}\r\n\r\n".encode())


@pytest.fixture
def tunnel_config(config: FleetConfig) -> FleetConfig:
    """Tunnel timeouts short enough to watch: 1 s for a GET leg's POST, 2 s of POST silence."""
    return FleetConfig(
        cameras=config.cameras,
        media=config.media,
        request_timeout=1.0,
        idle_timeout=2.0,
        session_timeout=2,
        report_interval=1.0,
    )


def test_a_get_leg_without_its_post_leg_is_closed_after_the_request_timeout(
    tunnel_config: FleetConfig,
) -> None:
    async def scenario(url: str) -> None:
        reader, writer = await get_leg(url, "lonely-get")
        assert 0.8 <= await closed_after(reader, 10) < 1.9
        writer.close()

    with running_fleet(tunnel_config) as fleet:
        run(scenario(fleet.urls[0]))


def test_a_silent_post_leg_is_closed_and_the_tunnel_goes_on(tunnel_config: FleetConfig) -> None:
    async def scenario(url: str) -> None:
        # Every writer is kept: one that is collected closes its connection.
        get_reader, get_writer = await get_leg(url, "two-posts")
        _, active = await post_leg(url, "two-posts")
        silent_reader, silent_writer = await post_leg(url, "two-posts")

        async def keep_alive() -> None:
            for cseq in range(1, 100):
                active.write(rtsp("OPTIONS", url, cseq))
                await asyncio.sleep(0.5)

        keeper = asyncio.create_task(keep_alive())
        try:
            # The silent leg goes after 2 s of silence; the GET leg keeps answering the other.
            assert 1.8 <= await closed_after(silent_reader, 10) < 3.5
            assert await still_open(get_reader, 1.0)
            answers = await read_raw_responses(get_reader, 2)
            assert [a.status_code for a in answers if isinstance(a, Response)] == [200, 200]
        finally:
            keeper.cancel()
            for writer in (get_writer, active, silent_writer):
                writer.close()

    with running_fleet(tunnel_config) as fleet:
        run(scenario(fleet.urls[0]))


def test_post_legs_close_with_their_get_leg(tunnel_config: FleetConfig) -> None:
    async def scenario(url: str) -> None:
        _, get_writer = await get_leg(url, "short-lived")
        post_reader, post_writer = await post_leg(url, "short-lived")
        post_writer.write(rtsp("OPTIONS", url, 1))
        await asyncio.sleep(0.2)
        get_writer.close()
        assert await closed_after(post_reader, 5) < 1.0

    with running_fleet(tunnel_config) as fleet:
        run(scenario(fleet.urls[0]))


async def options(connection: Connection, url: str, cseq: int) -> Response:
    reader, writer = connection
    writer.write(f"OPTIONS {url} RTSP/1.0\r\nCSeq: {cseq}\r\n\r\n".encode())
    (answer,) = await read_raw_responses(reader, 1)
    assert isinstance(answer, Response)
    return answer


def test_connections_over_the_caps_get_503_and_the_others_carry_on(config: FleetConfig) -> None:
    async def scenario(url: str) -> None:
        first = [await connect(url) for _ in range(2)]
        assert [(await options(c, url, 1)).status_code for c in first] == [200, 200]
        # A third from 127.0.0.1 is over the per-address cap of 2...
        third = await connect(url)
        refused = await options(third, url, 7)
        assert (refused.status_code, refused.cseq) == (503, 7)
        assert await closed_after(third[0], 5) < 1.0
        # ...another address still gets in, up to the server's cap of 3.
        other = await connect(url, source="127.0.0.2")
        assert (await options(other, url, 1)).status_code == 200
        over_total = await connect(url, source="127.0.0.3")
        assert (await options(over_total, url, 1)).status_code == 503
        # An HTTP tunnel leg over the cap hears it in HTTP.
        leg_reader, leg_writer = await connect(url, source="127.0.0.3")
        leg_writer.write(TunnelRequest.get("/cam1", "capped").serialize())
        parsed = parse_tunnel_response(await asyncio.wait_for(leg_reader.read(4096), 5))
        assert parsed is not None
        assert parsed[0].status_code == 503
        # Those already in never noticed; a slot freed is a slot taken.
        assert [(await options(c, url, 2)).status_code for c in first] == [200, 200]
        first[0][1].close()
        await asyncio.sleep(0.2)
        assert (await options(await connect(url), url, 1)).status_code == 200

    with running_fleet(config, max_connections=3, max_connections_per_ip=2) as fleet:
        run(scenario(fleet.urls[0]))


def test_a_connection_over_the_cap_that_says_nothing_goes_after_the_grace(
    config: FleetConfig,
) -> None:
    async def scenario(url: str) -> None:
        kept = await connect(url)
        assert (await options(kept, url, 1)).status_code == 200
        silent_reader, silent_writer = await connect(url)
        assert await closed_after(silent_reader, 5) < camera_server.REFUSAL_GRACE + 0.8
        silent_writer.close()

    with running_fleet(config, max_connections=1) as fleet:
        run(scenario(fleet.urls[0]))


def test_default_caps_scale_with_the_cameras_of_a_port() -> None:
    assert ConnectionCaps.for_cameras(1) == ConnectionCaps(20, 10)
    assert ConnectionCaps.for_cameras(50) == ConnectionCaps(1000, 500)
    assert ConnectionCaps.for_cameras(50, total=64) == ConnectionCaps(64, 500)
    with pytest.raises(ValueError, match="at least 1"):
        ConnectionCaps(0, 1)


def test_an_rtsps_connection_holds_its_slot_from_accept_until_its_handshake_ends(
    config: FleetConfig,
) -> None:
    """TLS runs in the connection's pump: a peer that connects and never starts its handshake
    counts under the caps at once, and gives its slot back when the handshake times out."""

    async def scenario(url: str) -> None:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        parts = urlsplit(url)

        async def tls_options() -> int:
            reader, writer = await asyncio.open_connection(parts.hostname, parts.port, ssl=context)
            try:
                return (await options((reader, writer), url, 1)).status_code
            finally:
                writer.close()

        silent_reader, silent_writer = await connect(url)  # TCP only, no ClientHello
        await asyncio.sleep(0.2)
        assert await tls_options() == 503
        # The handshake deadline is the request timeout (1 s here); then the slot is free.
        assert await closed_after(silent_reader, 5) < 2.0
        silent_writer.close()
        await asyncio.sleep(0.2)
        assert await tls_options() == 200

    with running_fleet(config, tls=True, max_connections=1) as fleet:
        run(scenario(fleet.urls[0]))
