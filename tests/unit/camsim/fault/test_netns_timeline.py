"""Fault windows played on a path, on a fake clock, and what the kernel path says it cannot do."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from camsim.fault.control import Change, FaultProxy
from camsim.fault.kernel import NETEM_MISSING, KernelFaults, RouterInterfaces
from camsim.fault.timeline import FaultPath, FaultWindow, check_windows, play


class FakePath:
    """Records changes with the fake clock's time."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.history: list[Change] = []

    def change(self, **settings: Any) -> None:
        self.history.append(Change(self.clock.now, dict(settings), {}))

    def reset(self) -> None:
        self.history.append(Change(self.clock.now, {"reset": True}, {}))


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_windows_start_and_end_at_their_times() -> None:
    clock = FakeClock()
    path = FakePath(clock)
    windows = [FaultWindow(5, None, {"udp_blocked": True}), FaultWindow(1, 3, {"loss": "5%"})]
    changes = asyncio.run(play(path, windows, sleep=clock.sleep, clock=clock))
    assert [(change.at - 100, change.settings) for change in changes] == [
        (1, {"loss": "5%"}), (3, {"reset": True}), (5, {"udp_blocked": True})
    ]  # fmt: skip


def test_overlapping_windows_are_refused() -> None:
    with pytest.raises(ValueError, match="overlap"):
        check_windows([FaultWindow(0, 5, {"loss": 0.1}), FaultWindow(4, 6, {"rate": "1M"})])
    with pytest.raises(ValueError, match="overlap"):
        check_windows([FaultWindow(0, None), FaultWindow(4, 6)])
    with pytest.raises(ValueError, match="start < end"):
        FaultWindow(3, 3)


def test_cancelling_a_timeline_resets_the_path() -> None:
    path = FakePath(FakeClock())

    async def main() -> None:
        task = asyncio.create_task(play(path, [FaultWindow(0, 60, {"loss": "5%"})]))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert [change.settings for change in path.history] == [{"loss": "5%"}, {"reset": True}]


def test_both_fault_paths_fit_the_protocol() -> None:
    def router(argv: list[str], stdin: str | None) -> str:
        return "30\n"

    paths: list[FaultPath] = [
        FaultProxy(("127.0.0.1", 0), ("127.0.0.1", 1)),
        KernelFaults(router, RouterInterfaces("r-lan", "r-wan", "198.18.0.2"), netem=False),
    ]
    assert all(path.history == [] for path in paths)


def test_the_kernel_path_names_what_it_cannot_do() -> None:
    def router(argv: list[str], stdin: str | None) -> str:
        return "30\n"

    interfaces = RouterInterfaces("r-lan", "r-wan", "198.18.0.2")
    without = KernelFaults(router, interfaces, netem=False)
    assert without.unsupported(loss="5%", down_jitter="10ms", delay=0, nat=True) == {
        "down_jitter": NETEM_MISSING
    }
    assert without.unsupported(slice_size=100) == {
        "slice_size": "unknown kernel fault setting 'slice_size'"
    }
    with_netem = KernelFaults(router, interfaces, netem=True)
    assert with_netem.unsupported(delay="50ms", reorder="1%") == {}
