"""A scenario's fault changes played on a path, whichever puts the faults there.

Both ways of putting faults on a path fit :class:`FaultPath`: the userspace
:class:`~camsim.fault.control.FaultProxy` (no root, any OS, every fault) and the kernel's
:class:`~camsim.fault.kernel.KernelFaults` on a namespace topology (root; real TCP and UDP stacks
on both ends, NAT and firewalls as a router does them). :func:`play` takes the changes of a
:class:`~camsim.fault.scenarios.FaultScenario` (``scenario.changes()``: seconds into the run and
the settings that change then) and puts each in force at its time; every change lands in the
path's ``history`` with its wall-clock time, which is what a report shades as the fault windows::

    kernel, proxy_only = split_for_kernel(scenario.settings_at(0), netem=faults.netem)
    changes = await play(topology.faults, scenario.changes())

:func:`split_for_kernel` translates proxy settings into kernel ones where the kernel does the same
thing (``nat=cone`` is MASQUERADE, ``refuse`` is a REJECT of the RTSP port) and returns the rest,
which the kernel cannot do here, for the proxy: duplication, corruption, symmetric NAT, TCP
slicing and resets, and delay, jitter and reordering when the kernel has no sch_netem.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Protocol

from camsim.fault.control import Change
from camsim.fault.kernel import LINK_SETTINGS, NETEM_ONLY, ROUTER_SETTINGS


class FaultPath(Protocol):
    """Faults on one path, changed by name at run time, each change recorded with its time."""

    @property
    def history(self) -> list[Change]: ...

    def change(self, **settings: Any) -> object: ...

    def reset(self) -> object: ...


FaultChanges = Sequence[tuple[float, Mapping[str, object]]]
"""Seconds after the start, and the settings that change then (``FaultScenario.changes()``)."""


async def play(
    path: FaultPath,
    changes: FaultChanges,
    *,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> list[Change]:
    """Put each of ``changes`` in force on ``path`` at its time; returns the changes made, in
    order. Cancelling it resets the path, so a fault never outlives its scenario."""
    first = len(path.history)
    origin = clock()
    try:
        for at, settings in sorted(changes, key=lambda change: change[0]):
            await sleep(max(0.0, origin + at - clock()))
            path.change(**settings)
    except asyncio.CancelledError:
        path.reset()
        raise
    return path.history[first:]


_PROXY_NAT_TO_KERNEL = {"cone": True, "none": False, "off": False}


def split_for_kernel(
    settings: Mapping[str, object], netem: bool
) -> tuple[dict[str, object], dict[str, object]]:
    """Proxy settings (by name, as ``camsim fault proxy --set`` takes them) as kernel settings
    where the kernel does the same, and the rest, which only the proxy can do here."""
    kernel: dict[str, object] = {}
    proxy: dict[str, object] = {}
    for name, value in settings.items():
        base = name.removeprefix("up_").removeprefix("down_")
        if name == "nat" and str(value) in _PROXY_NAT_TO_KERNEL:
            kernel["nat"] = _PROXY_NAT_TO_KERNEL[str(value)]
        elif name == "refuse":
            kernel["rtsp_blocked"] = "reject" if value else None
        elif base in NETEM_ONLY and not netem:
            proxy[name] = value
        elif base in LINK_SETTINGS or (name in ROUTER_SETTINGS and name != "nat"):
            kernel[name] = value
        else:
            proxy[name] = value
    return kernel, proxy
