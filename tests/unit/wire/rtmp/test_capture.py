"""A real RTMP play, captured from a public server, through our parsers."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from tests.unit.wire.rtmp.harness import HANDSHAKE_BYTES, drain
from wire import flv
from wire.rtmp.chunk import ChunkReader, RtmpMessage
from wire.rtmp.events import ClientConnected, CommandReceived, HandshakeCompleted, PlayRequested
from wire.rtmp.handshake import (
    FMS_KEY_TEXT_SIZE,
    GENUINE_FMS_KEY,
    HANDSHAKE_SIZE,
    SCHEMA1_DIGEST_BASE,
    find_digest,
)
from wire.rtmp.messages import Command, DataMessage
from wire.rtmp.server import RtmpServerConnection

CAPTURE = "captures/rtmp-play-h264-aac.pcap"
SERVER_PORT = 1935
ETHERNET_HEADER = 14
PCAP_HEADER = 24
RECORD_HEADER = 16


def tcp_streams(path: Path) -> dict[int, bytes]:
    """Reassembled TCP payload per source port, from a little-endian Ethernet/IPv4 pcap."""
    data = path.read_bytes()
    assert data[:4] == b"\xd4\xc3\xb2\xa1"
    segments: dict[int, dict[int, bytes]] = {}
    offset = PCAP_HEADER
    while offset < len(data):
        (captured,) = struct.unpack_from("<I", data, offset + 8)
        ip = data[offset + RECORD_HEADER + ETHERNET_HEADER : offset + RECORD_HEADER + captured]
        offset += RECORD_HEADER + captured
        if ip[9] != 6:
            continue
        (total_length,) = struct.unpack_from(">H", ip, 2)
        tcp = ip[(ip[0] & 0x0F) * 4 : total_length]
        source_port, _, sequence = struct.unpack_from(">HHI", tcp)
        payload = tcp[(tcp[12] >> 4) * 4 :]
        if payload:
            segments.setdefault(source_port, {}).setdefault(sequence, payload)
    streams = {}
    for port, by_sequence in segments.items():
        first = min(by_sequence)
        stream = bytearray()
        for sequence in sorted(by_sequence):
            start = sequence - first
            stream[start : start + len(by_sequence[sequence])] = by_sequence[sequence]
        streams[port] = bytes(stream)
    return streams


@pytest.fixture(scope="module")
def streams(shared_dir: Path) -> tuple[bytes, bytes]:
    """What the server sent and what the client sent."""
    path = shared_dir / CAPTURE
    if not path.is_file():
        pytest.skip(f"{path} is not present")
    by_port = tcp_streams(path)
    from_server = by_port.pop(SERVER_PORT)
    (from_client,) = by_port.values()
    return from_server, from_client


@pytest.fixture(scope="module")
def server_messages(streams: tuple[bytes, bytes]) -> list[RtmpMessage]:
    return ChunkReader().receive_data(streams[0][HANDSHAKE_BYTES:])


def test_server_s1_carries_a_valid_fms_digest(streams: tuple[bytes, bytes]) -> None:
    from_server, from_client = streams
    s1 = from_server[1 : 1 + HANDSHAKE_SIZE]
    assert find_digest(s1, GENUINE_FMS_KEY[:FMS_KEY_TEXT_SIZE]) == (SCHEMA1_DIGEST_BASE, 308)
    # The client sent a simple C1, which the server echoed as S2.
    assert from_server[1 + HANDSHAKE_SIZE : HANDSHAKE_BYTES] == from_client[1 : 1 + HANDSHAKE_SIZE]


def test_chunk_reader_decodes_the_real_on_metadata(server_messages: list[RtmpMessage]) -> None:
    data = [DataMessage.parse(m.payload) for m in server_messages if m.type_id == 18]
    metadata = next(d.values[0] for d in data if d.name == "onMetaData")
    assert isinstance(metadata, dict)
    assert metadata["width"] == 480.0
    assert metadata["height"] == 288.0
    assert metadata["videocodecid"] == 7.0
    assert metadata["audiocodecid"] == 10.0
    assert metadata["audiosamplerate"] == 48000.0
    assert metadata["stereo"] is True
    assert metadata["encoder"] == "Lavf57.36.100"


def test_chunk_reader_decodes_the_real_commands(server_messages: list[RtmpMessage]) -> None:
    commands = [Command.parse(m.payload) for m in server_messages if m.type_id == 20]
    assert [c.name for c in commands][:4] == ["_result", "onBWDone", "_result", "_result"]
    assert commands[2].arguments == [1.0]
    statuses = [c.arguments[0] for c in commands if c.name == "onStatus"]
    codes = [status["code"] for status in statuses if isinstance(status, dict)]
    assert codes == ["NetStream.Play.Reset", "NetStream.Play.Start", "NetStream.Play.PublishNotify"]


def test_real_media_parses_as_flv_bodies(server_messages: list[RtmpMessage]) -> None:
    video = [flv.VideoTag.parse(m.payload) for m in server_messages if m.type_id == 9]
    audio = [flv.AudioTag.parse(m.payload) for m in server_messages if m.type_id == 8]
    assert (len(video), len(audio)) == (265, 483)
    assert video[0].is_sequence_header
    assert video[0].codec_id == flv.CODEC_ID_AVC
    assert audio[0] == flv.AudioTag(flv.SOUND_FORMAT_AAC, b"\x11\x90", 3, 1, 1, 0)
    assert sum(v.is_keyframe for v in video) >= 2


def test_byte_at_a_time_matches_bulk(
    streams: tuple[bytes, bytes], server_messages: list[RtmpMessage]
) -> None:
    data = streams[0][HANDSHAKE_BYTES : HANDSHAKE_BYTES + 30_000]
    reader = ChunkReader()
    messages: list[RtmpMessage] = []
    for index in range(len(data)):
        messages += reader.receive_data(data[index : index + 1])
    assert len(messages) > 20
    assert messages == server_messages[: len(messages)]


def test_real_client_bytes_drive_our_server(streams: tuple[bytes, bytes]) -> None:
    server = RtmpServerConnection(now=0.0)
    server.receive_data(streams[1], 0.0)
    events = drain(server)
    assert events[0] == HandshakeCompleted(complex_handshake=False)
    connected = events[1]
    assert isinstance(connected, ClientConnected)
    assert connected.tc_url == "rtmp://live.hkstv.hk.lxdns.com/live"
    assert events[2] == CommandReceived(0, Command("_checkbw", 3.0))
    assert events[3] == PlayRequested(1, "hks")
