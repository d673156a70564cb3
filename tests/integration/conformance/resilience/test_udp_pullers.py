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
  ``symmetric-nat``, where media comes from other ports: nothing plays;
- ``marker-completes`` (arrival order, an access unit ended at its marker bit, damaged ones
  output) fails ``reorder``: a datagram held 20 ms comes after its frame's marker, so the
  frame is output without it and does not decode. ``arrival-order`` alone passes ``reorder``:
  a held datagram still arrives before the next frame's, and without ``keep-damaged`` a NAL
  unit missing a fragment is not output;
- ``announced-rtcp`` (output held until an RTCP sender report comes from the announced RTCP
  port) fails ``nat-timeout``: the camera's RTCP mapping expires between its reports, so every
  report comes from a new port and nothing is output. It passes ``jitter-50ms``, where the
  reports come from the announced port.

- ``paced`` (frames played out at the camera's rate behind a playout delay that grows with the
  latest packet and never shrinks) fails ``bandwidth-below-bitrate``: the rate limit's queue
  delays datagrams by up to 2.6 s, and once the link is back the frames it held still go out
  one frame time apart, so every later segment appears about 2.2 s after its newest frame was
  sent, where the careful puller's appear 0.2 s after. Loss alone does not fail the scenario
  reliably: ``keep-damaged`` fails it in most runs, not all, since whether the full queue cuts
  a frame's burst or drops only whole frames depends on timing, not on the seed.
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
    "marker-completes": (PULLER + " --fault marker-completes", (NET + "REORDER",)),
    "paced": (PULLER + " --fault paced", (NET + "BANDWIDTH-BELOW-BITRATE", NET + "LOSS-1")),
    "announced-rtcp": (
        PULLER + " --fault announced-rtcp",
        (NET + "NAT-TIMEOUT", NET + "JITTER-50MS"),
    ),
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


def test_frames_completed_at_the_marker_fail_reorder(runs: dict[str, ConformRun]) -> None:
    run = runs["marker-completes"]
    case = run.case(NET + "REORDER")
    assert case["verdict"] == "fail", run.stdout
    assert "do not decode" in case["message"]


def test_rtcp_only_from_the_announced_port_fails_nat_timeout(runs: dict[str, ConformRun]) -> None:
    run = runs["announced-rtcp"]
    assert run.case(NET + "JITTER-50MS")["verdict"] == "pass", run.stdout
    case = run.case(NET + "NAT-TIMEOUT")
    assert case["verdict"] == "fail", run.stdout
    assert case["message"] == "the output holds no frame: the stream never played"


def test_a_delay_never_caught_up_fails_bandwidth_below_bitrate(
    runs: dict[str, ConformRun],
) -> None:
    run = runs["paced"]
    # Without a slow link it plays like the careful puller: lateness is all it gets wrong.
    assert run.case(NET + "LOSS-1")["verdict"] == "pass", run.stdout
    case = run.case(NET + "BANDWIDTH-BELOW-BITRATE")
    assert case["verdict"] == "fail", run.stdout
    assert case["message"].startswith("still late after the fault"), case["message"]
    assert "never caught up" in case["message"]
