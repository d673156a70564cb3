"""Network profiles the bench runs under, by name, built on the userspace fault proxy.

Every trial of every profile, ``loopback`` included, goes through the same relay, so RTMP and
RTMPS always take the same path and the relay counts the bytes on the wire each way. The relay
carries a byte stream: it delays, jitters and rate-limits it but cannot drop segments (TCP would
retransmit them anyway), so a "loss" profile reproduces what loss does to a TCP stream, stalls
of about one retransmission timeout, as jitter on top of its delay.

The ``kernel-`` profiles (root only) impair real IP packets instead: the server runs in the WAN
namespace of a :class:`~camsim.fault.netns.Topology`, the bench's encoder side in its LAN
namespace, and the router between them drops a share of the packets (TCP retransmits them, as
on a lossy link) or holds them to a rate (:mod:`camsim.bench.kernel`). The relay still carries
every connection, unimpaired, to count the bytes. Delay needs the kernel's netem, which is not
always there, so no kernel profile adds any.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from camsim.fault.config import FaultConfig


@dataclass(frozen=True)
class NetworkProfile:
    """A named set of impairments, the same both ways."""

    name: str
    description: str
    config: FaultConfig
    rtt_ms: float
    """The round-trip time the profile adds, for the verdict's "RTT multiples"."""
    kernel: Mapping[str, str] | None = field(default=None)
    """Settings of the namespace router's :meth:`~camsim.fault.kernel.KernelFaults.change`
    (both ways), or None for a profile the relay alone plays."""


def _profile(
    name: str,
    description: str,
    *,
    delay: float = 0.0,
    jitter: float = 0.0,
    rate: float | None = None,
) -> NetworkProfile:
    config = FaultConfig().changed(delay=delay, jitter=jitter, rate=rate)
    return NetworkProfile(name, description, config, rtt_ms=2 * delay * 1000)


PROFILES: dict[str, NetworkProfile] = {
    profile.name: profile
    for profile in (
        _profile("loopback", "the relay alone: no delay, no limit"),
        _profile("rtt-50ms", "25 ms each way (50 ms RTT)", delay=0.025),
        _profile(
            "rtt-150ms-loss-1",
            "75 ms each way (150 ms RTT) with up to ±20 ms of jitter held in order: the "
            "head-of-line stalls a TCP stream sees at about 1% loss (the relay drops no bytes)",
            delay=0.075,
            jitter=0.020,
        ),
        _profile("bandwidth-5mbit", "5 Mbit/s each way, no added delay", rate=5_000_000),
        NetworkProfile(
            "kernel-loss-1",
            "1% of IP packets dropped each way by a router between network namespaces; TCP "
            "retransmits them (root only)",
            FaultConfig(),
            rtt_ms=0.0,
            kernel={"loss": "1%"},
        ),
        NetworkProfile(
            "kernel-bandwidth-5mbit",
            "5 Mbit/s each way, held by the router's tbf between network namespaces (root only)",
            FaultConfig(),
            rtt_ms=0.0,
            kernel={"rate": "5mbit"},
        ),
    )
}
"""Profile name → profile; ``--network`` takes these names."""


def profile_named(name: str) -> NetworkProfile:
    """The profile called ``name``; a ``KeyError`` naming the known ones otherwise."""
    try:
        return PROFILES[name]
    except KeyError:
        known = ", ".join(sorted(PROFILES))
        raise KeyError(f"unknown network profile {name!r} (known: {known})") from None
