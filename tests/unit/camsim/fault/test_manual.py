"""Which scenarios ``--fault`` plays by hand, and the URLs it prints."""

from __future__ import annotations

import asyncio

import pytest

from camsim.fault.manual import ScenarioProxies, manual_scenario, network_scenarios
from camsim.fault.scenarios import Role, get_scenario


def test_only_what_a_proxy_plays_alone() -> None:
    pull = network_scenarios(Role.PULL)
    assert "loss-5-burst" in pull
    assert "symmetric-nat" in pull
    # The camera's own faults, and a port that refuses, need more than a proxy.
    assert not {"camera-reboot", "rtp-stops", "port-554-blocked"} & set(pull)
    assert network_scenarios(Role.INGEST) == ["uplink-drop"]


@pytest.mark.parametrize(("name", "role"), [("camera-reboot", Role.PULL), ("loss-1", Role.INGEST)])
def test_a_scenario_a_proxy_cannot_play_is_refused(name: str, role: Role) -> None:
    with pytest.raises(ValueError, match="usable"):
        manual_scenario(name, role)


def test_urls_point_at_one_proxy_per_server_with_the_scenarios_seed() -> None:
    async def fronted() -> tuple[list[str], list[int], list[int]]:
        async with ScenarioProxies(get_scenario("loss-1")) as faults:
            urls = await faults.front(
                [
                    "rtsp://127.0.0.1:8554/cam1",
                    "rtsp://user:pw@127.0.0.1:8554/cam2",
                    "rtsp://127.0.0.1/cam3",
                ]
            )
            ports = [upstream[1] for upstream in faults.proxies]
            seeds = [proxy.seed for proxy in faults.proxies.values()]
            return urls, ports, seeds

    urls, upstreams, seeds = asyncio.run(fronted())
    assert upstreams == [8554, 554]
    assert seeds == [get_scenario("loss-1").seed] * 2
    first, second, third = urls
    assert first.startswith("rtsp://127.0.0.1:")
    assert first.endswith("/cam1")
    assert ":8554/" not in first
    assert second.startswith("rtsp://user:pw@127.0.0.1:")
    assert second.split("@")[1].split("/")[0] == first.split("//")[1].split("/")[0]
    assert third.endswith("/cam3")
    assert third != "rtsp://127.0.0.1/cam3"
