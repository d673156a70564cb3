"""The server state machine driven by a hand-scripted client."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.wire.rtmp.harness import ScriptedClient, commands, data_messages, drain
from tests.unit.wire.terminations import ended
from wire import amf0
from wire.amf0 import Amf0Value
from wire.rtmp.chunk import RtmpMessage
from wire.rtmp.errors import RemoteProtocolError, RtmpError
from wire.rtmp.events import (
    AudioReceived,
    CommandReceived,
    ConnectionTerminated,
    DataReceived,
    MetadataReceived,
    PlayRequested,
    PublishRequested,
    RtmpEvent,
    StreamDeleted,
    VideoReceived,
)
from wire.rtmp.handshake import ClientHandshake
from wire.rtmp.messages import Command, DataMessage, UserControl, status_info, to_message
from wire.rtmp.server import RtmpServerConnection
from wire.rtmp.states import ServerState
from wire.session import Cause

PROTOCOL_ERROR = Cause.PROTOCOL_ERROR

Random = Callable[[int], bytes]


@pytest.fixture
def server(seeded_random: Random) -> RtmpServerConnection:
    return RtmpServerConnection(now=0.0, random=seeded_random)


@pytest.fixture
def peer(server: RtmpServerConnection, seeded_random: Random) -> ScriptedClient:
    peer = ScriptedClient(server, seeded_random)
    drain(server)
    return peer


def connected(peer: ScriptedClient) -> ScriptedClient:
    peer.connect()
    peer.received()
    drain(peer.server)
    return peer


def publishing(peer: ScriptedClient) -> ScriptedClient:
    connected(peer)
    peer.send(8, Command("publish", 0.0, None, ["cam1", "live"]), stream_id=1)
    peer.server.accept_publish(1)
    peer.received()
    drain(peer.server)
    return peer


def test_connect_without_app_is_rejected(
    server: RtmpServerConnection, peer: ScriptedClient
) -> None:
    peer.send(3, Command("connect", 1.0, {"tcUrl": "rtmp://h/live"}))
    info = status_info("error", "NetConnection.Connect.Rejected", "connect without an app name")
    assert commands(peer.received()) == [Command("_error", 1.0, None, [info])]
    assert drain(server) == [
        ended(PROTOCOL_ERROR, "connect without an app name", error=RemoteProtocolError)
    ]
    assert server.state is ServerState.CLOSED


def test_commands_before_connect_end_the_connection(
    server: RtmpServerConnection, peer: ScriptedClient
) -> None:
    peer.send(3, Command("createStream", 2.0))
    assert peer.received() == []
    assert drain(server) == [
        ended(PROTOCOL_ERROR, "createStream before connect", error=RemoteProtocolError)
    ]


def test_second_connect_is_refused(server: RtmpServerConnection, peer: ScriptedClient) -> None:
    connected(peer)
    peer.send(3, Command("connect", 3.0, {"app": "live"}))
    assert drain(server) == [
        ended(PROTOCOL_ERROR, "connect in state CONNECTED", error=RemoteProtocolError)
    ]


def test_publish_on_a_stream_that_was_not_created(
    server: RtmpServerConnection, peer: ScriptedClient
) -> None:
    connected(peer)
    peer.send(8, Command("publish", 0.0, None, ["cam1", "live"]), stream_id=7)
    reason = "publish on stream 7, which createStream did not return"
    messages = peer.received()
    assert commands(messages) == [
        Command("onStatus", 0.0, None, [status_info("error", "NetStream.Publish.Denied", reason)])
    ]
    assert messages[0].stream_id == 7
    assert drain(server) == [ended(PROTOCOL_ERROR, reason, error=RemoteProtocolError)]


def test_publish_without_a_name(server: RtmpServerConnection, peer: ScriptedClient) -> None:
    connected(peer)
    peer.send(8, Command("publish", 0.0, None, [""]), stream_id=1)
    info = status_info("error", "NetStream.Publish.BadName", "publish without a stream name")
    assert commands(peer.received()) == [Command("onStatus", 0.0, None, [info])]
    assert drain(server) == [
        ended(PROTOCOL_ERROR, "publish without a stream name", error=RemoteProtocolError)
    ]


def test_second_publish_is_denied(server: RtmpServerConnection, peer: ScriptedClient) -> None:
    publishing(peer)
    peer.send(3, Command("createStream", 9.0))
    peer.send(8, Command("publish", 0.0, None, ["cam2"]), stream_id=2)
    reason = "publish is not allowed in state PUBLISHING"
    status = [c for c in commands(peer.received()) if c.name == "onStatus"]
    assert status == [
        Command("onStatus", 0.0, None, [status_info("error", "NetStream.Publish.Denied", reason)])
    ]
    assert drain(server) == [ended(PROTOCOL_ERROR, reason, error=RemoteProtocolError)]


def test_media_before_publish(server: RtmpServerConnection, peer: ScriptedClient) -> None:
    connected(peer)
    peer.send_message(6, RtmpMessage(9, b"\x17\x01\x00\x00\x00", 0, 1))
    reason = "video message on stream 1, which is not publishing"
    assert drain(server) == [ended(PROTOCOL_ERROR, reason, error=RemoteProtocolError)]


def test_media_pipelined_behind_publish_is_delivered(
    server: RtmpServerConnection, peer: ScriptedClient
) -> None:
    connected(peer)
    writer = peer.writer
    publish = to_message(Command("publish", 0.0, None, ["cam1", "live"]), stream_id=1)
    data = writer.write(8, publish) + writer.write(4, RtmpMessage(8, b"\xaf\x01", 3, 1))
    server.receive_data(data, 0.0)
    assert drain(server) == [PublishRequested(1, "cam1", "live"), AudioReceived(1, 3, b"\xaf\x01")]


def test_metadata_forms_and_other_data(server: RtmpServerConnection, peer: ScriptedClient) -> None:
    publishing(peer)
    peer.send(8, DataMessage("onMetaData", [{"width": 1.0}]), stream_id=1)
    peer.send(
        8, DataMessage("@setDataFrame", ["onMetaData", amf0.EcmaArray({"h": 2.0})]), stream_id=1
    )
    peer.send(8, DataMessage("onCuePoint", [1.0]), stream_id=1)
    assert drain(server) == [
        MetadataReceived(1, 0, {"width": 1.0}),
        MetadataReceived(1, 0, {"h": 2.0}),
        DataReceived(1, 0, "onCuePoint", (1.0,)),
    ]


def test_amf3_command_with_amf0_body(server: RtmpServerConnection, peer: ScriptedClient) -> None:
    body = b"\x00" + Command("connect", 1.0, {"app": "live"}).serialize()
    peer.send_message(3, RtmpMessage(17, body))
    assert server.state is ServerState.CONNECTED
    peer.send_message(3, RtmpMessage(17, b"\x11\x0a"))
    reason = "message type 17: AMF3 values are not supported"
    assert drain(server)[-1] == ended(PROTOCOL_ERROR, reason, error=RemoteProtocolError)


def test_aggregate_message(server: RtmpServerConnection, peer: ScriptedClient) -> None:
    publishing(peer)

    def part(type_id: int, timestamp: int, body: bytes) -> bytes:
        size = len(body).to_bytes(3, "big")
        header = bytes((type_id,)) + size + timestamp.to_bytes(3, "big") + bytes(4)
        return header + body + (11 + len(body)).to_bytes(4, "big")

    payload = part(9, 1000, b"\x27\x01") + part(8, 1010, b"\xaf\x01")
    peer.send_message(6, RtmpMessage(22, payload, 500, 1))
    assert drain(server) == [VideoReceived(1, 500, b"\x27\x01"), AudioReceived(1, 510, b"\xaf\x01")]


def test_delete_stream_then_publish_again(
    server: RtmpServerConnection, peer: ScriptedClient
) -> None:
    publishing(peer)
    peer.send(3, Command("deleteStream", 6.0, None, [1.0]))
    assert drain(server) == [StreamDeleted(1)]
    assert server.state is ServerState.CONNECTED
    peer.send(3, Command("createStream", 7.0))
    assert commands(peer.received())[-1] == Command("_result", 7.0, None, [2.0])
    peer.send(8, Command("publish", 0.0, None, ["cam1"]), stream_id=2)
    assert drain(server) == [PublishRequested(2, "cam1", "live")]


def test_unknown_commands_are_surfaced(server: RtmpServerConnection, peer: ScriptedClient) -> None:
    connected(peer)
    peer.send(3, Command("_checkbw", 3.0))
    assert drain(server) == [CommandReceived(0, Command("_checkbw", 3.0))]


def test_release_stream_and_fcpublish_get_empty_results(
    server: RtmpServerConnection, peer: ScriptedClient
) -> None:
    connected(peer)
    peer.send(3, Command("releaseStream", 3.0, None, ["cam1"]))
    peer.send(3, Command("FCPublish", 4.0, None, ["cam1"]))
    assert commands(peer.received()) == [
        Command("_result", 3.0, None, [amf0.UNDEFINED]),
        Command("_result", 4.0, None, [amf0.UNDEFINED]),
    ]


def test_play(server: RtmpServerConnection, peer: ScriptedClient) -> None:
    connected(peer)
    peer.send(8, Command("play", 4.0, None, ["hks", -2.0]), stream_id=1)
    assert drain(server) == [PlayRequested(1, "hks")]
    server.accept_play(1)
    server.send_metadata({"width": 480.0})
    server.send_video(0, b"\x17\x00\x00\x00\x00")
    messages = peer.received()
    assert messages[0] == to_message(UserControl.stream_begin(1))
    infos = [c.arguments[0] for c in commands(messages)]
    codes = [info["code"] for info in infos if isinstance(info, dict)]
    assert codes == ["NetStream.Play.Reset", "NetStream.Play.Start"]
    assert data_messages(messages) == [
        DataMessage("|RtmpSampleAccess", [True, True]),
        DataMessage("onMetaData", [amf0.EcmaArray({"width": 480.0})]),
    ]
    assert messages[-1] == RtmpMessage(9, b"\x17\x00\x00\x00\x00", 0, 1)


def test_rejected_play(server: RtmpServerConnection, peer: ScriptedClient) -> None:
    connected(peer)
    peer.send(8, Command("play", 4.0, None, ["nope"]), stream_id=1)
    drain(server)
    server.reject_play(1)
    info = status_info("error", "NetStream.Play.StreamNotFound", "")
    assert commands(peer.received()) == [Command("onStatus", 0.0, None, [info])]
    code = "NetStream.Play.StreamNotFound"
    assert drain(server) == [ended(Cause.REFUSED, f"play rejected: {code}", status=code)]


def test_handshake_timeout(seeded_random: Random) -> None:
    server = RtmpServerConnection(now=50.0, random=seeded_random, handshake_timeout=2.0)
    assert server.get_timer() == 52.0
    server.handle_timer(51.0)
    assert drain(server) == []
    server.handle_timer(52.0)
    reason = "timed out waiting for the handshake"
    assert drain(server) == [ended(Cause.TIMED_OUT, reason, phase="the handshake")]
    assert server.get_timer() is None


def test_setup_timeout_after_the_handshake(
    server: RtmpServerConnection, peer: ScriptedClient
) -> None:
    assert server.get_timer() == 30.0
    connected(peer)
    server.handle_timer(30.0)
    reason = "timed out waiting for publish or play"
    assert drain(server) == [ended(Cause.TIMED_OUT, reason, phase="publish or play")]


def test_malformed_chunk_becomes_a_termination(
    server: RtmpServerConnection, peer: ScriptedClient
) -> None:
    server.receive_data(b"\xc9", 0.0)
    reason = "chunk stream 9: first chunk has fmt 3, nothing to inherit"
    assert drain(server) == [ended(PROTOCOL_ERROR, reason, error=RtmpError)]


def test_malformed_amf_becomes_a_termination(
    server: RtmpServerConnection, peer: ScriptedClient
) -> None:
    peer.send_message(3, RtmpMessage(20, b"\x02\x00\x07conn"))
    reason = "command: AMF0 string: truncated, need 7 bytes at offset 3, have 4"
    assert drain(server) == [ended(PROTOCOL_ERROR, reason, error=RtmpError)]


def check_events(events: list[RtmpEvent], server: RtmpServerConnection) -> None:
    assert all(isinstance(event, RtmpEvent) for event in events)
    terminations = [e for e in events if isinstance(e, ConnectionTerminated)]
    assert len(terminations) <= 1
    if terminations:
        assert events[-1] is terminations[0]
        assert server.state is ServerState.CLOSED


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=200))
def test_any_bytes_after_the_handshake(seeded_random: Random, data: bytes) -> None:
    server = RtmpServerConnection(now=0.0, random=seeded_random)
    ScriptedClient(server, seeded_random)
    drain(server)
    server.receive_data(data, 0.0)
    check_events(drain(server), server)


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.binary(max_size=60), max_size=5))
def test_any_bytes_while_publishing(seeded_random: Random, pieces: list[bytes]) -> None:
    server = RtmpServerConnection(now=0.0, random=seeded_random)
    publishing(ScriptedClient(server, seeded_random))
    events: list[RtmpEvent] = []
    for piece in pieces:
        server.receive_data(piece, 0.0)
        events += drain(server)
    check_events(events, server)


AMF_WORDS: list[Amf0Value] = [
    "connect",
    "publish",
    "play",
    "createStream",
    "deleteStream",
    "@setDataFrame",
    "onMetaData",
    1.0,
    0.0,
    None,
    {"app": "x"},
    "cam",
]
amf_payloads = st.one_of(
    st.binary(max_size=40),
    st.lists(st.sampled_from(AMF_WORDS), max_size=5).map(lambda values: amf0.encode(*values)),
)


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.tuples(st.integers(1, 22), amf_payloads, st.integers(0, 2)),
        max_size=6,
    )
)
def test_any_well_chunked_messages(
    seeded_random: Random, items: list[tuple[int, bytes, int]]
) -> None:
    server = RtmpServerConnection(now=0.0, random=seeded_random)
    peer = ScriptedClient(server, seeded_random)
    peer.connect()
    drain(server)
    events: list[RtmpEvent] = []
    for type_id, payload, stream_id in items:
        peer.send_message(5, RtmpMessage(type_id, payload, 0, stream_id))
        events += drain(server)
    check_events(events, server)


def test_delete_stream_with_a_stream_id_that_is_not_a_number(
    server: RtmpServerConnection, peer: ScriptedClient
) -> None:
    publishing(peer)
    peer.send(3, Command("deleteStream", 6.0, None, [float("nan")]))
    assert drain(server) == []
    assert server.state is ServerState.PUBLISHING


def test_receive_data_takes_the_time_the_bytes_arrived(seeded_random: Random) -> None:
    server = RtmpServerConnection(now=10.0, random=seeded_random)
    assert server.last_received is None
    handshake = ClientHandshake(complex_handshake=False, random=seeded_random)
    server.receive_data(handshake.initiate(), 10.5)
    assert server.last_received == 10.5
    server.receive_data(handshake.receive(bytearray(server.data_to_send())), 11.25)
    assert server.last_received == 11.25
    server.close()
    server.receive_data(b"\x02", 12.0)  # nothing is taken after the end
    assert server.last_received == 11.25
