"""Fuzz targets of RTMP: handshakes, chunk streams, messages and both connections in every
state a valid peer can take them to."""

from __future__ import annotations

from collections.abc import Callable

from tests.fuzz import seeds
from tests.fuzz.registry import pieces, target
from wire import amf0
from wire.rtmp import messages as rtmp_messages
from wire.rtmp.chunk import ChunkReader, ChunkWriter, RtmpMessage
from wire.rtmp.client import RtmpClientConnection
from wire.rtmp.errors import RtmpError
from wire.rtmp.events import ConnectionTerminated as RtmpTerminated
from wire.rtmp.events import PublishRequested, RtmpEvent
from wire.rtmp.handshake import ClientHandshake, ServerHandshake
from wire.rtmp.messages import Command, to_message
from wire.rtmp.server import RtmpServerConnection
from wire.rtmp.states import ClientState


@target(
    "rtmp_chunks",
    "wire.rtmp.chunk.ChunkReader.receive_data",
    (RtmpError,),
    lambda: [seeds.chunk_stream_seed()],
)
def _rtmp_chunks(data: bytes) -> None:
    reader = ChunkReader(max_message_size=256 * 1024, max_chunk_streams=16)
    # Reads of 7 bytes: most chunk headers straddle a read boundary.
    for piece in pieces(b"\x07" + data):
        reader.receive_data(piece)


def _message_seeds() -> list[bytes]:
    return [
        bytes([kind]) + payload
        for kind, payloads in seeds.rtmp_message_seeds().items()
        for payload in payloads
    ]


_MESSAGE_PARSERS: dict[int, Callable[[bytes], object]] = {
    1: rtmp_messages.SetChunkSize.parse,
    2: rtmp_messages.Abort.parse,
    3: rtmp_messages.Acknowledgement.parse,
    4: rtmp_messages.UserControl.parse,
    5: rtmp_messages.WindowAckSize.parse,
    6: rtmp_messages.SetPeerBandwidth.parse,
    18: rtmp_messages.DataMessage.parse,
    20: rtmp_messages.Command.parse,
}


@target(
    "rtmp_messages",
    "wire.rtmp.messages.*.parse, split_aggregate",
    (RtmpError, amf0.Amf0Error),
    _message_seeds,
)
def _rtmp_messages(data: bytes) -> None:
    if not data:
        return
    parser = _MESSAGE_PARSERS.get(data[0])
    if parser is not None:
        parser(data[1:])
    else:
        rtmp_messages.split_aggregate(RtmpMessage(22, data[1:], 1000, 1))


def _handshake_server_seeds() -> list[bytes]:
    """C0C1 and the C2 that answers the target's own S1 (the same seeded randomness)."""
    c0c1, c2 = seeds.client_handshake_bytes()
    s0s1s2 = ServerHandshake(random=seeds.seeded_random(1)).receive(bytearray(c0c1))
    return [b"\x00" + c0c1 + c2(s0s1s2)]


def _handshake_client_seeds() -> list[bytes]:
    """S0S1S2 answering the target's own C1, from a simple and a complex server."""
    c0c1 = ClientHandshake(random=seeds.seeded_random(1)).initiate()
    return [
        b"\x00"
        + ServerHandshake(random=seeds.seeded_random(9), allow_complex=allow).receive(
            bytearray(c0c1)
        )
        for allow in (False, True)
    ]


@target(
    "rtmp_handshake_server",
    "wire.rtmp.handshake.ServerHandshake.receive",
    (RtmpError,),
    _handshake_server_seeds,
)
def _rtmp_handshake_server(data: bytes) -> None:
    handshake = ServerHandshake(random=seeds.seeded_random(1))
    buffer = bytearray()
    for piece in pieces(data):
        buffer += piece
        handshake.receive(buffer)


@target(
    "rtmp_handshake_client",
    "wire.rtmp.handshake.ClientHandshake.receive",
    (RtmpError,),
    _handshake_client_seeds,
)
def _rtmp_handshake_client(data: bytes) -> None:
    handshake = ClientHandshake(random=seeds.seeded_random(1))
    handshake.initiate()
    buffer = bytearray()
    for piece in pieces(data):
        buffer += piece
        handshake.receive(buffer)


RTMP_STAGES = ("raw", "handshake", "connect", "publish")
"""How far a valid peer has taken an RTMP connection before the fuzzed bytes arrive."""


def drain_rtmp(connection: RtmpServerConnection | RtmpClientConnection) -> list[RtmpEvent]:
    events = []
    while (event := connection.next_event()) is not None:
        events.append(event)
    return events


