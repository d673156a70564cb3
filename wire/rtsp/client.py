"""The client side of an RTSP connection, sans I/O.

The client builds requests (numbering CSeq, adding ``Session``, ``User-Agent`` and credentials),
matches answers to them, resends a request once with credentials after a 401, follows the
session through its states, and keeps the session alive on a timer derived from its timeout.
It does not police the order of requests: conformance suites use it to provoke a server's 455.

Keepalives are fire and forget. A keepalive answered with an error (GET_PARAMETER answered 454
by some cameras, retina#133; 405 or 501 from servers without the method) switches later ones to
OPTIONS, which every server must answer (RFC 2326 §10.1). One left unanswered (mediamtx#2302) is
forgotten when the next goes out, and a late answer to it is matched to nothing else.
"""

from __future__ import annotations

import dataclasses
import os
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TypeVar

from wire.rtsp.auth import challenges_from
from wire.rtsp.authenticator import ChallengeResponder, RandomSource
from wire.rtsp.connection import RtspConnection
from wire.rtsp.errors import RemoteProtocolError
from wire.rtsp.events import (
    AuthenticationRetried,
    KeepaliveSent,
    MalformedResponse,
    RequestReceived,
    ResponseReceived,
    UnexpectedResponse,
)
from wire.rtsp.headers import Headers, Public, SessionHeader
from wire.rtsp.message import Method, Request, Response
from wire.rtsp.range import Range
from wire.rtsp.reader import ReaderLimits
from wire.rtsp.rtpinfo import RtpInfo
from wire.rtsp.state import SessionState, next_state
from wire.rtsp.status import StatusCode
from wire.rtsp.transport import Transport, TransportSpec
from wire.rtsp.urls import base_url, resolve_control
from wire.session import Termination

DEFAULT_USER_AGENT = "camsim"
KEEPALIVE_MARGIN = 5.0
MAX_STALE_RETRIES = 2
ABANDONED_KEEPALIVES = 16
"""How many unanswered keepalives are remembered, so that late answers to them match nothing."""

_Header = TypeVar("_Header")


def keepalive_interval(timeout: float) -> float:
    """Seconds between keepalives for a session timeout: min(timeout - 5, timeout / 2).

    A timeout of 5 s or less leaves no room for the margin; half of it is used then.
    """
    interval = min(timeout - KEEPALIVE_MARGIN, timeout / 2)
    return interval if interval > 0 else timeout / 2


@dataclass(frozen=True)
class ClientConfig:
    """Policy of a client connection.

    ``keepalive_method`` None means GET_PARAMETER when the server's ``Public`` lists it, else
    OPTIONS; either way OPTIONS takes over once a keepalive is answered with an error.
    """

    username: str | None = None
    password: str = ""
    cnonce_source: RandomSource = os.urandom
    omit_md5_algorithm: bool = False
    user_agent: str | None = DEFAULT_USER_AGENT
    keepalive_method: str | None = None
    limits: ReaderLimits = field(default_factory=ReaderLimits)


@dataclass
class _Pending:
    cseq: int  # the number the caller was given, stable across resends
    template: Request  # the request as the caller built it
    sent: Request
    auth_attempts: int = 0
    keepalive: bool = False


