"""The compiled NAL unit helpers (``wire.codec._nal``) against their references.

``split_length_prefixed`` against ``_split_length_prefixed_py``: samples a writer made from NAL
units (length sizes 1, 2 and 4), the same cut short, with bytes changed or a zero length put in,
and arbitrary bytes, read with length sizes 0-5, as ``bytes`` and as ``bytearray``; both must
return equal lists of ``bytes`` or raise the same exception (type and text).

``has_irap`` against ``_has_irap_py``: pictures of NAL units of any type and size (empty and
one-byte units included), read as H.264 and as H.265, as a tuple, a list or an iterator of
``bytes``, ``bytearray`` or ``memoryview``; both must give the same answer or raise the same
exception.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.wire.speedups.conftest import compiled
from wire import speedups
from wire.codec import nal
from wire.codec.errors import CodecError
from wire.codec.nal import VideoCodec, _has_irap_py, _split_length_prefixed_py, join_length_prefixed


@pytest.fixture(scope="module")
def module() -> ModuleType:
    return compiled("wire.codec._nal")


def outcome(function: Callable[..., Any], *args: Any) -> tuple[object, ...]:
    try:
        result = function(*args)
    except Exception as exc:  # any exception is part of the behaviour compared
        return ("raised", type(exc), str(exc))
    if isinstance(result, list):
        return ("returned", [(type(item), bytes(item)) for item in result])
    return ("returned", type(result), result)


nal_units = st.lists(st.binary(min_size=1, max_size=300), max_size=6)
length_sizes = st.sampled_from([1, 2, 4])


@st.composite
def samples(draw: st.DrawFn) -> bytes:
    """A length-prefixed sample, often damaged."""
    units = draw(nal_units)
    width = draw(length_sizes)
    sample = bytearray(join_length_prefixed([u[: (1 << 8 * width) - 1] for u in units], width))
    action = draw(st.sampled_from(["keep", "cut", "garble", "zero", "arbitrary"]))
    if action == "cut" and sample:
        del sample[draw(st.integers(0, len(sample) - 1)) :]
    elif action == "garble" and sample:
        for _ in range(draw(st.integers(1, 3))):
            sample[draw(st.integers(0, len(sample) - 1))] = draw(st.integers(0, 255))
    elif action == "zero":
        sample += bytes(width)  # a zero-length NAL unit at the end
    elif action == "arbitrary":
        sample = bytearray(draw(st.binary(max_size=64)))
    return bytes(sample)


@settings(max_examples=600)
@given(sample=samples(), width=st.sampled_from([0, 1, 2, 3, 4, 5]), as_bytearray=st.booleans())
def test_split_length_prefixed_is_the_reference(
    module: ModuleType, sample: bytes, width: int, as_bytearray: bool
) -> None:
    data: Any = bytearray(sample) if as_bytearray else sample
    expected = outcome(_split_length_prefixed_py, data, width)
    assert outcome(module.split_length_prefixed, data, width) == expected


def test_split_length_prefixed_gives_bytes_and_its_errors() -> None:
    sample = join_length_prefixed([b"\x65\x88", b"\x41"], 4)
    assert nal.split_length_prefixed(sample) == [b"\x65\x88", b"\x41"]
    with pytest.raises(CodecError, match="overruns the sample"):
        nal.split_length_prefixed(sample[:-1])
    with pytest.raises(CodecError, match="too few for a 4-byte length"):
        nal.split_length_prefixed(sample + b"\x00")
    with pytest.raises(CodecError, match="zero-length NAL unit at offset 4"):
        nal.split_length_prefixed(bytes(4) + sample)
    with pytest.raises(CodecError, match="unsupported length size 3"):
        nal.split_length_prefixed(sample, 3)


units = st.one_of(
    st.just(b""),
    st.binary(min_size=1, max_size=1),
    st.builds(lambda kind, rest: bytes([kind]) + rest, st.integers(0, 255), st.binary(max_size=4)),
)


@settings(max_examples=600)
@given(
    picture=st.lists(units, max_size=6),
    codec=st.sampled_from(list(VideoCodec)),
    container=st.sampled_from(["tuple", "list", "iterator"]),
    item=st.sampled_from(["bytes", "bytearray", "memoryview"]),
)
def test_has_irap_is_the_reference(
    module: ModuleType, picture: list[bytes], codec: VideoCodec, container: str, item: str
) -> None:
    def given_as() -> Any:
        kind: Callable[[bytes], Any] = {"bytes": bytes, "bytearray": bytearray}.get(
            item, memoryview
        )
        made = [kind(unit) for unit in picture]
        return tuple(made) if container == "tuple" else made if container == "list" else iter(made)

    assert outcome(module.has_irap, codec, given_as()) == outcome(_has_irap_py, codec, given_as())


def test_has_irap_knows_each_codec_s_random_access_points() -> None:
    assert nal.has_irap(VideoCodec.H264, (b"\x09\xf0", b"\x65\x88"))  # AUD, IDR slice
    assert not nal.has_irap(VideoCodec.H264, (b"\x09\xf0", b"\x41\x9a", b""))  # non-IDR slice
    for kind, irap in [(1, False), (15, False), (16, True), (19, True), (21, True), (23, True)]:
        assert nal.has_irap(VideoCodec.H265, [bytes([kind << 1, 1])]) is irap, kind
    assert not nal.has_irap(VideoCodec.H265, [bytes([24 << 1, 1])])
    with pytest.raises(CodecError, match="shorter than its 2-byte header"):
        nal.has_irap(VideoCodec.H265, [b"\x26"])
    assert nal.has_irap(VideoCodec.H265, [bytes([19 << 1, 1]), b"\x26"])  # found before the error


def test_the_nal_helpers_are_the_compiled_ones_when_built(module: ModuleType) -> None:
    fast = not speedups.disabled()
    assert (nal.split_length_prefixed is module.split_length_prefixed) is fast
    assert (nal.has_irap is module.has_irap) is fast
