"""AMF0 values and FLV tags (legacy and Enhanced RTMP): a value, Amf0Error or FlvError only."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.known_crashes import params, run_property
from tests.fuzz.strategies import FUZZ_SETTINGS, check_every_truncation
from tests.fuzz.targets import TARGETS, check
from wire import amf0

NAMES = ["amf0", "flv_body", "flv_file"]


@pytest.mark.parametrize("name", NAMES)
def test_seeds_are_accepted(name):
    for seed in TARGETS[name].seeds():
        TARGETS[name].run(seed)


@pytest.mark.parametrize("name", params(NAMES))
@FUZZ_SETTINGS
@given(data=st.data())
def test_any_input_gives_a_value_or_the_documented_error(name, data):
    run_property(name, data)


@pytest.mark.parametrize("name", NAMES)
def test_every_truncation_of_a_valid_input(name):
    assert check_every_truncation(name) > 0


@FUZZ_SETTINGS
@given(depth=st.integers(1, 5000), marker=st.sampled_from([0x03, 0x08, 0x0A, 0x10]))
def test_nesting_bombs_end_in_amf0_error(depth, marker):
    """Objects, ECMA arrays, strict arrays and typed objects nested deeper than the limit."""
    opener = {
        0x03: b"\x03\x00\x01k",
        0x08: b"\x08\x00\x00\x00\x01\x00\x01k",
        0x0A: b"\x0a\x00\x00\x00\x01",
        0x10: b"\x10\x00\x01T\x00\x01k",
    }[marker]
    data = opener * depth + b"\x05"
    if depth > amf0.MAX_DEPTH:
        with pytest.raises(amf0.Amf0Error):
            amf0.decode(data)
    check("amf0", data)


@FUZZ_SETTINGS
@given(
    count=st.sampled_from([0xFFFFFFFF, 0x7FFFFFFF, 1 << 24, 1000]),
    marker=st.sampled_from([0x08, 0x0A]),
)
def test_huge_array_counts_do_not_allocate(count, marker):
    """An ECMA or strict array announcing billions of entries in a few bytes."""
    check("amf0", bytes([marker]) + count.to_bytes(4, "big") + b"\x05" * 8)
