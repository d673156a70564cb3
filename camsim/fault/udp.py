"""The UDP relay: datagram sockets whose sends are delayed, dropped or shaped by a :class:`Link`.

Each socket is a :class:`DatagramPort` (a sans-IO datagram session with a queue of timed sends)
driven by the project's :class:`~wire.asyncio.pump.DatagramPump`, so each socket has one timer,
armed at its earliest pending send, not a timer per packet. A datagram received on one port is
handed to the owner as a :class:`Received` event; the owner decides where it goes, passes it
through the flow's link and queues it on the port it must leave from.

:class:`UdpProxy` is the generic relay: datagrams to ``listen`` go to ``upstream`` from one
socket per client (a NAT mapping, which expires when idle), and the answers come back from
``listen``.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import socket
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from camsim.fault.config import FaultConfig
from camsim.fault.impair import Link
from camsim.fault.nat import Mapping, NatTable
from wire.asyncio.pump import DatagramPump

logger = logging.getLogger("camsim.fault")

Address = tuple[str, int]
RECEIVE_BUFFER = 1 << 20


@dataclass(frozen=True, slots=True)
class Received:
    """A datagram arrived on ``port``."""

    port: DatagramPort
    data: bytes
    source: Address
    now: float


class DatagramPort:
    """One UDP socket's session: what arrived becomes events, sends wait for their time."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.address: Address = ("", 0)
        """Where the socket is bound (set by :func:`open_port`)."""
        self.pump: DatagramPump | None = None
        self._heap: list[tuple[float, int, bytes, Address]] = []
        self._ready: list[tuple[bytes, Address]] = []
        self._order = itertools.count()
        self._events: deque[Received] = deque()
        self.closed = False

    # -- DatagramSession ---------------------------------------------------------------------------

    def receive_datagram(self, data: bytes, addr: Address, now: float) -> None:
        self._events.append(Received(self, data, addr, now))

    def datagrams_to_send(self, now: float) -> list[tuple[bytes, Address]]:
        ready, self._ready = self._ready, []
        heap = self._heap
        while heap and heap[0][0] <= now:
            _, _, data, addr = heapq.heappop(heap)
            ready.append((data, addr))
        return ready

    def get_timer(self) -> float | None:
        return self._heap[0][0] if self._heap else None

    def handle_timer(self, now: float) -> None:
        """Due sends leave in :meth:`datagrams_to_send`, which the pump calls next."""

    def next_event(self) -> Received | None:
        return self._events.popleft() if self._events else None

    # -- for the owner -----------------------------------------------------------------------------

    def send_at(self, at: float, data: bytes, addr: Address, now: float) -> None:
        """Queue ``data`` to ``addr`` at loop time ``at``; call :meth:`flush` after."""
        if at <= now:
            self._ready.append((data, addr))
        else:
            heapq.heappush(self._heap, (at, next(self._order), data, addr))

    def forward(self, link: Link, data: bytes, addr: Address, now: float) -> None:
        """``data`` through ``link``, then out of this port to ``addr``."""
        for at, copy in link.process(data, now):
            self.send_at(at, copy, addr, now)
        self.flush()

    def flush(self) -> None:
        """Send what is due and re-arm the timer (after calls from outside the pump)."""
        if self.pump is not None:
            self.pump.transmit()

    @property
    def pending(self) -> int:
        return len(self._heap) + len(self._ready)

    def close(self) -> None:
        self.closed = True
        if self.pump is not None:
            self.pump.close()


def open_port(
    host: str,
    port: int,
    name: str,
    on_event: Callable[[object], object],
    loop: asyncio.AbstractEventLoop | None = None,
) -> DatagramPort:
    """Bind a UDP socket now (so its port is known at once) and start its pump.

    Datagrams queued before the event loop has attached the socket go out when it does.
    """
    loop = loop or asyncio.get_running_loop()
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
        sock.bind((host, port))
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    session = DatagramPort(name)
    session.address = sock.getsockname()[:2]
    pump = DatagramPump(session, on_event=on_event, fields={"port": name}, loop=loop)
    session.pump = pump
    task = loop.create_task(loop.create_datagram_endpoint(lambda: pump, sock=sock))
    task.add_done_callback(_log_failure)
    # Closed before the loop attached it (a mapping that expired at once): close it now.
    task.add_done_callback(lambda _: pump.close() if session.closed else None)
    return session


