"""Fault changes played on a path on a fake clock; proxy settings split for the kernel."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from camsim.fault.control import Change, FaultProxy
from camsim.fault.kernel import NETEM_MISSING, KernelFaults, RouterInterfaces
from camsim.fault.scenarios import get_scenario
from camsim.fault.timeline import FaultPath, play, split_for_kernel

INTERFACES = RouterInterfaces("r-lan", "r-wan", "198.18.0.2")


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


class FakePath:
    """Records changes with the fake clock's time."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.history: list[Change] = []

    def change(self, **settings: Any) -> None:
        self.history.append(Change(self.clock.now, dict(settings), {}))

    def reset(self) -> None:
        self.history.append(Change(self.clock.now, {"reset": True}, {}))


def router(argv: list[str], stdin: str | None) -> str:
    return "30\n"  # a fresh namespace's conntrack UDP timeout, for KernelFaults' first read


def test_changes_land_at_their_times_in_order() -> None:
    clock = FakeClock()
    path = FakePath(clock)
    changes: list[tuple[float, dict[str, object]]] = [
        (5.0, {"udp_blocked": True}), (1.0, {"loss": "5%"}), (3.0, {"loss": 0.0})
    ]  # fmt: skip
    made = asyncio.run(play(path, changes, sleep=clock.sleep, clock=clock))
    assert [(change.at - 100, change.settings) for change in made] == [
        (1, {"loss": "5%"}), (3, {"loss": 0.0}), (5, {"udp_blocked": True})
    ]  # fmt: skip


def test_a_scenario_plays_on_the_kernel_path() -> None:
    scenario = get_scenario("loss-1")
    clock = FakeClock()
    faults = KernelFaults(router, INTERFACES, netem=False)
    made = asyncio.run(play(faults, scenario.changes(), sleep=clock.sleep, clock=clock))
    assert [change.settings for change in made] == [dict(s) for _, s in scenario.changes()]
    assert faults.config.up.loss == 0  # the window ended
    assert made[0].config["up"]["loss"] == 0.01


def test_cancelling_resets_the_path() -> None:
    path = FakePath(FakeClock())

    async def main() -> None:
        task = asyncio.create_task(play(path, [(0.0, {"loss": "5%"}), (60.0, {"loss": 0})]))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert [change.settings for change in path.history] == [{"loss": "5%"}, {"reset": True}]


def test_both_fault_paths_fit_the_protocol() -> None:
    paths: list[FaultPath] = [
        FaultProxy(("127.0.0.1", 0), ("127.0.0.1", 1)),
        KernelFaults(router, INTERFACES, netem=False),
    ]
    assert all(path.history == [] for path in paths)


def test_proxy_settings_split_into_what_the_kernel_does_and_the_rest() -> None:
    settings = {
        "loss": "1%", "down_rate": "200k", "down_queue_limit": "64k", "nat": "cone",
        "nat_timeout": "1s", "refuse": True, "burst": "1%,30%", "delay": "20ms",
    }  # fmt: skip
    kernel, proxy = split_for_kernel(settings, netem=False)
    assert kernel == {"loss": "1%", "down_rate": "200k", "nat": True, "nat_timeout": "1s",
                      "rtsp_blocked": "reject", "burst": "1%,30%"}  # fmt: skip
    assert proxy == {"down_queue_limit": "64k", "delay": "20ms"}
    assert split_for_kernel({"nat": "symmetric"}, netem=False) == ({}, {"nat": "symmetric"})
    assert split_for_kernel({"jitter": "50ms"}, netem=True) == ({"jitter": "50ms"}, {})
    faults = KernelFaults(router, INTERFACES, netem=False)
    faults.change(**kernel)  # every kernel setting is one the kernel path takes
    assert faults.config.nat
    assert faults.unsupported(**proxy) == {
        "down_queue_limit": "unknown kernel fault setting 'down_queue_limit'",
        "delay": NETEM_MISSING,
    }
    assert faults.config.up.burst is not None  # Gilbert-Elliott runs in iptables
