"""A client and a server state machine wired together in memory."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.wire.rtmp.harness import (
    commands,
    data_messages,
    drain,
    make_pair,
    publishing_pair,
    states,
)
from tests.unit.wire.terminations import ended
from wire import amf0
from wire.amf0 import Amf0Value
from wire.rtmp.chunk import ChunkWriter, RtmpMessage
from wire.rtmp.errors import LocalProtocolError, RemoteProtocolError
from wire.rtmp.events import (
    AcknowledgementReceived,
    AudioReceived,
    ClientConnected,
    ConnectAccepted,
    ConnectionTerminated,
    ConnectRejected,
    HandshakeCompleted,
    MetadataReceived,
    PingResponseReceived,
    PublishRejected,
    PublishRequested,
    PublishStarted,
    StatusReceived,
    StreamCreated,
    StreamDeleted,
    VideoReceived,
)
from wire.rtmp.messages import (
    Command,
    DataMessage,
    PeerBandwidthLimit,
    SetChunkSize,
    SetPeerBandwidth,
    UserControl,
    WindowAckSize,
    status_info,
    to_message,
)
from wire.rtmp.states import ClientState, ServerState
from wire.session import Cause

Random = Callable[[int], bytes]

CONNECT_SUCCESS: dict[str, Amf0Value] = {
    "level": "status",
    "code": "NetConnection.Connect.Success",
    "description": "Connection succeeded.",
    "objectEncoding": 0.0,
}


@pytest.mark.parametrize("byte_at_a_time", [False, True])
@pytest.mark.parametrize("complex_handshake", [True, False])
def test_connect_and_publish(
    seeded_random: Random, byte_at_a_time: bool, complex_handshake: bool
) -> None:
    pair = make_pair(
        seeded_random,
        byte_at_a_time=byte_at_a_time,
        client_options={"complex_handshake": complex_handshake, "fourcc_list": ["hvc1", "av01"]},
    )
    pair.client.initiate(0.0)
    pair.pump()
    properties: dict[str, Amf0Value] = {
        "fmsVer": "FMS/3,0,1,123",
        "capabilities": 31.0,
        "mode": 1.0,
    }
    assert drain(pair.client) == [
        HandshakeCompleted(complex_handshake),
        ConnectAccepted(properties, CONNECT_SUCCESS),
    ]
    server_events = drain(pair.server)
    assert server_events[0] == HandshakeCompleted(complex_handshake)
    connected = server_events[1]
    assert isinstance(connected, ClientConnected)
    assert (connected.app, connected.tc_url) == ("live", "rtmp://127.0.0.1/live")
    assert connected.fourcc_list == ["hvc1", "av01"]
    assert len(server_events) == 2
    assert states(pair) == (ClientState.CONNECTED, ServerState.CONNECTED)

    pair.client.publish("cam1", 0.0)
    pair.pump()
    assert drain(pair.server) == [PublishRequested(1, "cam1", "live")]
    assert states(pair) == (ClientState.PUBLISH_PENDING, ServerState.PUBLISH_REQUESTED)
    pair.server.accept_publish(1)
    pair.pump()
    assert drain(pair.client) == [StreamCreated(1), PublishStarted(1, "cam1")]
    assert states(pair) == (ClientState.PUBLISHING, ServerState.PUBLISHING)

    pair.client.send_metadata({"width": 480.0, "height": 288.0})
    pair.client.send_video(0, b"\x17\x00\x00\x00\x00config")
    pair.client.send_audio(0, b"\xaf\x00\x11\x90")
    pair.client.send_video(40, b"\x27\x01\x00\x00\x00" + bytes(9000))
    pair.pump()
    assert drain(pair.server) == [
        MetadataReceived(1, 0, {"width": 480.0, "height": 288.0}),
        VideoReceived(1, 0, b"\x17\x00\x00\x00\x00config"),
        AudioReceived(1, 0, b"\xaf\x00\x11\x90"),
        VideoReceived(1, 40, b"\x27\x01\x00\x00\x00" + bytes(9000)),
    ]
    assert pair.client.get_timer() is None
    assert pair.server.get_timer() is None


def test_server_answers_connect_like_encoders_expect(seeded_random: Random) -> None:
    pair = make_pair(seeded_random)
    pair.client.initiate(0.0)
    pair.pump()
    messages = pair.messages_from_server()
    assert messages[:4] == [
        to_message(WindowAckSize(2_500_000)),
        to_message(SetPeerBandwidth(2_500_000, PeerBandwidthLimit.DYNAMIC)),
        to_message(SetChunkSize(4096)),
        to_message(UserControl.stream_begin(0)),
    ]
    properties: dict[str, Amf0Value] = {
        "fmsVer": "FMS/3,0,1,123",
        "capabilities": 31.0,
        "mode": 1.0,
    }
    assert commands(messages) == [Command("_result", 1.0, properties, [CONNECT_SUCCESS])]


def test_client_sends_the_encoder_publish_sequence(seeded_random: Random) -> None:
    pair = publishing_pair(seeded_random, client_options={"fourcc_list": ["hvc1"]})
    pair.client.send_metadata({"fps": 25.0}, timestamp=0)
    pair.pump()
    messages = pair.messages_from_client()
    assert messages[0] == to_message(SetChunkSize(4096))
    assert commands(messages) == [
        Command(
            "connect",
            1.0,
            {
                "app": "live",
                "type": "nonprivate",
                "flashVer": "FMLE/3.0 (compatible; camsim)",
                "tcUrl": "rtmp://127.0.0.1/live",
                "fourCcList": ["hvc1"],
            },
        ),
        Command("releaseStream", 2.0, None, ["cam1"]),
        Command("FCPublish", 3.0, None, ["cam1"]),
        Command("createStream", 4.0),
        Command("publish", 5.0, None, ["cam1", "live"]),
    ]
    publish = next(m for m in messages if m.type_id == 20 and m.stream_id == 1)
    assert Command.parse(publish.payload).name == "publish"
    assert data_messages(messages) == [
        DataMessage("@setDataFrame", ["onMetaData", amf0.EcmaArray({"fps": 25.0})])
    ]
    # The client answered Set Peer Bandwidth with its Window Acknowledgement Size.
    assert to_message(WindowAckSize(2_500_000)) in messages


def test_server_publish_start_status(seeded_random: Random) -> None:
    pair = publishing_pair(seeded_random)
    status = [c for c in commands(pair.messages_from_server()) if c.name == "onStatus"]
    assert status == [
        Command(
            "onStatus",
            0.0,
            None,
            [
                {
                    "level": "status",
                    "code": "NetStream.Publish.Start",
                    "description": "cam1 is now published.",
                    "details": "cam1",
                }
            ],
        )
    ]


@pytest.mark.parametrize("code", ["NetStream.Publish.BadName", "NetStream.Publish.Denied"])
def test_rejected_publish(seeded_random: Random, code: str) -> None:
    pair = make_pair(seeded_random)
    pair.client.initiate(0.0)
    pair.pump()
    pair.client.publish("cam1", 0.0)
    pair.pump()
    drain(pair.client)
    drain(pair.server)
    pair.server.reject_publish(1, code, "cam1 is already publishing")
    pair.pump()
    rejected = ended(Cause.REFUSED, f"publish rejected: {code}", status=code)
    assert drain(pair.server) == [rejected]
    assert drain(pair.client) == [PublishRejected(1, code, "cam1 is already publishing"), rejected]
    assert states(pair) == (ClientState.CLOSED, ServerState.CLOSED)
    with pytest.raises(LocalProtocolError, match="the connection is closed"):
        pair.client.send_video(0, b"")


@pytest.mark.parametrize("repeat", [True, False])
def test_media_timestamps_across_2_pow_24(seeded_random: Random, repeat: bool) -> None:
    pair = publishing_pair(seeded_random, client_options={"repeat_extended_timestamp": repeat})
    timestamps = [(1 << 24) - 40, (1 << 24), (1 << 24) + 40, (1 << 24) + 80, (1 << 32) - 1]
    for timestamp in timestamps:
        pair.client.send_video(timestamp, b"\x27\x01\x00\x00\x00" + bytes(10_000))
    pair.pump()
    received = drain(pair.server)
    assert [event.timestamp for event in received if isinstance(event, VideoReceived)] == timestamps


def test_acknowledgements_when_the_window_is_reached(seeded_random: Random) -> None:
    pair = publishing_pair(
        seeded_random, server_options={"window_ack_size": 5000, "peer_bandwidth": 5000}
    )
    # The client answered Set Peer Bandwidth 5000 with Window Acknowledgement Size 5000.
    assert to_message(WindowAckSize(5000)) in pair.messages_from_client()
    pair.client.send_video(0, bytes(6000))
    pair.pump()
    acks = [e for e in drain(pair.client) if isinstance(e, AcknowledgementReceived)]
    assert len(acks) == 1
    assert acks[0].sequence_number == len(pair.client_sent)


def test_ping(seeded_random: Random) -> None:
    pair = publishing_pair(seeded_random)
    pair.server.send_ping(123456)
    pair.pump()
    assert drain(pair.server) == [PingResponseReceived(123456)]
    pair.client.send_ping(7)
    pair.pump()
    assert drain(pair.client) == [PingResponseReceived(7)]


def test_client_close_unpublishes(seeded_random: Random) -> None:
    pair = publishing_pair(seeded_random)
    pair.client.close()
    pair.pump()
    assert drain(pair.client) == [ended(Cause.LOCAL_CLOSE, "closed locally")]
    assert drain(pair.server) == [StreamDeleted(1)]
    assert pair.server.state is ServerState.CONNECTED
    names = [c.name for c in commands(pair.messages_from_client())]
    assert names[-2:] == ["FCUnpublish", "deleteStream"]


def test_server_fourcc_list_reaches_the_client(seeded_random: Random) -> None:
    pair = make_pair(seeded_random, server_options={"fourcc_list": ("hvc1",)})
    pair.client.initiate(0.0)
    pair.pump()
    accepted = drain(pair.client)[1]
    assert isinstance(accepted, ConnectAccepted)
    assert isinstance(accepted.properties, dict)
    assert accepted.properties["fourCcList"] == ["hvc1"]


def test_client_phase_timers(seeded_random: Random) -> None:
    pair = make_pair(seeded_random, client_options={"connect_timeout": 5.0, "publish_timeout": 3.0})
    pair.client.initiate(100.0)
    assert pair.client.get_timer() == 105.0
    pair.client.handle_timer(104.9)
    assert drain(pair.client) == []
    pair.pump()
    assert pair.client.get_timer() is None
    pair.client.publish("cam1", 200.0)
    assert pair.client.get_timer() == 203.0
    pair.client.handle_timer(203.0)
    timed_out = ended(Cause.TIMED_OUT, "timed out waiting for publish", phase="publish")
    assert drain(pair.client)[-1] == timed_out
    assert pair.client.state is ClientState.CLOSED
    assert pair.client.get_timer() is None


def test_client_api_misuse(seeded_random: Random) -> None:
    pair = make_pair(seeded_random)
    with pytest.raises(LocalProtocolError, match="publish is not allowed in state IDLE"):
        pair.client.publish("cam1", 0.0)
    pair.client.initiate(0.0)
    with pytest.raises(LocalProtocolError, match="initiate is not allowed in state HANDSHAKING"):
        pair.client.initiate(0.0)
    pair.pump()
    with pytest.raises(
        LocalProtocolError, match=r"send_video\(\) needs a published stream; state is CONNECTED"
    ):
        pair.client.send_video(0, b"")


def test_server_api_misuse(seeded_random: Random) -> None:
    pair = make_pair(seeded_random)
    with pytest.raises(
        LocalProtocolError,
        match=r"accept_publish\(1\) without a pending request on that stream; state is HANDSHAKING",
    ):
        pair.server.accept_publish(1)
    with pytest.raises(LocalProtocolError, match=r"send_video\(\) needs an accepted play"):
        pair.server.send_video(0, b"")


def test_terminated_connection_ignores_further_data(seeded_random: Random) -> None:
    pair = publishing_pair(seeded_random)
    pair.client.close()
    drain(pair.client)
    assert pair.client.data_to_send() != b""
    pair.client.receive_data(b"\xff" * 100, 0.0)
    assert pair.client.next_event() is None
    assert pair.client.data_to_send() == b""


def test_message_from_the_server_on_unknown_transaction_is_surfaced(seeded_random: Random) -> None:
    pair = publishing_pair(seeded_random)
    pair.server.send_command(Command("onBWDone", 0.0))
    pair.pump()
    events = drain(pair.client)
    assert len(events) == 1
    assert events[0].command == Command("onBWDone", 0.0)  # type: ignore[attr-defined]


def test_audio_payload_bytes_survive_any_chunk_size(seeded_random: Random) -> None:
    pair = publishing_pair(seeded_random, client_options={"chunk_size": 1})
    payload = bytes(range(256)) * 3
    pair.client.send_audio(5, payload)
    pair.pump()
    assert drain(pair.server) == [AudioReceived(1, 5, payload)]
    assert RtmpMessage(8, payload, 5, 1) in pair.messages_from_client()


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.binary(max_size=60), max_size=5))
def test_any_bytes_to_a_publishing_client(seeded_random: Random, pieces: list[bytes]) -> None:
    pair = publishing_pair(seeded_random)
    events = []
    for piece in pieces:
        pair.client.receive_data(piece, 0.0)
        events += drain(pair.client)
    terminations = [e for e in events if isinstance(e, ConnectionTerminated)]
    assert len(terminations) <= 1
    if terminations:
        assert events[-1] is terminations[0]
        assert pair.client.state is ClientState.CLOSED


def test_create_stream_result_that_is_not_a_stream_id(seeded_random: Random) -> None:
    pair = make_pair(seeded_random)
    pair.client.initiate(0.0)
    pair.pump()
    drain(pair.client)
    pair.client.publish("cam1", 0.0)
    result = Command("_result", 4.0, None, [float("nan")])
    pair.client.receive_data(ChunkWriter(4096).write(10, to_message(result)), 0.0)
    assert drain(pair.client) == [
        PublishRejected(0, "", ""),
        ended(Cause.PROTOCOL_ERROR, "createStream failed: nan", error=RemoteProtocolError),
    ]


def test_connect_rejected_by_the_server(seeded_random: Random) -> None:
    pair = make_pair(seeded_random)
    pair.client.initiate(0.0)
    pair.server.receive_data(pair.client.data_to_send(), 0.0)
    pair.client.receive_data(pair.server.data_to_send(), 0.0)
    description = "[ AccessManager.Reject ] : [ code=403 need auth; authmod=adobe ]"
    info = status_info("error", "NetConnection.Connect.Rejected", description)
    rejection = to_message(Command("_error", 1.0, None, [info]))
    pair.client.receive_data(ChunkWriter().write(3, rejection), 0.0)
    assert drain(pair.client) == [
        HandshakeCompleted(True),
        ConnectRejected("NetConnection.Connect.Rejected", description),
        ended(
            Cause.REFUSED,
            "connect rejected: NetConnection.Connect.Rejected",
            status="NetConnection.Connect.Rejected",
        ),
    ]


def test_other_status_messages_are_surfaced(seeded_random: Random) -> None:
    pair = publishing_pair(seeded_random)
    info = status_info("status", "NetStream.Publish.Idle", "cam1 is idle")
    pair.server.send_command(Command("onStatus", 0.0, None, [info]), stream_id=1)
    pair.pump()
    assert drain(pair.client) == [
        StatusReceived(1, "status", "NetStream.Publish.Idle", "cam1 is idle", info)
    ]
