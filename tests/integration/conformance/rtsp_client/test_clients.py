"""rtsp-client's verdicts, proven: refserver's pull passes every case, a careful test-only
puller passes every case, and the same puller with each case's mishandling fails every case
that has one; refserver pulling over UDP only fails the UDP-blocked case.

The test-only puller (``puller.py``) is built on ``wire.rtsp`` and writes HLS itself; its
``--faults-for {name}`` applies the fault :data:`CASE_FAULTS` names for the case being run,
so one ``camsim conform`` run over the whole catalogue mutates each case's client for that
case. Each run is the suite as a user runs it, in its own process.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
from pathlib import Path

import pytest

from conformance.runner import catalogue
from reports.model import Level
from tests.integration.conformance.conftest import ConformRun, conform_async
from tests.integration.conformance.rtsp_client.puller import CASE_FAULTS

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

PULLER = f"{sys.executable} -m tests.integration.conformance.rtsp_client.puller {{url}} {{out}}"
UNMUTATED = {
    "RTSPC-QUIRK-NO-SERVER-PORT": "UDP only, and the test-only puller pulls over TCP",
    "RTSPC-QUIRK-ANNEXB-IN-RTP": (
        "a client that does not split the packet writes the same Annex B bytes into MPEG-TS, "
        "so its HLS is right; only a length-prefixed (fMP4) writer shows the fault"
    ),
}
"""Required cases no fault of the test-only puller makes fail, and why."""
UDP_ONLY_CASES = ("RTSPC-NET-001", "RTSPC-PLAY-001")
"""Run against refserver told to pull over UDP only, with no fallback to TCP: the UDP-blocked
case fails (the test-only puller pulls over TCP, so it cannot), the plain case still passes."""


def refserver_command(*extra: str) -> str:
    refserver = shutil.which("refserver") or str(Path(sys.executable).with_name("refserver"))
    return " ".join(
        [
            refserver,
            "--bind 127.0.0.1 --rtmp-port 0 --no-rtmps --http-port 0",
            "--pull {name}={url} --hls-dir {out} --target-duration 1",
            *extra,
        ]
    )


def required_cases() -> set[str]:
    return {c.id for c in catalogue(["rtsp-client"]) if c.level is Level.REQUIRED}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ConformRun]:
    folder = tmp_path_factory.mktemp("rtsp-client")
    targets = {
        "refserver": (refserver_command(), ()),
        "puller": (PULLER, ()),
        "mutants": (PULLER + " --faults-for {name}", ()),
        "refserver-udp-only": (refserver_command("--pull-transport udp"), UDP_ONLY_CASES),
    }

    async def all_runs() -> dict[str, ConformRun]:
        slots = asyncio.Semaphore(2)  # two clients' scenarios at a time on a shared machine

        async def one(name: str, target: str, cases: tuple[str, ...]) -> tuple[str, ConformRun]:
            async with slots:
                args = ["--suite", "rtsp-client", "--target", target, "--set", "parallel=4"]
                args += [f"--case={case}" for case in cases]
                return name, await conform_async(args, folder / f"{name}.json", timeout=400)

        return dict(await asyncio.gather(*(one(n, *t) for n, t in targets.items())))

    return asyncio.run(all_runs())


def test_every_required_case_has_a_fault_or_a_reason() -> None:
    required = required_cases()
    assert set(CASE_FAULTS) | set(UNMUTATED) | {UDP_ONLY_CASES[0]} == required
    assert not set(CASE_FAULTS) & set(UNMUTATED)


def test_refserver_pull_passes_every_case(runs: dict[str, ConformRun]) -> None:
    run = runs["refserver"]
    assert run.code == 0, (run.stdout, run.stderr)
    assert run.failing(("required", "recommended", "info")) == set(), run.stdout
    verdicts = run.verdicts()
    assert {case for case in required_cases() if verdicts[case] != "pass"} == set()


def test_careful_puller_passes_every_case(runs: dict[str, ConformRun]) -> None:
    run = runs["puller"]
    assert run.code == 0, (run.stdout, run.stderr)
    assert run.failing() == set(), run.stdout


def test_each_fault_fails_its_case(runs: dict[str, ConformRun]) -> None:
    run = runs["mutants"]
    assert run.code == 1, (run.stdout, run.stderr)
    verdicts = run.verdicts()
    assert {case: verdicts[case] for case in CASE_FAULTS if verdicts[case] != "fail"} == {}
    for case in CASE_FAULTS:
        assert run.case(case)["message"], case
    # The cases left unmutated ran the careful puller, and passed.
    assert {case: verdicts[case] for case in UNMUTATED} == dict.fromkeys(UNMUTATED, "pass")


def test_udp_only_pull_fails_the_udp_blocked_case(runs: dict[str, ConformRun]) -> None:
    run = runs["refserver-udp-only"]
    assert run.verdicts() == {"RTSPC-NET-001": "fail", "RTSPC-PLAY-001": "pass"}, run.stdout
    assert run.code == 1
