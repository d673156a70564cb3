"""The resilience suite's ``--pull-api`` mode, proven: refserver started once with its sources
API and told per scenario to pull the fault proxy passes every scenario of the subset but
port-554-blocked when its API is given the refused URL only, and passes that too given the
camera's other port as ``"alternative_ports": [{alt_port}]``; the same refserver told to pull
over UDP only fails udp-blocked; an API that answers 404 fails every case with its answer; the
kernel path and the ingest scenarios are not applicable, saying why; ``--pull-api`` without
``--hls``, or with the command mode's ``{out}``, is a usage error.

refserver runs in this process on loopback ports (its own loop in a thread); the suite runs as
a user runs it, ``camsim conform`` in its own process, one run at a time.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from conformance.suites.resilience.api import (
    BLOCKED_URL_ONLY,
    KERNEL_NOT_APPLICABLE,
    MEMORY_NOT_MEASURED,
)
from tests.integration.conformance.api_server import ScriptedApi, sources_api_refserver
from tests.integration.conformance.conftest import conform
from tests.integration.refserver.harness import RunningServer

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

NET = "RESIL-NET-"
DEV = "RESIL-DEV-"
PASSING = (
    NET + "LOSS-1",
    DEV + "CAMERA-REBOOT",
    NET + "UDP-BLOCKED",
    NET + "BANDWIDTH-BELOW-BITRATE",
)
BLOCKED = NET + "PORT-554-BLOCKED"
KERNEL = NET + "LOSS-1-KERNEL"
INGEST = "RESIL-INGEST-UPLINK-DROP"
ADD = 'POST http://127.0.0.1:{port}/api/sources {{"name": "{{name}}", "url": "{{url}}"{extra}}}'
REMOVE = "DELETE http://127.0.0.1:{port}/api/sources/{{name}}"
HLS = "http://127.0.0.1:{port}/live/{{name}}/index.m3u8"


def api_args(port: int, extra: str = "", *, remove: bool = True) -> list[str]:
    args = ["--suite", "resilience", "--pull-api", ADD.format(port=port, extra=extra)]
    args += ["--hls", HLS.format(port=port), "--set", "parallel=2"]
    if remove:
        args += ["--pull-api-remove", REMOVE.format(port=port)]
    return args


def events(case: dict[str, Any]) -> list[str]:
    """The case's timeline: the measurements ``at N s``."""
    return [str(m["value"]) for m in case["measurements"] if m["name"].startswith("at ")]


@pytest.fixture(scope="module")
def refserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """refserver with the sources API and no source: the suite adds each scenario's proxy."""
    with sources_api_refserver(tmp_path_factory.mktemp("refserver")) as server:
        yield server


def test_refserver_told_through_its_api_passes_all_but_the_blocked_port(
    refserver: RunningServer, tmp_path: Path
) -> None:
    cases = (*PASSING, BLOCKED, KERNEL, INGEST)
    args = api_args(refserver.http_port) + [f"--case={case}" for case in cases]
    run = conform(args, tmp_path / "api.json", timeout=400)
    verdicts = run.verdicts()
    assert {case: verdicts[case] for case in PASSING} == dict.fromkeys(PASSING, "pass"), run.stdout
    # Given the URL whose port refuses and no other address, refserver reaches nothing.
    assert verdicts[BLOCKED] == "fail", run.stdout
    blocked = run.case(BLOCKED)
    assert blocked["message"] == "the output holds no frame: the stream never played"
    assert BLOCKED_URL_ONLY in events(blocked)
    assert run.code == 1
    assert verdicts[KERNEL] == "not_applicable"
    assert run.case(KERNEL)["message"] == KERNEL_NOT_APPLICABLE
    assert verdicts[INGEST] == "not_applicable"
    assert "--pull-api judges a puller" in run.case(INGEST)["message"]
    for case in (*PASSING, BLOCKED):
        said = events(run.case(case))
        assert MEMORY_NOT_MEASURED in said, said
        added = next(e for e in said if e.startswith("asked to pull: "))
        assert ": HTTP 201 " in added, added
        removed = next(e for e in said if e.startswith("asked to stop: "))
        assert removed.endswith(": HTTP 204"), removed
        names = {m["name"] for m in run.case(case)["measurements"]}
        assert "memory growth" not in names  # no pid: nothing sampled, nothing judged
    # The segments' arrivals were recorded: the back-to-real-time rule measured its lag.
    lagged = {
        m["name"]: m["value"] for m in run.case(NET + "BANDWIDTH-BELOW-BITRATE")["measurements"]
    }
    assert "lag after recovery (median)" in lagged, lagged
    # The reboot was seen through the API: a break, and the stream went on after it.
    assert "camera rebooting: connections closed, port refused" in events(
        run.case(DEV + "CAMERA-REBOOT")
    )
    # Every stream was removed again: the server pulls nothing now.
    assert refserver.server is not None
    assert len(refserver.server.sources) == 0


