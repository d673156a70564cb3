"""CORS and publisher addresses: the JSON API is readable by other sites only when configured,
HLS by any site (players on other origins are what HLS is for), addresses shown only on request."""

from __future__ import annotations

import urllib.request
from pathlib import Path

from refserver.http import HttpOptions
from refserver.streams import PublisherInfo
from tests.integration.refserver.harness import HttpResult, RunningServer, running, server_config

PUBLISHER = "203.0.113.7:50123"


def request(server: RunningServer, path: str, method: str = "GET", **headers: str) -> HttpResult:
    sent = urllib.request.Request(server.url(path), method=method, headers=headers)
    try:
        with urllib.request.urlopen(sent, timeout=10) as response:
            return HttpResult(response.status, dict(response.headers), response.read())
    except urllib.error.HTTPError as exc:
        return HttpResult(exc.code, dict(exc.headers), exc.read())


def publish(server: RunningServer, name: str, address: str = PUBLISHER) -> None:
    """A publisher known to the registry, as the ingest would make it (no media needed)."""

    async def claim() -> None:
        assert server.server is not None
        server.server.registry.claim(name, PublisherInfo(address, "rtmp", 0.0, 1))

    server.call(claim())


def test_the_api_sends_no_cors_headers_unless_configured(tmp_path: Path) -> None:
    with running(server_config(tmp_path)) as server:
        publish(server, "cam")
        for path in ("/api/streams", "/api/streams/cam"):
            answer = request(server, path, Origin="https://evil.example")
            assert answer.status == 200
            assert "Access-Control-Allow-Origin" not in answer.headers
        preflight = request(
            server,
            "/api/streams",
            "OPTIONS",
            Origin="https://evil.example",
            **{"Access-Control-Request-Method": "GET"},
        )
        assert preflight.status == 403
        assert "Access-Control-Allow-Origin" not in preflight.headers
        # HLS stays open to players on any site.
        hls = request(server, "/live/cam/index.m3u8", "OPTIONS", Origin="https://player.example")
        assert hls.status == 204
        assert hls.headers["Access-Control-Allow-Origin"] == "*"


def test_listed_origins_only(tmp_path: Path) -> None:
    options = HttpOptions(
        api_cors_origins=("https://ops.example",), hls_cors_origins=("https://tv.example:8443",)
    )
    with running(server_config(tmp_path, http=options)) as server:
        publish(server, "cam")
        allowed = request(server, "/api/streams", Origin="https://ops.example")
        assert allowed.headers["Access-Control-Allow-Origin"] == "https://ops.example"
        assert "Origin" in allowed.headers["Vary"]
        refused = request(server, "/api/streams", Origin="https://evil.example")
        assert refused.status == 200  # the same-origin answer; the browser keeps it from the page
        assert "Access-Control-Allow-Origin" not in refused.headers
        assert "Origin" in refused.headers["Vary"]
        preflight = request(
            server,
            "/live/cam/index.m3u8",
            "OPTIONS",
            Origin="https://tv.example:8443",
            **{"Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "range"},
        )
        assert preflight.status == 204
        assert preflight.headers["Access-Control-Allow-Origin"] == "https://tv.example:8443"
        assert "Range" in preflight.headers["Access-Control-Allow-Headers"]
        hls = request(server, "/live/cam/index.m3u8", Origin="https://player.example")
        assert "Access-Control-Allow-Origin" not in hls.headers


def test_any_origin_when_asked_for_explicitly(tmp_path: Path) -> None:
    with running(server_config(tmp_path, http=HttpOptions(api_cors_origins=("*",)))) as server:
        answer = request(server, "/api/streams", Origin="https://dashboard.example")
        assert answer.headers["Access-Control-Allow-Origin"] == "*"


def test_publisher_addresses_are_hidden_unless_exposed(tmp_path: Path) -> None:
    with running(server_config(tmp_path)) as server:
        publish(server, "cam")
        info = server.api("cam")
        assert info["publisher"]["protocol"] == "rtmp"
        assert info["publisher"]["address"] is None
        assert all(s["publisher"]["address"] is None for s in server.api()["streams"])
        assert b"203.0.113.7" not in server.get("/").body
    with running(server_config(tmp_path, http=HttpOptions(expose_addresses=True))) as server:
        publish(server, "cam")
        assert server.api("cam")["publisher"]["address"] == PUBLISHER
        assert PUBLISHER.encode() in server.get("/").body
