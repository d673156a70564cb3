"""``camsim pcap replay --as raw --to HOST:PORT``: the captured UDP payloads, sent again.

Every datagram of the capture's UDP flows (RTP, RTCP and anything else) goes out with the same
payload and the same spacing in time, to ``HOST``: the flow with the lowest destination port to
``PORT``, the others to ``PORT`` plus the distance between their ports and that one, so RTP/RTCP
pairs and several streams keep their layout. Only loopback destinations are accepted: a capture
holds someone else's traffic and is not to be sprayed at the network.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from camsim.pcap.capture import CaptureFile
from camsim.pcap.packet import IPPROTO_UDP, PacketDecoder
from camsim.pcap.replay_camera import ReplayError


@dataclass(frozen=True)
class Datagram:
    offset: float
    """Seconds after the first datagram."""
    port_delta: int
    payload: bytes


def loopback_target(target: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[v6]:PORT`` for IPv6) checked to be a loopback address."""
    host, colon, port_text = target.rpartition(":")
    if not colon or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ReplayError(f"--to {target!r}: expected HOST:PORT, e.g. 127.0.0.1:5004")
    host = host.strip("[]")
    try:
        addresses = {
            str(info[4][0]) for info in socket.getaddrinfo(host, None, type=socket.SOCK_DGRAM)
        }
    except socket.gaierror as error:
        raise ReplayError(f"--to {target!r}: {error}") from None
    if not addresses or not all(
        ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addresses
    ):
        raise ReplayError(
            f"refusing to send to {host}: replay targets must be loopback (127.0.0.0/8 or ::1)"
        )
    return host, int(port_text)


def load_datagrams(path: str | Path, *, speed: float = 1.0) -> list[Datagram]:
    """Every UDP payload of the capture, in order, with its time and port offset."""
    if speed <= 0:
        raise ReplayError(f"speed {speed} must be positive")
    decoder = PacketDecoder()
    found: list[tuple[float, int, bytes]] = []
    with CaptureFile.open(path) as capture:
        for time_, link_type, offset, length in capture.records():
            segment = decoder.decode(link_type, capture.buffer, offset, length, 0)
            if segment is None or segment[0] != IPPROTO_UDP:
                continue
            data, start, end = segment[5], segment[6], segment[7]
            found.append((time_, segment[4], bytes(data[start:end])))
    if not found:
        raise ReplayError(f"{path}: no UDP datagram to replay")
    first = found[0][0]
    lowest = min(port for _, port, _ in found)
    return [Datagram((t - first) / speed, port - lowest, payload) for t, port, payload in found]


async def send(
    datagrams: Iterable[Datagram],
    host: str,
    port: int,
    *,
    loop_media: bool = False,
    duration: float | None = None,
) -> int:
    """Send them to ``host``, ``port`` plus their port offset, paced by their offsets; returns
    how many were sent."""
    schedule = list(datagrams)
    destinations = {d.port_delta: (host, port + d.port_delta) for d in schedule}
    counts = await send_to(schedule, destinations, loop_media=loop_media, duration=duration)
    return sum(counts.values())


async def send_to(
    datagrams: Iterable[Datagram],
    destinations: Mapping[int, tuple[str, int]],
    *,
    loop_media: bool = False,
    duration: float | None = None,
) -> dict[int, int]:
    """Send each datagram to the address of its port offset in ``destinations``, paced by
    their offsets; returns how many went to each offset."""
    schedule = list(datagrams)
    sent = dict.fromkeys(destinations, 0)
    if not schedule:
        return sent
    family = socket.AF_INET6 if any(":" in h for h, _ in destinations.values()) else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)
        loop = asyncio.get_running_loop()
        began = time.monotonic()
        period = schedule[-1].offset + 0.001
        repetition = 0
        while True:
            for datagram in schedule:
                due = began + repetition * period + datagram.offset
                if duration is not None and due - began > duration:
                    return sent
                delay = due - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                try:
                    await loop.sock_sendto(
                        sock, datagram.payload, destinations[datagram.port_delta]
                    )
                    sent[datagram.port_delta] += 1
                except OSError:
                    continue  # nobody listening on that port (ICMP unreachable): carry on
            if not loop_media:
                return sent
            repetition += 1
