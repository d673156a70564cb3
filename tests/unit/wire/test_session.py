"""Every way a wire connection ends is a Termination with a Cause to act on, never a string."""

from __future__ import annotations

import random

import pytest

from tests.unit.wire.rtmp.harness import ScriptedClient, drain, make_pair
from tests.unit.wire.terminations import ended
from wire.rtmp.chunk import ChunkWriter, RtmpMessage
from wire.rtmp.client import RtmpClientConnection
from wire.rtmp.errors import RemoteProtocolError as RtmpRemoteProtocolError
from wire.rtmp.errors import RtmpError
from wire.rtmp.events import ConnectionTerminated as RtmpTerminated
from wire.rtmp.messages import Command, MessageType
from wire.rtmp.server import RtmpServerConnection
from wire.rtsp.client import RtspClientConnection
from wire.rtsp.errors import RemoteProtocolError as RtspRemoteProtocolError
from wire.rtsp.events import ConnectionTerminated as RtspTerminated
from wire.rtsp.server import RtspServerConfig, RtspServerConnection
from wire.session import Cause, Termination


def seeded() -> random.Random:
    return random.Random(554)


# -- the model ------------------------------------------------------------------------------------


def test_each_constructor_sets_its_cause_and_what_goes_with_it() -> None:
    error = ValueError("bad chunk")
    assert Termination.protocol_error(error) == Termination(
        Cause.PROTOCOL_ERROR, "bad chunk", error=error
    )
    assert Termination.timed_out("the handshake") == Termination(
        Cause.TIMED_OUT, "timed out waiting for the handshake", phase="the handshake"
    )
    assert Termination.timed_out("a request", "no request for 60 s").detail == (
        "no request for 60 s"
    )
    assert Termination.refused(454, "SETUP answered 454") == Termination(
        Cause.REFUSED, "SETUP answered 454", status=454
    )
    assert Termination.peer_closed() == Termination(Cause.PEER_CLOSED, "peer closed the connection")
    reset = ConnectionResetError(104, "Connection reset by peer")
    assert Termination.peer_closed("the connection broke", error=reset).error is reset
    assert Termination.local_close() == Termination(Cause.LOCAL_CLOSE, "closed locally")
    assert Termination.overload("9000000 bytes queued").cause is Cause.OVERLOAD
    assert str(Termination.local_close("server shutting down")) == "server shutting down"


def test_terminations_are_values() -> None:
    ended_once = Termination.timed_out("publish")
    with pytest.raises(AttributeError):
        ended_once.cause = Cause.LOCAL_CLOSE  # type: ignore[misc]
    assert {ended_once, Termination.timed_out("publish")} == {ended_once}


# -- RTMP -----------------------------------------------------------------------------------------


def rtmp_server() -> RtmpServerConnection:
    return RtmpServerConnection(now=0.0, random=seeded().randbytes)


def test_rtmp_eof_before_the_handshake_completes_is_the_peer_closing() -> None:
    server = rtmp_server()
    server.receive_data(b"\x03" + bytes(100), 0.0)
    server.receive_eof()
    detail = "peer closed the connection during the handshake"
    assert drain(server) == [ended(Cause.PEER_CLOSED, detail)]
    assert server.termination == Termination.peer_closed(detail)
    server.receive_eof()  # once ended, nothing more happens
    assert drain(server) == []


def test_rtmp_eof_in_the_middle_of_a_message_says_so() -> None:
    server = rtmp_server()
    peer = ScriptedClient(server, seeded().randbytes)
    drain(server)
    chunk = ChunkWriter().write(6, RtmpMessage(MessageType.VIDEO, bytes(300), 0, 1))
    server.receive_data(chunk[:100], 0.0)
    server.receive_eof()
    assert peer.server is server
    detail = "peer closed the connection in the middle of a message"
    assert drain(server) == [ended(Cause.PEER_CLOSED, detail)]


def test_rtmp_eof_between_messages_is_a_plain_close() -> None:
    server = rtmp_server()
    ScriptedClient(server, seeded().randbytes)
    drain(server)
    server.receive_eof()
    assert drain(server) == [ended(Cause.PEER_CLOSED, "peer closed the connection")]


