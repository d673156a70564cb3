"""The NAT's mapping table, sans I/O (RFC 4787 terms).

An *inside* host sends to an *outside* destination; the NAT picks the mapping (an outside port)
the packet leaves from:

- ``cone``: endpoint-independent mapping and filtering (RFC 4787 §4.1, §5): one mapping per inside
  address, whatever the destination, and any outside host may send to it. The port a camera
  announces through the proxy is the port its packets come from.
- ``symmetric``: address-and-port-dependent mapping and filtering: a new mapping for every
  destination, and only that destination may send back through it. A port announced for one
  destination (the RTSP peer) is not the port RTP to another (the client's RTP port) leaves from,
  and packets sent to the announced port from anywhere else are dropped.

Mappings expire ``timeout`` seconds after the last packet *out* through them (RFC 4787 REQ-6:
outbound refresh; inbound traffic does not keep them alive here, as on many home routers). The
owner closes the socket of an expired mapping, so later packets to its port are lost, and the next
packet out gets a new mapping with a new port.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Generic, TypeVar

Address = tuple[str, int]
T = TypeVar("T")


class NatKind(StrEnum):
    CONE = "cone"
    SYMMETRIC = "symmetric"


@dataclass(eq=False)
class Mapping(Generic[T]):
    """One mapping: which inside address it serves, for which destination, and its port."""

    inside: Address
    destination: Address | None
    """The only outside address allowed back in (symmetric), or None (cone)."""
    port: T
    """What the owner attached: the outside socket, in practice."""
    last_out: float
    expired: bool = False


@dataclass
class NatTable(Generic[T]):
    """Mappings keyed the way ``kind`` says, with outbound-refreshed expiry."""

    kind: NatKind = NatKind.CONE
    timeout: float | None = None
    _mappings: dict[tuple[Address, Address | None], Mapping[T]] = field(default_factory=dict)

    def key(self, inside: Address, destination: Address) -> tuple[Address, Address | None]:
        return (inside, destination if self.kind is NatKind.SYMMETRIC else None)

    def find(self, inside: Address, destination: Address) -> Mapping[T] | None:
        """The live mapping a packet from ``inside`` to ``destination`` would leave through."""
        return self._mappings.get(self.key(inside, destination))

    def add(self, inside: Address, destination: Address, port: T, now: float) -> Mapping[T]:
        """Record a new mapping (the owner made its socket); replaces none."""
        key = self.key(inside, destination)
        if key in self._mappings:
            raise ValueError(f"a mapping for {key} exists already")
        allowed = destination if self.kind is NatKind.SYMMETRIC else None
        mapping = Mapping(inside, allowed, port, now)
        self._mappings[key] = mapping
        return mapping

    def refresh(self, mapping: Mapping[T], now: float) -> None:
        """A packet went out through ``mapping``."""
        mapping.last_out = now

    def admits(self, mapping: Mapping[T], source: Address) -> bool:
        """Whether a packet from outside ``source`` to ``mapping``'s port gets in."""
        if mapping.expired:
            return False
        return mapping.destination is None or mapping.destination == source

    def expire(self, now: float) -> list[Mapping[T]]:
        """Forget the mappings idle for ``timeout``; the owner closes their sockets."""
        if self.timeout is None:
            return []
        gone = [m for m in self._mappings.values() if now - m.last_out >= self.timeout]
        for mapping in gone:
            mapping.expired = True
            del self._mappings[self.key(mapping.inside, mapping.destination or mapping.inside)]
        return gone

    def next_expiry(self) -> float | None:
        """When :meth:`expire` next has something to do."""
        if self.timeout is None or not self._mappings:
            return None
        return min(m.last_out for m in self._mappings.values()) + self.timeout

    def remove(self, mapping: Mapping[T]) -> None:
        """Forget ``mapping`` (its session ended)."""
        mapping.expired = True
        self._mappings.pop(self.key(mapping.inside, mapping.destination or mapping.inside), None)

    def __len__(self) -> int:
        return len(self._mappings)

    def __iter__(self) -> Iterator[Mapping[T]]:
        return iter(list(self._mappings.values()))
