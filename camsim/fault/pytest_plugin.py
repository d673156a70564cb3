"""A pytest fixture for putting a fault proxy between a client and a server under test.

The proxy runs on its own event loop in a thread, so a test drives it the same way whether it is
a plain function, runs ``asyncio.run`` itself, or starts subprocesses (FFmpeg, refserver)::

    from camsim.fault.pytest_plugin import fault_proxy  # noqa: F401  (in a conftest.py)

    def test_survives_loss(fault_proxy):
        proxy = fault_proxy(("127.0.0.1", camera_port), protocol="rtsp", seed=3, loss="5%")
        pull(f"rtsp://127.0.0.1:{proxy.address[1]}/cam1")
        proxy.change(loss=0)

Every proxy a test made is closed when it ends. Loopback only: the upstream and the listening
address must be loopback addresses.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import pytest

from camsim.fault.config import FaultConfig, parse_settings
from camsim.fault.control import Change, FaultProxy, ProxyProtocol, require_loopback

T = TypeVar("T")
Address = tuple[str, int]
TIMEOUT = 10.0


class RunningProxy:
    """A started :class:`~camsim.fault.control.FaultProxy` on its own loop, driven from any
    thread."""

    def __init__(self, proxy: FaultProxy, loop: asyncio.AbstractEventLoop) -> None:
        self.proxy = proxy
        self.loop = loop

    @property
    def address(self) -> Address:
        return self.proxy.address

    @property
    def control_address(self) -> Address | None:
        return self.proxy.control_address

    @property
    def history(self) -> list[Change]:
        return list(self.proxy.history)

    @property
    def config(self) -> FaultConfig:
        return self.proxy.config

    def change(self, **settings: Any) -> FaultConfig:
        """As :meth:`FaultProxy.change`, on the proxy's loop."""
        return self.call(lambda: self.proxy.change(**settings))

    def reset(self) -> FaultConfig:
        return self.call(self.proxy.reset)

    def call(self, function: Callable[[], T]) -> T:
        """Run ``function`` on the proxy's loop and return its result."""
        return self.run(_call(function))

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(TIMEOUT)


async def _call(function: Callable[[], T]) -> T:
    return function()


@contextmanager
def running_proxy(
    upstream: Address,
    *,
    protocol: ProxyProtocol | str = ProxyProtocol.TCP,
    seed: int = 0,
    listen: Address = ("127.0.0.1", 0),
    control: bool = False,
    **settings: Any,
) -> Iterator[RunningProxy]:
    """Start a proxy to ``upstream`` with ``settings`` in force (by name, as for
    :meth:`FaultProxy.change`); stop it afterwards."""
    require_loopback(upstream[0], "the upstream")
    require_loopback(listen[0], "the listening address")
    config = FaultConfig().changed(**parse_settings(settings))
    proxy = FaultProxy(listen, upstream, config, protocol=protocol, seed=seed)
    loop = asyncio.new_event_loop()
    started = threading.Event()
    failure: list[BaseException] = []

    def serve() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(proxy.start())
            if control:
                loop.run_until_complete(proxy.serve_control())
        except BaseException as error:
            failure.append(error)
            started.set()
            return
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, name="fault-proxy", daemon=True)
    thread.start()
    started.wait(TIMEOUT)
    if failure:
        loop.close()
        raise failure[0]
    running = RunningProxy(proxy, loop)
    try:
        yield running
    finally:
        running.call(proxy.close)
        running.run(proxy.stop_control())
        loop.call_soon_threadsafe(loop.stop)
        thread.join(TIMEOUT)
        loop.close()


ProxyFactory = Callable[..., RunningProxy]


@pytest.fixture
def fault_proxy() -> Iterator[ProxyFactory]:
    """``fault_proxy(upstream, protocol=..., seed=..., **settings)``: a started proxy, closed
    at the end of the test."""
    opened: list[Any] = []

    def make(upstream: Address, **options: Any) -> RunningProxy:
        context = running_proxy(upstream, **options)
        running = context.__enter__()
        opened.append(context)
        return running

    yield make
    for context in reversed(opened):
        context.__exit__(None, None, None)