def test_refserver_given_the_cameras_other_port_passes_the_blocked_port(
    refserver: RunningServer, tmp_path: Path
) -> None:
    args = api_args(refserver.http_port, ', "alternative_ports": [{alt_port}]')
    run = conform([*args, f"--case={BLOCKED}"], tmp_path / "alt.json", timeout=200)
    case = run.case(BLOCKED)
    assert case["verdict"] == "pass", run.stdout
    assert BLOCKED_URL_ONLY not in events(case)
    added = next(e for e in events(case) if e.startswith("asked to pull: "))
    assert ": HTTP 201 " in added, added
    assert run.code == 0


def test_refserver_told_to_pull_over_udp_only_fails_udp_blocked(
    refserver: RunningServer, tmp_path: Path
) -> None:
    """The same server, its source given ``"transport": "udp"`` (a field of refserver's API):
    with UDP blocked it never plays."""
    args = api_args(refserver.http_port, ', "transport": "udp"')
    run = conform([*args, f"--case={NET}UDP-BLOCKED"], tmp_path / "udp.json", timeout=200)
    case = run.case(NET + "UDP-BLOCKED")
    assert case["verdict"] == "fail", run.stdout
    assert case["message"].startswith("the output holds no frame"), case["message"]
    assert run.code == 1


def not_found(request: web.Request) -> web.StreamResponse:
    """An API that knows nothing."""
    return web.Response(status=404, text="no such thing")


def test_an_api_that_answers_404_fails_every_case_with_its_answer(tmp_path: Path) -> None:
    cases = (NET + "LOSS-1", DEV + "CAMERA-REBOOT")
    with ScriptedApi(not_found) as server:
        args = api_args(server.port) + [f"--case={case}" for case in cases]
        run = conform(args, tmp_path / "404.json", timeout=120)
        requests = list(server.requests)
    assert run.code == 1, (run.stdout, run.stderr)
    assert run.verdicts() == dict.fromkeys(cases, "fail"), run.stdout
    for case in cases:
        message = run.case(case)["message"]
        assert message == f"POST http://127.0.0.1:{server.port}/api/sources: HTTP 404 no such thing"
    assert sorted(r for r in requests if r.startswith("POST")) == ["POST /api/sources"] * 2
    # The removal is asked for all the same, for each scenario's own stream name.
    deletes = sorted(r for r in requests if r.startswith("DELETE"))
    assert [d.rsplit("-", 1)[0] for d in deletes] == [
        "DELETE /api/sources/resil-camera-reboot",
        "DELETE /api/sources/resil-loss-1",
    ]


def test_pull_api_without_hls_is_a_usage_error(tmp_path: Path) -> None:
    add = ADD.format(port=9, extra="")
    run = conform(["--suite", "resilience", "--pull-api", add], tmp_path / "usage.json", timeout=60)
    assert run.code == 2, (run.stdout, run.stderr)
    assert "--pull-api needs --hls" in run.stderr
    assert run.results is None


def test_the_command_modes_output_folder_in_the_api_is_refused(tmp_path: Path) -> None:
    args = [*api_args(9, ', "folder": "{out}"'), f"--case={NET}LOSS-1"]
    run = conform(args, tmp_path / "fields.json", timeout=60)
    assert run.code == 2, (run.stdout, run.stderr)
    assert "--pull-api fills in {name}, {url}, {alt_url} and {alt_port}, not {out}" in run.stderr
