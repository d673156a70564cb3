"""Connection states and the transitions between them, for both roles.

Each table maps a state to the inputs it accepts and the state each one leads to. An input that a
state does not list is a protocol error: the peer's (RemoteProtocolError) when it came off the
wire, the caller's (LocalProtocolError) when it came through the API. Closing is allowed from
every state and is not listed.
"""

from __future__ import annotations

from enum import Enum, auto


class ClientState(Enum):
    IDLE = auto()
    HANDSHAKING = auto()
    CONNECTING = auto()
    CONNECTED = auto()
    CREATING_STREAM = auto()
    PUBLISH_PENDING = auto()
    PUBLISHING = auto()
    CLOSED = auto()


class ClientInput(Enum):
    INITIATE = auto()
    HANDSHAKE_DONE = auto()
    CONNECT_ACCEPTED = auto()
    PUBLISH = auto()
    STREAM_CREATED = auto()
    PUBLISH_STARTED = auto()


CLIENT_TRANSITIONS: dict[ClientState, dict[ClientInput, ClientState]] = {
    ClientState.IDLE: {ClientInput.INITIATE: ClientState.HANDSHAKING},
    ClientState.HANDSHAKING: {ClientInput.HANDSHAKE_DONE: ClientState.CONNECTING},
    ClientState.CONNECTING: {ClientInput.CONNECT_ACCEPTED: ClientState.CONNECTED},
    ClientState.CONNECTED: {ClientInput.PUBLISH: ClientState.CREATING_STREAM},
    ClientState.CREATING_STREAM: {ClientInput.STREAM_CREATED: ClientState.PUBLISH_PENDING},
    ClientState.PUBLISH_PENDING: {ClientInput.PUBLISH_STARTED: ClientState.PUBLISHING},
    ClientState.PUBLISHING: {},
    ClientState.CLOSED: {},
}


class ServerState(Enum):
    HANDSHAKING = auto()
    AWAITING_CONNECT = auto()
    CONNECTED = auto()
    PUBLISH_REQUESTED = auto()
    PUBLISHING = auto()
    PLAY_REQUESTED = auto()
    PLAYING = auto()
    CLOSED = auto()


class ServerInput(Enum):
    HANDSHAKE_DONE = auto()
    CONNECT = auto()
    PUBLISH = auto()
    ACCEPT_PUBLISH = auto()
    PLAY = auto()
    ACCEPT_PLAY = auto()
    DELETE_STREAM = auto()


SERVER_TRANSITIONS: dict[ServerState, dict[ServerInput, ServerState]] = {
    ServerState.HANDSHAKING: {ServerInput.HANDSHAKE_DONE: ServerState.AWAITING_CONNECT},
    ServerState.AWAITING_CONNECT: {ServerInput.CONNECT: ServerState.CONNECTED},
    ServerState.CONNECTED: {
        ServerInput.PUBLISH: ServerState.PUBLISH_REQUESTED,
        ServerInput.PLAY: ServerState.PLAY_REQUESTED,
    },
    ServerState.PUBLISH_REQUESTED: {
        ServerInput.ACCEPT_PUBLISH: ServerState.PUBLISHING,
        ServerInput.DELETE_STREAM: ServerState.CONNECTED,
    },
    ServerState.PUBLISHING: {ServerInput.DELETE_STREAM: ServerState.CONNECTED},
    ServerState.PLAY_REQUESTED: {
        ServerInput.ACCEPT_PLAY: ServerState.PLAYING,
        ServerInput.DELETE_STREAM: ServerState.CONNECTED,
    },
    ServerState.PLAYING: {ServerInput.DELETE_STREAM: ServerState.CONNECTED},
    ServerState.CLOSED: {},
}