def _log_failure(task: asyncio.Task[object]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("could not attach a UDP socket", exc_info=task.exception())


class FlowSeeds:
    """Seeds of each flow's links, from the proxy's seed and the order flows appear in."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._count = itertools.count()

    def links(self, kind: str, config: FaultConfig) -> tuple[Link, Link]:
        """(up, down) links of the next flow of ``kind``."""
        index = next(self._count)
        up = Link(f"{self.seed}/{kind}/{index}/up", config.up)
        down = Link(f"{self.seed}/{kind}/{index}/down", config.down)
        return up, down


@dataclass(eq=False)
class _Client:
    address: Address
    port: DatagramPort
    up: Link
    down: Link


class UdpProxy:
    """Relays datagrams between clients of ``listen`` and ``upstream``, impaired."""

    def __init__(
        self,
        listen: Address,
        upstream: Address,
        config: FaultConfig | None = None,
        *,
        seed: int = 0,
    ) -> None:
        self.listen_address = listen
        self.upstream = upstream
        self.config = config or FaultConfig()
        self.seeds = FlowSeeds(seed)
        self.nat: NatTable[_Client] = NatTable(self.config.nat, self.config.nat_timeout)
        self._listen: DatagramPort | None = None
        self._expiry: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._by_port: dict[DatagramPort, Mapping[_Client]] = {}

    @property
    def address(self) -> Address:
        """Where clients send (the bound port, once started)."""
        return self._listen.address if self._listen is not None else self.listen_address

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._listen = open_port(*self.listen_address, "udp-listen", self._on_event)

    def apply(self, config: FaultConfig) -> None:
        """Put ``config`` in force for every flow, the running ones included."""
        self.config = config
        self.nat.kind, self.nat.timeout = config.nat, config.nat_timeout
        for mapping in self.nat:
            mapping.port.up.profile, mapping.port.down.profile = config.up, config.down
        self._arm_expiry(again=True)

    def close(self) -> None:
        if self._expiry is not None:
            self._expiry.cancel()
        for mapping in self.nat:
            mapping.port.port.close()
            self.nat.remove(mapping)
        if self._listen is not None:
            self._listen.close()

    def _on_event(self, event: object) -> None:
        if not isinstance(event, Received) or self._listen is None:
            return
        if self.config.udp_blocked:
            return
        if event.port is self._listen:
            self._from_client(event)
        else:
            self._from_upstream(event)

    def _from_client(self, event: Received) -> None:
        mapping = self.nat.find(event.source, self.upstream)
        if mapping is None:
            mapping = self._map(event.source, event.now)
        self.nat.refresh(mapping, event.now)
        client = mapping.port
        client.port.forward(client.up, event.data, self.upstream, event.now)
        self._arm_expiry()

    def _from_upstream(self, event: Received) -> None:
        mapping = self._by_port.get(event.port)
        if mapping is None or not self.nat.admits(mapping, event.source):
            return
        assert self._listen is not None
        self._listen.forward(mapping.port.down, event.data, mapping.port.address, event.now)

    def _map(self, client: Address, now: float) -> Mapping[_Client]:
        host = "::1" if ":" in self.upstream[0] else "127.0.0.1"
        port = open_port(host, 0, "udp-mapping", self._on_event)
        up, down = self.seeds.links("udp", self.config)
        mapping = self.nat.add(client, self.upstream, _Client(client, port, up, down), now)
        self._by_port[port] = mapping
        logger.debug("udp mapping", extra={"client": client, "port": port.address})
        return mapping

    def _arm_expiry(self, *, again: bool = False) -> None:
        """One timer for all mappings; refreshes only move expiry later, so an armed timer
        stays and, when it fires early, re-arms."""
        if self._loop is None or (self._expiry is not None and not again):
            return
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None
        due = self.nat.next_expiry()
        if due is not None:
            self._expiry = self._loop.call_at(due, self._expire)

    def _expire(self) -> None:
        assert self._loop is not None
        self._expiry = None
        for mapping in self.nat.expire(self._loop.time()):
            self._by_port.pop(mapping.port.port, None)
            mapping.port.port.close()
        self._arm_expiry(again=True)
