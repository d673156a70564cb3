"""The publishing side of RTMP, as encoders (OBS, FFmpeg) speak it.

After the handshake the client sends ``connect``; once the server accepts, :meth:`publish` runs
``releaseStream``, ``FCPublish`` and ``createStream``, then ``publish(name, "live")`` on the new
stream. NetStream.Publish.Start opens the stream for :meth:`send_metadata`, :meth:`send_audio`
and :meth:`send_video`; a rejection (BadName, Denied, ...) is reported and ends the connection.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from wire import amf0
from wire.amf0 import Amf0Value
from wire.rtmp.chunk import RtmpMessage
from wire.rtmp.connection import (
    CSID_AUDIO,
    CSID_COMMAND,
    CSID_STREAM,
    CSID_VIDEO,
    DEFAULT_MAX_MESSAGE_SIZE,
    RtmpConnection,
)
from wire.rtmp.errors import LocalProtocolError, RemoteProtocolError
from wire.rtmp.events import (
    AudioReceived,
    CommandReceived,
    ConnectAccepted,
    ConnectRejected,
    DataReceived,
    PublishRejected,
    PublishStarted,
    StatusReceived,
    StreamCreated,
    VideoReceived,
)
from wire.rtmp.handshake import ClientHandshake, RandomSource
from wire.rtmp.messages import Command, DataMessage, MessageType, as_stream_id
from wire.rtmp.states import CLIENT_TRANSITIONS, ClientInput, ClientState
from wire.session import Termination

DEFAULT_FLASH_VER = "FMLE/3.0 (compatible; camsim)"
PUBLISH_START = "NetStream.Publish.Start"


class RtmpClientConnection(RtmpConnection):
    """A sans-IO RTMP publisher."""

    def __init__(
        self,
        *,
        app: str,
        tc_url: str,
        flash_ver: str = DEFAULT_FLASH_VER,
        fourcc_list: Sequence[str] = (),
        complex_handshake: bool = True,
        chunk_size: int = 4096,
        connect_timeout: float = 10.0,
        publish_timeout: float = 10.0,
        random: RandomSource = os.urandom,
        repeat_extended_timestamp: bool = True,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
        max_chunk_streams: int = 64,
    ) -> None:
        super().__init__(
            chunk_size=chunk_size,
            max_message_size=max_message_size,
            max_chunk_streams=max_chunk_streams,
            repeat_extended_timestamp=repeat_extended_timestamp,
        )
        self._client_handshake = ClientHandshake(complex_handshake=complex_handshake, random=random)
        self._handshake = self._client_handshake
        self.app = app
        self.tc_url = tc_url
        self.flash_ver = flash_ver
        self.fourcc_list = tuple(fourcc_list)
        self.connect_timeout = connect_timeout
        self.publish_timeout = publish_timeout
        self.state = ClientState.IDLE
        self.stream_id: int | None = None
        """The message stream id ``createStream`` returned."""
        self.stream_name: str | None = None
        self._publish_type = "live"
        self._next_transaction_id = 1
        self._transactions: dict[float, str] = {}

    # -- API --------------------------------------------------------------------------------------

    def initiate(self, now: float) -> None:
        """Start the handshake; ``connect`` follows it by itself."""
        self._advance(ClientInput.INITIATE, remote=False)
        self._outbox += self._client_handshake.initiate()
        self._deadlines["connect"] = now + self.connect_timeout

    def publish(self, name: str, now: float, *, publish_type: str = "live") -> None:
        """Ask to publish stream ``name``; ``PublishStarted`` or ``PublishRejected`` follows."""
        self._check_open()
        self._advance(ClientInput.PUBLISH, remote=False)
        self.stream_name = name
        self._publish_type = publish_type
        self._call("releaseStream", None, name)
        self._call("FCPublish", None, name)
        self._call("createStream", None)
        self._deadlines["publish"] = now + self.publish_timeout

    def send_metadata(self, metadata: dict[str, Amf0Value], *, timestamp: int = 0) -> None:
        """Send ``@setDataFrame("onMetaData", metadata)`` as encoders do."""
        stream_id = self._publishing_stream("send_metadata")
        data = DataMessage("@setDataFrame", ["onMetaData", amf0.EcmaArray(metadata)])
        self._send(CSID_STREAM, data, stream_id=stream_id, timestamp=timestamp)

    def send_audio(self, timestamp: int, payload: bytes) -> None:
        """Send an FLV audio tag body with a timestamp in milliseconds."""
        stream_id = self._publishing_stream("send_audio")
        message = RtmpMessage(MessageType.AUDIO, payload, timestamp, stream_id)
        self._send_message(CSID_AUDIO, message)

    def send_video(self, timestamp: int, payload: bytes) -> None:
        """Send an FLV video tag body with a timestamp (the DTS) in milliseconds."""
        stream_id = self._publishing_stream("send_video")
        message = RtmpMessage(MessageType.VIDEO, payload, timestamp, stream_id)
        self._send_message(CSID_VIDEO, message)

    def close(self, termination: Termination | None = None) -> None:
        """Unpublish (FCUnpublish, deleteStream) when publishing, then close."""
        if self.state is ClientState.PUBLISHING and self.stream_id is not None:
            self._call("FCUnpublish", None, self.stream_name)
            self._call("deleteStream", None, float(self.stream_id))
        super().close(termination)

    # -- role hooks -------------------------------------------------------------------------------

    def _on_handshake_complete(self) -> None:
        self._advance(ClientInput.HANDSHAKE_DONE, remote=True)
        self._send_chunk_size()
        command_object: dict[str, Amf0Value] = {
            "app": self.app,
            "type": "nonprivate",
            "flashVer": self.flash_ver,
            "tcUrl": self.tc_url,
        }
        if self.fourcc_list:
            command_object["fourCcList"] = list(self.fourcc_list)
        self._call("connect", command_object)

    def _on_terminated(self) -> None:
        self.state = ClientState.CLOSED

    def _handle_command(self, message: RtmpMessage, command: Command) -> None:
        if command.name in ("_result", "_error"):
            method = self._transactions.pop(command.transaction_id, None)
            if method is not None:
                self._handle_response(method, command)
                return
        elif command.name == "onStatus":
            self._handle_status(message.stream_id, command)
            return
        self._events.append(CommandReceived(message.stream_id, command))

    def _handle_data(self, message: RtmpMessage, data: DataMessage) -> None:
        values = tuple(data.values)
        self._events.append(DataReceived(message.stream_id, message.timestamp, data.name, values))

    def _handle_media(self, message: RtmpMessage) -> None:
        event_type = AudioReceived if message.type_id == MessageType.AUDIO else VideoReceived
        self._events.append(event_type(message.stream_id, message.timestamp, message.payload))

    # -- responses --------------------------------------------------------------------------------

    def _handle_response(self, method: str, response: Command) -> None:
        succeeded = response.name == "_result"
        first_argument = response.arguments[0] if response.arguments else None
        if method == "connect":
            if succeeded:
                self._advance(ClientInput.CONNECT_ACCEPTED, remote=True)
                self._deadlines.pop("connect", None)
                self._events.append(ConnectAccepted(response.command_object, first_argument))
            else:
                code, description = _code_and_description(first_argument)
                self._events.append(ConnectRejected(code, description))
                self._terminate(Termination.refused(code, f"connect rejected: {code}"))
        elif method == "createStream":
            stream_id = as_stream_id(first_argument) if succeeded else None
            if stream_id is None:
                code, description = _code_and_description(first_argument)
                self._events.append(PublishRejected(0, code, description))
                detail = f"createStream failed: {code or first_argument!r}"
                if succeeded:  # a _result without a usable stream id: the server is broken
                    self._terminate(Termination.protocol_error(RemoteProtocolError(detail)))
                else:
                    self._terminate(Termination.refused(code, detail))
                return
            self._advance(ClientInput.STREAM_CREATED, remote=True)
            self.stream_id = stream_id
            self._events.append(StreamCreated(self.stream_id))
            command = Command(
                "publish",
                self._take_transaction_id(),
                None,
                [
                    self.stream_name,
                    self._publish_type,
                ],
            )
            self._send(CSID_STREAM, command, stream_id=self.stream_id)
        # Answers to releaseStream, FCPublish and the like carry nothing we need.

    def _handle_status(self, stream_id: int, command: Command) -> None:
        info = command.arguments[0] if command.arguments else None
        if not isinstance(info, dict):
            raise RemoteProtocolError("onStatus without an info object")
        level, code = str(info.get("level", "")), str(info.get("code", ""))
        description = str(info.get("description", ""))
        if self.state is ClientState.PUBLISH_PENDING and code == PUBLISH_START:
            self._advance(ClientInput.PUBLISH_STARTED, remote=True)
            self._deadlines.pop("publish", None)
            self._events.append(PublishStarted(stream_id, self.stream_name or ""))
        elif self.state is ClientState.PUBLISH_PENDING and level == "error":
            self._events.append(PublishRejected(stream_id, code, description))
            self._terminate(Termination.refused(code, f"publish rejected: {code}"))
        else:
            self._events.append(StatusReceived(stream_id, level, code, description, info))

    # -- internals --------------------------------------------------------------------------------

    def _call(self, name: str, command_object: Amf0Value, *arguments: Amf0Value) -> None:
        transaction_id = self._take_transaction_id()
        self._transactions[transaction_id] = name
        self._send(CSID_COMMAND, Command(name, transaction_id, command_object, list(arguments)))

    def _take_transaction_id(self) -> float:
        transaction_id = float(self._next_transaction_id)
        self._next_transaction_id += 1
        return transaction_id

    def _publishing_stream(self, method: str) -> int:
        self._check_open()
        if self.state is not ClientState.PUBLISHING or self.stream_id is None:
            raise LocalProtocolError(
                f"{method}() needs a published stream; state is {self.state.name}"
            )
        return self.stream_id

    def _advance(self, trigger: ClientInput, *, remote: bool) -> None:
        new_state = CLIENT_TRANSITIONS[self.state].get(trigger)
        if new_state is None:
            message = f"{trigger.name.lower()} is not allowed in state {self.state.name}"
            if remote:
                raise RemoteProtocolError(message)
            raise LocalProtocolError(message)
        self.state = new_state


def _code_and_description(info: Amf0Value) -> tuple[str, str]:
    if isinstance(info, dict):
        return str(info.get("code", "")), str(info.get("description", ""))
    return "", ""
