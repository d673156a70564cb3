"""The ingest side of RTMP: accepts a publisher (or a simple player).

The server answers ``connect`` by itself (Window Acknowledgement Size, Set Peer Bandwidth, Set
Chunk Size, StreamBegin 0, ``_result`` NetConnection.Connect.Success) and answers
``releaseStream``, ``FCPublish`` and ``createStream``. ``publish`` and ``play`` become
``PublishRequested`` / ``PlayRequested`` events that the application settles with
:meth:`RtmpServerConnection.accept_publish` / :meth:`RtmpServerConnection.reject_publish` (or the
play counterparts). Rejections answer with an onStatus error and end the connection, as
nginx-rtmp does. A request whose connection ended before it was settled (a later message in the
same bytes broke the protocol, a timeout, a local close) settles as a no-op: the application
answers the events in the order it got them, and that is not misuse.
"""

from __future__ import annotations

import os

from wire import amf0
from wire.amf0 import Amf0Value
from wire.rtmp.chunk import DEFAULT_MAX_BUFFERED_BYTES, MAX_CHUNK_SIZE, RtmpMessage
from wire.rtmp.connection import (
    CSID_AUDIO,
    CSID_COMMAND,
    CSID_PROTOCOL_CONTROL,
    CSID_STREAM,
    CSID_VIDEO,
    DEFAULT_MAX_MESSAGE_SIZE,
    DEFAULT_WINDOW_ACK_SIZE,
    RtmpConnection,
)
from wire.rtmp.errors import LocalProtocolError, RemoteProtocolError
from wire.rtmp.events import (
    AudioReceived,
    ClientConnected,
    CommandReceived,
    DataReceived,
    MetadataReceived,
    PlayRequested,
    PublishRequested,
    StreamDeleted,
    VideoReceived,
)
from wire.rtmp.handshake import RandomSource, ServerHandshake
from wire.rtmp.messages import (
    Command,
    DataMessage,
    MessageType,
    PeerBandwidthLimit,
    SetPeerBandwidth,
    UserControl,
    as_stream_id,
    status_info,
)
from wire.rtmp.states import SERVER_TRANSITIONS, ServerInput, ServerState
from wire.session import Termination

FMS_VERSION = "FMS/3,0,1,123"
CONNECT_REJECTED = "NetConnection.Connect.Rejected"
PUBLISH_BAD_NAME = "NetStream.Publish.BadName"
PUBLISH_DENIED = "NetStream.Publish.Denied"
PLAY_STREAM_NOT_FOUND = "NetStream.Play.StreamNotFound"
MAX_STREAMS = 16

_PUBLISHING = ServerState.PUBLISHING
_PUBLISH_REQUESTED = ServerState.PUBLISH_REQUESTED
_AUDIO = int(MessageType.AUDIO)


