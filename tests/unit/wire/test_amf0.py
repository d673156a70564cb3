from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wire import amf0
from wire.amf0 import (
    UNDEFINED,
    Amf0Error,
    Amf0Value,
    Date,
    EcmaArray,
    Reference,
    TypedObject,
    Undefined,
    XmlDocument,
)

ONE = bytes.fromhex("3ff0000000000000")

VECTORS: list[tuple[Amf0Value, bytes]] = [
    (1.5, bytes.fromhex("00 3ff8000000000000")),
    (True, b"\x01\x01"),
    (False, b"\x01\x00"),
    ("ab", b"\x02\x00\x02ab"),
    ("é", b"\x02\x00\x02\xc3\xa9"),
    ({"a": 1.0}, b"\x03\x00\x01a\x00" + ONE + b"\x00\x00\x09"),
    ({}, b"\x03\x00\x00\x09"),
    (None, b"\x05"),
    (UNDEFINED, b"\x06"),
    (Reference(3), b"\x07\x00\x03"),
    (EcmaArray({"a": True}), b"\x08\x00\x00\x00\x01\x00\x01a\x01\x01\x00\x00\x09"),
    ([1.0, "x"], b"\x0a\x00\x00\x00\x02\x00" + ONE + b"\x02\x00\x01x"),
    (Date(1.0, 0), b"\x0b" + ONE + b"\x00\x00"),
    (Date(1.0, -60), b"\x0b" + ONE + b"\xff\xc4"),
    (XmlDocument("<a/>"), b"\x0f\x00\x00\x00\x04<a/>"),
    (TypedObject("T", {"a": None}), b"\x10\x00\x01T\x00\x01a\x05\x00\x00\x09"),
]


@pytest.mark.parametrize(("value", "encoded"), VECTORS)
def test_exact_bytes_each_type(value: Amf0Value, encoded: bytes) -> None:
    assert amf0.encode(value) == encoded
    assert amf0.decode(encoded) == [value]
    assert type(amf0.decode(encoded)[0]) is type(value)


def test_integers_encode_as_numbers_and_decode_as_floats() -> None:
    assert amf0.encode(3) == b"\x00" + bytes.fromhex("4008000000000000")
    (decoded,) = amf0.decode(amf0.encode(3))
    assert decoded == 3.0
    assert isinstance(decoded, float)


def test_tuple_encodes_as_strict_array() -> None:
    assert amf0.encode((1.0,)) == b"\x0a\x00\x00\x00\x01\x00" + ONE


def test_string_switches_to_long_string_past_65535_bytes() -> None:
    short = "x" * 0xFFFF
    assert amf0.encode(short)[:3] == b"\x02\xff\xff"
    long = "x" * 0x10000
    encoded = amf0.encode(long)
    assert encoded[:5] == b"\x0c\x00\x01\x00\x00"
    assert len(encoded) == 5 + 0x10000
    assert amf0.decode(encoded) == [long]


def test_long_string_marker_decodes_short_text() -> None:
    assert amf0.decode(b"\x0c\x00\x00\x00\x02hi") == ["hi"]


def test_undefined_is_a_singleton() -> None:
    assert Undefined() is UNDEFINED
    assert repr(UNDEFINED) == "UNDEFINED"


def test_ecma_array_ignores_a_wrong_count() -> None:
    # FFmpeg and others write a count of 0; read to the object-end marker regardless.
    data = b"\x08\x00\x00\x00\x00\x00\x01a\x05\x00\x00\x09"
    assert amf0.decode(data) == [EcmaArray({"a": None})]


def test_several_values_in_sequence() -> None:
    data = amf0.encode("connect", 1.0, {"app": "live"})
    assert amf0.decode(data) == ["connect", 1.0, {"app": "live"}]


def test_decode_one_reports_the_next_offset_with_trailing_data() -> None:
    data = amf0.encode("ab") + b"\xff\xff"
    assert amf0.decode_one(data) == ("ab", 5)
    assert amf0.decode_one(b"\x05" + data, 1) == ("ab", 6)


