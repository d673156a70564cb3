"""Which accepted TCP connections the ingest keeps: the server-wide and per-address caps, bans.

A connection is counted from TCP accept until it closes, whatever it is doing: a TLS handshake in
progress costs as much memory as an RTMP session (asyncio gives each TLS connection a 256 KiB
read buffer), so it holds a slot like one. Per address the count is capped too, so one peer's
idle sockets cannot take every slot (nginx's ``limit_conn``); addresses that guessed stream keys
too often are refused outright (see :mod:`refserver.ingest.failures`).

Peers with many addresses can still fill the server with connections that never publish. So a
connection is *unproven* until it publishes, and when the server is full a newcomer may take the
slot of the oldest unproven connection of the address that holds the most of them, if that
address holds at least two more than the newcomer's: slots go to the addresses with fewer, and a
peer with a single connection never loses it this way. A peer with many addresses ends up with
its fair share, and a publisher that connects still gets in.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass

from refserver.config import Limits
from refserver.ingest.failures import KeyFailures

IPV6_PREFIX = 64
"""IPv6 addresses are limited per /64: one host usually gets a whole /64 to pick from."""
Evict = Callable[[str], None]
"""Closes an evicted connection, given why; its slot is already released."""


@dataclass(slots=True)
class _Unproven:
    since: float
    evict: Evict


def address_group(host: str) -> str:
    """What the per-address limits count ``host`` as: an IPv4 address (IPv4-mapped IPv6 too),
    or the /64 of an IPv6 address; anything else (a Unix socket) as itself."""
    try:
        address = ipaddress.ip_address(host.partition("%")[0])
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, IPV6_PREFIX), strict=False))
    return str(address)


class Admission:
    """The connection count, in total and per address group, and the key-failure record."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.failures = KeyFailures(
            delay=limits.key_failure_delay,
            limit=limits.key_failure_limit,
            window=limits.key_failure_window,
        )
        self.connections = 0
        self._per_address: dict[str, int] = {}
        self._unproven: dict[str, dict[int, _Unproven]] = {}
        """Per address, the connections that have not published yet, oldest first."""

    def from_address(self, address: str) -> int:
        """Connections held from ``address`` (an :func:`address_group`)."""
        return self._per_address.get(address, 0)

    def admit(self, address: str, now: float, key: int, evict: Evict) -> str | None:
        """Take a slot for connection ``key`` from ``address``; ``None`` when taken, else why not.

        The connection is unproven, and may be evicted through ``evict`` to make room for a
        newcomer, until :meth:`proven`.
        Every admitted connection must be given back with :meth:`release` exactly once.
        """
        held = self.from_address(address)
        if held >= self.limits.max_connections_per_ip:
            return f"already {held} connections from {address}"
        if self.failures.banned(address, now):
            return "address banned after repeated refused stream keys"
        if self.connections >= self.limits.max_connections and not self._evict_for(address, now):
            return f"already {self.connections} connections"
        self.connections += 1
        self._per_address[address] = self.from_address(address) + 1
        self._unproven.setdefault(address, {})[key] = _Unproven(now, evict)
        return None

    def proven(self, address: str, key: int) -> None:
        """Connection ``key`` published: it is no longer evicted to make room."""
        unproven = self._unproven.get(address)
        if unproven is not None and unproven.pop(key, None) is not None and not unproven:
            del self._unproven[address]

    def release(self, address: str, key: int) -> None:
        """Give back the slot of connection ``key`` from ``address``."""
        held = self._per_address.get(address, 0)
        if held <= 0:
            raise RuntimeError(f"no connection from {address} to release")
        self.proven(address, key)
        self.connections -= 1
        if held == 1:
            del self._per_address[address]  # the table holds only addresses with connections
        else:
            self._per_address[address] = held - 1

    def _evict_for(self, address: str, now: float) -> bool:
        """Make room for a newcomer from ``address``, if an address holds at least two unproven
        connections more than it does: close that address's oldest."""
        newcomer = len(self._unproven.get(address, ()))
        busiest: tuple[int, float, str] | None = None
        for other, unproven in self._unproven.items():
            oldest = next(iter(unproven.values())).since
            rank = (-len(unproven), oldest, other)  # the most connections, then the oldest
            if busiest is None or rank < busiest:
                busiest = rank
        if busiest is None or -busiest[0] < newcomer + 2:
            return False
        _, since, victim = busiest
        key, entry = next(iter(self._unproven[victim].items()))
        self.release(victim, key)
        entry.evict(f"evicted after {now - since:.1f} s without publishing, to make room")
        return True
