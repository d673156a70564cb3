"""refserver pulling camsim cameras over RTSP (TCP interleaved, Digest auth) into HLS."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from camsim.camera.fleet import FleetConfig
from refserver.config import PullTransport, SourceConfig
from refserver.hls import HlsOptions
from tests.integration.camera.harness import RunningFleet, running_fleet
from tests.integration.refserver.harness import RunningServer, running, server_config
from tests.integration.refserver.pull.conftest import PASSWORD, USER
from wire.hls.validate import check_playlist


def camera_url(fleet: RunningFleet, *, password: str = PASSWORD, port: int | None = None) -> str:
    return f"rtsp://{USER}:{password}@127.0.0.1:{port or fleet.port}/cam1"


def pulled(tmp_path: Path, url: str, transport: str = "tcp") -> Any:
    """refserver pulling ``url`` as stream ``door``; 1 s segments, six in the playlist (the
    fewest Apple's authoring rules allow)."""
    sources = (SourceConfig("door", url, PullTransport(transport)),)
    hls = HlsOptions(target_duration=1.0, window=6)
    return running(server_config(tmp_path, sources=sources, hls=hls))


def source(server: RunningServer) -> dict[str, Any]:
    state: dict[str, Any] = server.api("door")["source"]
    return state


def listed(server: RunningServer) -> int:
    hls = server.api("door")["hls"]
    return 0 if hls is None else int(hls["segments"])


def segments(server: RunningServer) -> int:
    hls = server.api("door")["hls"]
    return 0 if hls is None else int(hls["segments_written"])


def playlist(server: RunningServer) -> str:
    result = server.get("/live/door/index.m3u8")
    assert result.status == 200
    return result.body.decode()


@pytest.mark.parametrize(
    ("transport", "in_use"), [("tcp", "tcp"), ("udp", "udp"), ("auto", "udp"), ("http", "http")]
)
def test_pulls_a_camera_with_digest_auth_into_a_valid_playlist(
    fleet: RunningFleet, tmp_path: Path, transport: str, in_use: str
) -> None:
    with pulled(tmp_path, camera_url(fleet), transport) as server:
        server.wait_for(lambda: listed(server) >= 6, timeout=30, what="six segments")
        stream = server.api("door")
        assert stream["live"] is True
        assert stream["publisher"]["protocol"] == "rtsp"
        assert stream["publisher"]["address"] == f"127.0.0.1:{fleet.port}"
        assert stream["tracks"]["video"] == "h264"
        assert stream["tracks"]["audio"] is not None
        assert stream["frames"]["video"] > 15
        assert stream["frames"]["audio"] > 15
        assert stream["latency"]["samples"] > 0  # the SEI stamps' wallclock came through
        assert stream["source"]["state"] == "playing"
        assert stream["source"]["transport"] == transport
        assert stream["source"]["transport_in_use"] == in_use
        assert stream["source"]["url"] == f"rtsp://127.0.0.1:{fleet.port}/cam1"
        assert stream["source"]["last_error"] is None
        body = playlist(server)
        assert check_playlist(body) == []
        assert "#EXT-X-DISCONTINUITY" not in body
        streams = server.api()["streams"]
        assert [s["name"] for s in streams] == ["door"]


def test_a_camera_that_restarts_resumes_after_a_discontinuity(
    camera_sample: Path, tmp_path: Path
) -> None:
    config = FleetConfig(media=(camera_sample,), users=((USER, PASSWORD),), request_timeout=2.0)
    with running_fleet(config) as first:
        port = first.port
        with pulled(tmp_path, camera_url(first)) as server:
            server.wait_for(lambda: segments(server) >= 2, timeout=20, what="two segments")
            first.stop()
            server.wait_for(
                lambda: (
                    source(server)["state"] in ("retrying", "connecting")
                    and source(server)["last_error"] is not None
                ),
                timeout=10,
                what="the source to notice",
            )
            assert server.api("door")["live"] is False
            assert source(server)["last_error"] in (
                "the camera closed the connection",
                f"cannot connect to 127.0.0.1:{port}: Connect call failed ('127.0.0.1', {port})",
            )
            with running_fleet(config, port=port):
                server.wait_for(
                    lambda: source(server)["state"] == "playing", timeout=20, what="reconnect"
                )
                written = segments(server)
                server.wait_for(
                    lambda: segments(server) >= written + 2, timeout=20, what="more segments"
                )
                server.wait_for(lambda: listed(server) >= 6, timeout=20, what="six segments")
                stream = server.api("door")
                assert stream["publishes"] == 2
                assert stream["hls"]["discontinuities"] == 1
                assert source(server)["attempts"] >= 2
                body = playlist(server)
                assert "#EXT-X-DISCONTINUITY" in body
                assert check_playlist(body) == []


def test_a_wrong_password_is_retried_and_shown(fleet: RunningFleet, tmp_path: Path) -> None:
    with pulled(tmp_path, camera_url(fleet, password="wrong")) as server:
        server.wait_for(
            lambda: source(server)["last_error"] is not None, timeout=10, what="a failure"
        )
        state = source(server)
        assert state["state"] in ("retrying", "connecting")
        assert state["last_error"] == (
            "the camera refused the credentials (DESCRIBE answered 401 Unauthorized)"
        )
        assert server.api("door")["live"] is False
        assert server.api("door")["hls"] is None
