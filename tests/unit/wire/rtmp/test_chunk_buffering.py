"""The bytes one connection may hold in unfinished messages, all chunk streams together."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from tests.unit.wire.rtmp.harness import ScriptedClient, drain
from wire.rtmp.chunk import (
    DEFAULT_MAX_BUFFERED_BYTES,
    ChunkReader,
    ChunkWriter,
    RtmpMessage,
    encode_basic_header,
)
from wire.rtmp.errors import RemoteProtocolError
from wire.rtmp.events import AudioReceived, ConnectionTerminated
from wire.rtmp.messages import Command, MessageType, SetChunkSize
from wire.rtmp.server import RtmpServerConnection
from wire.session import Cause

Random = Callable[[int], bytes]
MiB = 1024 * 1024


def first_chunk(csid: int, length: int, size: int, *, stream_id: int = 1) -> bytes:
    """A fmt 0 video chunk announcing a ``length``-byte message and carrying ``size`` of it."""
    header = encode_basic_header(0, csid) + bytes(3) + length.to_bytes(3, "big")
    header += bytes((MessageType.VIDEO,)) + stream_id.to_bytes(4, "little")
    return header + b"\x17" * size


def continuation(csid: int, size: int) -> bytes:
    return encode_basic_header(3, csid) + b"\x17" * size


def with_chunk_size(size: int) -> bytes:
    """Set Chunk Size, so one chunk can carry a large part of a message."""
    message = RtmpMessage(MessageType.SET_CHUNK_SIZE, SetChunkSize(size).serialize(), 0, 0)
    return ChunkWriter().write(2, message)


def test_partial_messages_on_many_chunk_streams_are_bounded_together() -> None:
    reader = ChunkReader(max_message_size=MiB, max_buffered_bytes=MiB + MiB // 4)
    reader.receive_data(with_chunk_size(MiB // 2))
    reader.receive_data(first_chunk(10, MiB, MiB // 2))
    reader.receive_data(first_chunk(11, MiB, MiB // 2))
    # Each message is within max_message_size; together they pass the budget.
    with pytest.raises(RemoteProtocolError, match=r"exceed the 1310720-byte limit"):
        reader.receive_data(first_chunk(12, MiB, MiB // 2))


def test_an_unfinished_chunk_counts_too() -> None:
    reader = ChunkReader(max_message_size=MiB, max_buffered_bytes=MiB)
    reader.receive_data(with_chunk_size(768 * 1024))
    reader.receive_data(first_chunk(10, MiB, 768 * 1024))
    # The next chunk is still coming: its bytes wait in the reader's buffer, held all the same.
    with pytest.raises(RemoteProtocolError, match="unfinished messages exceed"):
        reader.receive_data(first_chunk(11, MiB, 300 * 1024))


def test_finished_messages_free_their_bytes() -> None:
    reader = ChunkReader(max_message_size=MiB, max_buffered_bytes=MiB)
    writer = ChunkWriter(4096)
    reader.receive_data(with_chunk_size(4096))
    for index in range(20):
        message = RtmpMessage(MessageType.VIDEO, bytes([index]) * (MiB - 100), index, 1)
        [received] = reader.receive_data(writer.write(6, message))
        assert received == message


def test_the_budget_must_hold_one_largest_message() -> None:
    with pytest.raises(ValueError, match="max_buffered_bytes"):
        ChunkReader(max_message_size=MiB, max_buffered_bytes=MiB - 1)


def test_the_default_bounds_sixty_four_streams_of_eight_megabytes(seeded_random: Random) -> None:
    server = RtmpServerConnection(now=0.0, random=seeded_random)
    peer = ScriptedClient(server, seeded_random)
    peer.connect()
    peer.send(8, Command("publish", 0.0, None, ["cam1", "live"]), stream_id=1)
    server.accept_publish(1)
    drain(server)
    server.receive_data(with_chunk_size(65536), 0.0)
    sent = 0
    chunks = (
        first_chunk(csid, 8 * MiB, 65536) if part == 0 else continuation(csid, 65536)
        for csid in range(10, 74)  # 64 chunk streams, each starting an 8 MB message
        for part in range(8 * MiB // 65536 - 1)
    )
    for data in chunks:
        server.receive_data(data, 0.0)
        sent += len(data)
        if server.terminated:
            break
    [event] = drain(server)
    assert isinstance(event, ConnectionTerminated)
    ended = event.termination
    assert (ended.cause, type(ended.error)) == (Cause.PROTOCOL_ERROR, RemoteProtocolError)
    limit = DEFAULT_MAX_BUFFERED_BYTES
    assert re.fullmatch(
        rf"\d+ bytes of unfinished messages exceed the {limit}-byte limit", ended.detail
    )
    # It stopped within a chunk (and the chunk headers) of the default budget, not at 512 MB.
    assert sent <= DEFAULT_MAX_BUFFERED_BYTES + 2 * 65536


def test_messages_finished_before_the_budget_broke_are_delivered(seeded_random: Random) -> None:
    server = RtmpServerConnection(
        now=0.0, random=seeded_random, max_message_size=MiB, max_buffered_bytes=MiB
    )
    peer = ScriptedClient(server, seeded_random)
    peer.connect()
    peer.send(8, Command("publish", 0.0, None, ["cam1", "live"]), stream_id=1)
    server.accept_publish(1)
    drain(server)
    audio = ChunkWriter().write(4, RtmpMessage(MessageType.AUDIO, b"\xaf\x01\x21", 7, 1))
    data = with_chunk_size(768 * 1024) + audio + first_chunk(10, MiB, 768 * 1024)
    server.receive_data(data + first_chunk(11, MiB, 300 * 1024), 0.0)
    events = drain(server)
    assert events[0] == AudioReceived(1, 7, b"\xaf\x01\x21")
    assert isinstance(events[1], ConnectionTerminated)
    ended = events[1].termination
    assert (ended.cause, type(ended.error)) == (Cause.PROTOCOL_ERROR, RemoteProtocolError)
    assert re.fullmatch(
        r"\d+ bytes of unfinished messages exceed the 1048576-byte limit", ended.detail
    )
