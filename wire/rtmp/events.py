"""Events that RTMP connections hand to the application through ``next_event()``."""

from __future__ import annotations

from dataclasses import dataclass

from wire.amf0 import Amf0Value
from wire.rtmp.messages import Command
from wire.session import Termination


class RtmpEvent:
    """Base class of every RTMP connection event."""


@dataclass(frozen=True)
class HandshakeCompleted(RtmpEvent):
    complex_handshake: bool
    """True when both sides used the digest-carrying (Flash Player 9) handshake."""


@dataclass(frozen=True)
class ClientConnected(RtmpEvent):
    """Server side: the client's ``connect`` was answered with NetConnection.Connect.Success."""

    app: str
    tc_url: str | None
    command_object: dict[str, Amf0Value]

    @property
    def fourcc_list(self) -> list[str]:
        """Enhanced RTMP codecs the client announced in ``fourCcList``."""
        value = self.command_object.get("fourCcList")
        if not isinstance(value, list):
            return []
        return [item for item in value if isinstance(item, str)]


@dataclass(frozen=True)
class ConnectAccepted(RtmpEvent):
    """Client side: the server answered ``connect`` with ``_result``."""

    properties: Amf0Value
    information: Amf0Value


@dataclass(frozen=True)
class ConnectRejected(RtmpEvent):
    """Client side: the server answered ``connect`` with ``_error``."""

    code: str
    description: str


@dataclass(frozen=True)
class StreamCreated(RtmpEvent):
    """Client side: ``createStream`` returned a message stream id."""

    stream_id: int


@dataclass(frozen=True)
class PublishRequested(RtmpEvent):
    """Server side: the client asked to publish; answer with accept_publish or reject_publish."""

    stream_id: int
    name: str
    publish_type: str


@dataclass(frozen=True)
class PlayRequested(RtmpEvent):
    """Server side: the client asked to play; answer with accept_play or reject_play."""

    stream_id: int
    name: str


@dataclass(frozen=True)
class PublishStarted(RtmpEvent):
    """Client side: onStatus NetStream.Publish.Start; media may flow."""

    stream_id: int
    name: str


@dataclass(frozen=True)
class PublishRejected(RtmpEvent):
    """Client side: the publish failed (onStatus error such as NetStream.Publish.BadName)."""

    stream_id: int
    code: str
    description: str


@dataclass(frozen=True)
class StatusReceived(RtmpEvent):
    """An ``onStatus`` that is not the answer to a pending publish."""

    stream_id: int
    level: str
    code: str
    description: str
    info: dict[str, Amf0Value]


@dataclass(frozen=True)
class StreamDeleted(RtmpEvent):
    """Server side: the client sent deleteStream or closeStream."""

    stream_id: int


@dataclass(frozen=True)
class MetadataReceived(RtmpEvent):
    """``onMetaData`` script data, sent directly or wrapped in ``@setDataFrame``."""

    stream_id: int
    timestamp: int
    metadata: dict[str, Amf0Value]


@dataclass(frozen=True)
class DataReceived(RtmpEvent):
    """Any other AMF0 data message."""

    stream_id: int
    timestamp: int
    name: str
    values: tuple[Amf0Value, ...]


@dataclass(frozen=True)
class AudioReceived(RtmpEvent):
    """An audio message; ``payload`` is an FLV audio tag body (see :mod:`wire.flv`)."""

    stream_id: int
    timestamp: int
    payload: bytes

    def __init__(self, stream_id: int, timestamp: int, payload: bytes) -> None:
        # One per media message: see RtmpMessage.__init__.
        fields = self.__dict__
        fields["stream_id"] = stream_id
        fields["timestamp"] = timestamp
        fields["payload"] = payload


@dataclass(frozen=True)
class VideoReceived(RtmpEvent):
    """A video message; ``payload`` is an FLV video tag body (see :mod:`wire.flv`)."""

    stream_id: int
    timestamp: int
    payload: bytes

    def __init__(self, stream_id: int, timestamp: int, payload: bytes) -> None:
        # One per media message: see RtmpMessage.__init__.
        fields = self.__dict__
        fields["stream_id"] = stream_id
        fields["timestamp"] = timestamp
        fields["payload"] = payload


@dataclass(frozen=True)
class CommandReceived(RtmpEvent):
    """A command the connection does not answer by itself (onBWDone, _checkbw, ...)."""

    stream_id: int
    command: Command


@dataclass(frozen=True)
class AcknowledgementReceived(RtmpEvent):
    """The peer acknowledged ``sequence_number`` bytes."""

    sequence_number: int


@dataclass(frozen=True)
class PingResponseReceived(RtmpEvent):
    """The peer answered our PingRequest carrying ``timestamp``."""

    timestamp: int


@dataclass(frozen=True)
class ConnectionTerminated(RtmpEvent):
    """The connection is closed: flush ``data_to_send()`` and close the transport.

    ``termination`` says why: the peer broke the protocol (with the exception), a phase timed out
    (with its name), a publish or play was refused (with the status code), the peer or we
    closed. Act on ``termination.cause``; ``termination.detail`` is for logs.
    """

    termination: Termination
