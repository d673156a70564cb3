"""Seeded impairment models for one direction of one flow, sans I/O.

A :class:`Link` takes a packet (a UDP datagram, or a chunk of a TCP byte stream) and the time it
arrived, and answers when each resulting copy should leave: none when it is lost, two when it is
duplicated, one with a flipped bit when it is corrupted, later than it arrived when it is delayed,
reordered or shaped. It has no clock and no socket: the relays schedule what it returns.

Every random choice comes from the link's own ``random.Random`` seeded from the proxy's seed and
the flow's name, so the same seed and the same traffic drop, duplicate and corrupt the same
packets in every run, whatever other flows do meanwhile.

The models are those of ``tc netem`` (see ``tc-netem(8)``):

- uniform loss: each packet is lost with probability ``loss``;
- Gilbert-Elliott bursts (netem ``loss gemodel p r 1-h 1-k``): a two-state Markov chain moved once
  per packet, good→bad with probability ``p`` and bad→good with ``r``; a packet is delivered with
  probability ``k`` in the good state and ``h`` in the bad one. Mean loss is
  ``p/(p+r)·(1-h) + r/(p+r)·(1-k)``, mean burst length ``1/r`` when ``h = 0``;
- delay plus uniform jitter in ``[-jitter, +jitter]``; with ``in_order`` (a TCP stream) a packet
  never leaves before the one before it, so jitter there reads as burstiness, not reordering;
- reordering: a chosen packet is held back ``reorder_hold`` seconds, so those after it overtake it;
- duplication, and corruption of one bit of one byte (netem flips one bit too);
- a token bucket: ``rate`` bits per second with a burst of ``burst`` bytes; packets queue behind
  it, and past ``queue_limit`` queued bytes datagrams are dropped (tail drop), as a router would.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, fields, replace
from typing import Any


def _check_probability(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be a probability in [0, 1], got {value}")


@dataclass(frozen=True)
class GilbertElliott:
    """Parameters of the Gilbert-Elliott loss model (per packet probabilities)."""

    p: float
    """Good → bad transition probability."""
    r: float
    """Bad → good transition probability."""
    h: float = 0.0
    """Probability a packet is delivered in the bad state."""
    k: float = 1.0
    """Probability a packet is delivered in the good state."""

    def __post_init__(self) -> None:
        for name in ("p", "r", "h", "k"):
            _check_probability(name, getattr(self, name))
        if self.p + self.r == 0:
            raise ValueError("Gilbert-Elliott: p and r cannot both be 0")

    @property
    def mean_loss(self) -> float:
        """The stationary loss rate."""
        bad = self.p / (self.p + self.r)
        return bad * (1 - self.h) + (1 - bad) * (1 - self.k)

    @classmethod
    def parse(cls, text: str) -> GilbertElliott:
        """``p,r[,h[,k]]`` as fractions or percentages, e.g. ``1%,30%``."""
        parts = [parse_probability(part) for part in text.split(",")]
        if not 2 <= len(parts) <= 4:
            raise ValueError(f"Gilbert-Elliott: expected p,r[,h[,k]], got {text!r}")
        return cls(*parts)

    def serialize(self) -> str:
        return f"{self.p},{self.r},{self.h},{self.k}"


@dataclass(frozen=True)
class LinkProfile:
    """What impairs one direction of a flow. The defaults impair nothing."""

    loss: float = 0.0
    burst: GilbertElliott | None = None
    delay: float = 0.0
    jitter: float = 0.0
    reorder: float = 0.0
    reorder_hold: float = 0.02
    duplicate: float = 0.0
    corrupt: float = 0.0
    rate: float | None = None
    """Bits per second, or None for no limit."""
    burst_bytes: int = 16 * 1024
    queue_limit: int = 256 * 1024
    """Bytes that may wait behind the rate limit before datagrams are dropped."""
    blocked: bool = False
    """Every packet is dropped (a firewall, not a lossy link)."""

    def __post_init__(self) -> None:
        for name in ("loss", "reorder", "duplicate", "corrupt"):
            _check_probability(name, getattr(self, name))
        for name in ("delay", "jitter", "reorder_hold"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.rate is not None and self.rate <= 0:
            raise ValueError(f"rate must be > 0 bits/s, got {self.rate}")
        if self.burst_bytes <= 0 or self.queue_limit <= 0:
            raise ValueError("burst_bytes and queue_limit must be > 0")

    def changed(self, **changes: Any) -> LinkProfile:
        """A copy with ``changes`` (validated)."""
        return replace(self, **changes)

    def for_stream(self) -> LinkProfile:
        """What of this profile applies to a byte stream: delay, jitter and rate.

        Loss, duplication, corruption, reordering and blocking are datagram faults: TCP would
        retransmit, deduplicate and reorder them away (their effect on TCP is latency, which the
        kernel faults reproduce), and applying them to the bytes would break the stream itself.
        """
        return replace(
            self, loss=0.0, burst=None, reorder=0.0, duplicate=0.0, corrupt=0.0, blocked=False
        )

    def to_json(self) -> dict[str, Any]:
        """Plain values for the control endpoint and the change log."""
        out: dict[str, Any] = {}
        for item in fields(self):
            value = getattr(self, item.name)
            out[item.name] = value.serialize() if isinstance(value, GilbertElliott) else value
        return out


NO_IMPAIRMENT = LinkProfile()


def parse_probability(text: str) -> float:
    """``0.05`` or ``5%``."""
    text = text.strip()
    value = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    _check_probability("probability", value)
    return value


_DURATION_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0}
_RATE_UNITS = {"k": 1e3, "K": 1e3, "m": 1e6, "M": 1e6, "g": 1e9, "G": 1e9}


def parse_duration(text: str) -> float:
    """Seconds from ``50ms``, ``1.5s``, ``200us`` or a bare number of seconds."""
    text = text.strip()
    for unit in ("us", "ms", "s"):
        if text.endswith(unit):
            return _non_negative("duration", float(text[: -len(unit)]) * _DURATION_UNITS[unit])
    return _non_negative("duration", float(text))


def parse_rate(text: str) -> float:
    """Bits per second from ``800k``, ``2M``, ``2Mbit`` or a bare number."""
    text = text.strip().removesuffix("bit").removesuffix("bps")
    scale = _RATE_UNITS.get(text[-1:], 1.0)
    number = float(text[:-1] if text[-1:] in _RATE_UNITS else text)
    if number <= 0:
        raise ValueError(f"rate must be > 0, got {text!r}")
    return number * scale


def _non_negative(name: str, value: float) -> float:
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return value


@dataclass
class LinkStats:
    """What a link did, for logs, tests and scenario verdicts."""

    packets: int = 0
    lost: int = 0
    duplicated: int = 0
    corrupted: int = 0
    reordered: int = 0
    queue_dropped: int = 0
    blocked: int = 0


@dataclass
class Link:
    """One direction of one flow: the profile in force, its random source and its state.

    Change :attr:`profile` at any time; the random source and the Gilbert-Elliott state carry
    on, so a run stays reproducible when its changes come at the same packets.
    """

    seed: str
    profile: LinkProfile = NO_IMPAIRMENT
    in_order: bool = False
    stats: LinkStats = field(default_factory=LinkStats)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)
        self._bad = False  # Gilbert-Elliott state
        self._last_release = float("-inf")
        self._bucket_free_at = float("-inf")  # when the token bucket is next empty of backlog

    def process(self, data: bytes, now: float) -> list[tuple[float, bytes]]:
        """When each copy of ``data``, which arrived at ``now``, leaves (possibly none)."""
        profile, rng = self.profile, self._random
        self.stats.packets += 1
        if profile.blocked:
            self.stats.blocked += 1
            return []
        # Draw every choice for every packet, whatever the outcome: a packet's fate then
        # depends only on its position in the flow, not on what earlier packets drew.
        lost_uniform = rng.random() < profile.loss
        lost_burst = self._burst_lost(profile.burst, rng)
        duplicated = rng.random() < profile.duplicate
        corrupt_draw, corrupt_at, corrupt_bit = rng.random(), rng.random(), rng.randrange(8)
        reorder_draw = rng.random()
        jitters = (rng.uniform(-1.0, 1.0), rng.uniform(-1.0, 1.0))
        if lost_uniform or lost_burst:
            self.stats.lost += 1
            return []
        if data and corrupt_draw < profile.corrupt:
            self.stats.corrupted += 1
            data = _flip_bit(data, int(corrupt_at * len(data)), corrupt_bit)
        copies = [data, data] if duplicated else [data]
        if duplicated:
            self.stats.duplicated += 1
        out = []
        for copy, jitter in zip(copies, jitters, strict=False):
            at = now + max(0.0, profile.delay + jitter * profile.jitter)
            if reorder_draw < profile.reorder and copy is copies[0] and not self.in_order:
                self.stats.reordered += 1
                at += profile.reorder_hold
            if self.in_order:
                at = max(at, self._last_release)
                self._last_release = at
            shaped = self._shape(len(copy), at, profile)
            if shaped is None:
                self.stats.queue_dropped += 1
                continue
            out.append((shaped, copy))
        return out

    def _burst_lost(self, model: GilbertElliott | None, rng: random.Random) -> bool:
        move, deliver = rng.random(), rng.random()
        if model is None:
            return False
        # netem moves the chain before it decides the packet (tc-netem's gemodel).
        if self._bad:
            self._bad = move >= model.r
        else:
            self._bad = move < model.p
        return deliver >= (model.h if self._bad else model.k)

    def _shape(self, size: int, at: float, profile: LinkProfile) -> float | None:
        """Token bucket: when ``size`` bytes ready at ``at`` may leave, None if tail-dropped."""
        if profile.rate is None:
            return at
        bytes_per_second = profile.rate / 8
        backlog = (self._bucket_free_at - at) * bytes_per_second
        if backlog > profile.queue_limit and not self.in_order:
            return None  # tail drop; a byte stream waits instead (the sender is paced by TCP)
        self._bucket_free_at = max(self._bucket_free_at, at) + size / bytes_per_second
        # The bucket holds ``burst_bytes``: a link idle long enough sends that much at once.
        return max(at, self._bucket_free_at - profile.burst_bytes / bytes_per_second)


def _flip_bit(data: bytes, index: int, bit: int) -> bytes:
    changed = bytearray(data)
    changed[index] ^= 1 << bit
    return bytes(changed)
