"""How every stream of a run connects and publishes: the options one ``camsim push`` shares."""

from __future__ import annotations

import ssl
from dataclasses import dataclass

from camsim.encoder.connection import DEFAULT_CHUNK_SIZE, DEFAULT_TIMEOUT
from camsim.pcap.tap import CaptureTap
from wire.rtmp.client import DEFAULT_FLASH_VER

__all__ = ["DEFAULT_CHUNK_SIZE", "DEFAULT_TIMEOUT", "PublishOptions"]


@dataclass(frozen=True)
class PublishOptions:
    """How every stream of a run connects and publishes."""

    chunk_size: int = DEFAULT_CHUNK_SIZE
    timeout: float = DEFAULT_TIMEOUT
    """Seconds allowed for each phase, and for a server that stops reading."""
    flash_ver: str = DEFAULT_FLASH_VER
    start_timestamp: int = 0
    ssl_context: ssl.SSLContext | None = None
    """Used for ``rtmps://`` targets; verification as configured in it."""
    send_buffer: int | None = None
    """SO_SNDBUF in bytes; ``None`` leaves the kernel's autotuning (up to megabytes) alone.
    Smaller makes a server that stopped reading show sooner, as a stall."""
    capture: CaptureTap | None = None
    """Write each connection's bytes to a pcapng file (``--capture``, camsim.pcap.tap)."""