class RtspClientConnection(RtspConnection):
    """Our RTSP connection to one server, for the presentation at ``url``."""

    def __init__(self, url: str, config: ClientConfig | None = None) -> None:
        self.config = config or ClientConfig()
        super().__init__(self.config.limits)
        self.url = url
        self.base_url: str | None = None
        self.session: SessionHeader | None = None
        self._timed_session: SessionHeader | None = None  # the session _keepalive_every is of
        self._keepalive_every = 0.0
        self.state = SessionState.INIT
        self.public: Public | None = None
        self._next_cseq = 1
        self._pending: dict[int, _Pending] = {}
        self._responder = (
            None
            if self.config.username is None
            else ChallengeResponder(
                self.config.username,
                self.config.password,
                cnonce_source=self.config.cnonce_source,
                omit_md5_algorithm=self.config.omit_md5_algorithm,
            )
        )
        self._last_exchange = 0.0
        self._keepalive_refused = False
        self._abandoned: deque[int] = deque(maxlen=ABANDONED_KEEPALIVES)

    @property
    def aggregate_url(self) -> str:
        """The URL for PLAY, PAUSE and TEARDOWN of the whole presentation."""
        return self.base_url or self.url

    def control_url(self, control: str) -> str:
        """The absolute URL of an SDP ``a=control`` value (§C.1.1)."""
        return resolve_control(self.aggregate_url, control)

    def request(
        self,
        method: str,
        url: str | None = None,
        headers: Iterable[tuple[str, str]] = (),
        body: bytes = b"",
    ) -> int:
        """Send any request; returns its CSeq, which the answer's event carries."""
        self._ensure_open()
        template = Request(method, url or self.url, Headers(headers), body)
        return self._send(template, attempts=0)

    def options(self, url: str | None = None) -> int:
        return self.request(Method.OPTIONS, url)

    def describe(self, url: str | None = None) -> int:
        return self.request(Method.DESCRIBE, url, [("Accept", "application/sdp")])

    def setup(self, url: str, transport: Transport | TransportSpec) -> int:
        value = transport.serialize()
        return self.request(Method.SETUP, url, [("Transport", value)])

    def play(self, url: str | None = None, range: Range | None = None) -> int:
        headers = [] if range is None else [("Range", range.serialize())]
        return self.request(Method.PLAY, url or self.aggregate_url, headers)

    def pause(self, url: str | None = None) -> int:
        return self.request(Method.PAUSE, url or self.aggregate_url)

    def teardown(self, url: str | None = None) -> int:
        return self.request(Method.TEARDOWN, url or self.aggregate_url)

    def get_parameter(
        self, url: str | None = None, body: bytes = b"", content_type: str = "text/parameters"
    ) -> int:
        headers = [("Content-Type", content_type)] if body else []
        return self.request(Method.GET_PARAMETER, url or self.aggregate_url, headers, body)

    def set_parameter(
        self, body: bytes, url: str | None = None, content_type: str = "text/parameters"
    ) -> int:
        headers = [("Content-Type", content_type)]
        return self.request(Method.SET_PARAMETER, url or self.aggregate_url, headers, body)

    def send_response(self, request: Request, response: Response) -> None:
        """Answer a request the server sent us (e.g. GET_PARAMETER); CSeq is echoed."""
        self._ensure_open()
        if "CSeq" not in response.headers and request.cseq is not None:
            headers = Headers([("CSeq", str(request.cseq)), *response.headers])
            response = dataclasses.replace(response, headers=headers)
        self._write(response.serialize())

    @property
    def keepalive_method(self) -> str:
        """The method of the next keepalive."""
        if self._keepalive_refused:
            return Method.OPTIONS
        if self.config.keepalive_method is not None:
            return self.config.keepalive_method
        listed = self.public is not None and Method.GET_PARAMETER in self.public
        return Method.GET_PARAMETER if listed else Method.OPTIONS

    def get_timer(self) -> float | None:
        """When the next keepalive is due, or None without a session."""
        # Asked after every read of a playing session: the interval is worked out once per
        # Session header (a frozen value) rather than each time.
        session = self.session
        if self._closed or session is None:
            return None
        if session is not self._timed_session:
            self._timed_session = session
            self._keepalive_every = keepalive_interval(session.effective_timeout)
        return self._last_exchange + self._keepalive_every

    def handle_timer(self, now: float) -> None:
        """Send a keepalive when one is due."""
        deadline = self.get_timer()
        if deadline is None or now < deadline:
            return
        for wire_cseq in [c for c, p in self._pending.items() if p.keepalive]:
            del self._pending[wire_cseq]
            self._abandoned.append(wire_cseq)
        method = self.keepalive_method
        template = Request(method, self.aggregate_url)
        cseq = self._send(template, attempts=0, keepalive=True)
        self._last_exchange = now
        self._events.append(KeepaliveSent(cseq, method))

    def _send(
        self, template: Request, *, attempts: int, cseq: int | None = None, keepalive: bool = False
    ) -> int:
        wire_cseq = self._next_cseq
        self._next_cseq += 1
        headers = Headers([("CSeq", str(wire_cseq))])
        authorization = (
            self._responder.authorization(template.method, template.url)
            if self._responder is not None
            else None
        )
        if authorization is not None:
            headers.add("Authorization", authorization)
        if self.config.user_agent is not None:
            headers.add("User-Agent", self.config.user_agent)
        if self.session is not None and template.method != Method.DESCRIBE:
            headers.add("Session", self.session.session_id)
        for name, value in template.headers:
            headers.set(name, value)  # the caller's fields win, e.g. a deliberately wrong Session
        sent = Request(template.method, template.url, headers, template.body)
        payload = sent.serialize()
        handle = wire_cseq if cseq is None else cseq
        self._pending[wire_cseq] = _Pending(handle, template, sent, attempts, keepalive)
        self._write(payload)
        return wire_cseq

    def _handle_request(self, request: Request, now: float) -> None:
        self._events.append(RequestReceived(request, None))

    def _handle_response(self, response: Response, now: float) -> None:
        pending = self._match(response.cseq, response.status_code)
        if pending is None:
            self._events.append(UnexpectedResponse(response))
            return
        self._last_exchange = now
        if response.status_code == StatusCode.UNAUTHORIZED and self._retry(pending, response):
            return
        if pending.keepalive and not response.ok:
            self._keepalive_refused = True
        self._events.append(self._interpret(pending, response))

    def _handle_protocol_error(self, error: RemoteProtocolError, now: float) -> None:
        if error.fatal:
            self._terminate(Termination.protocol_error(error))
            return
        pending = self._match(error.cseq, StatusCode.BAD_REQUEST)
        self._events.append(MalformedResponse(str(error), pending.cseq if pending else None))

    def _after_receive(self, now: float, progressed: bool) -> None:
        """Nothing to track: a client has no slowloris to fear from its server."""

    def _match(self, cseq: int | None, status_code: int) -> _Pending | None:
        if cseq is not None and cseq in self._pending:
            return self._pending.pop(cseq)
        if cseq is not None and cseq in self._abandoned:
            return None  # a late answer to a keepalive we stopped waiting for
        if self._pending and (cseq is None or status_code >= 400):
            # Some cameras answer errors with a wrong CSeq (retina#133); answers come in order.
            return self._pending.pop(next(iter(self._pending)))
        return None

    def _retry(self, pending: _Pending, response: Response) -> bool:
        if self._responder is None:
            return False
        try:
            challenges = challenges_from(response.headers)
        except RemoteProtocolError:
            return False
        stale = any(c.stale for c in challenges)
        if pending.auth_attempts > (MAX_STALE_RETRIES if stale else 0):
            return False
        if not self._responder.accept(challenges):
            return False
        attempts = pending.auth_attempts + 1
        new_cseq = self._send(
            pending.template, attempts=attempts, cseq=pending.cseq, keepalive=pending.keepalive
        )
        scheme = self._responder.challenge.scheme if self._responder.challenge else ""
        self._events.append(AuthenticationRetried(pending.cseq, new_cseq, scheme))
        return True

    def _interpret(self, pending: _Pending, response: Response) -> ResponseReceived:
        warnings: list[str] = []

        def parsed(name: str, parse: Callable[[str], _Header]) -> _Header | None:
            value = response.headers.get(name)
            if value is None:
                return None
            try:
                return parse(value)
            except RemoteProtocolError as error:
                warnings.append(str(error))
                return None

        session = parsed("Session", SessionHeader.parse)
        transport = parsed("Transport", Transport.parse)
        rtp_info = parsed("RTP-Info", RtpInfo.parse)
        range_ = parsed("Range", Range.parse)
        # Headers kept despite a field they could not read: the field is named here.
        warnings += session.problems if session is not None else ()
        warnings += rtp_info.problems if rtp_info is not None else ()
        method = pending.sent.method
        base = None
        if response.ok:
            if method == Method.DESCRIBE:
                base = self.base_url = base_url(pending.sent.url, response.headers)
            elif method == Method.OPTIONS and "Public" in response.headers:
                self.public = parsed("Public", Public.parse) or self.public
            elif method == Method.SETUP and session is not None:
                self.session = session
            self.state = next_state(self.state, method)
            if method == Method.TEARDOWN:
                self.session = None
        return ResponseReceived(
            pending.cseq,
            pending.sent,
            response,
            session=session,
            transport=transport,
            rtp_info=rtp_info,
            range=range_,
            base_url=base,
            warnings=tuple(warnings),
        )
