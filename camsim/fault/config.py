"""What a proxy does to the traffic through it, and the names its settings go by.

:class:`FaultConfig` is immutable; a running proxy swaps it whole (:meth:`FaultConfig.changed`),
so a change is one step that the control log can record. Settings are named the same way on the
command line (``--loss 5%``), in the control endpoint's JSON (``{"loss": "5%"}``) and in Python
(``config.changed(loss=0.05)``): :data:`SETTINGS` maps each name to its parser and to where it
applies. Per-direction link settings take an ``up_`` (client → server) or ``down_``
(server → client) prefix; without one they apply to both directions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from camsim.fault.impair import (
    NO_IMPAIRMENT,
    GilbertElliott,
    LinkProfile,
    parse_duration,
    parse_probability,
    parse_rate,
)
from camsim.fault.nat import NatKind


def parse_bool(text: str) -> bool:
    """A setting's on/off value: 1/true/yes/on or 0/false/no/off."""
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"expected true or false, got {text!r}")


def optional(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """``parse``, or None for an empty value, ``none`` or ``off``."""

    def parse_or_none(text: str) -> Any:
        return None if text.strip().lower() in ("", "none", "off") else parse(text)

    return parse_or_none


def _parse_size(text: str) -> int:
    """Bytes from ``1500``, ``64k`` or ``1M`` (powers of 1024)."""
    text = text.strip()
    scale = {"k": 1024, "K": 1024, "m": 1024**2, "M": 1024**2}.get(text[-1:], 1)
    value = int(float(text[:-1] if scale != 1 else text) * scale)
    if value < 0:
        raise ValueError(f"size must be >= 0, got {text!r}")
    return value


LINK_SETTINGS: dict[str, Callable[[str], Any]] = {
    "loss": parse_probability,
    "burst": optional(GilbertElliott.parse),
    "delay": parse_duration,
    "jitter": parse_duration,
    "reorder": parse_probability,
    "reorder_hold": parse_duration,
    "duplicate": parse_probability,
    "corrupt": parse_probability,
    "rate": optional(parse_rate),
    "burst_bytes": _parse_size,
    "queue_limit": _parse_size,
    "blocked": parse_bool,
}
"""Settings of one direction (:class:`LinkProfile` fields) and their parsers."""

CONNECTION_SETTINGS: dict[str, Callable[[str], Any]] = {
    "slice_size": optional(_parse_size),
    "slice_interval": parse_duration,
    "stall": parse_bool,
    "reset_after_bytes": optional(_parse_size),
    "reset_after_seconds": optional(parse_duration),
    "half_close_after": optional(parse_duration),
    "refuse": parse_bool,
    "udp_blocked": parse_bool,
    "nat": NatKind,
    "nat_timeout": optional(parse_duration),
}
"""Settings of the proxy as a whole (:class:`FaultConfig` fields) and their parsers."""


@dataclass(frozen=True)
class FaultConfig:
    """Everything a proxy does; the defaults relay faithfully."""

    up: LinkProfile = NO_IMPAIRMENT
    """Client → server."""
    down: LinkProfile = NO_IMPAIRMENT
    """Server → client."""
    slice_size: int | None = None
    """TCP: forward in writes of at most this many bytes."""
    slice_interval: float = 0.0
    """TCP: pause between two slices."""
    stall: bool = False
    """TCP: connections stay open but every byte is dropped (a blackhole)."""
    reset_after_bytes: int | None = None
    """TCP: forward this many bytes of a connection (both ways), then reset both sides."""
    reset_after_seconds: float | None = None
    """TCP: reset both sides this long after the connection was accepted."""
    half_close_after: float | None = None
    """TCP: this long after accept, end the server → client direction with a FIN only."""
    refuse: bool = False
    """TCP: stop listening, so connections are refused (RST to the SYN)."""
    udp_blocked: bool = False
    """UDP: drop every datagram both ways (a firewall)."""
    nat: NatKind = NatKind.CONE
    nat_timeout: float | None = None
    """UDP: a mapping expires this long after the last packet out through it."""

    def __post_init__(self) -> None:
        if self.slice_size is not None and self.slice_size <= 0:
            raise ValueError(f"slice_size must be > 0, got {self.slice_size}")
        for name in ("slice_interval", "reset_after_seconds", "half_close_after", "nat_timeout"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name} must be >= 0, got {value}")

    def changed(self, **changes: Any) -> FaultConfig:
        """A copy with ``changes`` given as Python values; link settings as for
        :func:`parse_settings` (``loss=0.05`` both ways, ``down_delay=0.05`` one way)."""
        up, down, own = {}, {}, {}
        for name, value in changes.items():
            if name in ("up", "down"):
                own[name] = value
            elif name.startswith("up_") and name[3:] in LINK_SETTINGS:
                up[name[3:]] = value
            elif name.startswith("down_") and name[5:] in LINK_SETTINGS:
                down[name[5:]] = value
            elif name in LINK_SETTINGS:
                up[name] = down[name] = value
            elif name in CONNECTION_SETTINGS:
                own[name] = NatKind(value) if name == "nat" else value
            else:
                raise ValueError(f"unknown fault setting {name!r}")
        config = replace(self, **own)
        return replace(config, up=config.up.changed(**up), down=config.down.changed(**down))

    def to_json(self) -> dict[str, Any]:
        """Plain values, as the control endpoint shows them."""
        out: dict[str, Any] = {}
        for item in fields(self):
            value = getattr(self, item.name)
            out[item.name] = value.to_json() if isinstance(value, LinkProfile) else value
        return out


def parse_settings(texts: Mapping[str, object]) -> dict[str, Any]:
    """Setting name → text (or a JSON number or boolean) to name → Python value.

    Raises ``ValueError`` naming the setting whose value is wrong or unknown.
    """
    parsed: dict[str, Any] = {}
    for name, raw in texts.items():
        base = name.removeprefix("up_").removeprefix("down_")
        parser = LINK_SETTINGS.get(base) or CONNECTION_SETTINGS.get(name)
        if parser is None:
            raise ValueError(f"unknown fault setting {name!r}")
        text = "none" if raw is None else str(raw).lower() if isinstance(raw, bool) else str(raw)
        try:
            parsed[name] = parser(text)
        except ValueError as error:
            raise ValueError(f"{name}: {error}") from None
    return parsed
