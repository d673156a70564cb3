"""Which accepted TCP connections the ingest keeps: the server-wide and per-address caps, bans.

A connection is counted from TCP accept until it closes, whatever it is doing: a TLS handshake in
progress costs as much memory as an RTMP session (asyncio gives each TLS connection a 256 KiB
read buffer), so it holds a slot like one. Per address the count is capped too, so one peer's
idle sockets cannot take every slot (nginx's ``limit_conn``); addresses that guessed stream keys
too often are refused outright (see :mod:`refserver.ingest.failures`).
"""

from __future__ import annotations

import ipaddress

from refserver.config import Limits
from refserver.ingest.failures import KeyFailures

IPV6_PREFIX = 64
"""IPv6 addresses are limited per /64: one host usually gets a whole /64 to pick from."""


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

    def from_address(self, address: str) -> int:
        """Connections held from ``address`` (an :func:`address_group`)."""
        return self._per_address.get(address, 0)

    def admit(self, address: str, now: float) -> str | None:
        """Take a slot for a connection from ``address``; ``None`` when taken, else why not.

        Every admitted connection must be :meth:`release`\\ d exactly once.
        """
        if self.connections >= self.limits.max_connections:
            return f"already {self.connections} connections"
        held = self.from_address(address)
        if held >= self.limits.max_connections_per_ip:
            return f"already {held} connections from {address}"
        if self.failures.banned(address, now):
            return "address banned after repeated refused stream keys"
        self.connections += 1
        self._per_address[address] = held + 1
        return None

    def release(self, address: str) -> None:
        """Give back the slot of a connection from ``address``."""
        held = self._per_address.get(address, 0)
        if held <= 0:
            raise RuntimeError(f"no connection from {address} to release")
        self.connections -= 1
        if held == 1:
            del self._per_address[address]  # the table holds only addresses with connections
        else:
            self._per_address[address] = held - 1