def rtmp_server_at(stage: str) -> RtmpServerConnection:
    """A server connection that a well-behaved client has taken to ``stage``."""
    server = RtmpServerConnection(
        now=0.0, random=seeds.seeded_random(2), max_message_size=256 * 1024
    )
    if stage == "raw":
        return server
    c0c1, c2 = seeds.client_handshake_bytes()
    server.receive_data(c0c1, 0.0)
    server.receive_data(c2(server.data_to_send()), 0.0)
    if stage == "handshake":
        return server
    writer = ChunkWriter()
    connect = Command("connect", 1.0, {"app": "live", "tcUrl": "rtmp://127.0.0.1/live"})
    server.receive_data(writer.write(3, to_message(connect)), 0.0)
    if stage == "publish":
        server.receive_data(writer.write(3, to_message(Command("createStream", 2.0))), 0.0)
        publish = Command("publish", 3.0, None, ["cam1", "live"])
        server.receive_data(writer.write(8, to_message(publish, stream_id=1)), 0.0)
        for event in drain_rtmp(server):
            if isinstance(event, PublishRequested):
                server.accept_publish(event.stream_id)
    drain_rtmp(server)
    server.data_to_send()
    assert not server.terminated, f"the valid prefix up to {stage} ended the connection"
    return server


def _new_client() -> RtmpClientConnection:
    client = RtmpClientConnection(
        app="live", tc_url="rtmp://127.0.0.1/live", random=seeds.seeded_random(3)
    )
    client.initiate(0.0)
    return client


def rtmp_client_at(stage: str) -> RtmpClientConnection:
    """A client connection a well-behaved server has taken to ``stage``."""
    client = _new_client()
    if stage == "raw":
        return client
    server = RtmpServerConnection(now=0.0, random=seeds.seeded_random(4))

    def pump() -> None:
        while True:
            to_server, to_client = client.data_to_send(), server.data_to_send()
            if not to_server and not to_client:
                return
            server.receive_data(to_server, 0.0)
            client.receive_data(to_client, 0.0)
            for event in drain_rtmp(server):
                if isinstance(event, PublishRequested):
                    server.accept_publish(event.stream_id)

    if stage == "handshake":
        server.receive_data(client.data_to_send(), 0.0)
        client.receive_data(server.data_to_send()[: 1 + 2 * 1536], 0.0)
        drain_rtmp(client)
        return client
    pump()
    if stage == "publish":
        client.publish("cam1", 0.0)
        pump()
    drain_rtmp(client)
    assert not client.terminated, f"the valid prefix up to {stage} ended the connection"
    return client


def _check_rtmp_events(events: list[RtmpEvent]) -> None:
    assert all(isinstance(event, RtmpEvent) for event in events), events
    ends = [i for i, event in enumerate(events) if isinstance(event, RtmpTerminated)]
    assert ends in ([], [len(events) - 1]), f"events after ConnectionTerminated: {events}"


def _rtmp_server_target(stage: str) -> Callable[[bytes], None]:
    def run(data: bytes) -> None:
        server = rtmp_server_at(stage)
        events: list[RtmpEvent] = []
        for piece in pieces(data):
            server.receive_data(piece, 0.0)
            server.data_to_send()
            events += drain_rtmp(server)
        server.handle_timer(1e9)
        events += drain_rtmp(server)
        _check_rtmp_events(events)
        if stage != "publish":
            # The handshake and setup deadlines have passed: the connection must have ended.
            assert server.terminated, events
            assert isinstance(events[-1], RtmpTerminated), events

    return run


def _rtmp_client_target(stage: str) -> Callable[[bytes], None]:
    def run(data: bytes) -> None:
        client = rtmp_client_at(stage)
        events: list[RtmpEvent] = []
        for piece in pieces(data):
            client.receive_data(piece, 0.0)
            client.data_to_send()
            events += drain_rtmp(client)
        client.handle_timer(1e9)
        events += drain_rtmp(client)
        _check_rtmp_events(events)
        if stage in ("raw", "handshake") and client.state is not ClientState.CONNECTED:
            # The connect deadline has passed, unconnected: the connection must have ended.
            assert client.terminated, events
            assert isinstance(events[-1], RtmpTerminated), events

    return run


def _rtmp_client_raw_seeds() -> list[bytes]:
    """What a server answers the target's own client: S0S1S2, then the connect answers."""
    client = _new_client()
    server = RtmpServerConnection(now=0.0, random=seeds.seeded_random(4))
    server.receive_data(client.data_to_send(), 0.0)
    answer = server.data_to_send()
    client.receive_data(answer, 0.0)
    server.receive_data(client.data_to_send(), 0.0)
    return [b"\x00" + answer + server.data_to_send()]


def _rtmp_server_seeds(stage: str) -> Callable[[], list[bytes]]:
    def make() -> list[bytes]:
        if stage == "raw":
            c0c1, _ = seeds.client_handshake_bytes()
            return [b"\x00" + c0c1]
        return [b"\x00" + seeds.chunk_stream_seed(), b"\x00" + seeds.chunk_stream_seed(4096)]

    return make


for _stage in RTMP_STAGES:
    target(
        f"rtmp_server_{_stage}",
        f"wire.rtmp.RtmpServerConnection.receive_data after {_stage} (never raises)",
        (),
        _rtmp_server_seeds(_stage),
    )(_rtmp_server_target(_stage))
    target(
        f"rtmp_client_{_stage}",
        f"wire.rtmp.RtmpClientConnection.receive_data after {_stage} (never raises)",
        (),
        _rtmp_server_seeds("handshake") if _stage != "raw" else _rtmp_client_raw_seeds,
    )(_rtmp_client_target(_stage))