def test_rtmp_protocol_error_carries_the_wire_exception() -> None:
    server = rtmp_server()
    peer = ScriptedClient(server, seeded().randbytes)
    drain(server)
    peer.send(3, Command("createStream", 2.0))
    [event] = drain(server)
    assert isinstance(event, RtmpTerminated)
    termination = event.termination
    assert termination.cause is Cause.PROTOCOL_ERROR
    assert isinstance(termination.error, RtmpRemoteProtocolError)
    assert termination.detail == str(termination.error) == "createStream before connect"


def test_rtmp_malformed_chunk_is_a_protocol_error_with_the_parser_exception() -> None:
    server = rtmp_server()
    ScriptedClient(server, seeded().randbytes)
    drain(server)
    server.receive_data(b"\xc9", 0.0)  # fmt 3 on a chunk stream that never started
    reason = "chunk stream 9: first chunk has fmt 3, nothing to inherit"
    assert drain(server) == [ended(Cause.PROTOCOL_ERROR, reason, error=RtmpError)]


def test_rtmp_phase_deadline_is_timed_out_with_the_phase() -> None:
    server = RtmpServerConnection(now=10.0, random=seeded().randbytes, handshake_timeout=1.5)
    server.handle_timer(11.5)
    detail = "timed out waiting for the handshake"
    assert drain(server) == [ended(Cause.TIMED_OUT, detail, phase="the handshake")]


def test_rtmp_refusals_carry_the_status_code() -> None:
    pair = make_pair(seeded().randbytes)
    pair.client.initiate(0.0)
    pair.pump()
    pair.client.publish("cam1", 0.0)
    pair.pump()
    drain(pair.client)
    drain(pair.server)
    pair.server.reject_publish(1, "NetStream.Publish.Denied", "wrong key")
    pair.pump()
    code = "NetStream.Publish.Denied"
    refused = ended(Cause.REFUSED, f"publish rejected: {code}", status=code)
    assert drain(pair.server) == [refused]
    assert drain(pair.client)[-1] == refused


def test_rtmp_close_is_local_unless_the_caller_says_why() -> None:
    client = RtmpClientConnection(app="live", tc_url="rtmp://h/live", random=seeded().randbytes)
    client.close()
    assert drain(client) == [ended(Cause.LOCAL_CLOSE, "closed locally")]
    server = rtmp_server()
    server.close(Termination.overload("peer is not reading: 9000000 bytes queued for it"))
    [event] = drain(server)
    assert isinstance(event, RtmpTerminated)
    assert event.termination == Termination.overload(
        "peer is not reading: 9000000 bytes queued for it"
    )


# -- RTSP -----------------------------------------------------------------------------------------


def test_rtsp_eof_is_the_peer_closing() -> None:
    client = RtspClientConnection("rtsp://cam/s")
    client.receive_eof()
    assert [client.next_event()] == [ended(Cause.PEER_CLOSED, "peer closed the connection")]
    assert client.termination == Termination.peer_closed()


def test_rtsp_fatal_framing_error_carries_the_exception() -> None:
    server = RtspServerConnection()
    server.receive_data(b"\x16\x03\x01", 0.0)
    events = []
    while (event := server.next_event()) is not None:
        events.append(event)
    assert isinstance(events[-1], RtspTerminated)
    termination = events[-1].termination
    assert termination.cause is Cause.PROTOCOL_ERROR
    assert isinstance(termination.error, RtspRemoteProtocolError)
    assert termination.error.status_code == 400


def test_rtsp_unfinished_request_times_out() -> None:
    server = RtspServerConnection(RtspServerConfig(request_timeout=5.0))
    server.receive_data(b"OPTIONS * RTSP/1.0\r\n", 100.0)
    server.handle_timer(105.0)
    server.data_to_send()
    detail = "request not completed within 5 s"
    assert [server.next_event()] == [ended(Cause.TIMED_OUT, detail, phase="a request")]


def test_rtsp_close_takes_the_callers_termination() -> None:
    server = RtspServerConnection()
    server.close(Termination.timed_out("a request", "no request for 60 s"))
    assert [server.next_event()] == [
        ended(Cause.TIMED_OUT, "no request for 60 s", phase="a request")
    ]
    other = RtspServerConnection()
    other.close()
    assert [other.next_event()] == [ended(Cause.LOCAL_CLOSE, "closed locally")]
