"""Run-time control of a fault proxy: the Python API and a small HTTP/JSON endpoint on loopback.

:class:`FaultProxy` starts the relays for one listening address (TCP, UDP, both, or RTSP with its
media) and is the one place faults change while streams run: :meth:`FaultProxy.change` takes
settings by name (as on the command line), puts them in force on every relay at once and records
the change, with the wall-clock time and the whole configuration after it, in
:attr:`FaultProxy.history` and in the log. A scenario then starts, changes and ends a fault::

    proxy = FaultProxy(("127.0.0.1", 0), ("127.0.0.1", 8554), protocol="rtsp", seed=7)
    await proxy.start()
    proxy.change(loss="5%")        # or loss=0.05
    ...
    proxy.change(loss=0)
    proxy.close()

The endpoint (:meth:`FaultProxy.serve_control`) answers ``GET /faults`` with the configuration
and the history, ``POST /faults`` with a JSON object of settings to change, and
``POST /faults/reset`` to go back to the configuration the proxy started with. A setting it does
not know or a value it cannot read is answered 400 with the reason, and nothing changes. It
listens on loopback only: anyone who reaches it controls the proxy.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from aiohttp import web

from camsim.fault.config import FaultConfig, parse_settings
from camsim.fault.rtsp import RtspProxy
from camsim.fault.tcp import TcpProxy
from camsim.fault.udp import UdpProxy

logger = logging.getLogger("camsim.fault")

Address = tuple[str, int]


class ProxyProtocol(StrEnum):
    TCP = "tcp"
    UDP = "udp"
    TCP_UDP = "tcp+udp"
    RTSP = "rtsp"
    """RTSP over TCP, with the RTP/RTCP its SETUPs open over UDP."""


class Relay(Protocol):
    """What every relay offers the control."""

    async def start(self) -> None: ...

    def apply(self, config: FaultConfig) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Change:
    """One change of the faults in force."""

    at: float
    """Wall-clock time, seconds since the Unix epoch."""
    settings: dict[str, Any]
    """What was asked, as given."""
    config: dict[str, Any]
    """The whole configuration after the change."""

    def to_json(self) -> dict[str, Any]:
        return {"at": self.at, "settings": self.settings, "config": self.config}


def require_loopback(host: str, what: str) -> None:
    """Refuse any address but loopback (127.0.0.0/8, ::1, localhost) for ``what``."""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ValueError(f"{what} must be a loopback address (127.0.0.0/8 or ::1), not {host!r}")


class FaultProxy:
    """The relays for one address and the faults in force on them."""

    def __init__(
        self,
        listen: Address,
        upstream: Address,
        config: FaultConfig | None = None,
        *,
        protocol: ProxyProtocol | str = ProxyProtocol.TCP,
        seed: int = 0,
    ) -> None:
        self.protocol = ProxyProtocol(protocol)
        self.initial = config or FaultConfig()
        self.config = self.initial
        self.seed = seed
        self.history: list[Change] = []
        self.tcp: TcpProxy | None = None
        self.udp: UdpProxy | None = None
        self.rtsp: RtspProxy | None = None
        self._listen = listen
        self._upstream = upstream
        self._runner: web.AppRunner | None = None
        self.control_address: Address | None = None

    @property
    def relays(self) -> list[Relay]:
        return [relay for relay in (self.tcp, self.udp, self.rtsp) if relay is not None]

    @property
    def address(self) -> Address:
        """Where clients connect (the bound port once started)."""
        for relay in (self.rtsp, self.tcp, self.udp):
            if relay is not None:
                return relay.address
        return self._listen

    @property
    def upstream(self) -> Address:
        return self._upstream

    async def start(self) -> None:
        listen, upstream, config, seed = self._listen, self._upstream, self.config, self.seed
        if self.protocol is ProxyProtocol.RTSP:
            self.rtsp = RtspProxy(listen, upstream, config, seed=seed)
            await self.rtsp.start()
            return
        if self.protocol in (ProxyProtocol.TCP, ProxyProtocol.TCP_UDP):
            self.tcp = TcpProxy(listen, upstream, config, seed=seed)
            await self.tcp.start()
            listen = self.tcp.address  # UDP on the same port number
        if self.protocol in (ProxyProtocol.UDP, ProxyProtocol.TCP_UDP):
            self.udp = UdpProxy(listen, upstream, config, seed=seed)
            await self.udp.start()

    def change(self, **settings: Any) -> FaultConfig:
        """Change faults by name (``loss="5%"``, ``down_delay=0.05``, ``stall=True``) on every
        relay at once; returns the configuration now in force.

        Raises ``ValueError`` naming the setting at fault; then nothing changed.
        """
        config = self.config.changed(**parse_settings(settings))
        self._put(config, settings)
        return config

    def reset(self) -> FaultConfig:
        """Back to the configuration the proxy started with."""
        self._put(self.initial, {"reset": True})
        return self.initial

    def close(self) -> None:
        for relay in self.relays:
            relay.close()

    def _put(self, config: FaultConfig, settings: dict[str, Any]) -> None:
        self.config = config
        for relay in self.relays:
            relay.apply(config)
        change = Change(time.time(), dict(settings), config.to_json())
        self.history.append(change)
        logger.info("faults changed", extra={"at": change.at, "settings": change.settings})

    # -- the control endpoint ----------------------------------------------------------------------

    async def serve_control(self, host: str = "127.0.0.1", port: int = 0) -> Address:
        """Start the HTTP/JSON endpoint on loopback; returns its address."""
        require_loopback(host, "the control endpoint")
        app = web.Application()
        app.router.add_get("/faults", self._get)
        app.router.add_post("/faults", self._post)
        app.router.add_post("/faults/reset", self._reset)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound = self._runner.addresses[0]  # the real port when port was 0
        self.control_address = (str(bound[0]), int(bound[1]))
        return self.control_address

    async def stop_control(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def state(self) -> dict[str, Any]:
        """The configuration, the history of changes and what the proxy listens on."""
        return {
            "protocol": self.protocol.value,
            "listen": list(self.address),
            "upstream": list(self._upstream),
            "seed": self.seed,
            "config": self.config.to_json(),
            "history": [change.to_json() for change in self.history],
            "events": [] if self.rtsp is None else [e.to_json() for e in self.rtsp.events],
        }

    async def _get(self, request: web.Request) -> web.Response:
        return web.json_response(self.state())

    async def _post(self, request: web.Request) -> web.Response:
        try:
            settings = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            return _error(f"the body is not JSON: {error}")
        if not isinstance(settings, dict):
            return _error("the body must be a JSON object of settings")
        try:
            self.change(**settings)
        except (ValueError, TypeError) as error:
            return _error(str(error))
        return web.json_response(self.state())

    async def _reset(self, request: web.Request) -> web.Response:
        self.reset()
        return web.json_response(self.state())


def _error(reason: str) -> web.Response:
    return web.json_response({"error": reason}, status=400)
