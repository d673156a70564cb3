"""Attribute lists (RFC 8216 §4.2): ``NAME=value,NAME="quoted",...``."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal

from wire.digits import UINT64_MAX, bounded_decimal, fits_decimal, shown_digits
from wire.hls.errors import PlaylistError

# §4.2: AttributeNames use [A-Z], [0-9] and '-'.
_NAME = re.compile(r"[A-Z0-9-]+")
_DECIMAL_FLOAT = re.compile(r"-?([0-9]+)(\.[0-9]*)?")
MAX_DECIMAL_INTEGER = UINT64_MAX
"""§4.2: a decimal-integer is in the range 0 to 2^64-1; its digits are checked before any
conversion, and a decimal-floating-point's whole part is held to the same range (a longer one
would make ``float()`` infinite)."""


def decimal_integer(text: str) -> int | None:
    """A decimal-integer (§4.2), or None when ``text`` is not one."""
    return bounded_decimal(text, MAX_DECIMAL_INTEGER)


@dataclass(frozen=True, slots=True)
class AttributeValue:
    text: str
    quoted: bool


class AttributeList(Mapping[str, AttributeValue]):
    """A parsed attribute list with typed accessors that raise :class:`PlaylistError`."""

    def __init__(self, tag: str, values: dict[str, AttributeValue]) -> None:
        self.tag = tag
        self._values = values

    def __getitem__(self, name: str) -> AttributeValue:
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def _get(self, name: str, quoted: bool) -> str | None:
        value = self._values.get(name)
        if value is None:
            return None
        if value.quoted != quoted:
            kind = "a quoted-string" if quoted else "unquoted"
            raise PlaylistError(f"{self.tag}: attribute {name} must be {kind}")
        return value.text

    def require(self, name: str) -> None:
        if name not in self._values:
            raise PlaylistError(f"{self.tag}: missing required attribute {name}")

    def quoted(self, name: str) -> str | None:
        return self._get(name, quoted=True)

    def enumerated(self, name: str) -> str | None:
        return self._get(name, quoted=False)

    def integer(self, name: str) -> int | None:
        text = self._get(name, quoted=False)
        if text is None:
            return None
        number = decimal_integer(text)
        if number is None:
            raise PlaylistError(f"{self.tag}: {name}={shown_digits(text)} is not a decimal-integer")
        return number

    def decimal(self, name: str) -> float | None:
        text = self._get(name, quoted=False)
        if text is None:
            return None
        match = _DECIMAL_FLOAT.fullmatch(text)
        if match is None or not fits_decimal(match.group(1), MAX_DECIMAL_INTEGER):
            raise PlaylistError(
                f"{self.tag}: {name}={shown_digits(text)} is not a decimal-floating-point"
            )
        return float(text)

    def yes(self, name: str) -> bool:
        """An enumerated YES/NO flag; absent means NO."""
        text = self._get(name, quoted=False)
        if text is None or text == "NO":
            return False
        if text == "YES":
            return True
        raise PlaylistError(f"{self.tag}: {name}={text}, expected YES or NO")


def parse_attributes(tag: str, text: str) -> AttributeList:
    """Parse the attribute list after ``tag:``; duplicate names are an error (§4.2)."""
    values: dict[str, AttributeValue] = {}
    pos = 0
    while pos < len(text):
        eq = text.find("=", pos)
        if eq < 0:
            raise PlaylistError(f"{tag}: attribute {text[pos:]!r} has no '='")
        name = text[pos:eq]
        if not _NAME.fullmatch(name):
            raise PlaylistError(f"{tag}: invalid attribute name {name!r}")
        if text.startswith('"', eq + 1):
            close = text.find('"', eq + 2)
            if close < 0:
                raise PlaylistError(f"{tag}: attribute {name} has an unterminated quoted-string")
            value = AttributeValue(text[eq + 2 : close], quoted=True)
            pos = close + 1
            if pos < len(text) and text[pos] != ",":
                raise PlaylistError(f"{tag}: unexpected {text[pos]!r} after attribute {name}")
        else:
            comma = text.find(",", eq + 1)
            pos = len(text) if comma < 0 else comma
            value = AttributeValue(text[eq + 1 : pos], quoted=False)
            if not value.text:
                raise PlaylistError(f"{tag}: attribute {name} has an empty value")
        if name in values:
            raise PlaylistError(f"{tag}: attribute {name} appears more than once")
        values[name] = value
        pos += 1  # the comma
    return AttributeList(tag, values)


def format_attributes(values: list[tuple[str, str | int | float | bool, bool]]) -> str:
    """``(name, value, quoted)`` triples as an attribute list; booleans become YES/NO."""
    items = []
    for name, value, quoted in values:
        if isinstance(value, bool):
            text = "YES" if value else "NO"
        elif isinstance(value, float):
            text = format_decimal(value)
        else:
            text = str(value)
        items.append(f'{name}="{text}"' if quoted else f"{name}={text}")
    return ",".join(items)


def format_decimal(value: float) -> str:
    """A decimal-floating-point with at least three decimals that parses back to ``value``.

    ``2.0`` is written ``2.000`` and ``1.9333`` stays ``1.9333``; never exponent notation.
    """
    text = f"{value:.3f}"
    if float(text) == value:
        return text
    # The shortest repr that round-trips, written out without an exponent.
    return format(Decimal(repr(value)), "f")
