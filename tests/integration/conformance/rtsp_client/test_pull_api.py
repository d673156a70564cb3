"""rtsp-client's ``--pull-api`` mode, proven: refserver started once with its sources API and
told what to pull case by case passes; a server whose API accepts every camera and never pulls
fails every case; ``--pull-api`` without ``--hls`` is a usage error.

refserver runs in this process on loopback ports (its own loop in a thread); the suite runs as
a user runs it, ``camsim conform`` in its own process, and reaches it over 127.0.0.1 only.

The subset judged through the API is one case of each kind of camera behaviour rather than
the whole catalogue (which the command mode's tests run): the plain camera, video only,
Digest, UDP blocked, a restart (the server reconnects to the same name), G.711 audio, an RTP
timestamp wrap, and two quirks (parameter sets only in band, a 3 h timestamp jump).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web

from tests.integration.conformance.api_server import ScriptedApi, sources_api_refserver
from tests.integration.conformance.conftest import ConformRun, conform
from tests.integration.refserver.harness import RunningServer

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

SUBSET = (
    "RTSPC-PLAY-001",
    "RTSPC-PLAY-002",
    "RTSPC-AUTH-001",
    "RTSPC-NET-001",
    "RTSPC-RESTART-001",
    "RTSPC-AUDIO-001",
    "RTSPC-RTP-001",
    "RTSPC-QUIRK-NO-SPROP",
    "RTSPC-QUIRK-TIMESTAMP-JUMP",
)
ADD = 'POST http://127.0.0.1:{port}/api/sources {{"name": "{{name}}", "url": "{{url}}"}}'
REMOVE = "DELETE http://127.0.0.1:{port}/api/sources/{{name}}"
HLS = "http://127.0.0.1:{port}/live/{{name}}/index.m3u8"


def api_args(port: int, *, remove: bool = True) -> list[str]:
    args = ["--pull-api", ADD.format(port=port), "--hls", HLS.format(port=port)]
    if remove:
        args += ["--pull-api-remove", REMOVE.format(port=port)]
    return args


@pytest.fixture(scope="module")
def refserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """refserver with the sources API and no source: the suite adds each case's camera."""
    with sources_api_refserver(tmp_path_factory.mktemp("refserver")) as server:
        yield server


def test_refserver_told_through_its_api_passes(refserver: RunningServer, tmp_path: Path) -> None:
    args = ["--suite", "rtsp-client", *api_args(refserver.http_port), "--set", "parallel=3"]
    args += [f"--case={case}" for case in SUBSET]
    run = conform(args, tmp_path / "api.json", timeout=400)
    assert run.code == 0, (run.stdout, run.stderr)
    verdicts = run.verdicts()
    assert {case: verdicts.get(case) for case in SUBSET} == dict.fromkeys(SUBSET, "pass"), (
        run.stdout
    )
    assert run.failing(("required", "recommended")) == set(), run.stdout
    # Every case's camera was removed again: the server pulls nothing now.
    assert refserver.server is not None
    assert len(refserver.server.sources) == 0
    ended = refserver.hls_dir / "rtspc-play-001" / "index.m3u8"
    assert ended.read_text().endswith("#EXT-X-ENDLIST\n")


def accept_and_never_pull(request: web.Request) -> web.StreamResponse:
    """A pull API that says yes to everything and pulls nothing: every add is 201, every
    removal 204, every playlist 404."""
    if request.method == "POST":
        return web.json_response({"added": True}, status=201)
    if request.method == "DELETE":
        return web.Response(status=204)
    return web.Response(status=404)


def test_a_server_that_accepts_and_never_pulls_fails(tmp_path: Path) -> None:
    cases = ("RTSPC-PLAY-001", "RTSPC-RESTART-001")
    with ScriptedApi(accept_and_never_pull) as server:
        args = ["--suite", "rtsp-client", *api_args(server.port)]
        args += [f"--case={case}" for case in cases]
        run = conform(args, tmp_path / "mutant.json", timeout=200)
        requests = list(server.requests)
    assert run.code == 1, (run.stdout, run.stderr)
    assert run.verdicts() == dict.fromkeys(cases, "fail"), run.stdout
    for case in cases:
        message = run.case(case)["message"]
        assert "no frame" in message, message
    posts = [r for r in requests if r == "POST /api/sources"]
    deletes = {r for r in requests if r.startswith("DELETE")}
    assert len(posts) == len(cases)
    assert deletes == {
        "DELETE /api/sources/rtspc-play-001",
        "DELETE /api/sources/rtspc-restart-001",
    }


def test_pull_api_without_hls_is_a_usage_error(tmp_path: Path) -> None:
    add = ADD.format(port=9)
    run: ConformRun = conform(
        ["--suite", "rtsp-client", "--pull-api", add], tmp_path / "usage.json", timeout=60
    )
    assert run.code == 2, (run.stdout, run.stderr)
    assert "--pull-api needs --hls" in run.stderr
    assert run.results is None
