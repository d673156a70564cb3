"""SDP from a camera's DESCRIBE or a client's ANNOUNCE: a session description or an SdpError."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.known_crashes import params, run_property
from tests.fuzz.strategies import FUZZ_SETTINGS, check_every_truncation
from tests.fuzz.targets import TARGETS, check

NAMES = ["sdp"]


@pytest.mark.parametrize("name", NAMES)
def test_seeds_are_accepted(name):
    for seed in TARGETS[name].seeds():
        TARGETS[name].run(seed)


@pytest.mark.parametrize("name", params(NAMES))
@FUZZ_SETTINGS
@given(data=st.data())
def test_any_input_gives_a_value_or_the_documented_error(name, data):
    run_property(name, data, text=True)


@pytest.mark.parametrize("name", NAMES)
def test_every_truncation_of_a_valid_input(name):
    assert check_every_truncation(name) > 0


@pytest.mark.parametrize("name", NAMES)
@FUZZ_SETTINGS
@given(data=st.data())
def test_one_line_replaced(name, data):
    """A valid description with one line replaced by any line of a known type."""
    lines = data.draw(st.sampled_from(TARGETS[name].seeds())).split(b"\r\n")
    index = data.draw(st.integers(0, len(lines) - 1))
    kind = data.draw(st.sampled_from([b"v", b"o", b"s", b"c", b"t", b"b", b"m", b"a", b"i", b"k"]))
    value = data.draw(st.text(max_size=40)).encode("utf-8", "surrogatepass")
    lines[index] = kind + b"=" + value
    check(name, b"\r\n".join(lines))
