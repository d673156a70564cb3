from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.wire.terminations import ended
from wire.rtsp.auth import challenges_from
from wire.rtsp.authenticator import Authenticator, ChallengeResponder
from wire.rtsp.errors import LocalProtocolError, RemoteProtocolError
from wire.rtsp.events import (
    ConnectionTerminated,
    InterleavedFrameReceived,
    RequestReceived,
    RequestRejected,
    SessionExpired,
    UnexpectedResponse,
)
from wire.rtsp.headers import Headers
from wire.rtsp.message import Response
from wire.rtsp.reader import ReaderLimits
from wire.rtsp.server import RtspServerConfig, RtspServerConnection
from wire.rtsp.state import AggregateControl, SessionState
from wire.session import Cause

PROTOCOL_ERROR = Cause.PROTOCOL_ERROR

URL = "rtsp://cam/s"
TRACK0, TRACK1 = f"{URL}/trackID=0", f"{URL}/trackID=1"


def raw(
    method: str,
    url: str = URL,
    cseq: int | None = 1,
    *fields: str,
    version: str = "RTSP/1.0",
    body: bytes = b"",
) -> bytes:
    lines = [f"{method} {url} {version}"]
    if cseq is not None:
        lines.append(f"CSeq: {cseq}")
    lines.extend(fields)
    if body:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def events_of(connection: RtspServerConnection) -> list[Any]:
    events = []
    while (event := connection.next_event()) is not None:
        events.append(event)
    return events


def feed(server: RtspServerConnection, data: bytes, now: float = 0.0) -> tuple[list[Any], bytes]:
    server.receive_data(data, now)
    return events_of(server), server.data_to_send()


def answer(
    server: RtspServerConnection,
    event: RequestReceived,
    status: int = 200,
    *fields: tuple[str, str],
) -> bytes:
    server.send_response(event.request, Response(status, headers=Headers(fields)))
    return server.data_to_send()


def set_up(
    server: RtspServerConnection,
    url: str = TRACK0,
    cseq: int = 1,
    now: float = 0.0,
    session: str = "s1;timeout=10",
    *fields: str,
) -> bytes:
    events, _ = feed(server, raw("SETUP", url, cseq, *fields), now)
    (event,) = events
    transport = ("Transport", "RTP/AVP/TCP;unicast;interleaved=0-1")
    return answer(server, event, 200, transport, ("Session", session))


def state_of(server: RtspServerConnection, session_id: str) -> SessionState:
    return server.sessions[session_id].state


def rejected(events: list[Any]) -> RequestRejected:
    assert len(events) == 1, events
    assert isinstance(events[0], RequestRejected)
    return events[0]


def test_request_answered_by_the_application_with_cseq_echoed() -> None:
    server = RtspServerConnection()
    events, out = feed(server, raw("OPTIONS", "*", 7), now=1.0)
    assert out == b""
    assert [type(e) for e in events] == [RequestReceived]
    assert events[0].request.method == "OPTIONS"
    assert events[0].session_id is None
    data = answer(server, events[0], 200, ("Public", "OPTIONS, DESCRIBE"))
    assert data == b"RTSP/1.0 200 OK\r\nCSeq: 7\r\nPublic: OPTIONS, DESCRIBE\r\n\r\n"


def test_application_may_send_its_own_cseq() -> None:
    server = RtspServerConnection()
    (event,), _ = feed(server, raw("SET_PARAMETER", URL, 4, body=b"x"))
    data = answer(server, event, 400, ("CSeq", "99"))
    assert data == b"RTSP/1.0 400 Bad Request\r\nCSeq: 99\r\n\r\n"


def test_response_to_an_unknown_request_is_local_misuse() -> None:
    server = RtspServerConnection()
    (event,), _ = feed(server, raw("OPTIONS", "*", 1))
    answer(server, event)
    with pytest.raises(LocalProtocolError, match="no request with CSeq 1 is awaiting"):
        answer(server, event)


