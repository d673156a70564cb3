"""The UDP scenarios of the resilience suite, proven able to fail.

The rtsp-client suite's test-only puller with ``--udp`` pulls RTP over UDP as a careful
client does (a jitter buffer, media taken from whatever port it comes from, nothing output
after a loss until a whole keyframe) and passes every scenario whose fault is on UDP. Each of
its UDP faults breaks one of those rules and fails the scenario built for it:

- ``arrival-order`` (no jitter buffer, fragments joined in arrival order) fails
  ``jitter-50ms``: datagrams that overtake each other make slices that do not decode;
- ``keep-damaged`` (a NAL unit is whatever of its fragments came, as FFmpeg joins them)
  fails ``loss-5-burst``: frames that lost a packet are output and do not decode;
- ``announced-port`` (RTP taken only from the announced ``server_port``) fails
  ``symmetric-nat``, where media comes from other ports: nothing plays.

``reorder``, ``bandwidth-below-bitrate`` and ``nat-timeout`` have no such client yet:
``arrival-order`` passes ``reorder`` (a datagram held 20 ms still arrives before the next
frame's, at 15 frames a second); ``keep-damaged`` fails ``bandwidth-below-bitrate`` only in
some runs (the token bucket's queue drops by timing, not by seed, and mostly whole frames);
the NAT's expiring mappings touch only RTCP, which no output here depends on.
"""

from __future__ import annotations

import asyncio

import pytest

from tests.integration.conformance.conftest import ConformRun, conform_async
from tests.integration.conformance.rtsp_client.test_clients import PULLER

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

NET = "RESIL-NET-"
UDP_CASES = (
    NET + "LOSS-5-BURST",
    NET + "JITTER-50MS",
    NET + "REORDER",
    NET + "BANDWIDTH-BELOW-BITRATE",
    NET + "SYMMETRIC-NAT",
    NET + "NAT-TIMEOUT",
)
RUNS: dict[str, tuple[str, tuple[str, ...]]] = {
    "careful": (PULLER + " --udp", UDP_CASES),
    "arrival-order": (PULLER + " --fault arrival-order", (NET + "JITTER-50MS",)),
    "keep-damaged": (PULLER + " --fault keep-damaged", (NET + "LOSS-5-BURST",)),
    "announced-port": (PULLER + " --fault announced-port", (NET + "SYMMETRIC-NAT",)),
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ConformRun]:
    folder = tmp_path_factory.mktemp("resilience-udp")

    async def all_runs() -> dict[str, ConformRun]:
        slots = asyncio.Semaphore(2)  # two runs at a time on a shared machine

        async def one(name: str, target: str, cases: tuple[str, ...]) -> tuple[str, ConformRun]:
            async with slots:
                args = ["--suite", "resilience", "--target", target, "--set", "parallel=2"]
                args += [f"--case={case}" for case in cases]
                return name, await conform_async(args, folder / f"{name}.json", timeout=300)

        return dict(await asyncio.gather(*(one(n, *t) for n, t in RUNS.items())))

    return asyncio.run(all_runs())


def test_careful_udp_puller_passes_every_udp_scenario(runs: dict[str, ConformRun]) -> None:
    run = runs["careful"]
    verdicts = run.verdicts()
    assert {c: verdicts[c] for c in UDP_CASES} == dict.fromkeys(UDP_CASES, "pass"), run.stdout
    assert run.code == 0


def test_no_jitter_buffer_fails_jitter(runs: dict[str, ConformRun]) -> None:
    run = runs["arrival-order"]
    case = run.case(NET + "JITTER-50MS")
    assert case["verdict"] == "fail", run.stdout
    assert "do not decode" in case["message"]


def test_damaged_frames_kept_fail_burst_loss(runs: dict[str, ConformRun]) -> None:
    run = runs["keep-damaged"]
    case = run.case(NET + "LOSS-5-BURST")
    assert case["verdict"] == "fail", run.stdout
    assert "do not decode" in case["message"]


def test_media_only_from_the_announced_port_fails_symmetric_nat(
    runs: dict[str, ConformRun],
) -> None:
    run = runs["announced-port"]
    case = run.case(NET + "SYMMETRIC-NAT")
    assert case["verdict"] == "fail", run.stdout
    assert case["message"] == "the output holds no frame: the stream never played"