class RtmpServerConnection(RtmpConnection):
    """A sans-IO RTMP server connection: one client, one publish or play at a time."""

    def __init__(
        self,
        *,
        now: float,
        chunk_size: int = 4096,
        window_ack_size: int = DEFAULT_WINDOW_ACK_SIZE,
        peer_bandwidth: int = DEFAULT_WINDOW_ACK_SIZE,
        fourcc_list: tuple[str, ...] = (),
        allow_complex_handshake: bool = True,
        handshake_timeout: float = 10.0,
        setup_timeout: float = 30.0,
        random: RandomSource = os.urandom,
        repeat_extended_timestamp: bool = True,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
        max_chunk_streams: int = 64,
        max_buffered_bytes: int = DEFAULT_MAX_BUFFERED_BYTES,
        max_chunk_size: int = MAX_CHUNK_SIZE,
    ) -> None:
        super().__init__(
            chunk_size=chunk_size,
            max_message_size=max_message_size,
            max_chunk_streams=max_chunk_streams,
            repeat_extended_timestamp=repeat_extended_timestamp,
            max_buffered_bytes=max_buffered_bytes,
            max_chunk_size=max_chunk_size,
        )
        self._handshake = ServerHandshake(allow_complex=allow_complex_handshake, random=random)
        self.window_ack_size = window_ack_size
        self.peer_bandwidth = peer_bandwidth
        self.fourcc_list = fourcc_list
        self.state = ServerState.HANDSHAKING
        self.app: str | None = None
        self.active_stream_id: int | None = None
        """The stream a publish or play was requested on."""
        self.stream_name: str | None = None
        self._streams: set[int] = set()
        self._next_stream_id = 1
        self._outlived: tuple[ServerState, int | None] | None = None
        """A publish or play request still unanswered when the connection ended."""
        # Both phases count from the moment the transport connected.
        self._deadlines["the handshake"] = now + handshake_timeout
        self._deadlines["publish or play"] = now + setup_timeout

    # -- API --------------------------------------------------------------------------------------

    def accept_publish(self, stream_id: int) -> None:
        """Answer NetStream.Publish.Start; media events follow."""
        if not self._settle(stream_id, ServerState.PUBLISH_REQUESTED, "accept_publish"):
            return
        self._advance(ServerInput.ACCEPT_PUBLISH, remote=False)
        self._send(CSID_PROTOCOL_CONTROL, UserControl.stream_begin(stream_id))
        name = self.stream_name or ""
        info = status_info("status", "NetStream.Publish.Start", f"{name} is now published.")
        info["details"] = name
        self._send_status(stream_id, info)

    def reject_publish(
        self, stream_id: int, code: str = PUBLISH_BAD_NAME, description: str = ""
    ) -> None:
        """Answer an onStatus error (BadName, Denied, ...) and end the connection."""
        if not self._settle(stream_id, ServerState.PUBLISH_REQUESTED, "reject_publish"):
            return
        self._send_status(stream_id, status_info("error", code, description))
        self._terminate(Termination.refused(code, f"publish rejected: {code}"))
        self._outlived = None  # answered: this request did not outlive the connection

    def accept_play(self, stream_id: int) -> None:
        """Answer NetStream.Play.Reset and Play.Start; then send metadata and media."""
        if not self._settle(stream_id, ServerState.PLAY_REQUESTED, "accept_play"):
            return
        self._advance(ServerInput.ACCEPT_PLAY, remote=False)
        self._send(CSID_PROTOCOL_CONTROL, UserControl.stream_begin(stream_id))
        name = self.stream_name or ""
        self._send_status(
            stream_id,
            status_info("status", "NetStream.Play.Reset", f"Playing and resetting {name}."),
        )
        self._send_status(
            stream_id, status_info("status", "NetStream.Play.Start", f"Started playing {name}.")
        )
        access = DataMessage("|RtmpSampleAccess", [True, True])
        self._send(CSID_STREAM, access, stream_id=stream_id)

    def reject_play(
        self, stream_id: int, code: str = PLAY_STREAM_NOT_FOUND, description: str = ""
    ) -> None:
        """Answer an onStatus error and end the connection."""
        if not self._settle(stream_id, ServerState.PLAY_REQUESTED, "reject_play"):
            return
        self._send_status(stream_id, status_info("error", code, description))
        self._terminate(Termination.refused(code, f"play rejected: {code}"))
        self._outlived = None

    def send_metadata(self, metadata: dict[str, Amf0Value], *, timestamp: int = 0) -> None:
        """Send ``onMetaData`` to the player."""
        stream_id = self._playing_stream("send_metadata")
        data = DataMessage("onMetaData", [amf0.EcmaArray(metadata)])
        self._send(CSID_STREAM, data, stream_id=stream_id, timestamp=timestamp)

    def send_audio(self, timestamp: int, payload: bytes) -> None:
        """Send an FLV audio tag body to the player."""
        stream_id = self._playing_stream("send_audio")
        self._send_message(
            CSID_AUDIO, RtmpMessage(MessageType.AUDIO, payload, timestamp, stream_id)
        )

    def send_video(self, timestamp: int, payload: bytes) -> None:
        """Send an FLV video tag body to the player."""
        stream_id = self._playing_stream("send_video")
        self._send_message(
            CSID_VIDEO, RtmpMessage(MessageType.VIDEO, payload, timestamp, stream_id)
        )

    # -- role hooks -------------------------------------------------------------------------------

    def _on_handshake_complete(self) -> None:
        self._advance(ServerInput.HANDSHAKE_DONE, remote=True)
        self._deadlines.pop("the handshake", None)

    def _on_terminated(self) -> None:
        if self.state in (ServerState.PUBLISH_REQUESTED, ServerState.PLAY_REQUESTED):
            self._outlived = (self.state, self.active_stream_id)
        self.state = ServerState.CLOSED

    def _handle_command(self, message: RtmpMessage, command: Command) -> None:
        handler = {
            "connect": self._handle_connect,
            "releaseStream": self._answer_empty_result,
            "FCPublish": self._answer_empty_result,
            "FCUnpublish": self._answer_empty_result,
            "createStream": self._handle_create_stream,
            "publish": self._handle_publish,
            "play": self._handle_play,
            "deleteStream": self._handle_delete_stream,
            "closeStream": self._handle_delete_stream,
        }.get(command.name)
        if handler is None:
            self._events.append(CommandReceived(message.stream_id, command))
            return
        if command.name != "connect" and self.state is ServerState.AWAITING_CONNECT:
            raise RemoteProtocolError(f"{command.name} before connect")
        handler(message, command)

    def _handle_data(self, message: RtmpMessage, data: DataMessage) -> None:
        self._check_publishing(message)
        values = data.values
        if data.name == "@setDataFrame" and values and values[0] == "onMetaData":
            values = values[1:]
            name = "onMetaData"
        else:
            name = data.name
        if name == "onMetaData" and values and isinstance(values[0], dict):
            event = MetadataReceived(message.stream_id, message.timestamp, dict(values[0]))
            self._events.append(event)
            return
        self._events.append(DataReceived(message.stream_id, message.timestamp, name, tuple(values)))

    def _handle_media(self, message: RtmpMessage) -> None:
        self._check_publishing(message)
        event_type = AudioReceived if message.type_id == _AUDIO else VideoReceived
        self._events.append(event_type(message.stream_id, message.timestamp, message.payload))

    # -- commands ---------------------------------------------------------------------------------

    def _handle_connect(self, message: RtmpMessage, command: Command) -> None:
        if self.state is not ServerState.AWAITING_CONNECT:
            raise RemoteProtocolError(f"connect in state {self.state.name}")
        properties = command.command_object
        app = properties.get("app") if isinstance(properties, dict) else None
        if not isinstance(properties, dict) or not isinstance(app, str):
            raise RemoteProtocolError(
                "connect without an app name",
                CONNECT_REJECTED,
                transaction_id=command.transaction_id,
            )
        self._advance(ServerInput.CONNECT, remote=True)
        self.app = app
        tc_url = properties.get("tcUrl")
        self._send_window_ack_size(self.window_ack_size)
        self._send(
            CSID_PROTOCOL_CONTROL, SetPeerBandwidth(self.peer_bandwidth, PeerBandwidthLimit.DYNAMIC)
        )
        self._send_chunk_size()
        self._send(CSID_PROTOCOL_CONTROL, UserControl.stream_begin(0))
        server_properties: dict[str, Amf0Value] = {
            "fmsVer": FMS_VERSION,
            "capabilities": 31.0,
            "mode": 1.0,
        }
        if self.fourcc_list:
            server_properties["fourCcList"] = list(self.fourcc_list)
        information = status_info(
            "status", "NetConnection.Connect.Success", "Connection succeeded.", objectEncoding=0.0
        )
        result = Command("_result", command.transaction_id, server_properties, [information])
        self._send(CSID_COMMAND, result)
        connected = ClientConnected(app, tc_url if isinstance(tc_url, str) else None, properties)
        self._events.append(connected)

    def _answer_empty_result(self, message: RtmpMessage, command: Command) -> None:
        # SRS answers these; nginx-rtmp stays silent. Encoders accept either.
        if command.transaction_id:
            result = Command("_result", command.transaction_id, None, [amf0.UNDEFINED])
            self._send(CSID_COMMAND, result)

    def _handle_create_stream(self, message: RtmpMessage, command: Command) -> None:
        if len(self._streams) >= MAX_STREAMS:
            raise RemoteProtocolError(f"more than {MAX_STREAMS} streams created")
        stream_id = self._next_stream_id
        self._next_stream_id += 1
        self._streams.add(stream_id)
        result = Command("_result", command.transaction_id, None, [float(stream_id)])
        self._send(CSID_COMMAND, result)

    def _handle_publish(self, message: RtmpMessage, command: Command) -> None:
        stream_id = message.stream_id
        name = command.arguments[0] if command.arguments else None
        publish_type = command.arguments[1] if len(command.arguments) > 1 else "live"
        if stream_id not in self._streams:
            raise RemoteProtocolError(
                f"publish on stream {stream_id}, which createStream did not return",
                PUBLISH_DENIED,
                stream_id=stream_id,
            )
        if not isinstance(name, str) or not name:
            raise RemoteProtocolError(
                "publish without a stream name", PUBLISH_BAD_NAME, stream_id=stream_id
            )
        self._advance(ServerInput.PUBLISH, remote=True, status_code=PUBLISH_DENIED)
        self._deadlines.pop("publish or play", None)
        self.active_stream_id, self.stream_name = stream_id, name
        kind = publish_type if isinstance(publish_type, str) else "live"
        self._events.append(PublishRequested(stream_id, name, kind))

    def _handle_play(self, message: RtmpMessage, command: Command) -> None:
        stream_id = message.stream_id
        name = command.arguments[0] if command.arguments else None
        if stream_id not in self._streams or not isinstance(name, str) or not name:
            raise RemoteProtocolError(
                f"play of {name!r} on stream {stream_id} is not valid",
                PLAY_STREAM_NOT_FOUND,
                stream_id=stream_id,
            )
        self._advance(ServerInput.PLAY, remote=True, status_code=PLAY_STREAM_NOT_FOUND)
        self._deadlines.pop("publish or play", None)
        self.active_stream_id, self.stream_name = stream_id, name
        self._events.append(PlayRequested(stream_id, name))

    def _handle_delete_stream(self, message: RtmpMessage, command: Command) -> None:
        # deleteStream names the stream in its argument; closeStream is sent on the stream.
        target = as_stream_id(command.arguments[0]) if command.arguments else None
        stream_id = message.stream_id if target is None else target
        if stream_id not in self._streams:
            return
        if command.name == "deleteStream":
            self._streams.discard(stream_id)
        if stream_id == self.active_stream_id:
            self._advance(ServerInput.DELETE_STREAM, remote=True)
            self.active_stream_id = None
        self._events.append(StreamDeleted(stream_id))

    # -- internals --------------------------------------------------------------------------------

    def _check_publishing(self, message: RtmpMessage) -> None:
        # Runs for every media message: the states are compared by identity against module
        # constants (naming an enum member costs more than the rest of the check).
        state = self.state
        publishing = state is _PUBLISHING or state is _PUBLISH_REQUESTED
        if not publishing or message.stream_id != self.active_stream_id:
            kind = MessageType(message.type_id).name.lower()
            raise RemoteProtocolError(
                f"{kind} message on stream {message.stream_id}, which is not publishing"
            )

    def _settle(self, stream_id: int, expected: ServerState, method: str) -> bool:
        """Check that ``method`` answers the pending request; False when that request was
        still pending as the connection ended, so there is no one left to answer.

        The request's event comes out of :meth:`next_event` before the ``ConnectionTerminated``
        that a later message in the same bytes caused, so the application answers it in good
        faith: that is not misuse, and the answer is dropped. Anything else is misuse.
        """
        if self._terminated and self._outlived == (expected, stream_id):
            self._outlived = None
            return False
        self._check_open()
        if self.state is not expected or stream_id != self.active_stream_id:
            raise LocalProtocolError(
                f"{method}({stream_id}) without a pending request on that stream; "
                f"state is {self.state.name}"
            )
        return True

    def _playing_stream(self, method: str) -> int:
        self._check_open()
        if self.state is not ServerState.PLAYING or self.active_stream_id is None:
            raise LocalProtocolError(
                f"{method}() needs an accepted play; state is {self.state.name}"
            )
        return self.active_stream_id

    def _advance(
        self, trigger: ServerInput, *, remote: bool, status_code: str | None = None
    ) -> None:
        new_state = SERVER_TRANSITIONS[self.state].get(trigger)
        if new_state is None:
            message = f"{trigger.name.lower()} is not allowed in state {self.state.name}"
            if remote:
                raise RemoteProtocolError(
                    message, status_code, stream_id=self.active_stream_id or 0
                )
            raise LocalProtocolError(message)
        self.state = new_state