def test_malformed_request_is_answered_400_and_the_connection_stays_usable() -> None:
    server = RtspServerConnection()
    events, out = feed(server, raw("OPTIONS", "*", 3, "no colon here") + raw("OPTIONS", "*", 4))
    assert out == b"RTSP/1.0 400 Bad Request\r\nCSeq: 3\r\n\r\n"
    assert events[0] == RequestRejected(400, "malformed header line 'no colon here'")
    assert isinstance(events[1], RequestReceived)
    assert events[1].request.cseq == 4
    assert not server.closed


def test_missing_cseq_is_400_without_cseq() -> None:
    server = RtspServerConnection()
    events, out = feed(server, raw("OPTIONS", "*", None))
    assert out == b"RTSP/1.0 400 Bad Request\r\n\r\n"
    assert rejected(events).reason == "missing or malformed CSeq"


def test_cseq_with_trailing_space_is_accepted() -> None:
    server = RtspServerConnection()
    (event,), _ = feed(server, b"OPTIONS * RTSP/1.0\r\nCSeq: 2 \r\n\r\n")
    assert answer(server, event) == b"RTSP/1.0 200 OK\r\nCSeq: 2\r\n\r\n"


def test_other_version_is_505() -> None:
    server = RtspServerConnection()
    events, out = feed(server, raw("OPTIONS", "*", 1, version="RTSP/2.0"))
    assert out == b"RTSP/1.0 505 RTSP Version Not Supported\r\nCSeq: 1\r\n\r\n"
    assert rejected(events).reason == "version RTSP/2.0 is not served"


def test_unknown_method_is_501() -> None:
    server = RtspServerConnection()
    events, out = feed(server, raw("FLY", URL, 2))
    assert out == b"RTSP/1.0 501 Not Implemented\r\nCSeq: 2\r\n\r\n"
    assert rejected(events).reason == "unknown method FLY"


def test_known_method_not_served_is_405_with_allow() -> None:
    server = RtspServerConnection(RtspServerConfig(methods=frozenset({"OPTIONS", "DESCRIBE"})))
    events, out = feed(server, raw("RECORD", URL, 2))
    assert out == (
        b"RTSP/1.0 405 Method Not Allowed\r\nCSeq: 2\r\nAllow: DESCRIBE, OPTIONS\r\n\r\n"
    )
    assert rejected(events).status_code == 405


def test_unsupported_require_is_551() -> None:
    server = RtspServerConnection(RtspServerConfig(supported_options=frozenset({"play.basic"})))
    events, out = feed(server, raw("SETUP", TRACK0, 2, "Require: play.basic, funky-feature"))
    assert out == (
        b"RTSP/1.0 551 Option Not Supported\r\nCSeq: 2\r\nUnsupported: funky-feature\r\n\r\n"
    )
    assert rejected(events).reason == "unsupported options funky-feature"


def counter_source() -> Callable[[int], bytes]:
    counter = itertools.count()
    return lambda n: bytes((next(counter) + i) % 256 for i in range(n))


def test_401_with_several_challenges_then_authorised() -> None:
    authenticator = Authenticator(
        "cam", {"admin": "pw"}, random_source=counter_source(), basic=True
    )
    server = RtspServerConnection(
        RtspServerConfig(
            authenticator=authenticator, unauthenticated_methods=frozenset({"OPTIONS"})
        )
    )
    events, _ = feed(server, raw("OPTIONS", "*", 1))
    assert isinstance(events[0], RequestReceived)
    answer(server, events[0])
    events, out = feed(server, raw("DESCRIBE", URL, 2), now=5.0)
    assert rejected(events).reason == "no Authorization header"
    response = Response.parse(out)
    assert response.status_code == 401
    assert response.cseq == 2
    assert len(response.headers.get_all("WWW-Authenticate")) == 2
    responder = ChallengeResponder("admin", "pw", cnonce_source=counter_source())
    assert responder.accept(challenges_from(response.headers))
    authorization = responder.authorization("DESCRIBE", URL)
    events, out = feed(server, raw("DESCRIBE", URL, 3, f"Authorization: {authorization}"), 6.0)
    assert out == b""
    assert isinstance(events[0], RequestReceived)


