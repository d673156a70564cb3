"""Fault windows played over time on a path, whichever puts the faults there.

A scenario is a seeded run with faults that start and end at set times while streams flow. Both
ways of putting faults on a path fit :class:`FaultPath`: the userspace
:class:`~camsim.fault.control.FaultProxy` (no root, any OS, every fault) and the kernel's
:class:`~camsim.fault.kernel.KernelFaults` on a namespace topology (root; real TCP and UDP stacks
on both ends, NAT and firewalls as routers do them). Settings go by the same names on both
(``loss``, ``rate``, ``delay``, ``udp_blocked``, ``up_``/``down_`` prefixes);
``KernelFaults.unsupported`` names what the kernel cannot do here (delay, jitter and reorder
without sch_netem), so a scenario can run those through the proxy instead.

:func:`play` puts each :class:`FaultWindow`'s settings in force at its start and resets the path
at its end; every change lands in the path's ``history`` with its wall-clock time, which is what a
report shades as the fault windows::

    windows = [FaultWindow(2, 8, {"loss": "5%"}), FaultWindow(10, 12, {"udp_blocked": True})]
    changes = await play(topology.faults, windows)
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from camsim.fault.control import Change


class FaultPath(Protocol):
    """Faults on one path, changed by name at run time, each change recorded with its time."""

    @property
    def history(self) -> list[Change]: ...

    def change(self, **settings: Any) -> object: ...

    def reset(self) -> object: ...


@dataclass(frozen=True)
class FaultWindow:
    """Settings in force from ``start`` to ``end`` seconds after the timeline starts (to its end
    when ``end`` is None)."""

    start: float
    end: float | None
    settings: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.start < 0 or (self.end is not None and self.end <= self.start):
            raise ValueError(f"a fault window needs 0 <= start < end, got {self.start}..{self.end}")


def check_windows(windows: Sequence[FaultWindow]) -> list[FaultWindow]:
    """The windows in time order; ``ValueError`` when two overlap (a reset would end both)."""
    ordered = sorted(windows, key=lambda window: window.start)
    for before, after in itertools.pairwise(ordered):
        if before.end is None or before.end > after.start:
            raise ValueError(f"fault windows overlap: {before} and {after}")
    return ordered


async def play(
    path: FaultPath,
    windows: Sequence[FaultWindow],
    *,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> list[Change]:
    """Play ``windows`` on ``path``; returns the changes made, in order. Cancelling it resets the
    path, so a fault never outlives its scenario."""
    ordered = check_windows(windows)
    first = len(path.history)
    origin = clock()
    try:
        for window in ordered:
            await sleep(max(0.0, origin + window.start - clock()))
            path.change(**window.settings)
            if window.end is not None:
                await sleep(max(0.0, origin + window.end - clock()))
                path.reset()
    except asyncio.CancelledError:
        path.reset()
        raise
    return path.history[first:]
