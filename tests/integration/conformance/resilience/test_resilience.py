"""The resilience suite's verdicts, proven: refserver's pull passes every scenario it supports,
and each scenario fails a client that mishandles it.

Each run is ``camsim conform --suite resilience`` as a user runs it, in its own process:

- refserver pulling with its default transport (UDP, TCP when UDP fails) passes every pull
  scenario but ``port-554-blocked``: given one URL and no other port, it tries none, so that
  case fails for it, as it must;
- refserver told the camera's other port (``{alt_port}``) as an alternative RTSP port, or as
  its RTSP-over-HTTP port, passes ``port-554-blocked``;
- refserver pulling over UDP only fails ``udp-blocked``;
- the rtsp-client suite's test-only puller without reconnects fails ``camera-reboot``,
  ``rtp-stops`` and ``tcp-drop-mid-frame`` (it ends its session where the camera closed the
  connection inside a frame), and the same puller dropping every 30th frame fails ``loss-1``
  (frames lost outside the fault window), while the careful puller passes all four;
- refserver's ingest passes ``uplink-drop`` (camsim's encoder reconnects and the HLS goes on
  after a discontinuity), and fails it behind a forwarder that turns the reconnection away;
  ``server-restart`` fails a server that does not start again after SIGKILL.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from camsim.fault.scenarios import Role, scenarios
from conformance.suites.resilience.conftest import case_id
from conformance.suites.resilience.kernel import KERNEL_SUFFIX
from tests.integration.conformance.conftest import ConformRun, conform, conform_async
from tests.integration.conformance.rtsp_client.test_clients import PULLER, refserver_command

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

NET = "RESIL-NET-"
DEV = "RESIL-DEV-"
TCP_DROP = DEV + "TCP-DROP-MID-FRAME"
EXPECTED_REFSERVER_FAILURES = {
    NET + "PORT-554-BLOCKED": "refserver given one URL and no other port tries none",
}
RUNS: dict[str, tuple[str, tuple[str, ...]]] = {
    "refserver": (refserver_command(), ()),
    "refserver-alternative-port": (
        refserver_command("--pull-alternative-port {alt_port}"),
        (NET + "PORT-554-BLOCKED",),
    ),
    "refserver-tunnel": (
        refserver_command("--pull-tunnel-port {alt_port}"),
        (NET + "PORT-554-BLOCKED",),
    ),
    "refserver-udp-only": (
        refserver_command("--pull-transport udp"),
        (NET + "UDP-BLOCKED", NET + "LOSS-1"),
    ),
    "puller": (
        PULLER,
        (DEV + "CAMERA-REBOOT", DEV + "RTP-STOPS", DEV + "TCP-DROP-MID-FRAME", NET + "LOSS-1"),
    ),
    "no-reconnect": (
        PULLER + " --fault no-reconnect",
        (DEV + "CAMERA-REBOOT", DEV + "RTP-STOPS", DEV + "TCP-DROP-MID-FRAME"),
    ),
    "drop-frames": (PULLER + " --fault drop-frames", (NET + "LOSS-1",)),
}


def pull_cases() -> set[str]:
    return {case_id(s) for s in scenarios(Role.PULL)}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ConformRun]:
    folder = tmp_path_factory.mktemp("resilience")

    async def all_runs() -> dict[str, ConformRun]:
        slots = asyncio.Semaphore(2)  # two clients' scenarios at a time on a shared machine

        async def one(name: str, target: str, cases: tuple[str, ...]) -> tuple[str, ConformRun]:
            async with slots:
                args = ["--suite", "resilience", "--target", target, "--set", "parallel=2"]
                args += [f"--case={case}" for case in cases]
                return name, await conform_async(args, folder / f"{name}.json", timeout=400)

        return dict(await asyncio.gather(*(one(n, *t) for n, t in RUNS.items())))

    return asyncio.run(all_runs())


def test_refserver_passes_every_scenario_it_supports(runs: dict[str, ConformRun]) -> None:
    run = runs["refserver"]
    verdicts = run.verdicts()
    failing = {case for case in pull_cases() if verdicts[case] != "pass"}
    assert failing == set(EXPECTED_REFSERVER_FAILURES), run.stdout
    assert run.code == 1  # the required port-554-blocked case fails
    for case in EXPECTED_REFSERVER_FAILURES:
        assert run.case(case)["message"] == "the output holds no frame: the stream never played"
    # The ingest scenarios are in the catalogue but not run against a puller; the kernel-path
    # cases (…-KERNEL) run only with --set path=kernel or both.
    not_run = {c for c, v in verdicts.items() if v == "not_applicable"}
    assert {c for c in not_run if not c.endswith("-KERNEL")} == {
        "RESIL-INGEST-UPLINK-DROP",
        "RESIL-INGEST-SERVER-RESTART",
    }


def timeline(run: ConformRun, case: str) -> list[str]:
    """The case's timeline events, in order (measurements named "at N.N s")."""
    return [str(m["value"]) for m in run.case(case)["measurements"] if m["name"].startswith("at ")]