def test_expired_nonce_gets_stale_challenge() -> None:
    authenticator = Authenticator(
        "cam", {"admin": "pw"}, random_source=counter_source(), nonce_lifetime=10.0
    )
    server = RtspServerConnection(RtspServerConfig(authenticator=authenticator))
    responder = ChallengeResponder("admin", "pw", cnonce_source=counter_source())
    responder.accept(authenticator.challenges(0.0, uri=URL))
    authorization = responder.authorization("DESCRIBE", URL)
    events, out = feed(server, raw("DESCRIBE", URL, 3, f"Authorization: {authorization}"), 11.0)
    assert rejected(events).reason == "nonce expired"
    assert "stale=true" in Response.parse(out).headers["WWW-Authenticate"]


def test_unknown_session_is_454() -> None:
    server = RtspServerConnection()
    events, out = feed(server, raw("PLAY", URL, 5, "Session: nosuch"))
    assert out == b"RTSP/1.0 454 Session Not Found\r\nCSeq: 5\r\n\r\n"
    assert rejected(events).reason == "no session 'nosuch'"


def test_play_without_session_is_455_with_allow() -> None:
    server = RtspServerConnection()
    events, out = feed(server, raw("PLAY", URL, 5))
    assert out == (
        b"RTSP/1.0 455 Method Not Valid in This State\r\nCSeq: 5\r\n"
        b"Allow: DESCRIBE, GET_PARAMETER, OPTIONS, SETUP, SET_PARAMETER, TEARDOWN\r\n\r\n"
    )
    assert rejected(events).reason == "PLAY is not valid in state init"


def test_session_lifecycle_and_pause_in_ready_is_455() -> None:
    server = RtspServerConnection()
    data = set_up(server)
    assert data == (
        b"RTSP/1.0 200 OK\r\nCSeq: 1\r\nTransport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n"
        b"Session: s1;timeout=10\r\n\r\n"
    )
    session = server.sessions["s1"]
    assert (session.state, session.timeout, session.media_urls) == (
        SessionState.READY,
        10,
        [TRACK0],
    )
    events, out = feed(server, raw("PAUSE", URL, 2, "Session: s1"))
    assert Response.parse(out).status_code == 455
    events, _ = feed(server, raw("PLAY", URL, 3, "Session: s1"))
    assert events[0].session_id == "s1"
    answer(server, events[0])
    assert state_of(server, "s1") is SessionState.PLAYING
    events, _ = feed(server, raw("PAUSE", URL, 4, "Session: s1"))
    answer(server, events[0])
    assert state_of(server, "s1") is SessionState.READY
    events, _ = feed(server, raw("TEARDOWN", URL, 5, "Session: s1"))
    answer(server, events[0])
    assert "s1" not in server.sessions


def test_failed_answer_leaves_the_state_alone() -> None:
    server = RtspServerConnection()
    set_up(server)
    events, _ = feed(server, raw("PLAY", URL, 3, "Session: s1"))
    answer(server, events[0], 503)
    assert state_of(server, "s1") is SessionState.READY


def test_setup_answer_without_session_is_local_misuse() -> None:
    server = RtspServerConnection()
    (event,), _ = feed(server, raw("SETUP", TRACK0, 1))
    with pytest.raises(LocalProtocolError, match="a 2xx answer to SETUP needs a Session header"):
        answer(server, event)


def two_streams(policy: AggregateControl) -> RtspServerConnection:
    server = RtspServerConnection(RtspServerConfig(aggregate_control=policy))
    set_up(server, TRACK0, 1)
    set_up(server, TRACK1, 2, 0.0, "s1", "Session: s1")
    assert server.sessions["s1"].media_urls == [TRACK0, TRACK1]
    return server


