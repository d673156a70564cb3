"""RTMP from the network: handshakes, chunk streams and messages give a value or an RtmpError
(or Amf0Error); the connections, in every state a valid peer can take them to, never raise and
end in a ConnectionTerminated event when the peer breaks the protocol or the deadline passes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.known_crashes import params, run_property
from tests.fuzz.strategies import FUZZ_SETTINGS, check_every_truncation
from tests.fuzz.targets import RTMP_STAGES, TARGETS, check

PARSERS = [
    "rtmp_chunks",
    "rtmp_messages",
    "rtmp_handshake_server",
    "rtmp_handshake_client",
]
CONNECTIONS = [f"rtmp_{role}_{stage}" for stage in RTMP_STAGES for role in ("server", "client")]
NAMES = PARSERS + CONNECTIONS


@pytest.mark.parametrize("name", [n for n in NAMES if TARGETS[n].seeds()])
def test_seeds_are_accepted(name):
    for seed in TARGETS[name].seeds():
        TARGETS[name].run(seed)


@pytest.mark.parametrize("name", params(NAMES))
@FUZZ_SETTINGS
@given(data=st.data())
def test_any_input_gives_a_value_or_the_documented_error(name, data):
    run_property(name, data, max_size=4096)


@pytest.mark.parametrize("name", [n for n in NAMES if TARGETS[n].seeds()])
def test_every_truncation_of_a_valid_input(name):
    assert check_every_truncation(name, max_seeds=1) > 0


@pytest.mark.parametrize("stage", RTMP_STAGES)
@FUZZ_SETTINGS
@given(
    basic_header=st.binary(min_size=1, max_size=3),
    fields=st.binary(min_size=0, max_size=11),
    extended=st.sampled_from([b"", b"\xff\xff\xff\xff", b"\x00\x00\x00\x00", b"\x7f\xff\xff\xff"]),
    body=st.binary(max_size=300),
)
def test_a_chunk_with_any_header_reaches_the_server(stage, basic_header, fields, extended, body):
    """One chunk built field by field (basic header, message header, extended timestamp)."""
    check(f"rtmp_server_{stage}", b"\x00" + basic_header + fields + extended + body)
