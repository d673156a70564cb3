"""Run a camera fleet for a test: its own event loop in a thread, on a free port of 127.0.0.1.

The test talks to it over real loopback sockets from the main thread (with ``asyncio.run`` or a
subprocess), as any client would.
"""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from camsim.camera.fleet import CameraFleet, FleetConfig

T = TypeVar("T")


class RunningFleet:
    """A started fleet and the loop it runs on."""

    def __init__(self, fleet: CameraFleet, loop: asyncio.AbstractEventLoop) -> None:
        self.fleet = fleet
        self.loop = loop

    @property
    def urls(self) -> list[str]:
        return self.fleet.urls()

    @property
    def port(self) -> int:
        return self.fleet.servers[0].port

    def call(self, function: Callable[[], T]) -> T:
        """Run ``function`` on the fleet's loop and return its result."""
        return asyncio.run_coroutine_threadsafe(_call(function), self.loop).result(timeout=10)

    def stop(self) -> None:
        """Close the fleet (RTCP BYE to clients) while the test watches."""
        asyncio.run_coroutine_threadsafe(self.fleet.close(), self.loop).result(timeout=10)


async def _call(function: Callable[[], T]) -> T:
    return function()


def free_ports(count: int) -> int:
    """The first of ``count`` consecutive TCP ports that are free right now."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            first: int = probe.getsockname()[1]
        if first + count > 0xFFFF:
            continue
        sockets = []
        try:
            for port in range(first, first + count):
                sock = socket.socket()
                sockets.append(sock)
                sock.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
        return first
    raise OSError(f"no {count} consecutive free ports")


@contextmanager
def running_fleet(config: FleetConfig, **changes: Any) -> Iterator[RunningFleet]:
    """Start a fleet (port 0 unless ``changes`` say otherwise) and stop it afterwards."""
    config = dataclasses.replace(config, **{"port": 0, **changes})
    loop = asyncio.new_event_loop()
    fleet = CameraFleet(config)
    started = threading.Event()
    failure: list[BaseException] = []

    def serve() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(fleet.start())
        except BaseException as error:
            failure.append(error)
            started.set()
            return
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, name="camera-fleet", daemon=True)
    thread.start()
    started.wait(60)
    if failure:
        loop.close()
        raise failure[0]
    try:
        yield RunningFleet(fleet, loop)
    finally:
        asyncio.run_coroutine_threadsafe(fleet.close(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
