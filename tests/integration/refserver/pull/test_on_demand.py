"""On-demand pull sources against camsim cameras: idle until a viewer asks for the stream, started
by that request, and stopped with a TEARDOWN once nobody has asked for ``close_after`` seconds."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from camsim.camera.connection import CameraConnection
from refserver.config import PullTransport, SourceConfig
from refserver.hls import HlsOptions
from refserver.http import MIME_PLAYLIST
from tests.integration.camera.harness import RunningFleet, free_ports
from tests.integration.refserver.harness import (
    HttpResult,
    RunningServer,
    running,
    server_config,
)
from tests.integration.refserver.pull.conftest import PASSWORD, USER

PLAYLIST = "/live/door/index.m3u8"
CLOSE_AFTER = 1.5
START_TIMEOUT = 1.5


def on_demand(tmp_path: Path, port: int, **settings: Any) -> AbstractContextManager[RunningServer]:
    """refserver pulling camera 1 at ``port`` on demand as stream ``door``, the credentials
    given as settings rather than in the URL."""
    source = SourceConfig(
        "door",
        f"rtsp://127.0.0.1:{port}/cam1",
        PullTransport.TCP,
        on_demand=True,
        **{"username": USER, "password": PASSWORD, "close_after": CLOSE_AFTER, **settings},
    )
    hls = HlsOptions(target_duration=1.0, window=6)
    return running(server_config(tmp_path, sources=(source,), hls=hls))


def source(server: RunningServer) -> dict[str, Any]:
    state: dict[str, Any] = server.api("door")["source"]
    return state


def controls(fleet: RunningFleet) -> list[CameraConnection]:
    """The camera's open RTSP connections."""
    return fleet.call(lambda: [c for s in fleet.fleet.servers for c in s.controls])


def playing_clients(fleet: RunningFleet) -> int:
    return fleet.call(lambda: fleet.fleet.status().clients)


def assert_playlist(result: HttpResult) -> str:
    assert result.status == 200, result
    assert result.headers["Content-Type"] == MIME_PLAYLIST
    body = result.body.decode()
    assert body.startswith("#EXTM3U\n")
    assert "#EXTINF:" in body
    return body


def test_a_viewer_starts_the_camera_and_its_absence_stops_it(
    fleet: RunningFleet, tmp_path: Path
) -> None:
    with on_demand(tmp_path, fleet.port, start_timeout=8.0) as server:
        state = source(server)
        assert (state["state"], state["on_demand"], state["attempts"]) == ("idle", True, 0)
        assert server.api("door")["live"] is False
        assert [s["name"] for s in server.api()["streams"]] == ["door"]
        index = server.get("/").body.decode()
        assert '<td><a href="/live/door/index.m3u8">door</a></td>' in index
        assert "<td>idle</td>" in index
        assert controls(fleet) == []

        with ThreadPoolExecutor(2) as pool:
            viewers = list(pool.map(lambda _: server.get(PLAYLIST), range(2)))
        for viewer in viewers:
            assert_playlist(viewer)
        state = source(server)
        assert (state["state"], state["attempts"], state["last_error"]) == ("playing", 1, None)
        stream = server.api("door")
        assert stream["live"] is True
        assert stream["publisher"]["address"] == f"127.0.0.1:{fleet.port}"
        assert "<td>rtsp 127.0.0.1:" in server.get("/").body.decode()
        assert playing_clients(fleet) == 1
        (control,) = controls(fleet)

        # Segment requests keep the source running as playlist requests do.
        segment = assert_playlist(server.get(PLAYLIST)).rstrip("\n").rpartition("\n")[2]
        assert segment.endswith(".ts")
        watched_until = time.monotonic() + 2 * CLOSE_AFTER
        last_request = time.monotonic()
        while last_request + 0.25 < watched_until:
            time.sleep(0.25)
            last_request = time.monotonic()
            assert server.get(f"/live/door/{segment}").status == 200
        assert source(server)["state"] == "playing"
        requests = control.counters.requests

        server.wait_for(
            lambda: source(server)["state"] == "idle", timeout=CLOSE_AFTER + 5, what="idle"
        )
        assert time.monotonic() - last_request >= CLOSE_AFTER
        assert server.api("door")["live"] is False
        assert server.api("door")["source"]["retry_at"] is None
        server.wait_for(lambda: controls(fleet) == [], timeout=5, what="the connection end")
        assert playing_clients(fleet) == 0
        assert control.closed
        assert control.counters.requests == requests + 1  # the TEARDOWN, and nothing else

        # The next viewer starts it again; the playlist goes on after a discontinuity.
        body = assert_playlist(server.get(PLAYLIST))
        assert "#EXT-X-DISCONTINUITY" in body
        state = source(server)
        assert (state["state"], state["attempts"]) == ("playing", 2)
        assert server.api("door")["publishes"] == 2


def test_a_camera_that_cannot_start_in_time_is_a_503(tmp_path: Path) -> None:
    port = free_ports(1)
    with on_demand(tmp_path, port, start_timeout=START_TIMEOUT) as server:
        asked = time.monotonic()
        result = server.get(PLAYLIST)
        assert time.monotonic() - asked >= START_TIMEOUT - 0.1
        assert result.status == 503
        assert result.headers["Content-Type"] == "text/plain; charset=utf-8"
        assert result.body.decode() == (
            f"stream 'door' did not start within 1.5 s: cannot connect to 127.0.0.1:{port}: "
            f"Connect call failed ('127.0.0.1', {port})"
        )
        server.wait_for(lambda: source(server)["state"] == "idle", timeout=5, what="idle")
        assert source(server)["attempts"] >= 1
        assert server.api("door")["hls"] is None


def test_credentials_from_the_settings_are_refused_when_wrong(
    fleet: RunningFleet, tmp_path: Path
) -> None:
    with on_demand(tmp_path, fleet.port, password="wrong", start_timeout=START_TIMEOUT) as server:
        result = server.get(PLAYLIST)
        assert result.status == 503
        assert result.body.decode() == (
            "stream 'door' did not start within 1.5 s: the camera refused the credentials "
            "(DESCRIBE answered 401 Unauthorized)"
        )
        assert "wrong" not in server.get("/api/streams").body.decode()
        server.wait_for(lambda: source(server)["state"] == "idle", timeout=5, what="idle")


def test_viewers_held_at_shutdown_are_answered_at_once(tmp_path: Path) -> None:
    with on_demand(tmp_path, free_ports(1), start_timeout=30.0) as server:
        with ThreadPoolExecutor(1) as pool:
            asked = time.monotonic()
            viewer = pool.submit(server.get, PLAYLIST)
            server.wait_for(lambda: source(server)["attempts"] >= 1, timeout=5, what="a start")
            assert server.server is not None
            server.call(server.server.pulls[0].stop())
            result = viewer.result(timeout=5)
        assert time.monotonic() - asked < 10
        assert (result.status, result.body) == (503, b"the server is shutting down")
        assert source(server)["state"] == "stopped"
        late = server.get(PLAYLIST)
        assert (late.status, late.body) == (503, b"the server is shutting down")
