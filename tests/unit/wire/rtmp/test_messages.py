from __future__ import annotations

import pytest

from wire import amf0
from wire.rtmp.chunk import RtmpMessage
from wire.rtmp.errors import RtmpError
from wire.rtmp.messages import (
    Abort,
    Acknowledgement,
    Command,
    DataMessage,
    MessageType,
    Payload,
    PeerBandwidthLimit,
    SetChunkSize,
    SetPeerBandwidth,
    UserControl,
    UserControlType,
    WindowAckSize,
    split_aggregate,
    status_info,
    to_message,
)


@pytest.mark.parametrize(
    ("payload", "type_id", "encoded"),
    [
        (SetChunkSize(4096), 1, b"\x00\x00\x10\x00"),
        (Abort(4), 2, b"\x00\x00\x00\x04"),
        (Acknowledgement(2_500_000), 3, b"\x00\x26\x25\xa0"),
        (WindowAckSize(2_500_000), 5, b"\x00\x26\x25\xa0"),
        (SetPeerBandwidth(2_500_000, PeerBandwidthLimit.DYNAMIC), 6, b"\x00\x26\x25\xa0\x02"),
        (UserControl.stream_begin(1), 4, b"\x00\x00\x00\x00\x00\x01"),
        (UserControl(UserControlType.STREAM_EOF, 1), 4, b"\x00\x01\x00\x00\x00\x01"),
        (UserControl(UserControlType.STREAM_DRY, 1), 4, b"\x00\x02\x00\x00\x00\x01"),
        (
            UserControl(UserControlType.SET_BUFFER_LENGTH, 1, 3000),
            4,
            b"\x00\x03\x00\x00\x00\x01\x00\x00\x0b\xb8",
        ),
        (UserControl(UserControlType.STREAM_IS_RECORDED, 1), 4, b"\x00\x04\x00\x00\x00\x01"),
        (UserControl.ping_request(300), 4, b"\x00\x06\x00\x00\x01\x2c"),
        (UserControl.ping_response(300), 4, b"\x00\x07\x00\x00\x01\x2c"),
    ],
)
def test_control_messages_exact_bytes(payload: Payload, type_id: int, encoded: bytes) -> None:
    assert payload.serialize() == encoded
    assert type(payload).parse(encoded) == payload
    assert to_message(payload) == RtmpMessage(type_id, encoded, 0, 0)


def test_set_chunk_size_ignores_the_reserved_top_bit_when_parsing() -> None:
    assert SetChunkSize.parse(b"\x80\x00\x10\x00") == SetChunkSize(4096)


@pytest.mark.parametrize(
    ("parse", "data", "message"),
    [
        (SetChunkSize.parse, b"\x00", "Set Chunk Size: truncated, need 4 bytes, have 1"),
        (Acknowledgement.parse, b"", "Acknowledgement: truncated, need 4 bytes, have 0"),
        (
            SetPeerBandwidth.parse,
            b"\x00\x00\x00\x01",
            "Set Peer Bandwidth: truncated, need 5 bytes, have 4",
        ),
        (UserControl.parse, b"\x00", "User Control: truncated, need 2 bytes, have 1"),
        (UserControl.parse, b"\x00\x06\x00", "User Control: truncated, need 6 bytes, have 3"),
        (
            UserControl.parse,
            b"\x00\x03\x00\x00\x00\x01",
            "User Control SetBufferLength: truncated, need 10 bytes, have 6",
        ),
    ],
)
def test_control_truncations(parse, data: bytes, message: str) -> None:
    with pytest.raises(RtmpError) as info:
        parse(data)
    assert str(info.value) == message


def test_command_round_trip() -> None:
    command = Command("connect", 1.0, {"app": "live", "tcUrl": "rtmp://h/live"})
    encoded = command.serialize()
    assert encoded == amf0.encode("connect", 1.0, {"app": "live", "tcUrl": "rtmp://h/live"})
    assert Command.parse(encoded) == command


def test_command_bytes() -> None:
    command = Command("createStream", 2.0)
    assert command.serialize() == amf0.encode("createStream", 2.0, None)
    assert Command.parse(command.serialize()) == command
    publish = Command("publish", 5.0, None, ["cam1", "live"])
    assert publish.serialize() == amf0.encode("publish", 5.0, None, "cam1", "live")
    assert Command.parse(publish.serialize()) == publish


def test_command_without_command_object() -> None:
    assert Command.parse(amf0.encode("onBWDone", 0.0)) == Command("onBWDone", 0.0, None, [])


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (amf0.encode("connect"), "command: does not start with a name string and a transaction id"),
        (amf0.encode(1.0, 1.0), "command: does not start with a name string and a transaction id"),
        (amf0.encode("connect", "1"), "command 'connect': transaction id '1' is not a number"),
        (
            amf0.encode("connect", float("nan")),
            "command 'connect': transaction id nan is not a number",
        ),
        (b"\x02\x00\x09con", "command: AMF0 string: truncated, need 9 bytes at offset 3, have 3"),
    ],
)
def test_malformed_commands(data: bytes, message: str) -> None:
    with pytest.raises(RtmpError) as info:
        Command.parse(data)
    assert str(info.value) == message


def test_data_message() -> None:
    data = DataMessage("@setDataFrame", ["onMetaData", amf0.EcmaArray({"width": 480.0})])
    encoded = data.serialize()
    assert encoded == amf0.encode("@setDataFrame", "onMetaData", amf0.EcmaArray({"width": 480.0}))
    assert DataMessage.parse(encoded) == data
    with pytest.raises(RtmpError, match="data message: does not start with a handler name"):
        DataMessage.parse(amf0.encode(None))


def test_status_info() -> None:
    assert status_info("error", "NetStream.Publish.BadName", "in use", details="cam1") == {
        "level": "error",
        "code": "NetStream.Publish.BadName",
        "description": "in use",
        "details": "cam1",
    }


def aggregate_part(type_id: int, timestamp: int, body: bytes) -> bytes:
    header = (
        bytes((type_id,))
        + len(body).to_bytes(3, "big")
        + (timestamp & 0xFFFFFF).to_bytes(3, "big")
        + bytes((timestamp >> 24,))
        + bytes(3)
    )
    return header + body + (11 + len(body)).to_bytes(4, "big")


def test_split_aggregate_rebases_timestamps() -> None:
    payload = aggregate_part(9, 5000, b"\x17\x01") + aggregate_part(8, 5023, b"\xaf\x01")
    message = RtmpMessage(MessageType.AGGREGATE, payload, 100, 1)
    assert split_aggregate(message) == [
        RtmpMessage(9, b"\x17\x01", 100, 1),
        RtmpMessage(8, b"\xaf\x01", 123, 1),
    ]


def test_split_aggregate_truncations() -> None:
    whole = aggregate_part(9, 0, b"\x17\x01")
    with pytest.raises(RtmpError, match="aggregate: truncated sub-message header at offset 0"):
        split_aggregate(RtmpMessage(22, whole[:5]))
    with pytest.raises(RtmpError, match="aggregate: truncated 2-byte sub-message at offset 0"):
        split_aggregate(RtmpMessage(22, whole[:-1]))
