"""refserver reaching a camera whose RTSP port is blocked, on loopback: through the camera's
HTTP tunnel port, or an alternative RTSP port it was given.

The blocked port is a fault proxy in front of the camera (``camsim.fault``): ``refuse`` closes
its listening socket (a REJECT: the connect is refused), ``stall`` accepts and drops every byte
(a DROP past the handshake, or a port forward to nothing), and a port nobody listens on is the
plain case. camsim's camera serves RTSP and the HTTP tunnel on the same port, so its real port
stands for both the alternative port and the tunnel port.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from camsim.fault.pytest_plugin import RunningProxy, running_proxy
from refserver.config import PullTransport, SourceConfig
from refserver.hls import HlsOptions
from refserver.pull import Backoff, PullSource, SessionTimeouts
from refserver.streams import StreamRegistry
from tests.integration.camera.harness import RunningFleet
from tests.integration.refserver.harness import RunningServer, running, server_config
from tests.integration.refserver.pull.conftest import PASSWORD, USER
from wire.hls.validate import check_playlist

HLS = HlsOptions(target_duration=1.0, window=6)
TIMEOUTS = SessionTimeouts(connect=3.0, request=2.0, media=5.0, udp_switch=1.0)


def camera_url(port: int, password: str = PASSWORD) -> str:
    return f"rtsp://{USER}:{password}@127.0.0.1:{port}/cam1"


@contextmanager
def blocked(fleet: RunningFleet, how: str) -> Iterator[int]:
    """A port in front of the camera that is blocked ``how``: its number."""
    if how == "unbound":
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port: int = probe.getsockname()[1]
        yield port  # closed again: nothing listens there
        return
    with running_proxy(("127.0.0.1", fleet.port)) as proxy:
        proxy.change(**{how: True})  # after the start, so the port stays the one bound
        yield proxy.address[1]


def tunnels(fleet: RunningFleet) -> int:
    return int(fleet.call(lambda: len(fleet.fleet.servers[0].tunnels)))


def pulled(tmp_path: Path, source: SourceConfig) -> Any:
    return running(server_config(tmp_path, sources=(source,), hls=HLS))


def state(server: RunningServer) -> dict[str, Any]:
    described: dict[str, Any] = server.api("door")["source"]
    return described


def listed(server: RunningServer) -> int:
    hls = server.api("door")["hls"]
    return 0 if hls is None else int(hls["segments"])


@pytest.mark.parametrize("how", ["refuse", "stall", "unbound"])
def test_auto_plays_through_the_tunnel_when_the_rtsp_port_is_blocked(
    fleet: RunningFleet, tmp_path: Path, how: str
) -> None:
    tunnel = fleet.port
    with blocked(fleet, how) as port:
        source = SourceConfig("door", camera_url(port), tunnel_port=tunnel)
        with pulled(tmp_path, source) as server:
            seen: list[int] = []

            def playing() -> bool:
                if state(server)["state"] == "playing" and not seen:
                    seen.append(tunnels(fleet))
                return listed(server) >= 6

            server.wait_for(playing, timeout=40, what="six segments over the tunnel")
            described = state(server)
            stream = server.api("door")
            body = server.get("/live/door/index.m3u8").body.decode()
    assert seen == [1]  # the camera served us through a tunnel
    assert described["transport_in_use"] == "http"
    assert described["endpoint_in_use"] == {"port": tunnel, "tunnel": True}
    assert described["tunnel_port"] == tunnel
    (unreached,) = described["unreached"]
    assert unreached["port"] == port
    assert unreached["tunnel"] is False
    expected = {
        "refuse": f"cannot connect to 127.0.0.1:{port}: ",
        "unbound": f"cannot connect to 127.0.0.1:{port}: ",
        "stall": "no answer to a request within 5 s",
    }[how]
    assert unreached["reason"].startswith(expected), unreached["reason"]
    assert described["attempts"] == 1  # one session: the move is not a reconnect
    assert described["last_error"] is None
    assert stream["publisher"]["address"] == f"127.0.0.1:{tunnel}"
    assert stream["frames"]["video"] > 60
    assert check_playlist(body) == []
    assert "#EXT-X-DISCONTINUITY" not in body


@pytest.mark.parametrize("how", ["refuse", "stall"])
def test_auto_plays_on_an_alternative_port_before_any_tunnel(
    fleet: RunningFleet, tmp_path: Path, how: str
) -> None:
    with blocked(fleet, how) as port, blocked(fleet, "unbound") as unused:
        source = SourceConfig(
            "door", camera_url(port), alternative_ports=(unused, fleet.port), tunnel_port=unused
        )
        with pulled(tmp_path, source) as server:
            server.wait_for(lambda: listed(server) >= 6, timeout=40, what="six segments")
            described = state(server)
            assert tunnels(fleet) == 0
    assert described["transport_in_use"] == "udp"  # auto's first choice, on the new port
    assert described["endpoint_in_use"] == {"port": fleet.port, "tunnel": False}
    assert [(u["port"], u["tunnel"]) for u in described["unreached"]] == [
        (port, False),
        (unused, False),
    ]


def test_a_camera_that_refuses_the_credentials_is_not_tried_elsewhere(
    fleet: RunningFleet, tmp_path: Path
) -> None:
    with blocked(fleet, "unbound") as unused:
        source = SourceConfig(
            "door",
            camera_url(fleet.port, password="wrong"),
            PullTransport.TCP,
            alternative_ports=(unused,),
        )
        with pulled(tmp_path, source) as server:
            server.wait_for(
                lambda: state(server)["last_error"] is not None, timeout=15, what="a failure"
            )
            described = state(server)
    assert described["last_error"] == (
        "the camera refused the credentials (DESCRIBE answered 401 Unauthorized)"
    )
    assert described["unreached"] == []
    assert described["endpoint_in_use"] is None


def test_every_endpoint_unreachable_fails_the_session_with_each_reason(
    fleet: RunningFleet, tmp_path: Path
) -> None:
    with blocked(fleet, "refuse") as port, blocked(fleet, "unbound") as tunnel:
        source = SourceConfig("door", camera_url(port), tunnel_port=tunnel)
        with pulled(tmp_path, source) as server:
            server.wait_for(
                lambda: state(server)["last_error"] is not None, timeout=15, what="a failure"
            )
            described = state(server)
    error = described["last_error"]
    assert error.startswith(f"rtsp port {port}: cannot connect to 127.0.0.1:{port}: "), error
    assert f"; http tunnel port {tunnel}: cannot connect to 127.0.0.1:{tunnel}: " in error
    assert described["state"] in ("retrying", "connecting")


def test_http_as_configured_tunnels_to_the_tunnel_port(fleet: RunningFleet, tmp_path: Path) -> None:
    with blocked(fleet, "refuse") as port:
        source = SourceConfig("door", camera_url(port), PullTransport.HTTP, tunnel_port=fleet.port)
        with pulled(tmp_path, source) as server:
            server.wait_for(lambda: listed(server) >= 3, timeout=30, what="three segments")
            described = state(server)
            assert tunnels(fleet) == 1
    assert described["transport_in_use"] == "http"
    assert described["endpoint_in_use"] == {"port": fleet.port, "tunnel": True}
    assert described["unreached"] == []  # the blocked port was never tried


# -- the next session, and the log ----------------------------------------------------------------


def accepted(proxy: RunningProxy) -> int:
    """Connections the proxy has accepted so far."""
    relay = proxy.proxy.tcp
    assert relay is not None
    return proxy.call(lambda: relay.accepted)


def cut(proxy: RunningProxy) -> None:
    """Reset every connection through the proxy (both sides get an RST)."""
    relay = proxy.proxy.tcp
    assert relay is not None

    def reset_all() -> None:
        for connection in list(relay.connections):
            connection.reset("cut")

    proxy.call(reset_all)


async def until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.05)


def test_a_reconnect_starts_on_the_tunnel_and_the_change_is_logged_once(
    fleet: RunningFleet, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The tunnel's connections are reset once the stream plays: the next session goes to the
    tunnel straight away (the stalled port sees one connection in all), and the endpoint change
    is logged once, not per session."""
    caplog.set_level(logging.DEBUG, logger="refserver.pull")

    async def scenario(port: int, tunnel: RunningProxy, stalled: RunningProxy) -> None:
        registry = StreamRegistry(tmp_path / "hls", HLS)
        source = PullSource(
            SourceConfig("door", camera_url(port), tunnel_port=tunnel.address[1]),
            registry,
            backoff=Backoff(initial=0.2, cap=0.4),
            timeouts=TIMEOUTS,
        )
        source.start()
        try:
            await until(lambda: source.state == "playing", 20, "the first PLAY")
            assert source.transport_in_use == "http"
            assert accepted(stalled) == 1
            cut(tunnel)
            await until(lambda: source.attempts == 2 and source.state == "playing", 20, "again")
            assert source.transport_in_use == "http"
            assert source.unreached == ()  # straight to the tunnel
            assert accepted(stalled) == 1
        finally:
            await source.stop()

    with (
        running_proxy(("127.0.0.1", fleet.port)) as stalled,
        running_proxy(("127.0.0.1", fleet.port)) as tunnel,
    ):
        stalled.change(stall=True)
        asyncio.run(asyncio.wait_for(scenario(stalled.address[1], tunnel, stalled), 60))
    changes = [r for r in caplog.records if r.getMessage() == "pull endpoint changed"]
    assert len(changes) == 1
    assert changes[0].__dict__["endpoint"] == f"http tunnel port {tunnel.address[1]}"
    assert changes[0].__dict__["reason"] == (
        f"rtsp port {stalled.address[1]}: no answer to a request within 2 s"
    )
    moves = [r for r in caplog.records if r.getMessage() == "endpoint not reached, trying the next"]
    assert len(moves) == 1
    assert moves[0].levelno == logging.DEBUG
