"""A replay through the fault proxy: ``camsim pcap replay FILE ... --fault SETTING=VALUE``.

The faults are those of :mod:`camsim.fault`, named as there (``loss``, ``burst``, ``delay``,
``jitter``, ``rate``, ``reorder``, ``nat``..., ``up_``/``down_`` for one direction) and read by
the same parser, so a wrong value is reported with the setting's name. Where the proxy stands
depends on what is replayed:

- ``--as camera``: the replayed camera listens on a free loopback port and an RTSP-aware
  :class:`~camsim.fault.control.FaultProxy` listens where the camera would have (``--port``), so
  the dialog, and the RTP/RTCP its SETUPs open over UDP, cross the faults. Clients are given the
  proxy's URL; server → client is ``down``.
- ``--as push``: a TCP proxy in front of the RTMP(S) server; the publish connects to it (TLS
  passes through unread, tcUrl still names the server). The encoder → server direction is
  ``up``; TCP takes ``delay``, ``jitter``, ``rate`` and the connection faults (``stall``,
  ``reset_after_bytes``...), not datagram loss.
- ``--as raw``: one UDP proxy in front of each destination port, seeded ``seed + d`` for the
  port ``PORT + d``, so RTP and RTCP do not lose the same packets. Sender → port is ``up``.

Every fault is drawn from the seed (``--fault-seed``): the same seed and the same replay lose,
duplicate and corrupt the same packets.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from urllib.parse import urlsplit, urlunsplit

from camsim.encoder.target import PushTarget
from camsim.fault.config import FaultConfig, parse_settings
from camsim.fault.control import FaultProxy, ProxyProtocol, require_loopback
from camsim.fault.impair import LinkStats
from camsim.pcap.replay_camera import CameraReplay, CapturedCamera, start_camera
from camsim.pcap.replay_raw import Datagram, send_to

Address = tuple[str, int]
Faults = FaultConfig | Mapping[str, object]
"""A configuration, or settings by name as the proxy takes them (``{"loss": "5%"}``)."""

DRAIN_TIMEOUT = 30.0
"""How long a replay waits, once it has sent everything, for the proxy to let it through."""


def parse_faults(items: Iterable[str]) -> FaultConfig:
    """``SETTING=VALUE`` items (``loss=5%``, ``down_delay=80ms``) as a configuration.

    Raises ``ValueError`` naming the item or the setting at fault.
    """
    settings: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"expected SETTING=VALUE (e.g. loss=5%), got {item!r}")
        settings[name.strip()] = value.strip()
    return fault_config(settings)


def fault_config(faults: Faults) -> FaultConfig:
    """``faults`` as a :class:`FaultConfig`; settings by name are parsed as the proxy does."""
    if isinstance(faults, FaultConfig):
        return faults
    return FaultConfig().changed(**parse_settings(faults))


def describe(config: FaultConfig) -> str:
    """The settings that differ from a faithful relay, for a status line."""
    plain, faithful = config.to_json(), FaultConfig().to_json()
    parts = []
    for name, value in plain.items():
        if isinstance(value, dict):
            changed = {k: v for k, v in value.items() if v != faithful[name][k]}
            parts += [f"{name}_{k}={v}" for k, v in changed.items()]
        elif value != faithful[name]:
            parts.append(f"{name}={value}")
    return ", ".join(parts) or "no faults"


def datagram_only(config: FaultConfig) -> list[str]:
    """The settings in force in ``config`` that a TCP relay leaves out (loss, reordering and
    the other datagram faults, :meth:`~camsim.fault.impair.LinkProfile.for_stream`)."""
    names = []
    for direction in ("up", "down"):
        profile = getattr(config, direction)
        stream = profile.for_stream().to_json()
        names += [f"{direction}_{k}" for k, v in profile.to_json().items() if v != stream[k]]
    return names


# -- the camera --------------------------------------------------------------------------------


@dataclass
class ProxiedCamera:
    """A replayed camera and the RTSP fault proxy in front of it."""

    replay: CameraReplay
    proxy: FaultProxy

    @property
    def url(self) -> str:
        """The camera's URL through the proxy: what clients are given."""
        return _with_address(self.replay.url, self.proxy.address)

    async def close(self) -> None:
        self.proxy.close()
        await self.replay.close()


async def start_camera_behind_proxy(
    captured: CapturedCamera,
    faults: Faults,
    *,
    seed: int = 0,
    host: str = "127.0.0.1",
    port: int = 8554,
    loop_media: bool = False,
    dialog: str = "camsim",
) -> ProxiedCamera:
    """Serve ``captured`` behind an RTSP fault proxy listening on ``host:port`` (loopback;
    port 0 picks a free one); the camera itself takes a free port on the same host."""
    require_loopback(host, "a replay behind the fault proxy")
    config = fault_config(faults)
    replay = await start_camera(captured, host=host, port=0, loop_media=loop_media, dialog=dialog)
    upstream = (host, replay.server.port)
    proxy = FaultProxy((host, port), upstream, config, protocol=ProxyProtocol.RTSP, seed=seed)
    try:
        await proxy.start()
    except BaseException:
        await replay.close()
        raise
    return ProxiedCamera(replay, proxy)


