"""The resilience suite on the kernel path (``--set path=kernel|both``), as root.

Each run is ``camsim conform --suite resilience`` as a user runs it, in its own process, with the
camera in a LAN namespace, refserver pulling from a WAN namespace and the faults on the router
between them:

- refserver with its default transport passes every kernel case the kernel can express here, but
  ``port-554-blocked``, which it fails given only the blocked URL, as on the proxy path;
- told the camera's other port, it passes ``port-554-blocked`` on the kernel path too;
- pulling over UDP only, it fails ``udp-blocked`` on the kernel path (the router DROPs every
  datagram) and still passes ``loss-1`` there: a kernel scenario can fail;
- ``path=both`` runs a scenario on each path, as two cases;
- burst loss runs as a Gilbert-Elliott chain in iptables (netem's gemodel when the kernel has
  it), and refserver passes it;
- the cases with no kernel form here (delay, jitter, reordering without sch_netem) are not
  applicable, saying why, never a pass.

Without root the tests skip with the reason, except under ``CI=true`` (CI runs as root).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from camsim.fault.kernel import NETEM_MISSING
from camsim.fault.netns import netem_available
from camsim.fault.netns_plugin import skip_without_netns
from camsim.fault.scenarios import Role, scenarios
from conformance.suites.resilience.conftest import kernel_case_id
from tests.integration.conformance.conftest import ConformRun, conform, conform_async
from tests.integration.conformance.rtsp_client.test_clients import refserver_command

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

NET = "RESIL-NET-"
DEV = "RESIL-DEV-"
K = "-KERNEL"
NETEM_ONLY = {NET + "JITTER-50MS" + K, NET + "REORDER" + K}
RUNS: dict[str, tuple[str, tuple[str, ...], str]] = {
    "refserver": (refserver_command(), (), "kernel"),
    "refserver-alternative-port": (
        refserver_command("--pull-alternative-port {alt_port}"),
        (NET + "PORT-554-BLOCKED" + K,),
        "kernel",
    ),
    "refserver-udp-only": (
        refserver_command("--pull-transport udp"),
        (NET + "UDP-BLOCKED" + K, NET + "LOSS-1" + K),
        "kernel",
    ),
    "both": (refserver_command(), (NET + "LOSS-1", NET + "LOSS-1" + K), "both"),
}


def kernel_cases() -> set[str]:
    return {kernel_case_id(s) for s in scenarios(Role.PULL)}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ConformRun]:
    skip_without_netns()
    folder = tmp_path_factory.mktemp("resilience-kernel")

    async def all_runs() -> dict[str, ConformRun]:
        # One run at a time, each two scenarios at a time: two topologies on a 2-core machine.
        slots = asyncio.Semaphore(1)

        async def one(name: str, target: str, cases: tuple[str, ...], path: str) -> ConformRun:
            async with slots:
                args = ["--suite", "resilience", "--target", target]
                args += ["--set", f"path={path}", "--set", "parallel=2"]
                args += [f"--case={case}" for case in cases]
                return await conform_async(args, folder / f"{name}.json", timeout=300)

        done = await asyncio.gather(*(one(name, *spec) for name, spec in RUNS.items()))
        return dict(zip(RUNS, done, strict=True))

    return asyncio.run(all_runs())


def test_refserver_passes_every_kernel_case_it_can(runs: dict[str, ConformRun]) -> None:
    run = runs["refserver"]
    verdicts = run.verdicts()
    not_applicable = set() if netem_available() else NETEM_ONLY
    run_here = kernel_cases() - not_applicable
    failing = {case for case in run_here if verdicts[case] != "pass"}
    # Given one URL whose port the router REJECTs and no other port, refserver tries none.
    assert failing == {NET + "PORT-554-BLOCKED" + K}, run.stdout
    assert run.case(NET + "PORT-554-BLOCKED" + K)["message"].startswith("the output holds no frame")
    assert {case for case in kernel_cases() if verdicts[case] == "not_applicable"} == (
        not_applicable
    )
    # path=kernel runs no proxy case.
    proxy_cases = {case.removesuffix(K) for case in kernel_cases()}
    assert {verdicts[case] for case in proxy_cases} == {"not_applicable"}
    assert "--set path=kernel" in run.case(NET + "LOSS-1")["message"]


def test_kernel_cases_name_what_they_did(runs: dict[str, ConformRun]) -> None:
    """The timeline shows the kernel's faults as they changed, and how loss was done."""
    run = runs["refserver"]

    def timeline(case: str) -> list[str]:
        return [
            str(m["value"]) for m in run.case(case)["measurements"] if m["name"].startswith("at ")
        ]

    burst = timeline(NET + "LOSS-5-BURST" + K)
    assert any("burst=1.6%,30%" in value and "(loss by " in value for value in burst), burst
    loss = timeline(NET + "LOSS-1" + K)
    assert any("loss=1%" in value and "(loss by " in value for value in loss), loss
    assert any("loss=0.0" in value for value in loss), loss
    nat = timeline(NET + "NAT-TIMEOUT" + K)
    assert any("nat=True" in value and "nat_timeout=1s" in value for value in nat), nat
    reboot = timeline(DEV + "CAMERA-REBOOT" + K)
    assert any(value.startswith("camera back") for value in reboot), reboot


def test_netem_cases_run_with_netem_and_say_why_not_without(runs: dict[str, ConformRun]) -> None:
    run = runs["refserver"]
    for case in NETEM_ONLY:
        verdict, message = run.case(case)["verdict"], run.case(case)["message"]
        if netem_available():
            assert verdict == "pass", message
        else:
            assert verdict == "not_applicable", message
            assert message.startswith("needs netem"), message
            assert NETEM_MISSING in message, message


def test_refserver_given_another_port_passes_port_blocked(runs: dict[str, ConformRun]) -> None:
    run = runs["refserver-alternative-port"]
    assert run.verdicts()[NET + "PORT-554-BLOCKED" + K] == "pass", run.stdout


def test_udp_only_pull_fails_udp_blocked_on_the_kernel_path(runs: dict[str, ConformRun]) -> None:
    run = runs["refserver-udp-only"]
    verdicts = run.verdicts()
    assert verdicts[NET + "UDP-BLOCKED" + K] == "fail", run.stdout
    assert verdicts[NET + "LOSS-1" + K] == "pass", run.stdout
    assert run.case(NET + "UDP-BLOCKED" + K)["message"].startswith("the output holds no frame")


def test_path_both_runs_a_scenario_on_each_path(runs: dict[str, ConformRun]) -> None:
    run = runs["both"]
    verdicts = run.verdicts()
    assert verdicts[NET + "LOSS-1"] == "pass", run.stdout
    assert verdicts[NET + "LOSS-1" + K] == "pass", run.stdout
    assert run.code == 0, run.stdout


def test_an_unknown_path_is_a_usage_error(tmp_path: Path) -> None:
    run = conform(
        ["--suite", "resilience", "--target", refserver_command(), "--set", "path=tunnel"],
        tmp_path / "usage.json",
    )
    assert run.code != 0
    assert "--set path=tunnel: expected one of proxy, kernel, both" in run.stdout + run.stderr
