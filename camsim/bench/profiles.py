"""Network profiles the bench runs under, by name, built on the userspace fault proxy.

Every trial of every profile, ``loopback`` included, goes through the same relay, so RTMP and
RTMPS always take the same path and the relay counts the bytes on the wire each way. The relay
carries a byte stream: it delays, jitters and rate-limits it but cannot drop segments (TCP would
retransmit them anyway), so a "loss" profile reproduces what loss does to a TCP stream, stalls
of about one retransmission timeout, as jitter on top of its delay. Kernel namespaces with netem
would drop real segments; netem is not available here, so no profile uses them.
"""

from __future__ import annotations

from dataclasses import dataclass

from camsim.fault.config import FaultConfig


@dataclass(frozen=True)
class NetworkProfile:
    """A named set of impairments, the same both ways."""

    name: str
    description: str
    config: FaultConfig
    rtt_ms: float
    """The round-trip time the profile adds, for the verdict's "RTT multiples"."""


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
