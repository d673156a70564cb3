"""The server side of an RTSP connection, sans I/O.

The connection answers what the protocol alone decides: malformed requests (400), other
versions (505), unknown (501) or unsupported (405) methods, unsupported ``Require`` options
(551), missing credentials (401), unknown sessions (454), methods out of state (455) and the
aggregate-control policy (459/460). Everything else becomes a :class:`RequestReceived` for the
application, which answers with :meth:`RtspServerConnection.send_response`. Sessions are created
and moved through their states by the application's successful answers, and expire when nothing
refreshes them for their timeout.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field

from wire.rtsp.authenticator import Authenticator
from wire.rtsp.connection import RtspConnection
from wire.rtsp.errors import LocalProtocolError, RemoteProtocolError
from wire.rtsp.events import RequestReceived, RequestRejected, SessionExpired, UnexpectedResponse
from wire.rtsp.headers import Headers, SessionHeader
from wire.rtsp.message import METHODS, RTSP_VERSION, Method, Request, Response
from wire.rtsp.reader import ReaderLimits
from wire.rtsp.state import (
    AggregateControl,
    SessionState,
    UrlTarget,
    aggregate_violation,
    is_valid_in,
    next_state,
    valid_methods,
)
from wire.rtsp.status import StatusCode
from wire.session import Termination

DEFAULT_SERVER_METHODS = frozenset(
    {
        Method.OPTIONS,
        Method.DESCRIBE,
        Method.SETUP,
        Method.PLAY,
        Method.PAUSE,
        Method.TEARDOWN,
        Method.GET_PARAMETER,
        Method.SET_PARAMETER,
    }
)
DEFAULT_REQUEST_TIMEOUT = 10.0


@dataclass(frozen=True)
class RtspServerConfig:
    """Policy of a server connection.

    ``request_timeout`` bounds how long a request may take to arrive once it has started
    (slowloris); ``unauthenticated_methods`` are let through without credentials.
    """

    methods: frozenset[str] = DEFAULT_SERVER_METHODS
    authenticator: Authenticator | None = None
    unauthenticated_methods: frozenset[str] = frozenset()
    aggregate_control: AggregateControl = AggregateControl.ANY
    supported_options: frozenset[str] = frozenset()
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT
    limits: ReaderLimits = field(default_factory=ReaderLimits)


@dataclass
class ServerSession:
    """One RTSP session as the server connection tracks it."""

    session_id: str
    timeout: float
    last_activity: float
    state: SessionState = SessionState.READY
    media_urls: list[str] = field(default_factory=list)

    @property
    def expires_at(self) -> float:
        return self.last_activity + self.timeout

    def target_of(self, url: str) -> UrlTarget:
        """Whether ``url`` names one of the session's streams or the presentation."""
        wanted = url.rstrip("/")
        if any(m.rstrip("/") == wanted for m in self.media_urls):
            return UrlTarget.MEDIA
        return UrlTarget.AGGREGATE


@dataclass(frozen=True)
class _Rejection:
    status_code: int
    reason: str
    headers: tuple[tuple[str, str], ...] = ()


def _ordered(methods: frozenset[str]) -> str:
    known = [m.value for m in Method if m in methods]
    return ", ".join(known + sorted(methods - set(known)))


