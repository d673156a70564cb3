from __future__ import annotations

import copy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wire.rtmp.chunk import (
    ChunkReader,
    ChunkWriter,
    RtmpMessage,
    encode_basic_header,
)
from wire.rtmp.errors import RtmpError
from wire.rtmp.messages import Abort, SetChunkSize, to_message

AUDIO, VIDEO, COMMAND = 8, 9, 20


def feed_byte_at_a_time(reader: ChunkReader, data: bytes) -> list[RtmpMessage]:
    messages: list[RtmpMessage] = []
    for index in range(len(data)):
        messages += reader.receive_data(data[index : index + 1])
    return messages


def test_fmt0_header_exact_bytes() -> None:
    data = ChunkWriter().write(3, RtmpMessage(COMMAND, b"abc", 1000, 1))
    assert data == bytes.fromhex("03 0003e8 000003 14 01000000") + b"abc"


def test_header_compression_picks_the_smallest_header() -> None:
    writer = ChunkWriter()
    first = writer.write(4, RtmpMessage(AUDIO, b"aa", 100, 1))
    assert first[0] == 0x04
    assert len(first) == 1 + 11 + 2
    # Same length and type, new delta: fmt 2 with the delta.
    assert writer.write(4, RtmpMessage(AUDIO, b"bb", 120, 1)) == b"\x84\x00\x00\x14bb"
    # Same delta again: fmt 3, no message header at all.
    assert writer.write(4, RtmpMessage(AUDIO, b"cc", 140, 1)) == b"\xc4cc"
    # New length: fmt 1 with delta, length and type.
    assert (
        writer.write(4, RtmpMessage(AUDIO, b"ddd", 160, 1))
        == bytes.fromhex("44 000014 000003 08") + b"ddd"
    )
    # New message stream id: fmt 0.
    assert writer.write(4, RtmpMessage(AUDIO, b"ddd", 180, 2))[0] == 0x04
    # Time going backwards cannot be a delta: fmt 0.
    assert writer.write(4, RtmpMessage(AUDIO, b"ddd", 10, 2))[:4] == b"\x04\x00\x00\x0a"


def test_fmt3_after_fmt0_only_when_the_delta_equals_the_first_timestamp() -> None:
    writer = ChunkWriter()
    writer.write(4, RtmpMessage(AUDIO, b"a", 40, 1))
    assert writer.write(4, RtmpMessage(AUDIO, b"b", 80, 1)) == b"\xc4b"


def test_reader_fmt3_after_fmt0_adds_the_first_timestamp_again() -> None:
    # Specification section 5.3.1.2.4: the delta of such a fmt 3 chunk is the fmt 0 timestamp.
    data = bytes.fromhex("04 000028 000001 08 01000000") + b"a" + b"\xc4b"
    messages = ChunkReader().receive_data(data)
    assert [(m.payload, m.timestamp) for m in messages] == [(b"a", 40), (b"b", 80)]


def test_message_split_into_chunks() -> None:
    payload = bytes(range(256)) + bytes(44)
    data = ChunkWriter().write(6, RtmpMessage(VIDEO, payload, 0, 1))
    header = bytes.fromhex("06 000000 00012c 09 01000000")
    assert data == header + payload[:128] + b"\xc6" + payload[128:256] + b"\xc6" + payload[256:]
    assert ChunkReader().receive_data(data) == [RtmpMessage(VIDEO, payload, 0, 1)]


@pytest.mark.parametrize(
    ("csid", "encoded"),
    [
        (2, b"\x02"),
        (63, b"\x3f"),
        (64, b"\x00\x00"),
        (319, b"\x00\xff"),
        (320, b"\x01\x00\x01"),
        (65599, b"\x01\xff\xff"),
    ],
)
def test_basic_header_sizes(csid: int, encoded: bytes) -> None:
    assert encode_basic_header(0, csid) == encoded
    assert encode_basic_header(3, csid)[0] == encoded[0] | 0xC0
    message = RtmpMessage(AUDIO, b"x", 5, 1)
    assert ChunkReader().receive_data(ChunkWriter().write(csid, message)) == [message]


@settings(max_examples=200)
@given(st.integers(2, 65599), st.binary(min_size=0, max_size=300))
def test_any_chunk_stream_id_round_trips(csid: int, payload: bytes) -> None:
    message = RtmpMessage(VIDEO, payload, 1, 1)
    writer, reader = ChunkWriter(), ChunkReader()
    data = writer.write(csid, message) + writer.write(csid, message)
    assert reader.receive_data(data) == [message, message]


def test_writer_refuses_reserved_chunk_stream_ids() -> None:
    with pytest.raises(ValueError, match="chunk stream id 1 is outside 2-65599"):
        ChunkWriter().write(1, RtmpMessage(AUDIO, b""))
    with pytest.raises(ValueError, match="chunk stream id 65600 is outside 2-65599"):
        ChunkWriter().write(65600, RtmpMessage(AUDIO, b""))
    with pytest.raises(ValueError, match="chunk size 0 is outside 1-2147483647"):
        ChunkWriter(0)


