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
from wire import amf0
from wire.rtmp.chunk import ChunkWriter, RtmpMessage

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


AMF_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.floats(allow_nan=True)
    | st.text(max_size=20)
    | st.sampled_from(["live", "cam1", "record", "append", "", "\x00"]),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(min_size=1, max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
COMMAND_NAMES = [
    "connect",
    "createStream",
    "releaseStream",
    "FCPublish",
    "FCUnpublish",
    "publish",
    "play",
    "deleteStream",
    "closeStream",
    "_result",
    "_error",
    "onStatus",
    "@setDataFrame",
    "onMetaData",
    "getStreamLength",
]


@st.composite
def rtmp_messages(draw: st.DrawFn) -> RtmpMessage:
    """A message a peer might send at any point: commands and data with any AMF0 values,
    protocol control with any numbers, media with any body."""
    kind = draw(st.sampled_from(["command", "data", "control", "media", "any"]))
    stream_id = draw(st.sampled_from([0, 1, 2, 0xFFFFFF]) | st.integers(0, 0xFFFFFFFF))
    timestamp = draw(
        st.sampled_from([0, 0xFFFFFF, 0x1000000, 0xFFFFFFFF]) | st.integers(0, 2**32 - 1)
    )
    if kind == "command":
        name = draw(st.sampled_from(COMMAND_NAMES) | st.text(max_size=10))
        transaction = draw(st.sampled_from([0.0, 1.0, 2.0, 3.0, -1.0, float("nan"), 1e300]))
        values = draw(st.lists(AMF_VALUES, max_size=4))
        return RtmpMessage(20, amf0.encode(name, transaction, *values), timestamp, stream_id)
    if kind == "data":
        values = draw(st.lists(AMF_VALUES, max_size=4))
        name = draw(st.sampled_from(COMMAND_NAMES))
        return RtmpMessage(18, amf0.encode(name, *values), timestamp, stream_id)
    if kind == "control":
        type_id = draw(st.integers(1, 6))
        payload = draw(st.integers(0, 2**32 - 1)).to_bytes(4, "big") + draw(st.binary(max_size=6))
        return RtmpMessage(type_id, payload, timestamp, stream_id)
    if kind == "media":
        type_id = draw(st.sampled_from([8, 9, 22]))
        return RtmpMessage(type_id, draw(st.binary(max_size=300)), timestamp, stream_id)
    return RtmpMessage(
        draw(st.integers(0, 255)), draw(st.binary(max_size=64)), timestamp, stream_id
    )


@pytest.mark.parametrize("role", ["server", "client"])
@pytest.mark.parametrize("stage", [stage for stage in RTMP_STAGES if stage != "raw"])
@FUZZ_SETTINGS
@given(
    messages=st.lists(
        st.tuples(st.sampled_from([2, 3, 4, 5, 6, 8, 63, 64, 319, 320, 65599]), rtmp_messages()),
        min_size=1,
        max_size=6,
    ),
    split=st.integers(0, 255),
)
def test_valid_chunks_carrying_any_message(role, stage, messages, split):
    """Well-framed chunks whose messages are anything: reaches the connection's logic, not just
    the chunk reader's checks."""
    writer = ChunkWriter()
    data = b"".join(writer.write(csid, message) for csid, message in messages)
    check(f"rtmp_{role}_{stage}", bytes([split]) + data)
