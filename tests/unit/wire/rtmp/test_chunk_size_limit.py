"""A receiver's ceiling on the chunk size its peer may announce (``max_chunk_size``)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.unit.wire.rtmp.harness import ScriptedClient, drain
from tests.unit.wire.terminations import ended
from wire.rtmp.chunk import MAX_CHUNK_SIZE, ChunkReader, ChunkWriter, RtmpMessage
from wire.rtmp.errors import RemoteProtocolError
from wire.rtmp.messages import MessageType, SetChunkSize
from wire.rtmp.server import RtmpServerConnection
from wire.rtmp.states import ServerState
from wire.session import Cause

Random = Callable[[int], bytes]


def set_chunk_size(size: int) -> bytes:
    message = RtmpMessage(MessageType.SET_CHUNK_SIZE, SetChunkSize(size).serialize(), 0, 0)
    return ChunkWriter().write(2, message)


def test_the_reader_applies_a_size_up_to_its_ceiling() -> None:
    reader = ChunkReader(max_chunk_size=65536)
    assert reader.receive_data(set_chunk_size(65536)) == [
        RtmpMessage(MessageType.SET_CHUNK_SIZE, SetChunkSize(65536).serialize(), 0, 0)
    ]
    assert reader.chunk_size == 65536


def test_the_reader_refuses_a_size_over_its_ceiling() -> None:
    reader = ChunkReader(max_chunk_size=65536)
    with pytest.raises(RemoteProtocolError) as refused:
        reader.receive_data(set_chunk_size(65537))
    assert str(refused.value) == "Set Chunk Size 65537 exceeds the 65536-byte limit"
    assert reader.chunk_size == 128  # not applied


def test_without_a_ceiling_the_specification_limit_holds() -> None:
    reader = ChunkReader()
    assert reader.max_chunk_size == MAX_CHUNK_SIZE
    reader.receive_data(set_chunk_size(MAX_CHUNK_SIZE))
    assert reader.chunk_size == MAX_CHUNK_SIZE


def test_a_server_connection_ends_on_a_size_over_its_ceiling(seeded_random: Random) -> None:
    server = RtmpServerConnection(now=0.0, random=seeded_random, max_chunk_size=65536)
    peer = ScriptedClient(server, seeded_random)
    drain(server)
    peer.send_message(2, RtmpMessage(MessageType.SET_CHUNK_SIZE, SetChunkSize(1 << 20).serialize()))
    detail = "Set Chunk Size 1048576 exceeds the 65536-byte limit"
    assert drain(server) == [ended(Cause.PROTOCOL_ERROR, detail, error=RemoteProtocolError)]
    assert server.state is ServerState.CLOSED
    assert peer.received() == []  # nothing to answer: the connection just ends


def test_a_ceiling_under_one_byte_is_misuse() -> None:
    with pytest.raises(ValueError, match="chunk size 0 is outside"):
        ChunkReader(max_chunk_size=0)