def test_extended_timestamp_is_repeated_on_continuation_chunks() -> None:
    writer = ChunkWriter(4)
    data = writer.write(4, RtmpMessage(AUDIO, b"abcdefgh", 0x01000000, 1))
    extended = b"\x01\x00\x00\x00"
    assert data == bytes.fromhex("04 ffffff 000008 08 01000000") + extended + b"abcd" + (
        b"\xc4" + extended + b"efgh"
    )


def test_extended_timestamp_not_repeated_when_configured() -> None:
    writer = ChunkWriter(4, repeat_extended_timestamp=False)
    data = writer.write(4, RtmpMessage(AUDIO, b"abcdefgh", 0x01000000, 1))
    assert data == bytes.fromhex("04 ffffff 000008 08 01000000 01000000") + b"abcd\xc4efgh"


@pytest.mark.parametrize("repeat", [True, False])
@pytest.mark.parametrize("chunk_size", [1, 3, 16, 128])
def test_timestamps_across_2_pow_24(repeat: bool, chunk_size: int) -> None:
    writer = ChunkWriter(chunk_size, repeat_extended_timestamp=repeat)
    messages = [
        RtmpMessage(AUDIO, b"\xaf\x01" + bytes([index]) * 20, (1 << 24) - 100 + 40 * index, 1)
        for index in range(6)
    ]
    # A jump that makes the delta itself extended.
    messages.append(RtmpMessage(AUDIO, b"\xaf\x01" + b"\x07" * 20, (1 << 25) + 3, 1))
    messages.append(RtmpMessage(AUDIO, b"\xaf\x01" + b"\x08" * 20, (1 << 25) + 3 + (1 << 24), 1))
    data = b"".join(writer.write(4, message) for message in messages)
    assert ChunkReader(chunk_size=chunk_size).receive_data(data) == messages
    assert feed_byte_at_a_time(ChunkReader(chunk_size=chunk_size), data) == messages


def test_timestamps_wrap_at_2_pow_32() -> None:
    writer = ChunkWriter()
    messages = [RtmpMessage(VIDEO, b"v", 0xFFFFFFF0, 1), RtmpMessage(VIDEO, b"v", 0x10, 1)]
    data = b"".join(writer.write(6, message) for message in messages)
    assert ChunkReader().receive_data(data) == messages


def test_set_chunk_size_applies_to_the_next_chunk_in_the_same_data() -> None:
    writer = ChunkWriter()
    data = writer.write(2, to_message(SetChunkSize(4096)))
    writer.set_chunk_size(4096)
    big = RtmpMessage(VIDEO, bytes(5000), 0, 1)
    data += writer.write(6, big)
    reader = ChunkReader()
    assert reader.receive_data(data) == [to_message(SetChunkSize(4096)), big]
    assert reader.chunk_size == 4096


def test_abort_discards_the_partial_message() -> None:
    writer = ChunkWriter(4)
    partial = writer.write(4, RtmpMessage(AUDIO, b"12345678", 0, 1))[: 12 + 4]
    abort = writer.write(2, to_message(Abort(4)))
    fresh = ChunkWriter(4).write(4, RtmpMessage(AUDIO, b"xy", 9, 1))
    messages = ChunkReader(chunk_size=4).receive_data(partial + abort + fresh)
    assert messages == [to_message(Abort(4)), RtmpMessage(AUDIO, b"xy", 9, 1)]


def test_librtmp_style_fmt1_on_a_fresh_chunk_stream_is_accepted() -> None:
    data = bytes.fromhex("44 000010 000002 14") + b"hi"
    assert ChunkReader().receive_data(data) == [RtmpMessage(COMMAND, b"hi", 16, 0)]


def test_interleaved_chunk_streams() -> None:
    audio = RtmpMessage(AUDIO, bytes(10), 0, 1)
    video = RtmpMessage(VIDEO, bytes(range(10)), 0, 1)
    audio_chunks = ChunkWriter(4).write(4, audio)
    video_chunks = ChunkWriter(4).write(6, video)
    # Split both after their first chunk and interleave.
    data = video_chunks[:16] + audio_chunks[:16] + video_chunks[16:] + audio_chunks[16:]
    assert ChunkReader(chunk_size=4).receive_data(data) == [video, audio]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x85\x00\x00\x00", "chunk stream 5: first chunk has fmt 2, nothing to inherit"),
        (b"\xc5", "chunk stream 5: first chunk has fmt 3, nothing to inherit"),
        (
            bytes.fromhex("04 000000 000100 08 01000000") + bytes(128) + b"\x44",
            "chunk stream 4: fmt 1 header while a 256-byte message has only 128 bytes",
        ),
        (
            bytes.fromhex("04 000000 800000 08 01000000"),
            "chunk stream 4: message of 8388608 bytes exceeds the 1000-byte limit",
        ),
        (
            bytes.fromhex("02 000000 000004 01 00000000 00000000"),
            "Set Chunk Size: invalid chunk size 0",
        ),
        (
            bytes.fromhex("02 000000 000004 01 00000000 80000080"),
            "Set Chunk Size: invalid chunk size 2147483776",
        ),
        (
            bytes.fromhex("02 000000 000002 01 00000000 0080"),
            "Set Chunk Size: truncated, need 4 bytes, have 2",
        ),
        (
            bytes.fromhex("02 000000 000001 02 00000000 00"),
            "Abort: truncated, need 4 bytes, have 1",
        ),
    ],
)
def test_reader_errors(data: bytes, message: str) -> None:
    with pytest.raises(RtmpError) as info:
        ChunkReader(max_message_size=1000).receive_data(data)
    assert str(info.value) == message