def test_reconnects_and_fallbacks_are_on_the_timeline(runs: dict[str, ConformRun]) -> None:
    run = runs["refserver"]
    blocked = timeline(run, NET + "UDP-BLOCKED")
    over_udp = [i for i, e in enumerate(blocked) if e.endswith("media over UDP")]
    over_tcp = [i for i, e in enumerate(blocked) if e.endswith("media interleaved over TCP")]
    assert over_udp, blocked
    assert over_tcp, blocked
    assert over_udp[0] < over_tcp[0], blocked  # the fallback
    rebooted = timeline(run, DEV + "CAMERA-REBOOT")
    connects = [e for e in rebooted if e.endswith("connected (RTSP)")]
    assert len(connects) >= 2, rebooted  # the reconnect after the camera came back
    assert rebooted.index(connects[-1]) > rebooted.index(
        next(e for e in rebooted if e.startswith("camera back"))
    ), rebooted


@pytest.mark.parametrize("how", ["refserver-alternative-port", "refserver-tunnel"])
def test_refserver_given_another_port_passes(runs: dict[str, ConformRun], how: str) -> None:
    """Told the camera's other port, as an alternative RTSP port or as its RTSP-over-HTTP
    port, refserver reaches the camera when the URL's port refuses."""
    run = runs[how]
    assert run.verdicts()[NET + "PORT-554-BLOCKED"] == "pass", run.stdout


def test_udp_only_pull_fails_udp_blocked(runs: dict[str, ConformRun]) -> None:
    run = runs["refserver-udp-only"]
    verdicts = run.verdicts()
    assert verdicts[NET + "UDP-BLOCKED"] == "fail", run.stdout
    assert verdicts[NET + "LOSS-1"] == "pass", run.stdout
    assert run.case(NET + "UDP-BLOCKED")["message"].startswith("the output holds no frame")


def test_careful_puller_passes_what_its_mutants_fail(runs: dict[str, ConformRun]) -> None:
    verdicts = runs["puller"].verdicts()
    cases = RUNS["puller"][1]
    assert {c: verdicts[c] for c in cases} == dict.fromkeys(cases, "pass")


def test_a_puller_that_does_not_reconnect_fails_reboot_stall_and_drop(
    runs: dict[str, ConformRun],
) -> None:
    run = runs["no-reconnect"]
    verdicts = run.verdicts()
    assert verdicts[DEV + "CAMERA-REBOOT"] == "fail", run.stdout
    assert verdicts[DEV + "RTP-STOPS"] == "fail", run.stdout
    assert verdicts[TCP_DROP] == "fail", run.stdout
    assert "did not go on after the fault" in run.case(DEV + "CAMERA-REBOOT")["message"]
    dropped = run.case(TCP_DROP)
    # It stops at the last frame before the drop at 4 s; the half frame is not in it.
    assert dropped["message"].startswith("the output stops at frames sent 3."), run.stdout
    assert any("the camera closed the connection" in d["message"] for d in dropped["details"])


def test_frames_lost_outside_the_window_fail(runs: dict[str, ConformRun]) -> None:
    run = runs["drop-frames"]
    assert run.verdicts()[NET + "LOSS-1"] == "fail", run.stdout
    assert "frames lost outside the fault windows" in run.case(NET + "LOSS-1")["message"]