def test_only_aggregate_operation_allowed_is_460() -> None:
    server = two_streams(AggregateControl.AGGREGATE_ONLY)
    events, out = feed(server, raw("PLAY", TRACK1, 3, "Session: s1"))
    assert out == b"RTSP/1.0 460 Only Aggregate Operation Allowed\r\nCSeq: 3\r\n\r\n"
    assert rejected(events).reason == f"PLAY on {TRACK1} breaks aggregate control"
    events, _ = feed(server, raw("PLAY", URL + "/", 4, "Session: s1"))
    assert isinstance(events[0], RequestReceived)


def test_aggregate_operation_not_allowed_is_459() -> None:
    server = two_streams(AggregateControl.MEDIA_ONLY)
    events, out = feed(server, raw("PLAY", URL, 3, "Session: s1"))
    assert out == b"RTSP/1.0 459 Aggregate Operation Not Allowed\r\nCSeq: 3\r\n\r\n"
    events, _ = feed(server, raw("PLAY", TRACK0, 4, "Session: s1"))
    assert isinstance(events[0], RequestReceived)


def test_single_stream_session_may_use_either_url() -> None:
    server = RtspServerConnection(
        RtspServerConfig(aggregate_control=AggregateControl.AGGREGATE_ONLY)
    )
    set_up(server)
    events, _ = feed(server, raw("PLAY", TRACK0, 2, "Session: s1"))
    assert isinstance(events[0], RequestReceived)


def test_body_too_large_is_413_and_closes() -> None:
    server = RtspServerConnection(RtspServerConfig(limits=ReaderLimits(max_body_bytes=4)))
    events, out = feed(server, raw("SET_PARAMETER", URL, 8, body=b"12345") + raw("OPTIONS"))
    assert out == b"RTSP/1.0 413 Request Entity Too Large\r\nCSeq: 8\r\n\r\n"
    assert events == [
        RequestRejected(413, "body of 5 bytes exceeds the limit of 4"),
        ended(PROTOCOL_ERROR, "body of 5 bytes exceeds the limit of 4", error=RemoteProtocolError),
    ]
    assert server.closed


def test_uri_too_long_is_414_and_closes() -> None:
    server = RtspServerConnection(RtspServerConfig(limits=ReaderLimits(max_head_bytes=100)))
    events, out = feed(server, b"DESCRIBE rtsp://cam/" + b"x" * 100)
    assert out == b"RTSP/1.0 414 Request-URI Too Large\r\n\r\n"
    assert isinstance(events[-1], ConnectionTerminated)


def test_garbage_closes_with_a_reason() -> None:
    server = RtspServerConnection()
    events, out = feed(server, b"\x16\x03\x01\x00\xa5\x01")
    assert out == b"RTSP/1.0 400 Bad Request\r\n\r\n"
    reason = "expected '$' or a start line, got byte 0x16"
    assert events[-1] == ended(PROTOCOL_ERROR, reason, error=RemoteProtocolError)
    assert feed(server, raw("OPTIONS")) == ([], b"")
    assert server.get_timer() is None
    with pytest.raises(LocalProtocolError, match="the connection is closed"):
        server.send_interleaved(0, b"x")


def test_interleaved_frames_and_stray_responses_become_events() -> None:
    server = RtspServerConnection()
    data = b"$\x01\x00\x02\x81\xc9" + b"RTSP/1.0 200 OK\r\nCSeq: 1\r\n\r\n"
    events, _ = feed(server, data)
    assert events[0] == InterleavedFrameReceived(1, b"\x81\xc9")
    assert isinstance(events[1], UnexpectedResponse)
    server.send_interleaved(0, b"\x80\x60")
    assert server.data_to_send() == b"$\x00\x00\x02\x80\x60"


def test_partial_request_older_than_the_limit_closes_with_408() -> None:
    server = RtspServerConnection(RtspServerConfig(request_timeout=5.0))
    assert server.get_timer() is None
    feed(server, b"OPTIONS * RTSP/1.0\r\n", now=100.0)
    assert server.get_timer() == 105.0
    feed(server, b"CSeq: 1\r\n", now=103.0)
    assert server.get_timer() == 105.0  # trickling in does not buy time
    server.handle_timer(104.9)
    assert not server.closed
    server.handle_timer(105.0)
    assert server.data_to_send() == b"RTSP/1.0 408 Request Time-out\r\n\r\n"
    reason = "request not completed within 5 s"
    assert events_of(server) == [ended(Cause.TIMED_OUT, reason, phase="a request")]


