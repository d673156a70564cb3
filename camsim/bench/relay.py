"""The path every bench connection takes: a fault proxy per upstream, on its own thread.

The proxies run on an event loop of their own so that the encoder's CPU (the main thread's, by
``time.thread_time``) never includes the relaying. Each proxy counts the bytes it carries each
way, which for RTMPS are TLS records: against the encoder's RTMP payload they give the record
overhead.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

from camsim.fault.config import FaultConfig
from camsim.fault.tcp import RelayedConnection, Rewriter, TcpProxy

T = TypeVar("T")
Address = tuple[str, int]


@dataclass
class ByteCount:
    """Bytes carried client → server (``up``) and server → client (``down``)."""

    up: int = 0
    down: int = 0


class RelayThread:
    """An event loop on a daemon thread, holding one :class:`TcpProxy` per upstream."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self.loop.run_forever, name="bench-relay", daemon=True
        )
        self._proxies: list[TcpProxy] = []
        self.counts: dict[Address, ByteCount] = {}

    def start(self) -> None:
        self._thread.start()

    def call(self, coroutine: Coroutine[Any, Any, T], timeout: float = 10.0) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def relay(self, upstream: Address, config: FaultConfig, *, seed: int = 0) -> Address:
        """Start a proxy to ``upstream`` under ``config``; the address clients connect to."""
        count = ByteCount()

        def counters(_: RelayedConnection) -> tuple[Rewriter, Rewriter]:
            def up(data: bytes, now: float) -> bytes:
                count.up += len(data)
                return data

            def down(data: bytes, now: float) -> bytes:
                count.down += len(data)
                return data

            return up, down

        async def start() -> Address:
            proxy = TcpProxy(("127.0.0.1", 0), upstream, config, seed=seed, rewriters=counters)
            await proxy.start()
            self._proxies.append(proxy)
            return proxy.address

        address = self.call(start())
        self.counts[address] = count
        return address

    def close_relays(self) -> None:
        """Close every proxy (their connections go too); the thread stays for the next."""

        async def close() -> None:
            for proxy in self._proxies:
                proxy.close()
            self._proxies.clear()

        self.call(close())
        self.counts.clear()

    def stop(self) -> None:
        if self._thread.is_alive():
            self.close_relays()
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)
        self.loop.close()
