"""Events the RTSP connections hand to their caller, one small frozen dataclass each."""

from __future__ import annotations

from dataclasses import dataclass, field

from wire.rtsp.headers import SessionHeader
from wire.rtsp.message import Request, Response
from wire.rtsp.range import Range
from wire.rtsp.rtpinfo import RtpInfo
from wire.rtsp.transport import Transport
from wire.session import Termination


@dataclass(frozen=True)
class RequestReceived:
    """A valid request for the application to answer with ``send_response``.

    ``session_id`` is the session the request belongs to, already checked to exist.
    """

    request: Request
    session_id: str | None = None


@dataclass(frozen=True)
class RequestRejected:
    """The connection answered a request itself with an error status."""

    status_code: int
    reason: str
    request: Request | None = None


@dataclass(frozen=True)
class ResponseReceived:
    """The answer to a request, with the headers a client acts on already parsed.

    ``cseq`` is the number returned when the request was first sent, even if it was resent
    with credentials; ``request`` is the request as last sent. ``base_url`` is the base for
    control URLs of a DESCRIBE answer (§C.1.1). ``warnings`` lists headers that did not parse
    and fields left out of the headers that did.
    """

    cseq: int
    request: Request
    response: Response
    session: SessionHeader | None = None
    transport: Transport | None = None
    rtp_info: RtpInfo | None = None
    range: Range | None = None
    base_url: str | None = None
    warnings: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class UnexpectedResponse:
    """A response that answers no pending request."""

    response: Response


@dataclass(frozen=True)
class MalformedResponse:
    """A response that could not be parsed; ``cseq`` is the request it probably answered."""

    reason: str
    cseq: int | None = None


@dataclass(frozen=True)
class AuthenticationRetried:
    """The server asked for credentials and the request was resent with them."""

    cseq: int
    new_cseq: int
    scheme: str


@dataclass(frozen=True)
class KeepaliveSent:
    """The client refreshed its session with a request of its own."""

    cseq: int
    method: str


@dataclass(frozen=True)
class InterleavedFrameReceived:
    """A binary packet on the RTSP connection (§10.12)."""

    channel: int
    payload: bytes


@dataclass(frozen=True)
class SessionExpired:
    """No request or RTCP report refreshed the session within its timeout."""

    session_id: str


@dataclass(frozen=True)
class ConnectionTerminated:
    """The connection is closed; nothing more will be read or written.

    ``termination`` says why (the peer closed, a request timed out, a protocol error with its
    exception, a local close); act on ``termination.cause``, log ``termination.detail``.
    """

    termination: Termination


Event = (
    RequestReceived
    | RequestRejected
    | ResponseReceived
    | UnexpectedResponse
    | MalformedResponse
    | AuthenticationRetried
    | KeepaliveSent
    | InterleavedFrameReceived
    | SessionExpired
    | ConnectionTerminated
)