def test_partial_deadline_restarts_after_a_complete_message() -> None:
    server = RtspServerConnection(RtspServerConfig(request_timeout=5.0))
    feed(server, b"OPTIONS * RTSP/1.0\r\n", now=100.0)
    feed(server, b"CSeq: 1\r\n\r\nOPTIONS", now=104.0)
    assert server.get_timer() == 109.0
    feed(server, b" * RTSP/1.0\r\nCSeq: 2\r\n\r\n", now=105.0)
    assert server.get_timer() is None


def test_session_expires_unless_refreshed() -> None:
    server = RtspServerConnection()
    set_up(server, now=100.0)
    assert server.get_timer() == 110.0
    feed(server, raw("GET_PARAMETER", URL, 2, "Session: s1"), now=108.0)
    assert server.get_timer() == 118.0
    assert server.refresh_session("s1", 115.0)
    assert not server.refresh_session("nosuch", 115.0)
    server.handle_timer(124.9)
    assert events_of(server) == []
    server.handle_timer(125.0)
    assert events_of(server) == [SessionExpired("s1")]
    assert server.sessions == {}
    assert server.get_timer() is None
    _, out = feed(server, raw("PLAY", URL, 3, "Session: s1"), now=126.0)
    assert Response.parse(out).status_code == 454


def test_default_session_timeout_is_60() -> None:
    server = RtspServerConnection()
    set_up(server, now=0.0, session="abc")
    assert server.get_timer() == 60.0


def test_eof_reports_whether_a_message_was_cut() -> None:
    server = RtspServerConnection()
    feed(server, b"OPTIONS * RTSP/1.0\r\n")
    server.receive_eof()
    reason = "peer closed the connection in the middle of a message"
    assert events_of(server) == [ended(Cause.PEER_CLOSED, reason)]
    idle = RtspServerConnection()
    idle.receive_eof()
    assert events_of(idle) == [ended(Cause.PEER_CLOSED, "peer closed the connection")]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400), st.integers(min_value=1, max_value=64))
def test_any_bytes_give_events_answers_or_termination(data, chunk) -> None:
    server = RtspServerConnection(RtspServerConfig(request_timeout=1.0))
    set_up(server)
    for index, start in enumerate(range(0, len(data), chunk)):
        server.receive_data(data[start : start + chunk], float(index))
        for event in events_of(server):
            if isinstance(event, RequestReceived):
                server.send_response(event.request, Response(404))
        server.data_to_send()
    server.handle_timer(1000.0)
    events_of(server)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["OPTIONS", "SETUP", "PLAY", "PAUSE", "TEARDOWN", "GET_PARAMETER"]),
            st.sampled_from([URL, TRACK0, TRACK1, "*"]),
            st.sampled_from([None, "s1", "s2", "bad id"]),
        ),
        max_size=12,
    )
)
def test_any_request_sequence_keeps_the_state_machine_consistent(steps) -> None:
    server = RtspServerConnection(
        RtspServerConfig(aggregate_control=AggregateControl.AGGREGATE_ONLY)
    )
    for cseq, (method, url, session) in enumerate(steps, start=1):
        fields = [] if session is None else [f"Session: {session}"]
        events, _ = feed(server, raw(method, url, cseq, *fields), float(cseq))
        (event,) = events
        if isinstance(event, RequestReceived):
            headers = [("Session", event.session_id or f"new{cseq}")] if method == "SETUP" else []
            answer(server, event, 200, *headers)
        else:
            assert event.status_code in (454, 455, 460)
        for live in server.sessions.values():
            assert live.state in (SessionState.READY, SessionState.PLAYING)
