"""Names for the places traffic comes from and goes to: endpoints and flows."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from functools import lru_cache


@lru_cache(maxsize=4096)
def address_text(address: bytes) -> str:
    """``192.0.2.1`` or ``2001:db8::1`` for a 4- or 16-byte address."""
    family = socket.AF_INET if len(address) == 4 else socket.AF_INET6
    return socket.inet_ntop(family, address)


@dataclass(frozen=True, slots=True, order=True)
class Endpoint:
    """An IP address (4 or 16 bytes) and a port."""

    address: bytes
    port: int

    @property
    def host(self) -> str:
        return address_text(self.address)

    def __str__(self) -> str:
        host = self.host
        return f"[{host}]:{self.port}" if ":" in host else f"{host}:{self.port}"


@dataclass(frozen=True, slots=True)
class FlowId:
    """Where an RTP stream travelled: a UDP flow, or a channel of an RTSP connection."""

    transport: str
    """``udp``, ``tcp`` (RTSP interleaved) or ``http`` (interleaved in an RTSP-over-HTTP tunnel)."""
    source: Endpoint
    destination: Endpoint
    channel: int | None = None

    def __str__(self) -> str:
        text = f"{self.transport} {self.source} -> {self.destination}"
        return text if self.channel is None else f"{text} channel {self.channel}"