class RtspServerConnection(RtspConnection):
    """One client's RTSP connection to our server."""

    def __init__(self, config: RtspServerConfig | None = None) -> None:
        self.config = config or RtspServerConfig()
        super().__init__(self.config.limits)
        self._sessions: dict[str, ServerSession] = {}
        self._awaiting: dict[int, float] = {}  # CSeq -> when the request arrived
        self._partial_since: float | None = None

    @property
    def sessions(self) -> Mapping[str, ServerSession]:
        return self._sessions

    def send_response(self, request: Request, response: Response) -> None:
        """Answer ``request``. CSeq is echoed unless ``response`` sets its own.

        A 2xx answer moves the session: SETUP creates it from the response's ``Session`` header
        (with its timeout), PLAY and PAUSE change its state, TEARDOWN ends it.
        """
        self._ensure_open()
        cseq = request.cseq
        received_at = None if cseq is None else self._awaiting.pop(cseq, None)
        if cseq is None or received_at is None:
            raise LocalProtocolError(f"no request with CSeq {cseq} is awaiting a response")
        if "CSeq" not in response.headers:
            headers = Headers([("CSeq", str(cseq)), *response.headers])
            response = dataclasses.replace(response, headers=headers)
        if response.ok:
            self._advance_session(request, response, received_at)
        self._write(response.serialize())

    def refresh_session(self, session_id: str, now: float) -> bool:
        """Note activity on a session, e.g. an RTCP receiver report; False if unknown."""
        session = self._sessions.get(session_id)
        if session is None:
            return False
        session.last_activity = max(session.last_activity, now)
        return True

    def get_timer(self) -> float | None:
        """When :meth:`handle_timer` should next be called, or None."""
        if self._closed:
            return None
        deadlines = [s.expires_at for s in self._sessions.values()]
        if self._partial_since is not None:
            deadlines.append(self._partial_since + self.config.request_timeout)
        return min(deadlines, default=None)

    def handle_timer(self, now: float) -> None:
        """Expire sessions and close a connection stuck on a partial request."""
        if self._closed:
            return
        if (
            self._partial_since is not None
            and now >= self._partial_since + self.config.request_timeout
        ):
            self._write(Response(StatusCode.REQUEST_TIMEOUT).serialize())
            detail = f"request not completed within {self.config.request_timeout:g} s"
            self._terminate(Termination.timed_out("a request", detail))
            return
        for session in [s for s in self._sessions.values() if now >= s.expires_at]:
            del self._sessions[session.session_id]
            self._events.append(SessionExpired(session.session_id))

    def _handle_request(self, request: Request, now: float) -> None:
        session = self._session_of(request)
        rejection = self._check(request, now, session)
        if rejection is not None:
            self._reject(rejection, request.cseq, request)
            return
        cseq = request.cseq
        assert cseq is not None  # _check refuses requests without one
        self._awaiting[cseq] = now
        if session is not None:
            self.refresh_session(session.session_id, now)
        session_id = session.session_id if session is not None else None
        self._events.append(RequestReceived(request, session_id))

    def _handle_response(self, response: Response, now: float) -> None:
        self._events.append(UnexpectedResponse(response))

    def _handle_protocol_error(self, error: RemoteProtocolError, now: float) -> None:
        self._reject(_Rejection(error.status_code, str(error)), error.cseq, None)
        if error.fatal:
            self._terminate(Termination.protocol_error(error))

    def _after_receive(self, now: float, progressed: bool) -> None:
        if not self._reader.has_partial:
            self._partial_since = None
        elif progressed or self._partial_since is None:
            self._partial_since = now

    def _reject(self, rejection: _Rejection, cseq: int | None, request: Request | None) -> None:
        headers = Headers() if cseq is None else Headers([("CSeq", str(cseq))])
        for name, value in rejection.headers:
            headers.add(name, value)
        self._write(Response(rejection.status_code, headers=headers).serialize())
        self._events.append(RequestRejected(rejection.status_code, rejection.reason, request))

    def _session_of(self, request: Request) -> ServerSession | None:
        value = request.headers.get("Session")
        if value is None:
            return None
        try:
            return self._sessions.get(SessionHeader.parse(value).session_id)
        except RemoteProtocolError:
            return None

    def _check(
        self, request: Request, now: float, session: ServerSession | None
    ) -> _Rejection | None:
        return (
            self._check_syntax(request)
            or self._check_method(request)
            or self._check_options(request)
            or self._check_credentials(request, now)
            or self._check_session(request, session)
        )

    def _check_syntax(self, request: Request) -> _Rejection | None:
        if request.version != RTSP_VERSION:
            return _Rejection(
                StatusCode.RTSP_VERSION_NOT_SUPPORTED, f"version {request.version} is not served"
            )
        if request.cseq is None:
            return _Rejection(StatusCode.BAD_REQUEST, "missing or malformed CSeq")
        if request.cseq in self._awaiting:
            # A CSeq names one request (§12.17): a second one while the first is unanswered
            # could not be told apart from it in the answers.
            return _Rejection(
                StatusCode.BAD_REQUEST, f"CSeq {request.cseq} is already awaiting a response"
            )
        return None

    def _check_method(self, request: Request) -> _Rejection | None:
        if request.method not in METHODS:
            return _Rejection(StatusCode.NOT_IMPLEMENTED, f"unknown method {request.method}")
        if request.method not in self.config.methods:
            # §11.4: a 405 "MUST include an Allow header".
            allow = (("Allow", _ordered(self.config.methods)),)
            return _Rejection(
                StatusCode.METHOD_NOT_ALLOWED, f"method {request.method} not served", allow
            )
        return None

    def _check_options(self, request: Request) -> _Rejection | None:
        # §12.32: options in Require (and Proxy-Require) that we do not support earn a 551
        # listing them in Unsupported.
        required = [
            option.strip()
            for name in ("Require", "Proxy-Require")
            for value in request.headers.get_all(name)
            for option in value.split(",")
            if option.strip()
        ]
        unsupported = [o for o in required if o not in self.config.supported_options]
        if not unsupported:
            return None
        return _Rejection(
            StatusCode.OPTION_NOT_SUPPORTED,
            f"unsupported options {', '.join(unsupported)}",
            (("Unsupported", ", ".join(unsupported)),),
        )

    def _check_credentials(self, request: Request, now: float) -> _Rejection | None:
        authenticator = self.config.authenticator
        if authenticator is None or request.method in self.config.unauthenticated_methods:
            return None
        verdict = authenticator.check(
            request.method, request.headers.get("Authorization"), now, uri=request.url
        )
        if verdict.ok:
            return None
        challenges = authenticator.challenges(now, uri=request.url, stale=verdict.stale)
        headers = tuple(("WWW-Authenticate", c.serialize()) for c in challenges)
        return _Rejection(StatusCode.UNAUTHORIZED, verdict.reason, headers)

    def _check_session(self, request: Request, session: ServerSession | None) -> _Rejection | None:
        value = request.headers.get("Session")
        if value is not None and session is None:
            return _Rejection(StatusCode.SESSION_NOT_FOUND, f"no session {value.strip()!r}")
        state = session.state if session is not None else SessionState.INIT
        if not is_valid_in(state, request.method):
            # RFC 7826 §17.4.11 asks for the methods that are valid in the state.
            allow = ", ".join(valid_methods(state, self.config.methods))
            return _Rejection(
                StatusCode.METHOD_NOT_VALID_IN_THIS_STATE,
                f"{request.method} is not valid in state {state.value}",
                (("Allow", allow),),
            )
        if session is None:
            return None
        violation = aggregate_violation(
            self.config.aggregate_control,
            request.method,
            session.target_of(request.url),
            len(session.media_urls),
        )
        if violation is None:
            return None
        return _Rejection(violation, f"{request.method} on {request.url} breaks aggregate control")

    def _advance_session(self, request: Request, response: Response, received_at: float) -> None:
        if request.method == Method.SETUP:
            self._set_up_session(request, response, received_at)
            return
        session = self._session_of(request)
        if session is None:
            return
        session.state = next_state(session.state, request.method)
        if request.method == Method.TEARDOWN:
            del self._sessions[session.session_id]

    def _set_up_session(self, request: Request, response: Response, received_at: float) -> None:
        value = response.headers.get("Session")
        if value is None:
            raise LocalProtocolError("a 2xx answer to SETUP needs a Session header")
        try:
            header = SessionHeader.parse(value)
        except RemoteProtocolError as error:
            raise LocalProtocolError(str(error)) from None
        session = self._sessions.setdefault(
            header.session_id,
            ServerSession(header.session_id, header.effective_timeout, received_at),
        )
        session.timeout = header.effective_timeout
        if session.target_of(request.url) is UrlTarget.AGGREGATE:
            session.media_urls.append(request.url)
        session.state = next_state(session.state, Method.SETUP)