def test_every_pull_scenario_is_a_case() -> None:
    assert pull_cases() == {
        NET + "LOSS-1",
        NET + "LOSS-5-BURST",
        NET + "JITTER-50MS",
        NET + "REORDER",
        NET + "BANDWIDTH-BELOW-BITRATE",
        NET + "UDP-BLOCKED",
        NET + "PORT-554-BLOCKED",
        NET + "SYMMETRIC-NAT",
        NET + "NAT-TIMEOUT",
        DEV + "CAMERA-REBOOT",
        DEV + "RTP-STOPS",
        DEV + "TCP-DROP-MID-FRAME",
    }


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class OnePublishOnly:
    """A TCP forwarder to an RTMP server that passes the first connection and closes every
    later one at once: a server that keeps a vanished publisher's stream name and turns its
    return away (as one does that never notices the old connection died)."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.connections = 0
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._connection, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        if self.connections > 1:
            writer.close()
            return
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            try:
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            finally:
                sink.close()

        await asyncio.gather(
            pipe(reader, up_writer), pipe(up_reader, writer), return_exceptions=True
        )

    def close(self) -> None:
        if self.server is not None:
            self.server.close()


@pytest.mark.parametrize("republish", [True, False], ids=["refserver", "one-publish-only"])
def test_refserver_ingest_goes_on_after_an_uplink_drop(tmp_path: Path, republish: bool) -> None:
    """camsim's encoder pushes to refserver through the proxy, which resets it 4 s in and
    refuses it for 1 s: it reconnects, and refserver's HLS goes on. In front of a forwarder
    that turns the reconnection away, the same case fails: the HLS stops at the drop."""
    rtmp, http = free_port(), free_port()
    refserver = shutil.which("refserver") or str(Path(sys.executable).with_name("refserver"))
    server = subprocess.Popen(
        [
            refserver,
            "--bind",
            "127.0.0.1",
            "--rtmp-port",
            str(rtmp),
            "--no-rtmps",
            "--http-port",
            str(http),
            "--hls-dir",
            str(tmp_path / "hls"),
            "--target-duration",
            "1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    forwarder = OnePublishOnly(rtmp)

    async def judged() -> ConformRun:
        port = rtmp if republish else await forwarder.start()
        try:
            args = ["--suite", "resilience", "--target", f"rtmp://127.0.0.1:{port}/live/{{name}}"]
            args += ["--hls", f"http://127.0.0.1:{http}/live/{{name}}/index.m3u8"]
            if not republish:
                args += ["--case=RESIL-INGEST-UPLINK-DROP"]
            return await conform_async(args, tmp_path / "ingest.json", timeout=120)
        finally:
            forwarder.close()

    try:
        run = asyncio.run(judged())
    finally:
        server.kill()
        server.wait(10)
    verdicts = run.verdicts()
    events = {m["value"] for m in run.case("RESIL-INGEST-UPLINK-DROP")["measurements"]}
    assert "uplink reset" in events
    if not republish:
        case = run.case("RESIL-INGEST-UPLINK-DROP")
        assert case["verdict"] == "fail", run.stdout
        assert "did not go on after the fault" in case["message"], case["message"]
        assert forwarder.connections >= 2  # it came back, and was turned away
        return
    assert verdicts["RESIL-INGEST-UPLINK-DROP"] == "pass", run.stdout
    assert verdicts["RESIL-INGEST-SERVER-RESTART"] == "not_applicable"
    pull = {c: v for c, v in verdicts.items() if c.startswith(("RESIL-NET", "RESIL-DEV"))}
    # Every pull case, on the proxy path and on the kernel path, needs a puller, not a push.
    kernel = {case + KERNEL_SUFFIX for case in pull_cases()}
    assert pull == dict.fromkeys(pull_cases() | kernel, "not_applicable")
    assert "encoder reconnected" in events
    assert run.code == 0


SERVER = (
    "{refserver} --bind 127.0.0.1 --rtmp-port {{rtmp_port}} --no-rtmps --http-port {{http_port}} "
    "--hls-dir {{out}} --target-duration 1"
)
ONCE_ONLY = "sh -c 'test -e {{out}}/started && exit 3; touch {{out}}/started; exec {server}'"
"""A server that will not start again after a crash (a lock file it left behind)."""
HLS = "http://127.0.0.1:{http_port}/live/{name}/index.m3u8"


@pytest.mark.parametrize("restarts", [True, False], ids=["refserver", "no-restart"])
def test_server_restart_under_load(tmp_path: Path, restarts: bool) -> None:
    """The suite starts refserver, publishes three streams to it, kills it with SIGKILL 4 s in
    and starts it again: the judged stream's HLS goes on. A server that does not come back
    after the kill fails the case."""
    refserver = shutil.which("refserver") or str(Path(sys.executable).with_name("refserver"))
    server = SERVER.format(refserver=refserver)
    target = server if restarts else ONCE_ONLY.format(server=server)
    args = ["--suite", "resilience", "--target", target, "--hls", HLS]
    args += ["--case=RESIL-INGEST-SERVER-RESTART"]
    run = conform(args, tmp_path / "restart.json", timeout=120)
    case = run.case("RESIL-INGEST-SERVER-RESTART")
    events = [m["value"] for m in case["measurements"] if m["name"].startswith("at ")]
    assert "server killed (SIGKILL)" in events
    if restarts:
        assert case["verdict"] == "pass", run.stdout
        assert "server started again" in events
        assert run.code == 0
    else:
        assert case["verdict"] == "fail", run.stdout
        assert "did not go on after the fault" in case["message"]
        assert any(e.startswith("server did not start again") for e in events)
