"""In-memory wiring of RTMP connections for the tests: no sockets, no clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from wire.rtmp.chunk import ChunkReader, ChunkWriter, RtmpMessage
from wire.rtmp.client import RtmpClientConnection
from wire.rtmp.connection import RtmpConnection
from wire.rtmp.events import RtmpEvent
from wire.rtmp.handshake import ClientHandshake
from wire.rtmp.messages import Command, DataMessage, Payload, to_message
from wire.rtmp.server import RtmpServerConnection
from wire.rtmp.states import ClientState, ServerState

HANDSHAKE_BYTES = 1 + 2 * 1536
"""C0C1 plus C2, and S0S1S2: both directions carry this much before the first chunk."""


def drain(connection: RtmpConnection) -> list[RtmpEvent]:
    events = []
    while (event := connection.next_event()) is not None:
        events.append(event)
    return events


@dataclass
class Pair:
    """A client and a server wired back to back; records every byte each one sent."""

    client: RtmpClientConnection
    server: RtmpServerConnection
    byte_at_a_time: bool = False
    client_sent: bytearray = field(default_factory=bytearray)
    server_sent: bytearray = field(default_factory=bytearray)

    def pump(self) -> None:
        while True:
            to_server = self.client.data_to_send()
            to_client = self.server.data_to_send()
            if not to_server and not to_client:
                return
            self.client_sent += to_server
            self.server_sent += to_client
            self._deliver(to_server, self.server)
            self._deliver(to_client, self.client)

    def _deliver(self, data: bytes, connection: RtmpConnection) -> None:
        if self.byte_at_a_time:
            for index in range(len(data)):
                connection.receive_data(data[index : index + 1], 0.0)
        else:
            connection.receive_data(data, 0.0)

    def messages_from_client(self) -> list[RtmpMessage]:
        return ChunkReader().receive_data(bytes(self.client_sent[HANDSHAKE_BYTES:]))

    def messages_from_server(self) -> list[RtmpMessage]:
        return ChunkReader().receive_data(bytes(self.server_sent[HANDSHAKE_BYTES:]))


def states(pair: Pair) -> tuple[ClientState, ServerState]:
    return pair.client.state, pair.server.state


def make_pair(
    random: Callable[[int], bytes],
    *,
    byte_at_a_time: bool = False,
    client_options: dict[str, object] | None = None,
    server_options: dict[str, object] | None = None,
) -> Pair:
    client = RtmpClientConnection(
        app="live",
        tc_url="rtmp://127.0.0.1/live",
        random=random,
        **(client_options or {}),  # type: ignore[arg-type]
    )
    server = RtmpServerConnection(now=0.0, random=random, **(server_options or {}))  # type: ignore[arg-type]
    return Pair(client, server, byte_at_a_time)


def publishing_pair(random: Callable[[int], bytes], **options: object) -> Pair:
    """A pair that went through connect and an accepted publish of ``cam1``."""
    pair = make_pair(random, **options)  # type: ignore[arg-type]
    pair.client.initiate(0.0)
    pair.pump()
    pair.client.publish("cam1", 0.0)
    pair.pump()
    pair.server.accept_publish(1)
    pair.pump()
    drain(pair.client)
    drain(pair.server)
    return pair


class ScriptedClient:
    """A hand-driven client, for sending a server what RtmpClientConnection never would."""

    def __init__(self, server: RtmpServerConnection, random: Callable[[int], bytes]) -> None:
        self.server = server
        self.writer = ChunkWriter()
        self.reader = ChunkReader()
        handshake = ClientHandshake(complex_handshake=False, random=random)
        server.receive_data(handshake.initiate(), 0.0)
        server.receive_data(handshake.receive(bytearray(server.data_to_send())), 0.0)

    def send(self, csid: int, payload: Payload, *, stream_id: int = 0) -> None:
        self.send_message(csid, to_message(payload, stream_id=stream_id))

    def send_message(self, csid: int, message: RtmpMessage) -> None:
        self.server.receive_data(self.writer.write(csid, message), 0.0)

    def received(self) -> list[RtmpMessage]:
        return self.reader.receive_data(self.server.data_to_send())

    def connect(self) -> None:
        self.send(3, Command("connect", 1.0, {"app": "live", "tcUrl": "rtmp://h/live"}))
        self.send(3, Command("createStream", 2.0))


def commands(messages: list[RtmpMessage]) -> list[Command]:
    return [Command.parse(message.payload) for message in messages if message.type_id == 20]


def data_messages(messages: list[RtmpMessage]) -> list[DataMessage]:
    return [DataMessage.parse(message.payload) for message in messages if message.type_id == 18]
