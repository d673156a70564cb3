"""The sources API: pull sources added, listed and removed over HTTP while refserver runs.

Every request goes to 127.0.0.1; the camera is camsim's, on a loopback port.
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import make_mocked_request
from click.testing import CliRunner

from refserver import cli
from refserver.api_sources import PullSources, install
from refserver.config import load_config
from refserver.hls import HlsOptions
from refserver.http import HttpOptions, create_app
from refserver.streams import StreamRegistry
from tests.integration.camera.harness import RunningFleet
from tests.integration.refserver.harness import RunningServer, running, server_config
from tests.integration.refserver.pull.conftest import PASSWORD, USER
from tests.integration.refserver.pull.test_on_demand import assert_playlist, controls


def request(
    server: RunningServer,
    method: str,
    path: str,
    body: object = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    """One request to the server; the status and the answer (JSON decoded, None when empty)."""
    data = json.dumps(body).encode() if body is not None else None
    sent = {"Content-Type": "application/json"} if data is not None else {}
    sent.update(headers or {})
    call = urllib.request.Request(server.url(path), data=data, method=method, headers=sent)
    try:
        with urllib.request.urlopen(call, timeout=10) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    if not raw:
        return status, None
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode(errors="replace")


def with_api(tmp_path: Path, **http: Any) -> Any:
    return running(server_config(tmp_path, http=HttpOptions(sources_api=True, **http)))


def camera(fleet: RunningFleet) -> str:
    return f"rtsp://{USER}:{PASSWORD}@127.0.0.1:{fleet.port}/cam1"


def test_added_listed_and_removed_with_the_playlist_ended(
    fleet: RunningFleet, tmp_path: Path
) -> None:
    with with_api(tmp_path) as server:
        assert request(server, "GET", "/api/sources") == (200, {"sources": []})
        status, added = request(
            server,
            "POST",
            "/api/sources",
            {"name": "door", "url": camera(fleet), "transport": "tcp"},
        )
        assert status == 201, added
        assert (added["name"], added["added_by"], added["transport"]) == ("door", "api", "tcp")
        assert PASSWORD not in json.dumps(added)
        server.wait_for(
            lambda: "#EXTINF" in server.get("/live/door/index.m3u8").body.decode(),
            timeout=15,
            what="the first segment",
        )
        assert request(server, "GET", "/api/sources/door")[1]["state"] == "playing"
        assert [s["name"] for s in request(server, "GET", "/api/sources")[1]["sources"]] == ["door"]
        assert len(controls(fleet)) == 1

        assert request(server, "DELETE", "/api/sources/door") == (204, None)
        server.wait_for(lambda: controls(fleet) == [], timeout=5, what="the TEARDOWN")
        body = assert_playlist(server.get("/live/door/index.m3u8"))
        assert body.rstrip("\n").endswith("#EXT-X-ENDLIST")
        assert (server.hls_dir / "door" / "index.m3u8").read_text().endswith("#EXT-X-ENDLIST\n")
        assert request(server, "GET", "/api/sources") == (200, {"sources": []})
        assert request(server, "DELETE", "/api/sources/door")[0] == 404

        # The name may be used again: a new stream whose playlist carries on.
        status, _ = request(server, "POST", "/api/sources", {"name": "door", "url": camera(fleet)})
        assert status == 201
        server.wait_for(
            lambda: (
                "#EXT-X-ENDLIST" not in server.get("/live/door/index.m3u8").body.decode()
                and "#EXT-X-DISCONTINUITY" in server.get("/live/door/index.m3u8").body.decode()
            ),
            timeout=15,
            what="the playlist to go on",
        )


def test_a_taken_name_is_409_and_bad_fields_are_400_naming_them(
    fleet: RunningFleet, tmp_path: Path
) -> None:
    with with_api(tmp_path) as server:
        url = camera(fleet)
        assert request(server, "POST", "/api/sources", {"name": "a", "url": url})[0] == 201
        status, answer = request(server, "POST", "/api/sources", {"name": "a", "url": url})
        assert (status, answer["field"]) == (409, "name")
        assert "'a'" in answer["error"]
        cases: list[tuple[dict[str, object], str, str]] = [
            ({"name": "b", "url": "http://127.0.0.1/x"}, "url", "rtsp://"),
            ({"name": "b", "url": "rtsp://127.0.0.1:0/x"}, "url", "port 0"),
            ({"name": "b", "url": 5}, "url", "string"),
            ({"name": "b"}, "url", "url"),
            ({"name": "b", "url": url, "transport": "carrier-pigeon"}, "transport", "one of"),
            ({"name": "b", "url": url, "transport": 3}, "transport", "str"),
            ({"name": "../b", "url": url}, "name", "stream name"),
            ({"url": "rtsp://127.0.0.1:554/"}, "name", "no path"),
            ({"name": "b", "url": url, "colour": "red"}, "colour", "unknown"),
            ({"name": "b", "url": url, "media_timeout": 0}, "media_timeout", "above 0"),
            ({"name": "b", "url": url, "password": "x"}, "password", "credentials"),
        ]
        for body, field, words in cases:
            status, answer = request(server, "POST", "/api/sources", body)
            assert (status, answer["field"]) == (400, field), (body, answer)
            assert words in answer["error"], (body, answer)
        assert request(server, "POST", "/api/sources", ["not", "an", "object"])[0] == 400
        status, answer = request(
            server, "POST", "/api/sources", {"url": url}, {"Content-Type": "text/plain"}
        )
        assert status == 415, answer
        status, answer = request(
            server, "POST", "/api/sources", {"url": url}, {"Origin": "https://evil.example"}
        )
        assert status == 403, answer
        names = [s["name"] for s in request(server, "GET", "/api/sources")[1]["sources"]]
        assert names == ["a"]  # nothing refused was added, and the good one still pulls
        server.wait_for(
            lambda: "#EXTINF" in server.get("/live/a/index.m3u8").body.decode(),
            timeout=15,
            what="the first source's segment",
        )


def test_the_api_is_off_unless_asked_for(tmp_path: Path) -> None:
    with running(server_config(tmp_path)) as server:
        status, _ = request(server, "POST", "/api/sources", {"url": "rtsp://127.0.0.1/x"})
        assert status in (404, 405)
        assert request(server, "GET", "/api/sources")[0] in (404, 405)
        assert server.server is not None
        assert len(server.server.sources) == 0


@pytest.mark.parametrize(
    ("peer", "status"),
    [("127.0.0.1", 200), ("::1", 200), ("::ffff:127.0.0.1", 200), ("192.0.2.7", 403)],
)
def test_only_loopback_peers_are_answered(
    tmp_path: Path, peer: str, status: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A peer elsewhere is refused whatever address the server binds (the request is made up
    in memory: no packet leaves the machine)."""
    registry = StreamRegistry(tmp_path, HlsOptions())
    app = create_app(registry, HttpOptions(sources_api=True))
    install(app, PullSources(registry))
    mocked = make_mocked_request("GET", "/api/sources", app=app)
    monkeypatch.setattr(type(mocked), "remote", property(lambda self: peer))

    async def answer() -> int:
        match = await app.router.resolve(mocked)
        response = await match.handler(mocked)
        return response.status

    assert asyncio.run(answer()) == status


def test_turned_on_by_the_settings_file_or_the_flag(tmp_path: Path) -> None:
    settings = tmp_path / "refserver.toml"
    settings.write_text("[http]\nsources_api = true\n")
    assert load_config(settings).http.sources_api is True
    seen: list[bool] = []

    async def serve(config: Any) -> None:
        seen.append(config.http.sources_api)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cli, "_serve", serve)
        assert CliRunner().invoke(cli.main, ["--api-sources"]).exit_code == 0
        assert CliRunner().invoke(cli.main, []).exit_code == 0
    assert seen == [True, False]
