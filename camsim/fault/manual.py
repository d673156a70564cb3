"""A named fault scenario in front of ``camsim run``'s cameras, for manual tests.

``camsim run --fault loss-5-burst`` starts an RTSP-aware :class:`FaultProxy` in front of every
RTSP port the cameras listen on, prints the proxies' URLs instead of the cameras' own, and
plays the scenario's timeline on them from the moment they are up: its base settings for the
whole run, each window's settings from its start to its end, seeded with the scenario's seed
(or ``--fault-seed``) so the same traffic loses the same packets::

    async with ScenarioProxies(get_scenario("reorder"), seed=None) as faults:
        urls = await faults.front(fleet.urls())

``camsim push --fault uplink-drop`` does the same with a TCP proxy in front of the push
target; the uplink drop's window resets the encoder's connections as it opens.

Only network scenarios, and the uplink drop, have a proxy timeline; :func:`manual_scenario`
says why another cannot be used here.
"""

from __future__ import annotations

import asyncio
import contextlib
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from camsim.fault.control import Change, FaultProxy, ProxyProtocol
from camsim.fault.scenarios import DeviceFault, FaultScenario, Role, get_scenario, scenarios
from camsim.fault.timeline import play

PROXY_DEVICE_FAULTS = (DeviceFault.NONE, DeviceFault.UPLINK_DROP)
"""Device faults a proxy plays by itself (a server restart needs the server's process, a
reboot or a stall the camera's)."""


def network_scenarios(role: Role) -> list[str]:
    """The names of ``role``'s scenarios that a proxy plays alone."""
    return [
        s.name
        for s in scenarios(role)
        if s.device in PROXY_DEVICE_FAULTS and not s.refused_url and not s.camera_quirks
    ]


def manual_scenario(name: str, role: Role) -> FaultScenario:
    """The scenario ``name``; ValueError says why it cannot be played by hand for ``role``."""
    scenario = get_scenario(name)
    if name not in network_scenarios(role):
        usable = ", ".join(network_scenarios(role))
        raise ValueError(
            f"{name!r} is not a network fault of the {role} role that a proxy can play "
            f"(usable: {usable})"
        )
    return scenario


class ScenarioProxies:
    """One fault proxy per upstream address, all playing one scenario's timeline."""

    def __init__(
        self,
        scenario: FaultScenario,
        seed: int | None = None,
        protocol: ProxyProtocol = ProxyProtocol.RTSP,
    ) -> None:
        self.scenario = scenario
        self.seed = scenario.seed if seed is None else seed
        self.protocol = protocol
        self.proxies: dict[tuple[str, int], FaultProxy] = {}
        self._timelines: list[asyncio.Task[list[Change]]] = []

    async def proxy(self, host: str, port: int) -> tuple[str, int]:
        """The address of the proxy in front of ``host:port`` (started on first use)."""
        upstream = (host, port)
        if upstream not in self.proxies:
            proxy = FaultProxy(
                (host, 0),
                upstream,
                self.scenario.base_config(),
                protocol=self.protocol,
                seed=self.seed,
            )
            await proxy.start()
            self.proxies[upstream] = proxy
            path = _UplinkDrop(proxy) if self.scenario.device is DeviceFault.UPLINK_DROP else proxy
            self._timelines.append(asyncio.create_task(play(path, self.scenario.changes())))
        return self.proxies[upstream].address

    async def front(self, urls: list[str], default_port: int = 554) -> list[str]:
        """``urls`` rewritten to reach their servers through the proxies."""
        fronted: list[str] = []
        for url in urls:
            parts = urlsplit(url)
            host, port = parts.hostname or "127.0.0.1", parts.port or default_port
            proxy_host, proxy_port = await self.proxy(host, port)
            netloc = f"{proxy_host}:{proxy_port}"
            if parts.username is not None:
                credentials = parts.username + (
                    f":{parts.password}" if parts.password is not None else ""
                )
                netloc = f"{credentials}@{netloc}"
            fronted.append(urlunsplit((parts.scheme, netloc, parts.path, parts.query, "")))
        return fronted

    async def __aenter__(self) -> ScenarioProxies:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        for task in self._timelines:
            task.cancel()
        for task in self._timelines:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for proxy in self.proxies.values():
            proxy.close()


class _UplinkDrop:
    """A proxy whose window of refusal starts by resetting every connection through it."""

    def __init__(self, proxy: FaultProxy) -> None:
        self.proxy = proxy

    @property
    def history(self) -> list[Change]:
        return self.proxy.history

    def change(self, **settings: Any) -> object:
        config = self.proxy.change(**settings)
        if settings.get("refuse"):
            for connection in list(self.proxy.tcp.connections if self.proxy.tcp else ()):
                connection.reset("uplink drop")
        return config

    def reset(self) -> object:
        return self.proxy.reset()