def test_reader_limits_the_number_of_chunk_streams() -> None:
    writer = ChunkWriter()
    data = b"".join(writer.write(csid, RtmpMessage(AUDIO, b"a")) for csid in range(2, 5))
    with pytest.raises(RtmpError, match="chunk stream 4: more than 2 chunk streams"):
        ChunkReader(max_chunk_streams=2).receive_data(data)


message_strategy = st.builds(
    RtmpMessage,
    st.sampled_from([AUDIO, VIDEO, COMMAND, 18]),
    st.binary(max_size=600),
    st.one_of(st.integers(0, 1000), st.integers(0, 0xFFFFFFFF)),
    st.integers(0, 3),
)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from([3, 4, 6, 8, 64, 320]), message_strategy), max_size=8),
    st.one_of(st.integers(1, 300), st.integers(1, 65536)),
    st.lists(st.integers(1, 200), min_size=1, max_size=5),
)
def test_any_messages_at_any_chunk_size_reassemble(
    items: list[tuple[int, RtmpMessage]], chunk_size: int, splits: list[int]
) -> None:
    writer = ChunkWriter()
    data = writer.write(2, to_message(SetChunkSize(chunk_size)))
    writer.set_chunk_size(chunk_size)
    data += b"".join(writer.write(csid, message) for csid, message in items)
    reader = ChunkReader()
    received: list[RtmpMessage] = []
    offset, index = 0, 0
    while offset < len(data):
        step = splits[index % len(splits)]
        received += reader.receive_data(data[offset : offset + step])
        offset += step
        index += 1
    assert received[0] == to_message(SetChunkSize(chunk_size))
    # Per chunk stream the order is kept; messages written whole also arrive in order.
    assert received[1:] == [message for _, message in items]


@settings(max_examples=500)
@given(st.binary(max_size=80))
def test_any_bytes_give_messages_or_rtmp_error(data: bytes) -> None:
    try:
        messages = ChunkReader(max_message_size=4096).receive_data(data)
    except RtmpError:
        return
    assert all(isinstance(message, RtmpMessage) for message in messages)


@settings(max_examples=150, deadline=None)
@given(
    chunk_size=st.integers(1, 300),
    messages=st.lists(
        st.tuples(st.integers(2, 400), st.binary(max_size=900)), min_size=1, max_size=6
    ),
    data=st.data(),
)
def test_bytes_to_complete_never_overshoots_a_message_end(
    chunk_size: int, messages: list[tuple[int, bytes]], data: st.DataObject
) -> None:
    writer = ChunkWriter(chunk_size)
    reader = ChunkReader(chunk_size=chunk_size)
    stream = b"".join(
        writer.write(csid, RtmpMessage(VIDEO, payload, 40 * n, 1))
        for n, (csid, payload) in enumerate(messages)
    )
    pos = received = 0
    while pos < len(stream):
        bound = reader.bytes_to_complete()
        if bound is not None:
            assert bound >= 1
            # Fewer than ``bound`` more bytes never complete a message.
            probe = copy.deepcopy(reader)
            assert probe.receive_data(stream[pos : pos + bound - 1]) == []
        step = data.draw(st.integers(1, len(stream) - pos))
        received += len(reader.receive_data(stream[pos : pos + step]))
        pos += step
    assert received == len(messages)
    assert reader.bytes_to_complete() is None


def test_bytes_to_complete_is_exact_for_one_byte_headers() -> None:
    reader = ChunkReader()
    data = ChunkWriter().write(6, RtmpMessage(VIDEO, bytes(300), 0, 1))  # 128-byte chunks
    assert len(data) == 12 + 128 + 1 + 128 + 1 + 44
    reader.receive_data(data[:100])
    assert reader.bytes_to_complete() is None  # the first chunk is not complete yet
    reader.receive_data(data[100:150])
    assert reader.bytes_to_complete() == len(data) - 150
    assert reader.receive_data(data[150:]) == [RtmpMessage(VIDEO, bytes(300), 0, 1)]
    assert reader.bytes_to_complete() is None
