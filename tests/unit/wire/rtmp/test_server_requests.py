"""Settling publish and play requests: the application answers the events it was given, even
when the connection ended behind them in the same batch of bytes."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.unit.wire.rtmp.harness import ScriptedClient, commands, drain
from wire.rtmp.chunk import RtmpMessage
from wire.rtmp.errors import LocalProtocolError, RtmpError
from wire.rtmp.events import ConnectionTerminated, PlayRequested, PublishRequested
from wire.rtmp.messages import Command, MessageType, to_message
from wire.rtmp.server import PUBLISH_DENIED, RtmpServerConnection
from wire.rtmp.states import ServerState
from wire.session import Cause

Random = Callable[[int], bytes]

# A command whose first value claims a 0x4000-byte string that is not there.
GARBAGE_COMMAND = RtmpMessage(MessageType.COMMAND_AMF0, b"\x02\x40\x00onStatus", 0, 0)


@pytest.fixture
def peer(seeded_random: Random) -> ScriptedClient:
    server = RtmpServerConnection(now=0.0, random=seeded_random)
    peer = ScriptedClient(server, seeded_random)
    peer.connect()
    peer.received()
    drain(server)
    return peer


def request_then_garbage(peer: ScriptedClient, name: str) -> list[object]:
    """``name`` (publish or play) and a malformed command, in one write as a peer may send."""
    request = to_message(Command(name, 0.0, None, ["cam1", "live"]), stream_id=1)
    writer = peer.writer
    peer.server.receive_data(writer.write(8, request) + writer.write(3, GARBAGE_COMMAND), 0.0)
    return list(drain(peer.server))


@pytest.mark.parametrize("settle", ["accept_publish", "reject_publish"])
def test_a_publish_request_outlived_by_its_connection_settles_as_a_no_op(
    peer: ScriptedClient, settle: str
) -> None:
    events = request_then_garbage(peer, "publish")
    assert events[0] == PublishRequested(1, "cam1", "live")
    assert isinstance(events[1], ConnectionTerminated)
    assert events[1].termination.cause is Cause.PROTOCOL_ERROR
    assert isinstance(events[1].termination.error, RtmpError)
    sent_before = peer.received()

    getattr(peer.server, settle)(1)

    # Nothing is answered on a connection that is gone, and nothing more happens.
    assert peer.received() == []
    assert drain(peer.server) == []
    assert peer.server.state is ServerState.CLOSED
    assert all(c.name != "onStatus" for c in commands(sent_before))


@pytest.mark.parametrize("settle", ["accept_play", "reject_play"])
def test_a_play_request_outlived_by_its_connection_settles_as_a_no_op(
    peer: ScriptedClient, settle: str
) -> None:
    events = request_then_garbage(peer, "play")
    assert events[0] == PlayRequested(1, "cam1")
    assert isinstance(events[1], ConnectionTerminated)
    getattr(peer.server, settle)(1)
    assert peer.received() == []
    assert drain(peer.server) == []


def test_settling_a_request_that_never_was_is_still_misuse(peer: ScriptedClient) -> None:
    request_then_garbage(peer, "publish")
    with pytest.raises(LocalProtocolError, match="closed"):
        peer.server.accept_publish(2)
    with pytest.raises(LocalProtocolError, match="closed"):
        peer.server.accept_play(1)


def test_settling_twice_is_still_misuse(peer: ScriptedClient) -> None:
    request = to_message(Command("publish", 0.0, None, ["cam1", "live"]), stream_id=1)
    peer.server.receive_data(peer.writer.write(8, request), 0.0)
    assert drain(peer.server) == [PublishRequested(1, "cam1", "live")]
    peer.server.reject_publish(1, PUBLISH_DENIED, "no")
    with pytest.raises(LocalProtocolError):
        peer.server.reject_publish(1, PUBLISH_DENIED, "no")
    with pytest.raises(LocalProtocolError):
        peer.server.accept_publish(1)
