"""The bench on a namespace topology, for the ``kernel-`` profiles (root only).

refserver runs in the topology's WAN namespace; the bench's whole encoder side (the event loop
that publishes, the relay thread that counts bytes, the threads that ask the server's API) runs
on one thread that entered the LAN namespace, so every connection to the server crosses the
router, where :class:`~camsim.fault.kernel.KernelFaults` drops or rate-limits real IP packets.
A thread that enters a namespace stays in it and so do the threads it starts, so the work runs
on a thread of its own that ends afterwards; the rest of the process never leaves its own
namespace.

Profiles that the relay alone plays (``loopback``, ``rtt-50ms``, ...) run the same way when
they share a run with a kernel profile, the router then forwarding faithfully: every profile of
one run reaches the same server along the same path.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from camsim.bench.profiles import NetworkProfile
from camsim.bench.servers import LocalRefserver
from camsim.fault.netns import Topology, _setns, unavailable_reason

T = TypeVar("T")


def kernel_refusal(profiles: Sequence[NetworkProfile], external_server: bool) -> str | None:
    """Why ``profiles`` cannot run here, or None: kernel profiles need root and the bench's own
    refserver (a server elsewhere is not behind the topology's router)."""
    names = [p.name for p in profiles if p.kernel is not None]
    if not names:
        return None
    if external_server:
        return (
            f"{', '.join(names)}: kernel profiles run the bench's own refserver behind a "
            "namespace router; leave out --rtmp and --rtmps"
        )
    reason = unavailable_reason()
    if reason is not None:
        return f"{', '.join(names)}: {reason}"
    return None


class KernelSide:
    """A topology, refserver in its WAN namespace and a way to run work in its LAN namespace."""

    def __init__(self, folder: Path) -> None:
        self.topology = Topology()
        self.refserver = LocalRefserver(
            folder,
            bind=self.topology.wan_address,
            prefix=self.topology.argv("wan", []),
        )

    def start(self) -> None:
        """Build the topology and start refserver; everything undone if a step fails."""
        self.topology.create()
        try:
            self.refserver.start()
        except BaseException:
            self.topology.close()
            raise

    def close(self) -> None:
        """refserver stopped first (it finishes its playlists), then the namespaces deleted."""
        try:
            self.refserver.stop()
        finally:
            self.topology.close()

    def __enter__(self) -> KernelSide:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def run_in_lan(self, work: Callable[[], T]) -> T:
        """``work()`` on a thread in the LAN namespace; its result, or its exception raised."""
        results: list[T] = []
        failures: list[BaseException] = []

        def run() -> None:
            try:
                _setns(self.topology.names["lan"])
                results.append(work())
            except BaseException as error:
                failures.append(error)

        thread = threading.Thread(target=run, name="bench-lan")
        thread.start()
        thread.join()
        if failures:
            raise failures[0]
        return results[0]