# -- push and raw ------------------------------------------------------------------------------


@asynccontextmanager
async def running_proxy(
    upstream: Address, faults: Faults, *, protocol: ProxyProtocol | str, seed: int = 0
) -> AsyncIterator[FaultProxy]:
    """A proxy on a free loopback port in front of ``upstream`` (loopback too) for the block;
    on the way out it waits (up to :data:`DRAIN_TIMEOUT`) for what it still holds to leave,
    so a delayed replay is not cut short, then closes."""
    require_loopback(upstream[0], "a replay target")
    listen = ("::1" if ":" in upstream[0] else "127.0.0.1", 0)
    proxy = FaultProxy(listen, upstream, fault_config(faults), protocol=protocol, seed=seed)
    await proxy.start()
    try:
        yield proxy
        await drained(proxy, DRAIN_TIMEOUT)
    finally:
        proxy.close()


async def drained(proxy: FaultProxy, timeout: float, *, received: int = 0) -> bool:
    """Wait until the proxy holds nothing due to leave (its TCP connections have ended and no
    datagram waits in a queue), and its UDP relay has taken in ``received`` datagrams (sent to
    it, maybe still in its socket's buffer); False if ``timeout`` passed first."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not _idle(proxy) or _taken_in(proxy) < received:
        if loop.time() >= deadline:
            return False
        await asyncio.sleep(0.02)
    return True


def _idle(proxy: FaultProxy) -> bool:
    if proxy.tcp is not None and proxy.tcp.connections:
        return False
    return proxy.udp is None or not any(mapping.port.port.pending for mapping in proxy.udp.nat)


def _taken_in(proxy: FaultProxy) -> int:
    """Datagrams the UDP relay has read from its clients (lost ones included)."""
    if proxy.udp is None:
        return 0
    return sum(mapping.port.up.stats.packets for mapping in proxy.udp.nat)


def through_proxy(target: PushTarget, proxy: FaultProxy) -> PushTarget:
    """``target`` reached through ``proxy``: only the port connected to changes. The host
    stays, so TLS still checks the server's certificate against it, and ``connect``'s tcUrl
    still names the server, as through any transparent middlebox."""
    return replace(target, port=proxy.address[1])


@dataclass
class ProxiedSend:
    """What a raw replay through the proxies did."""

    sent: dict[int, int]
    """Datagrams sent to each port offset's proxy."""
    impaired: dict[int, LinkStats]
    """What each port offset's proxy did to them (sender → port)."""

    @property
    def lost(self) -> int:
        return sum(stats.lost + stats.queue_dropped for stats in self.impaired.values())


async def send_through_proxies(
    datagrams: list[Datagram],
    host: str,
    port: int,
    faults: Faults,
    *,
    seed: int = 0,
    loop_media: bool = False,
    duration: float | None = None,
) -> ProxiedSend:
    """:func:`~camsim.pcap.replay_raw.send` with a UDP fault proxy in front of each destination
    port (``PORT + d`` behind a proxy seeded ``seed + d``); waits for the proxies to let through
    what they hold, then closes them."""
    config = fault_config(faults)
    proxies: dict[int, FaultProxy] = {}
    try:
        for delta in sorted({d.port_delta for d in datagrams}):
            proxy = FaultProxy(
                ("::1" if ":" in host else "127.0.0.1", 0),
                (host, port + delta),
                config,
                protocol=ProxyProtocol.UDP,
                seed=seed + delta,
            )
            proxies[delta] = proxy
            await proxy.start()
        destinations = {delta: proxy.address for delta, proxy in proxies.items()}
        sent = await send_to(datagrams, destinations, loop_media=loop_media, duration=duration)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + DRAIN_TIMEOUT
        for delta, proxy in proxies.items():
            await drained(proxy, max(0.0, deadline - loop.time()), received=sent[delta])
        return ProxiedSend(sent, {delta: _up_stats(proxy) for delta, proxy in proxies.items()})
    finally:
        for proxy in proxies.values():
            proxy.close()


def _up_stats(proxy: FaultProxy) -> LinkStats:
    total = LinkStats()
    for mapping in proxy.udp.nat if proxy.udp is not None else ():
        for name, value in vars(mapping.port.up.stats).items():
            setattr(total, name, getattr(total, name) + value)
    return total


def _with_address(url: str, address: Address) -> str:
    host, port = address
    authority = f"[{host}]" if ":" in host else host
    return urlunsplit(urlsplit(url)._replace(netloc=f"{authority}:{port}"))
