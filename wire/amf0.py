"""AMF0, the Action Message Format used by RTMP commands and FLV script data.

Adobe "Action Message Format -- AMF 0" (2007). Python values map to AMF0 types as follows:

=====================  ==============================================
Python                 AMF0
=====================  ==============================================
``float`` / ``int``    number (decoded numbers are always ``float``)
``bool``               boolean
``str``                string, or long string past 65535 UTF-8 bytes
``dict``               anonymous object
``None``               null
:data:`UNDEFINED`      undefined
:class:`Reference`     reference (kept as the index, not resolved)
:class:`EcmaArray`     ECMA array
``list`` / ``tuple``   strict array (decoded as ``list``)
:class:`Date`          date
:class:`XmlDocument`   XML document
:class:`TypedObject`   typed object
=====================  ==============================================

Malformed input raises :class:`Amf0Error` (a ``ValueError``) and nothing else.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import ClassVar, TypeAlias

# AMF0 specification section 2.1, type markers.
NUMBER_MARKER = 0x00
BOOLEAN_MARKER = 0x01
STRING_MARKER = 0x02
OBJECT_MARKER = 0x03
MOVIECLIP_MARKER = 0x04
NULL_MARKER = 0x05
UNDEFINED_MARKER = 0x06
REFERENCE_MARKER = 0x07
ECMA_ARRAY_MARKER = 0x08
OBJECT_END_MARKER = 0x09
STRICT_ARRAY_MARKER = 0x0A
DATE_MARKER = 0x0B
LONG_STRING_MARKER = 0x0C
UNSUPPORTED_MARKER = 0x0D
RECORDSET_MARKER = 0x0E
XML_DOCUMENT_MARKER = 0x0F
TYPED_OBJECT_MARKER = 0x10
AVMPLUS_OBJECT_MARKER = 0x11

OBJECT_END = b"\x00\x00\x09"
MAX_SHORT_STRING = 0xFFFF
MAX_DEPTH = 64
"""Default nesting limit for objects and arrays, against nesting bombs."""

_MARKER_NAMES = {
    MOVIECLIP_MARKER: "movieclip",
    OBJECT_END_MARKER: "object-end",
    UNSUPPORTED_MARKER: "unsupported",
    RECORDSET_MARKER: "recordset",
    AVMPLUS_OBJECT_MARKER: "avmplus-object (AMF3)",
}


class Amf0Error(ValueError):
    """Malformed AMF0 data, or a Python value that has no AMF0 encoding."""


class Undefined:
    """The AMF0 ``undefined`` value; use the :data:`UNDEFINED` singleton."""

    _instance: ClassVar[Undefined | None] = None

    def __new__(cls) -> Undefined:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNDEFINED"


UNDEFINED = Undefined()


@dataclass(frozen=True)
class Reference:
    """A reference to the ``index``-th complex value decoded earlier in the same message."""

    index: int


class EcmaArray(dict[str, "Amf0Value"]):
    """An associative (ECMA) array: a ``dict`` that encodes with the ECMA array marker."""


@dataclass(frozen=True)
class Date:
    """A date: milliseconds since the Unix epoch (UTC) and a time-zone offset in minutes.

    The specification says the time zone should be 0 and ignored; it is kept for round trips.
    """

    milliseconds: float
    timezone: int = 0


@dataclass(frozen=True)
class XmlDocument:
    """An XML document, kept as its text."""

    text: str


@dataclass
class TypedObject:
    """An object carrying the name of its registered class."""

    class_name: str
    properties: dict[str, Amf0Value] = field(default_factory=dict)


Amf0Value: TypeAlias = (
    float
    | int
    | bool
    | str
    | Undefined
    | Reference
    | EcmaArray
    | dict[str, "Amf0Value"]
    | list["Amf0Value"]
    | tuple["Amf0Value", ...]
    | Date
    | XmlDocument
    | TypedObject
    | None
)


def encode(*values: Amf0Value, max_depth: int = MAX_DEPTH) -> bytes:
    """Encode ``values`` one after the other, as RTMP command and data messages carry them."""
    out = bytearray()
    for value in values:
        _encode_value(out, value, max_depth)
    return bytes(out)


def decode(data: bytes, *, max_depth: int = MAX_DEPTH) -> list[Amf0Value]:
    """Decode every value in ``data``; the data must end exactly after the last value."""
    values: list[Amf0Value] = []
    offset = 0
    while offset < len(data):
        value, offset = decode_one(data, offset, max_depth=max_depth)
        values.append(value)
    return values


def decode_one(
    data: bytes, offset: int = 0, *, max_depth: int = MAX_DEPTH
) -> tuple[Amf0Value, int]:
    """Decode the value that starts at ``offset``; return it and the offset just after it."""
    return _Decoder(data, max_depth).value(offset, 0)


# -- encoding -------------------------------------------------------------------------------------


def _encode_value(out: bytearray, value: Amf0Value, depth_left: int) -> None:
    # bool before int: bool is an int subclass.
    if isinstance(value, bool):
        out += bytes((BOOLEAN_MARKER, int(value)))
    elif isinstance(value, int | float):
        out.append(NUMBER_MARKER)
        out += _pack_double(value)
    elif isinstance(value, str):
        raw = value.encode("utf-8")
        if len(raw) > MAX_SHORT_STRING:
            out.append(LONG_STRING_MARKER)
            out += struct.pack(">I", len(raw)) + raw
        else:
            out.append(STRING_MARKER)
            out += struct.pack(">H", len(raw)) + raw
    elif value is None:
        out.append(NULL_MARKER)
    elif isinstance(value, Undefined):
        out.append(UNDEFINED_MARKER)
    elif isinstance(value, Reference):
        if not 0 <= value.index <= 0xFFFF:
            raise Amf0Error(f"AMF0 reference index {value.index} does not fit in 16 bits")
        out.append(REFERENCE_MARKER)
        out += struct.pack(">H", value.index)
    elif isinstance(value, Date):
        out.append(DATE_MARKER)
        if not -0x8000 <= value.timezone <= 0x7FFF:
            raise Amf0Error(f"AMF0 date time zone {value.timezone} does not fit in 16 bits")
        out += _pack_double(value.milliseconds) + struct.pack(">h", value.timezone)
    elif isinstance(value, XmlDocument):
        raw = value.text.encode("utf-8")
        out.append(XML_DOCUMENT_MARKER)
        out += struct.pack(">I", len(raw)) + raw
    else:
        _encode_container(out, value, depth_left)


def _encode_container(out: bytearray, value: Amf0Value, depth_left: int) -> None:
    if depth_left <= 0:
        raise Amf0Error("AMF0 value nests deeper than the depth limit")
    if isinstance(value, EcmaArray):
        out.append(ECMA_ARRAY_MARKER)
        out += struct.pack(">I", len(value))
        _encode_properties(out, value, depth_left - 1)
    elif isinstance(value, dict):
        out.append(OBJECT_MARKER)
        _encode_properties(out, value, depth_left - 1)
    elif isinstance(value, TypedObject):
        out.append(TYPED_OBJECT_MARKER)
        _encode_key(out, value.class_name)
        _encode_properties(out, value.properties, depth_left - 1)
    elif isinstance(value, list | tuple):
        out.append(STRICT_ARRAY_MARKER)
        out += struct.pack(">I", len(value))
        for item in value:
            _encode_value(out, item, depth_left - 1)
    else:
        raise Amf0Error(f"cannot encode a {type(value).__name__} as AMF0")


def _encode_properties(out: bytearray, properties: dict[str, Amf0Value], depth_left: int) -> None:
    for key, item in properties.items():
        if not isinstance(key, str):
            raise Amf0Error(f"AMF0 property names must be str, not {type(key).__name__}")
        if not key:
            # An empty name followed by 0x09 is the object end; it cannot name a property.
            raise Amf0Error("AMF0 property names must not be empty")
        _encode_key(out, key)
        _encode_value(out, item, depth_left)
    out += OBJECT_END


def _encode_key(out: bytearray, key: str) -> None:
    raw = key.encode("utf-8")
    if len(raw) > MAX_SHORT_STRING:
        raise Amf0Error(f"AMF0 property or class name of {len(raw)} bytes exceeds 65535")
    out += struct.pack(">H", len(raw)) + raw


def _pack_double(value: float) -> bytes:
    try:
        return struct.pack(">d", float(value))
    except OverflowError as exc:
        raise Amf0Error(f"number {value} does not fit in an IEEE 754 double") from exc


# -- decoding -------------------------------------------------------------------------------------


class _Decoder:
    def __init__(self, data: bytes, max_depth: int) -> None:
        self.data = data
        self.max_depth = max_depth

    def take(self, offset: int, size: int, what: str) -> bytes:
        end = offset + size
        if end > len(self.data):
            have = max(len(self.data) - offset, 0)
            raise Amf0Error(
                f"AMF0 {what}: truncated, need {size} bytes at offset {offset}, have {have}"
            )
        return self.data[offset:end]

    def utf8(self, offset: int, size: int, what: str) -> tuple[str, int]:
        raw = self.take(offset, size, what)
        try:
            return raw.decode("utf-8"), offset + size
        except UnicodeDecodeError as exc:
            raise Amf0Error(f"AMF0 {what}: invalid UTF-8 at offset {offset}") from exc

    def short_string(self, offset: int, what: str) -> tuple[str, int]:
        (size,) = struct.unpack(">H", self.take(offset, 2, f"{what} length"))
        return self.utf8(offset + 2, size, what)

    def long_string(self, offset: int, what: str) -> tuple[str, int]:
        (size,) = struct.unpack(">I", self.take(offset, 4, f"{what} length"))
        return self.utf8(offset + 4, size, what)

    def value(self, offset: int, depth: int) -> tuple[Amf0Value, int]:
        marker = self.take(offset, 1, "type marker")[0]
        offset += 1
        if marker == NUMBER_MARKER:
            (number,) = struct.unpack(">d", self.take(offset, 8, "number"))
            return number, offset + 8
        if marker == BOOLEAN_MARKER:
            return self.take(offset, 1, "boolean")[0] != 0, offset + 1
        if marker == STRING_MARKER:
            return self.short_string(offset, "string")
        if marker == LONG_STRING_MARKER:
            return self.long_string(offset, "long string")
        if marker == NULL_MARKER:
            return None, offset
        if marker == UNDEFINED_MARKER:
            return UNDEFINED, offset
        if marker == REFERENCE_MARKER:
            (index,) = struct.unpack(">H", self.take(offset, 2, "reference"))
            return Reference(index), offset + 2
        if marker == DATE_MARKER:
            milliseconds, timezone = struct.unpack(">dh", self.take(offset, 10, "date"))
            return Date(milliseconds, timezone), offset + 10
        if marker == XML_DOCUMENT_MARKER:
            text, offset = self.long_string(offset, "XML document")
            return XmlDocument(text), offset
        if marker in (OBJECT_MARKER, ECMA_ARRAY_MARKER, STRICT_ARRAY_MARKER, TYPED_OBJECT_MARKER):
            if depth >= self.max_depth:
                raise Amf0Error(
                    f"AMF0 value at offset {offset - 1} nests deeper than {self.max_depth}"
                )
            return self.container(marker, offset, depth + 1)
        name = _MARKER_NAMES.get(marker, f"unknown (0x{marker:02x})")
        raise Amf0Error(f"AMF0 {name} marker at offset {offset - 1} is not supported")

    def container(self, marker: int, offset: int, depth: int) -> tuple[Amf0Value, int]:
        if marker == OBJECT_MARKER:
            properties, offset = self.properties(offset, depth, "object")
            return properties, offset
        if marker == ECMA_ARRAY_MARKER:
            # The associative count is advisory; encoders get it wrong, so read to the end marker.
            self.take(offset, 4, "ECMA array count")
            properties, offset = self.properties(offset + 4, depth, "ECMA array")
            return EcmaArray(properties), offset
        if marker == TYPED_OBJECT_MARKER:
            class_name, offset = self.short_string(offset, "typed object class name")
            properties, offset = self.properties(offset, depth, "typed object")
            return TypedObject(class_name, properties), offset
        (count,) = struct.unpack(">I", self.take(offset, 4, "strict array count"))
        offset += 4
        # Each item takes at least one byte: refuse counts the data cannot hold before looping.
        if count > len(self.data) - offset:
            raise Amf0Error(
                f"AMF0 strict array: truncated, {count} items announced, "
                f"{len(self.data) - offset} bytes left"
            )
        items: list[Amf0Value] = []
        for _ in range(count):
            item, offset = self.value(offset, depth)
            items.append(item)
        return items, offset

    def properties(self, offset: int, depth: int, what: str) -> tuple[dict[str, Amf0Value], int]:
        properties: dict[str, Amf0Value] = {}
        while True:
            key, key_end = self.short_string(offset, f"{what} property name")
            if not key:
                end_marker = self.take(key_end, 1, f"{what} end marker")[0]
                if end_marker != OBJECT_END_MARKER:
                    raise Amf0Error(
                        f"AMF0 {what}: empty property name at offset {offset} "
                        f"not followed by the object-end marker"
                    )
                return properties, key_end + 1
            properties[key], offset = self.value(key_end, depth)