@pytest.mark.parametrize(("value", "encoded"), VECTORS)
def test_every_truncation_is_an_amf0_error(value: Amf0Value, encoded: bytes) -> None:
    for cut in range(len(encoded)):
        with pytest.raises(Amf0Error, match="truncated"):
            amf0.decode_one(encoded[:cut])


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "AMF0 type marker: truncated, need 1 bytes at offset 0, have 0"),
        (b"\x00\x3f", "AMF0 number: truncated, need 8 bytes at offset 1, have 1"),
        (b"\x02\x00\x05ab", "AMF0 string: truncated, need 5 bytes at offset 3, have 2"),
        (b"\x03\x00\x01a", "AMF0 type marker: truncated, need 1 bytes at offset 4, have 0"),
        (b"\x03\x00\x00", "AMF0 object end marker: truncated, need 1 bytes at offset 3, have 0"),
        (
            b"\x0a\x00\x00\x00\x05\x05",
            "AMF0 strict array: truncated, 5 items announced, 1 bytes left",
        ),
        (b"\x0b" + ONE, "AMF0 date: truncated, need 10 bytes at offset 1, have 8"),
    ],
)
def test_truncation_messages(data: bytes, message: str) -> None:
    with pytest.raises(Amf0Error) as info:
        amf0.decode_one(data)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x09", "AMF0 object-end marker at offset 0 is not supported"),
        (b"\x04", "AMF0 movieclip marker at offset 0 is not supported"),
        (b"\x0d", "AMF0 unsupported marker at offset 0 is not supported"),
        (b"\x11", "AMF0 avmplus-object (AMF3) marker at offset 0 is not supported"),
        (b"\x05\x42", "AMF0 unknown (0x42) marker at offset 1 is not supported"),
        (b"\x02\x00\x01\xff", "AMF0 string: invalid UTF-8 at offset 3"),
        (
            b"\x03\x00\x00\x05",
            "AMF0 object: empty property name at offset 1 not followed by the object-end marker",
        ),
    ],
)
def test_malformed_messages(data: bytes, message: str) -> None:
    with pytest.raises(Amf0Error) as info:
        amf0.decode(data)
    assert str(info.value) == message


def test_nesting_bomb_is_refused() -> None:
    bomb = b"\x0a\x00\x00\x00\x01" * 100_000 + b"\x05"
    with pytest.raises(Amf0Error, match="nests deeper than 64"):
        amf0.decode(bomb)


def test_depth_limit_is_configurable() -> None:
    nested = b"\x0a\x00\x00\x00\x01" * 3 + b"\x05"
    assert amf0.decode(nested, max_depth=3) == [[[[None]]]]
    with pytest.raises(Amf0Error, match="nests deeper than 2"):
        amf0.decode(nested, max_depth=2)


def test_encoding_a_self_referencing_list_hits_the_depth_limit() -> None:
    loop: list[Amf0Value] = []
    loop.append(loop)
    with pytest.raises(Amf0Error, match="nests deeper than the depth limit"):
        amf0.encode(loop)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({1: 2.0}, "AMF0 property names must be str, not int"),
        ({"": 2.0}, "AMF0 property names must not be empty"),
        ({"k" * 0x10000: 1.0}, "AMF0 property or class name of 65536 bytes exceeds 65535"),
        (Reference(0x10000), "AMF0 reference index 65536 does not fit in 16 bits"),
        (Date(0.0, 0x8000), "AMF0 date time zone 32768 does not fit in 16 bits"),
        (10**400, f"number {10**400} does not fit in an IEEE 754 double"),
        ({1, 2}, "cannot encode a set as AMF0"),
    ],
)
def test_unencodable_values(value: object, message: str) -> None:
    with pytest.raises(Amf0Error) as info:
        amf0.encode(value)  # type: ignore[arg-type]
    assert str(info.value) == message


keys = st.text(min_size=1, max_size=8)
scalars = st.one_of(
    st.floats(allow_nan=False),
    st.booleans(),
    st.text(max_size=20),
    st.none(),
    st.just(UNDEFINED),
    st.builds(Reference, st.integers(0, 0xFFFF)),
    st.builds(Date, st.floats(allow_nan=False), st.integers(-0x8000, 0x7FFF)),
    st.builds(XmlDocument, st.text(max_size=20)),
)
values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(keys, children, max_size=4),
        st.dictionaries(keys, children, max_size=4).map(EcmaArray),
        st.builds(TypedObject, st.text(max_size=8), st.dictionaries(keys, children, max_size=3)),
    ),
    max_leaves=20,
)


@settings(max_examples=150)
@given(st.lists(values, max_size=4))
def test_round_trip(items: list[Amf0Value]) -> None:
    encoded = amf0.encode(*items)
    decoded = amf0.decode(encoded)
    assert decoded == items
    assert amf0.encode(*decoded) == encoded


@settings(max_examples=500)
@given(st.binary(max_size=64))
def test_any_bytes_decode_or_raise_amf0_error(data: bytes) -> None:
    try:
        decoded = amf0.decode(data)
    except Amf0Error:
        return
    # Compare bytes, not values: random bytes decode to NaN, which never equals itself.
    reencoded = amf0.encode(*decoded)
    assert amf0.encode(*amf0.decode(reencoded)) == reencoded
