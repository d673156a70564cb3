"""The ``Transport`` header (RFC 2326 §12.39).

A request lists acceptable transports as comma-separated alternatives in order of preference; the
reply carries the one chosen. Parsing is tolerant of what cameras send (gortsplib#121, #72,
mediamtx#407): ``ssrc`` with leading spaces, fewer than eight hex digits or in decimal,
``server_port=0-1`` or no ``server_port`` at all, ``interleaved`` without ``/TCP``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

from wire.digits import UINT32_MAX, bounded_decimal, shown_digits
from wire.rtsp.errors import RemoteProtocolError

LOWER_TRANSPORT_UDP = "UDP"
LOWER_TRANSPORT_TCP = "TCP"
DELIVERY_UNICAST = "unicast"
DELIVERY_MULTICAST = "multicast"
MODE_PLAY = "PLAY"
MODE_RECORD = "RECORD"

_SPEC_RE = re.compile(r"([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+)(?:/([A-Za-z0-9_.-]+))?")
_HEX_SSRC_RE = re.compile(r"[0-9A-Fa-f]{1,8}")
_PORT_RANGE_RE = re.compile(r"(\d{1,5})(?:-(\d{1,5}))?")


@dataclass(frozen=True)
class PortRange:
    """``port[-port]``: an RTP/RTCP port pair, or an interleaved channel pair."""

    first: int
    last: int | None = None

    @classmethod
    def parse(cls, value: str, *, name: str, maximum: int = 0xFFFF) -> PortRange:
        match = _PORT_RANGE_RE.fullmatch(value.strip())
        if match is None:
            raise RemoteProtocolError(f"Transport: invalid {name} {value!r}")
        first, last = int(match[1]), None if match[2] is None else int(match[2])
        if first > maximum or (last is not None and last > maximum):
            raise RemoteProtocolError(f"Transport: {name} {value!r} is above {maximum}")
        return cls(first, last)

    def serialize(self) -> str:
        return str(self.first) if self.last is None else f"{self.first}-{self.last}"


def _parse_ssrc(value: str) -> int:
    text = value.strip()
    if _HEX_SSRC_RE.fullmatch(text):  # §12.39: eight hex digits; shorter ones are left-padded
        return int(text, 16)
    ssrc = bounded_decimal(text, UINT32_MAX)  # decimal, as some servers send it (gortsplib#95)
    if ssrc is None:
        raise RemoteProtocolError(f"Transport: invalid ssrc {shown_digits(value)}")
    return ssrc


def _parse_int(value: str, *, name: str, maximum: int) -> int:
    number = bounded_decimal(value.strip(), maximum)
    if number is None:
        raise RemoteProtocolError(f"Transport: invalid {name} {shown_digits(value)}")
    return number


@dataclass(frozen=True)
class TransportSpec:
    """One transport alternative, e.g. ``RTP/AVP/TCP;unicast;interleaved=0-1``.

    Parameters this class does not model are kept verbatim in ``extra`` and written back last.
    """

    protocol: str = "RTP"
    profile: str = "AVP"
    lower_transport: str | None = None
    delivery: str | None = None
    destination: str | None = None
    source: str | None = None
    interleaved: PortRange | None = None
    append: bool = False
    ttl: int | None = None
    layers: int | None = None
    port: PortRange | None = None
    client_port: PortRange | None = None
    server_port: PortRange | None = None
    ssrc: int | None = None
    mode: str | None = None
    extra: tuple[str, ...] = field(default=())

    @property
    def is_tcp(self) -> bool:
        """True for interleaved delivery, also when ``/TCP`` is missing (gortsplib#72)."""
        return self.lower_transport == LOWER_TRANSPORT_TCP or self.interleaved is not None

    @property
    def is_multicast(self) -> bool:
        return self.delivery == DELIVERY_MULTICAST

    @classmethod
    def parse(cls, value: str) -> TransportSpec:
        spec, *params = (part.strip() for part in value.strip().split(";"))
        match = _SPEC_RE.fullmatch(spec)
        if match is None:
            raise RemoteProtocolError(f"Transport: invalid transport-spec {spec!r}")
        lower = match[3].upper() if match[3] else None
        fields: dict[str, Any] = {}
        extra: list[str] = []
        for param in params:
            if not param:
                continue
            name, has_value, raw = (s.strip() for s in param.partition("="))
            key = name.lower()
            if key in (DELIVERY_UNICAST, DELIVERY_MULTICAST) and not has_value:
                fields["delivery"] = key
            elif key == "append" and not has_value:
                fields["append"] = True
            elif key in ("destination", "source"):
                fields[key] = raw.strip('"')
            elif key in ("port", "client_port", "server_port"):
                fields[key] = PortRange.parse(raw, name=key)
            elif key == "interleaved":
                fields[key] = PortRange.parse(raw, name=key, maximum=0xFF)
            elif key in ("ttl", "layers"):
                fields[key] = _parse_int(raw, name=key, maximum=0xFF if key == "ttl" else 0xFFFF)
            elif key == "ssrc":
                fields[key] = _parse_ssrc(raw)
            elif key == "mode":
                # §12.39 quotes the mode; unquoted and lower-case modes are common.
                fields[key] = raw.strip('"').upper()
            else:
                extra.append(param)
        base = cls(match[1].upper(), match[2].upper(), lower, extra=tuple(extra))
        return replace(base, **fields)

    def serialize(self) -> str:
        spec = f"{self.protocol}/{self.profile}"
        if self.lower_transport is not None:
            spec += f"/{self.lower_transport}"
        parts = [spec]
        if self.delivery is not None:
            parts.append(self.delivery)
        if self.destination is not None:
            parts.append(f"destination={self.destination}" if self.destination else "destination")
        if self.source is not None:
            parts.append(f"source={self.source}")
        if self.interleaved is not None:
            parts.append(f"interleaved={self.interleaved.serialize()}")
        if self.append:
            parts.append("append")
        for name in ("ttl", "layers"):
            number = getattr(self, name)
            if number is not None:
                parts.append(f"{name}={number}")
        for name in ("port", "client_port", "server_port"):
            ports = getattr(self, name)
            if ports is not None:
                parts.append(f"{name}={ports.serialize()}")
        if self.ssrc is not None:
            parts.append(f"ssrc={self.ssrc:08X}")
        if self.mode is not None:
            parts.append(f"mode={self.mode}")
        parts.extend(self.extra)
        return ";".join(parts)


@dataclass(frozen=True)
class Transport:
    """The whole header: one or more alternatives, most preferred first."""

    specs: tuple[TransportSpec, ...]

    @classmethod
    def parse(cls, value: str) -> Transport:
        specs = tuple(TransportSpec.parse(part) for part in value.split(",") if part.strip())
        if not specs:
            raise RemoteProtocolError("Transport: no transport-spec")
        return cls(specs)

    def serialize(self) -> str:
        return ",".join(spec.serialize() for spec in self.specs)

    @property
    def first(self) -> TransportSpec:
        """The most preferred alternative (the only one in a reply)."""
        return self.specs[0]
