"""The compiled RTMP chunk reader (``wire.rtmp._chunk``) against :class:`PyChunkReader`.

Both readers get the same reads and must show the same things: every message, in order; after
each message and after each read ``has_partial``, ``bytes_to_complete()`` and ``chunk_size``; and
the first exception, by type, text and status code. Inputs are chunk streams a
:class:`ChunkWriter` wrote (chunk size changes, extended timestamps with and without repeats,
every basic header size), the same with a few bytes changed, and arbitrary bytes, each split into
reads at arbitrary points.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.wire.speedups.conftest import compiled
from wire import speedups
from wire.rtmp.chunk import (
    MAX_CHUNK_SIZE,
    ChunkReader,
    ChunkWriter,
    PyChunkReader,
    RtmpMessage,
    encode_basic_header,
)
from wire.rtmp.errors import RemoteProtocolError, RtmpError
from wire.rtmp.messages import Abort, MessageType, SetChunkSize, to_message

AUDIO, VIDEO, COMMAND, DATA = 8, 9, 20, 18
MiB = 1024 * 1024


@pytest.fixture(scope="module")
def reader_type() -> Any:
    """The compiled ``ChunkReader`` class."""
    return compiled("wire.rtmp._chunk").ChunkReader


def outcome(exc: Exception) -> tuple[object, ...]:
    status = exc.status_code if isinstance(exc, RemoteProtocolError) else None
    return ("raised", type(exc), str(exc), status)


def state(reader: Any) -> tuple[object, ...]:
    return (reader.has_partial, reader.bytes_to_complete(), reader.chunk_size)


def trace(reader_type: Any, reads: list[bytes], options: dict[str, int]) -> list[object]:
    """What a reader of ``reader_type`` shows for ``reads``, up to its first exception."""
    try:
        reader = reader_type(**options)
    except Exception as exc:  # any exception is part of the behaviour compared
        return [outcome(exc)]
    seen: list[object] = []
    for data in reads:
        try:
            for message in reader.messages(data):
                seen += [message, state(reader)]
        except Exception as exc:
            return [*seen, outcome(exc)]
        seen.append(state(reader))
    return seen


def trace_receive_data(reader_type: Any, reads: list[bytes], options: dict[str, int]) -> object:
    """The same through ``receive_data``, which returns a list (and loses it on an error)."""
    reader = reader_type(**options)
    seen: list[object] = []
    for data in reads:
        try:
            seen += [reader.receive_data(data), state(reader)]
        except Exception as exc:
            return [*seen, outcome(exc)]
    return seen


def assert_same(reader_type: Any, reads: list[bytes], options: dict[str, int]) -> list[object]:
    expected = trace(PyChunkReader, reads, options)
    assert trace(reader_type, reads, options) == expected
    expected_list = trace_receive_data(PyChunkReader, reads, options)
    assert trace_receive_data(reader_type, reads, options) == expected_list
    return expected


def split(data: bytes, sizes: list[int]) -> list[bytes]:
    """``data`` in reads of ``sizes`` bytes, over and over."""
    reads, offset, index = [], 0, 0
    while offset < len(data):
        step = sizes[index % len(sizes)]
        reads.append(data[offset : offset + step])
        offset += step
        index += 1
    return reads


# -- inputs -----------------------------------------------------------------------------------

csids = st.sampled_from([2, 3, 4, 6, 63, 64, 319, 320, 65599])
timestamps = st.one_of(
    st.integers(0, 2000),
    st.integers(0xFFFFF0, 0x1000010),  # around the extended timestamp threshold
    st.integers(0, 0xFFFFFFFF),
)
messages = st.builds(
    RtmpMessage,
    st.sampled_from([AUDIO, VIDEO, COMMAND, DATA]),
    st.binary(max_size=700),
    timestamps,
    st.integers(0, 3),
)
read_sizes = st.one_of(
    st.lists(st.integers(1, 300), min_size=1, max_size=6),
    st.just([1]),
    st.just([1 << 20]),
)


@st.composite
def written(draw: st.DrawFn) -> tuple[bytes, list[RtmpMessage], bool]:
    """Chunks a writer produced, the messages they carry, and whether the writer repeated
    extended timestamps on continuation chunks."""
    repeat = draw(st.booleans())
    writer = ChunkWriter(repeat_extended_timestamp=repeat)
    data, sent = b"", []
    for _ in range(draw(st.integers(0, 10))):
        if draw(st.integers(0, 4)) == 0:
            size = draw(st.sampled_from([1, 2, 7, 128, 300, 4096, 65536]))
            control = to_message(SetChunkSize(size))
            data += writer.write(2, control)
            writer.set_chunk_size(size)
            sent.append(control)
        else:
            csid, message = draw(csids), draw(messages)
            data += writer.write(csid, message)
            sent.append(message)
    return data, sent, repeat


def first_chunk(csid: int, length: int, payload: bytes, timestamp: int = 0) -> bytes:
    """A fmt 0 video chunk announcing a ``length``-byte message, carrying ``payload``."""
    field = min(timestamp, 0xFFFFFF)
    header = encode_basic_header(0, csid) + field.to_bytes(3, "big") + length.to_bytes(3, "big")
    header += bytes((VIDEO,)) + (1).to_bytes(4, "little")
    if field == 0xFFFFFF:
        header += timestamp.to_bytes(4, "big")
    return header + payload


@st.composite
def reader_options(draw: st.DrawFn) -> dict[str, int]:
    max_message_size = draw(st.sampled_from([0, 16, 300, 4096, 8 * MiB]))
    return {
        "chunk_size": draw(st.sampled_from([1, 4, 128, 4096])),
        "max_message_size": max_message_size,
        "max_chunk_streams": draw(st.sampled_from([1, 2, 3, 64])),
        "max_buffered_bytes": max_message_size + draw(st.sampled_from([0, 1, 64, 1024, MiB])),
        "max_chunk_size": draw(st.sampled_from([1, 64, 4096, MAX_CHUNK_SIZE])),
    }


@st.composite
def hand_made(draw: st.DrawFn) -> tuple[bytes, dict[str, int]]:
    """Unfinished messages, aborts and continuations of every kind, as a writer never makes,
    with reader options; first chunks are often exactly one chunk long, so that what follows
    them is read as the next chunk."""
    options = draw(reader_options())
    parts, csid = [], 3
    for _ in range(draw(st.integers(1, 8))):
        # First chunks and aborts most, on the chunk stream of the part before more often than
        # not: aborts, headers and continuations in the middle of a message.
        kind = draw(st.sampled_from([0, 0, 1, 2, 2, 3, 4]))
        csid = draw(st.sampled_from([csid, csid, csid, 3, 4, 64, 320]))
        if kind == 0:
            length = draw(st.one_of(st.integers(0, 400), st.sampled_from([5, 130, 400])))
            whole = bytes(min(length, options["chunk_size"]))
            payload = draw(st.one_of(st.just(whole), st.binary(max_size=200)))
            parts.append(first_chunk(csid, length, payload, draw(timestamps)))
        elif kind == 1:
            parts.append(encode_basic_header(3, csid) + draw(st.binary(max_size=200)))
        elif kind == 2:
            parts.append(ChunkWriter().write(2, to_message(Abort(csid))))
        elif kind == 3:
            size = draw(st.one_of(st.integers(0, 0xFFFFFFFF), st.sampled_from([1, 4, 128])))
            parts.append(ChunkWriter().write(2, RtmpMessage(1, size.to_bytes(4, "big"))))
        else:
            fmt = draw(st.integers(0, 3))
            parts.append(encode_basic_header(fmt, csid) + draw(st.binary(max_size=20)))
    return b"".join(parts), options


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """Well-formed chunks with a few bytes overwritten, inserted or dropped."""
    data = bytearray(draw(written())[0])
    for _ in range(draw(st.integers(1, 4))):
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        action = draw(st.integers(0, 2))
        if action == 0:
            data[at] = draw(st.integers(0, 255))
        elif action == 1:
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        else:
            del data[at : at + draw(st.integers(1, 8))]
    return bytes(data)


# -- differential properties ------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(written(), read_sizes)
def test_written_chunks_give_the_same_messages(
    reader_type: Any, chunks: tuple[bytes, list[RtmpMessage], bool], sizes: list[int]
) -> None:
    data, sent, repeat = chunks
    seen = assert_same(reader_type, split(data, sizes), {})
    # Without repeats, a continuation whose payload starts like the extended timestamp is taken
    # for a repeat, or waited on at the end of the data: both readers do that alike.
    if repeat:
        assert [item for item in seen if isinstance(item, RtmpMessage)] == sent


@settings(max_examples=500, deadline=None)
@given(hand_made(), read_sizes)
def test_unfinished_messages_and_aborts_behave_the_same(
    reader_type: Any, made: tuple[bytes, dict[str, int]], sizes: list[int]
) -> None:
    data, options = made
    assert_same(reader_type, split(data, sizes), options)


@settings(max_examples=300, deadline=None)
@given(mutated(), read_sizes, reader_options())
def test_damaged_chunks_behave_the_same(
    reader_type: Any, data: bytes, sizes: list[int], options: dict[str, int]
) -> None:
    assert_same(reader_type, split(data, sizes), options)


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=400), read_sizes, reader_options())
def test_arbitrary_bytes_behave_the_same(
    reader_type: Any, data: bytes, sizes: list[int], options: dict[str, int]
) -> None:
    assert_same(reader_type, split(data, sizes), options)


@settings(max_examples=100, deadline=None)
@given(
    st.integers(-2, 3),
    st.integers(-1, 2**31 + 1),
    st.integers(0, 100),
    st.integers(0, 100),
)
def test_the_constructor_checks_the_same(
    reader_type: Any, chunk_size: int, max_chunk_size: int, message: int, buffered: int
) -> None:
    options = {
        "chunk_size": chunk_size,
        "max_chunk_size": max_chunk_size,
        "max_message_size": message,
        "max_buffered_bytes": buffered,
    }
    assert trace(reader_type, [], options) == trace(PyChunkReader, [], options)


# -- targeted cases ---------------------------------------------------------------------------


def extended_message(repeat: bool, payload: bytes, timestamp: int = 0x1234567) -> bytes:
    writer = ChunkWriter(4, repeat_extended_timestamp=repeat)
    return writer.write(6, RtmpMessage(VIDEO, payload, timestamp, 1))


@pytest.mark.parametrize("repeat", [True, False])
@pytest.mark.parametrize(
    "payload",
    [
        bytes(10),
        bytes.fromhex("01234567 01234567 0123"),  # the continuation starts like a repeat
        bytes.fromhex("01234567 012345"),  # ... and ends in the middle of one
        bytes.fromhex("01234567 0123"),
    ],
)
def test_extended_timestamp_repeats_read_the_same_byte_by_byte(
    reader_type: Any, repeat: bool, payload: bytes
) -> None:
    data = extended_message(repeat, payload)
    seen = assert_same(reader_type, split(data, [1]), {"chunk_size": 4})
    # Without repeats, a continuation that starts like one is read as one (the ambiguity SRS
    # accepts): the two readers agree on it, but the message is not the one written.
    if repeat or payload == bytes(10):
        assert RtmpMessage(VIDEO, payload, 0x1234567, 1) in seen


def test_a_repeat_of_the_absolute_timestamp_is_skipped_the_same(reader_type: Any) -> None:
    # A fmt 1 header with an extended delta; the continuation repeats the absolute timestamp.
    writer = ChunkWriter(4)
    data = writer.write(6, RtmpMessage(VIDEO, b"a", 100, 1))
    delta = 0x1000000
    header = encode_basic_header(1, 6) + b"\xff\xff\xff" + (6).to_bytes(3, "big") + b"\x09"
    data += header + delta.to_bytes(4, "big") + b"abcd"
    data += encode_basic_header(3, 6) + (100 + delta).to_bytes(4, "big") + b"ef"
    seen = assert_same(reader_type, split(data, [1]), {"chunk_size": 4})
    assert RtmpMessage(VIDEO, b"abcdef", 100 + delta, 1) in seen


THREE_CHUNK_STREAMS = b"".join(ChunkWriter().write(c, RtmpMessage(AUDIO, b"a")) for c in (2, 3, 4))
HOLD_200 = {"chunk_size": 150, "max_message_size": 200, "max_buffered_bytes": 200}


@pytest.mark.parametrize(
    ("data", "options"),
    [
        (b"\x85\x00\x00\x00", {}),
        (b"\xc5", {}),
        (bytes.fromhex("04 000000 000100 08 01000000") + bytes(128) + b"\x44", {}),
        (bytes.fromhex("04 000000 800000 08 01000000"), {"max_message_size": 1000}),
        (bytes.fromhex("04 ffffff 800000 08 01000000 00000000"), {"max_message_size": 1000}),
        (bytes.fromhex("02 000000 000004 01 00000000 00000000"), {}),
        (bytes.fromhex("02 000000 000004 01 00000000 80000080"), {}),
        (bytes.fromhex("02 000000 000004 01 00000000 00010001"), {"max_chunk_size": 65536}),
        (bytes.fromhex("02 000000 000002 01 00000000 0080"), {}),
        (bytes.fromhex("02 000000 000001 02 00000000 00"), {}),
        (THREE_CHUNK_STREAMS, {"max_chunk_streams": 2}),
        (first_chunk(10, 200, bytes(150)) + first_chunk(11, 200, bytes(150)), HOLD_200),
        (first_chunk(10, 200, bytes(150)) + first_chunk(11, 200, bytes(60)), HOLD_200),
    ],
)  # fmt: skip
def test_each_error_is_the_same(reader_type: Any, data: bytes, options: dict[str, int]) -> None:
    for sizes in ([len(data)], [1], [3, 7]):
        seen = assert_same(reader_type, split(data, sizes), options)
        assert seen[-1][0] == "raised"  # type: ignore[index]
    # Cut short, the same chunk is waited for, or fails at the same byte.
    assert_same(reader_type, [data[:-1]], options)


def test_an_aborted_message_makes_way_for_the_next_the_same(reader_type: Any) -> None:
    data = first_chunk(6, 300, bytes(128)) + ChunkWriter().write(2, to_message(Abort(6)))
    data += first_chunk(6, 2, b"ok", 40)
    seen = assert_same(reader_type, split(data, [1]), {})
    assert RtmpMessage(VIDEO, b"ok", 40, 1) in seen


def test_messages_before_an_error_are_yielded_first(reader_type: Any) -> None:
    data = ChunkWriter().write(4, RtmpMessage(AUDIO, b"ok", 5, 1)) + b"\xc5"
    reader = reader_type()
    generator = reader.messages(data)
    assert next(generator) == RtmpMessage(AUDIO, b"ok", 5, 1)
    with pytest.raises(RtmpError, match="chunk stream 5: first chunk has fmt 3"):
        next(generator)


def test_a_generator_dropped_early_leaves_the_rest_the_same(reader_type: Any) -> None:
    # A connection that ends stops iterating; the bytes after the last message taken stay.
    writer = ChunkWriter()
    data = writer.write(4, RtmpMessage(AUDIO, b"a", 1, 1)) + writer.write(
        4, RtmpMessage(AUDIO, b"b", 2, 1)
    )
    seen = []
    for kind in (PyChunkReader, reader_type):
        reader = kind()
        generator = reader.messages(data + b"\x04\x00")
        first = next(generator)
        del generator
        seen.append((first, state(reader), reader.receive_data(b""), state(reader)))
    assert seen[0] == seen[1]
    assert seen[0][2] == [RtmpMessage(AUDIO, b"b", 2, 1)]


def test_a_subclass_sees_every_message_in_apply_control(reader_type: Any) -> None:
    def subclass(base: Any) -> Any:
        class FirstChunkSizeOnly(base):  # type: ignore[misc]
            changed = False

            def _apply_control(self, message: RtmpMessage) -> None:
                if message.type_id == MessageType.SET_CHUNK_SIZE:
                    if self.changed:
                        return
                    self.changed = True
                super()._apply_control(message)

        return FirstChunkSizeOnly

    writer = ChunkWriter()
    data = writer.write(2, to_message(SetChunkSize(4096)))
    data += writer.write(2, to_message(SetChunkSize(64)))
    data += writer.write(6, RtmpMessage(VIDEO, bytes(300), 0, 1))
    for base in (PyChunkReader, reader_type):
        reader = subclass(base)()
        assert len(reader.receive_data(data)) == 3
        assert reader.chunk_size == 4096


def test_chunk_size_can_be_forced(reader_type: Any) -> None:
    # The conformance suite's mutant server forces its reader's chunk size.
    reader = reader_type()
    reader._chunk_size = 4096
    data = ChunkWriter(4096).write(6, RtmpMessage(VIDEO, bytes(3000), 0, 1))
    assert reader.receive_data(data) == [RtmpMessage(VIDEO, bytes(3000), 0, 1)]


def test_a_forced_chunk_size_is_checked(reader_type: Any) -> None:
    # Unlike the reference's plain attribute: below 1 the compiled reader would copy a negative
    # length.
    with pytest.raises(ValueError, match="chunk size 0 is outside 1-2147483647"):
        reader_type()._chunk_size = 0


def test_a_deep_copy_carries_on_alone(reader_type: Any) -> None:
    data = ChunkWriter().write(6, RtmpMessage(VIDEO, bytes(300), 0x1000000, 1))
    reader = reader_type()
    reader.receive_data(data[:200])
    probe = copy.deepcopy(reader)
    assert probe.receive_data(data[200:]) == [RtmpMessage(VIDEO, bytes(300), 0x1000000, 1)]
    assert reader.has_partial
    assert not probe.has_partial
    assert reader.receive_data(data[200:]) == [RtmpMessage(VIDEO, bytes(300), 0x1000000, 1)]


def test_chunk_reader_is_the_compiled_one_unless_disabled(reader_type: Any) -> None:
    expected = PyChunkReader if speedups.disabled() else reader_type
    assert ChunkReader is expected


def test_a_read_fed_while_another_is_suspended_reads_the_same(reader_type: Any) -> None:
    # A read that starts on a chunk boundary is parsed in place by the compiled reader; one fed
    # while that is suspended must see the buffer the reference has (the first read whole).
    writer = ChunkWriter()
    first = writer.write(4, RtmpMessage(AUDIO, b"a", 1, 1)) + writer.write(
        4, RtmpMessage(AUDIO, b"b", 2, 1)
    )
    second = writer.write(4, RtmpMessage(AUDIO, b"c", 3, 1)) + b"\x04"
    seen = []
    for kind in (PyChunkReader, reader_type):
        reader = kind()
        outer = reader.messages(first)
        taken: list[object] = [next(outer), state(reader)]
        taken += [*reader.messages(second), state(reader)]
        taken += [*outer, state(reader), reader.receive_data(b""), state(reader)]
        seen.append(taken)
    assert seen[0] == seen[1]
