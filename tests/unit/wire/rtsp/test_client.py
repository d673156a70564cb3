from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.wire.terminations import ended
from wire.rtsp.auth import Authorization
from wire.rtsp.client import ClientConfig, RtspClientConnection, keepalive_interval
from wire.rtsp.errors import LocalProtocolError, RemoteProtocolError
from wire.rtsp.events import (
    AuthenticationRetried,
    Event,
    InterleavedFrameReceived,
    KeepaliveSent,
    MalformedResponse,
    RequestReceived,
    ResponseReceived,
    UnexpectedResponse,
)
from wire.rtsp.headers import SessionHeader
from wire.rtsp.message import Request, Response
from wire.rtsp.range import Range
from wire.rtsp.rtpinfo import RtpInfoEntry
from wire.rtsp.state import SessionState
from wire.rtsp.transport import PortRange, TransportSpec
from wire.session import Cause

URL = "rtsp://192.168.1.108:554/stream1"


def events_of(connection: RtspClientConnection) -> list[Event]:
    events = []
    while (event := connection.next_event()) is not None:
        events.append(event)
    return events


def reply(client: RtspClientConnection, text: str, now: float = 0.0) -> list[Any]:
    client.receive_data(text.replace("\n", "\r\n").encode(), now)
    return events_of(client)


def sent(client: RtspClientConnection) -> Request:
    return Request.parse(client.data_to_send())


def state_of(client: RtspClientConnection) -> SessionState:
    return client.state


def playing_client(timeout: str = "60", public: str | None = None) -> RtspClientConnection:
    client = RtspClientConnection(URL, ClientConfig(user_agent=None))
    if public is not None:
        client.options()
        reply(client, f"RTSP/1.0 200 OK\nCSeq: 1\nPublic: {public}\n\n")
    cseq = client.setup(f"{URL}/trackID=0", TransportSpec(lower_transport="TCP"))
    reply(client, f"RTSP/1.0 200 OK\nCSeq: {cseq}\nSession: abc;timeout={timeout}\n\n", 10.0)
    client.data_to_send()
    return client


def test_options_and_describe_bytes() -> None:
    client = RtspClientConnection(URL)
    assert client.options() == 1
    assert client.describe() == 2
    assert client.data_to_send() == (
        b"OPTIONS rtsp://192.168.1.108:554/stream1 RTSP/1.0\r\nCSeq: 1\r\n"
        b"User-Agent: camsim\r\n\r\n"
        b"DESCRIBE rtsp://192.168.1.108:554/stream1 RTSP/1.0\r\nCSeq: 2\r\n"
        b"User-Agent: camsim\r\nAccept: application/sdp\r\n\r\n"
    )


def test_describe_sets_the_base_and_control_urls() -> None:
    client = RtspClientConnection(URL)
    client.describe()
    sdp = "v=0\r\n"
    (event,) = reply(
        client,
        f"RTSP/1.0 200 OK\nCSeq: 1\nContent-Base: rtsp://192.168.1.108:554/\n"
        f"Content-Length: {len(sdp)}\n\n{sdp.replace(chr(13), '')}",
    )
    assert isinstance(event, ResponseReceived)
    assert event.cseq == 1
    assert event.base_url == "rtsp://192.168.1.108:554/"
    assert event.response.body == b"v=0\r\n"
    assert client.aggregate_url == "rtsp://192.168.1.108:554/"
    assert client.control_url("trackID=0") == "rtsp://192.168.1.108:554/trackID=0"
    assert client.control_url("*") == "rtsp://192.168.1.108:554/"


def test_setup_play_pause_teardown_follow_the_session() -> None:
    client = RtspClientConnection(URL, ClientConfig(user_agent=None))
    spec = TransportSpec(delivery="unicast", client_port=PortRange(46048, 46049))
    client.setup(f"{URL}/trackID=0", spec)
    assert client.data_to_send() == (
        b"SETUP rtsp://192.168.1.108:554/stream1/trackID=0 RTSP/1.0\r\nCSeq: 1\r\n"
        b"Transport: RTP/AVP;unicast;client_port=46048-46049\r\n\r\n"
    )
    (event,) = reply(
        client,
        "RTSP/1.0 200 OK\nCSeq: 1\nSession: 1774501350;timeout=60\n"
        "Transport: RTP/AVP/UDP;unicast;client_port=46048-46049;server_port=36854-36855;"
        "ssrc=4DD55626\n\n",
    )
    assert event.session == SessionHeader("1774501350", 60)
    assert event.transport.first.server_port == PortRange(36854, 36855)
    assert event.transport.first.ssrc == 0x4DD55626
    assert state_of(client) is SessionState.READY
    client.play(range=Range.npt("0.000"))
    assert client.data_to_send() == (
        b"PLAY rtsp://192.168.1.108:554/stream1 RTSP/1.0\r\nCSeq: 2\r\n"
        b"Session: 1774501350\r\nRange: npt=0.000-\r\n\r\n"
    )
    (event,) = reply(
        client,
        "RTSP/1.0 200 OK\nCSeq: 2\nSession: 1774501350\nRange: npt=0.000000-\n"
        "RTP-Info: url=trackID=0;seq=22054;rtptime=22054\n\n",
    )
    assert event.rtp_info.entries == (RtpInfoEntry("trackID=0", 22054, 22054),)
    assert event.range == Range.npt("0.000000")
    assert state_of(client) is SessionState.PLAYING
    client.pause()
    reply(client, "RTSP/1.0 200 OK\nCSeq: 3\n\n")
    assert state_of(client) is SessionState.READY
    client.teardown()
    assert b"Session: 1774501350" in client.data_to_send()
    reply(client, "RTSP/1.0 200 OK\nCSeq: 4\nSession: 1774501350\n\n")
    assert (state_of(client), client.session) == (SessionState.INIT, None)


def test_parameters_carry_bodies() -> None:
    client = RtspClientConnection(URL, ClientConfig(user_agent=None))
    client.set_parameter(b"barparam: barstuff\r\n")
    client.get_parameter()
    assert client.data_to_send() == (
        b"SET_PARAMETER rtsp://192.168.1.108:554/stream1 RTSP/1.0\r\nCSeq: 1\r\n"
        b"Content-Type: text/parameters\r\nContent-Length: 20\r\n\r\nbarparam: barstuff\r\n"
        b"GET_PARAMETER rtsp://192.168.1.108:554/stream1 RTSP/1.0\r\nCSeq: 2\r\n\r\n"
    )


def test_caller_headers_override_ours() -> None:
    client = playing_client()
    client.request("PLAY", URL, [("Session", "forged")])
    assert sent(client).headers.get_all("Session") == ["forged"]


def test_responses_matched_by_cseq_out_of_order() -> None:
    client = RtspClientConnection(URL)
    client.options()
    client.describe()
    first, second = reply(client, "RTSP/1.0 404 Not Found\nCSeq: 2\n\nRTSP/1.0 200 OK\nCSeq: 1\n\n")
    assert (first.cseq, first.response.status_code) == (2, 404)
    assert (second.cseq, second.request.method) == (1, "OPTIONS")


def test_wrong_cseq_on_an_error_goes_to_the_oldest_request() -> None:
    client = RtspClientConnection(URL)
    client.get_parameter()
    client.set_parameter(b"x: 1\r\n")
    (event,) = reply(client, "RTSP/1.0 400 Bad Request\nCSeq: 77\n\n")
    assert (event.cseq, event.request.method) == (1, "GET_PARAMETER")


def test_cseq_with_whitespace_and_missing_cseq() -> None:
    client = RtspClientConnection(URL)
    client.options()
    client.describe()
    (event,) = reply(client, "RTSP/1.0 200 OK\nCSeq: 2 \n\n")
    assert event.cseq == 2
    (event,) = reply(client, "RTSP/1.0 200 OK\n\n")
    assert event.cseq == 1


def test_unmatched_success_is_unexpected() -> None:
    client = RtspClientConnection(URL)
    client.options()
    (event,) = reply(client, "RTSP/1.0 200 OK\nCSeq: 9\n\n")
    assert isinstance(event, UnexpectedResponse)
    (event,) = reply(client, "RTSP/1.0 200 OK\nCSeq: 1\n\n")
    assert isinstance(event, ResponseReceived)


def test_unparsable_headers_become_warnings() -> None:
    client = RtspClientConnection(URL)
    client.setup(URL, TransportSpec())
    (event,) = reply(client, "RTSP/1.0 200 OK\nCSeq: 1\nSession: a b\nTransport: junk\n\n")
    assert event.warnings == (
        "Session: invalid session id 'a b'",
        "Transport: invalid transport-spec 'junk'",
    )
    assert client.session is None


def test_malformed_response_is_reported_against_its_request() -> None:
    client = RtspClientConnection(URL)
    client.options()
    events = reply(client, "RTSP/1.0 200 OK\nCSeq: 1\nbroken line\n\n")
    assert events == [MalformedResponse("malformed header line 'broken line'", 1)]
    assert not client.closed


def test_garbage_terminates() -> None:
    client = RtspClientConnection(URL)
    client.receive_data(b"\x00\x01", 0.0)
    reason = "expected '$' or a start line, got byte 0x00"
    assert events_of(client) == [ended(Cause.PROTOCOL_ERROR, reason, error=RemoteProtocolError)]
    with pytest.raises(LocalProtocolError, match="the connection is closed"):
        client.options()


def test_interleaved_frames_and_server_requests() -> None:
    client = RtspClientConnection(URL)
    client.receive_data(b"$\x00\x00\x01\x80GET_PARAMETER rtsp://h/ RTSP/1.0\r\nCSeq: 5\r\n\r\n", 0)
    frame, request = events_of(client)
    assert frame == InterleavedFrameReceived(0, b"\x80")
    assert isinstance(request, RequestReceived)
    client.send_response(request.request, Response(200))
    assert client.data_to_send() == b"RTSP/1.0 200 OK\r\nCSeq: 5\r\n\r\n"


@given(st.lists(st.integers(0, 3), max_size=8), st.booleans(), st.booleans())
def test_next_events_gives_what_next_event_gives_one_by_one(channels, request_, split) -> None:
    data = b"".join(b"$" + bytes((c, 0, 1, 0x80 + c)) for c in channels)
    if request_:
        data += b"GET_PARAMETER rtsp://h/ RTSP/1.0\r\nCSeq: 5\r\n\r\n$\x01\x00\x01\x81"
    reads = [data[: len(data) // 2], data[len(data) // 2 :]] if split else [data]
    one_by_one, at_once = RtspClientConnection(URL), RtspClientConnection(URL)
    expected, taken = [], []
    for read in reads:
        one_by_one.receive_data(read, 0.0)
        expected += events_of(one_by_one)
        at_once.receive_data(read, 0.0)
        taken += at_once.next_events()
        assert at_once.next_events() == []
        assert at_once.next_event() is None
    assert taken == expected
    assert len(taken) == len(channels) + 2 * request_


CHALLENGE = 'WWW-Authenticate: Digest realm="cam", nonce="n1"'


def test_401_is_retried_once_with_credentials() -> None:
    config = ClientConfig(username="admin", password="pw", user_agent=None)
    client = RtspClientConnection(URL, config)
    assert client.describe() == 1
    client.data_to_send()
    events = reply(client, f"RTSP/1.0 401 Unauthorized\nCSeq: 1\n{CHALLENGE}\n\n")
    assert events == [AuthenticationRetried(1, 2, "Digest")]
    retry = sent(client)
    assert (retry.method, retry.cseq) == ("DESCRIBE", 2)
    assert retry.headers["Accept"] == "application/sdp"
    credentials = Authorization.parse(retry.headers["Authorization"])
    assert credentials.params["uri"] == URL
    assert "algorithm" not in credentials.params
    (event,) = reply(client, f"RTSP/1.0 401 Unauthorized\nCSeq: 2\n{CHALLENGE}\n\n")
    assert (event.cseq, event.response.status_code) == (1, 401)
    assert client.data_to_send() == b""


def test_stale_nonce_is_retried_again_and_later_requests_carry_credentials() -> None:
    config = ClientConfig(username="admin", password="pw")
    client = RtspClientConnection(URL, config)
    client.options()
    reply(client, f"RTSP/1.0 401 Unauthorized\nCSeq: 1\n{CHALLENGE}\n\n")
    stale = 'WWW-Authenticate: Digest realm="cam", nonce="n2", stale=true'
    events = reply(client, f"RTSP/1.0 401 Unauthorized\nCSeq: 2\n{stale}\n\n")
    assert events == [AuthenticationRetried(1, 3, "Digest")]
    client.data_to_send()
    (event,) = reply(client, "RTSP/1.0 200 OK\nCSeq: 3\n\n")
    assert (event.cseq, event.request.cseq) == (1, 3)
    client.describe()
    assert 'nonce="n2"' in sent(client).headers["Authorization"]


def test_401_without_credentials_is_delivered() -> None:
    client = RtspClientConnection(URL)
    client.options()
    (event,) = reply(client, f"RTSP/1.0 401 Unauthorized\nCSeq: 1\n{CHALLENGE}\n\n")
    assert event.response.status_code == 401


@pytest.mark.parametrize(
    ("timeout", "interval"), [(60, 30), (10, 5), (8, 3), (6, 1), (5, 2.5), (2, 1)]
)
def test_keepalive_interval(timeout, interval) -> None:
    assert keepalive_interval(timeout) == interval


def test_keepalive_uses_get_parameter_when_public_lists_it() -> None:
    client = playing_client(public="OPTIONS, GET_PARAMETER")
    assert client.get_timer() == 40.0
    client.handle_timer(39.9)
    assert client.data_to_send() == b""
    client.handle_timer(40.0)
    keepalive = sent(client)
    assert (keepalive.method, keepalive.headers["Session"]) == ("GET_PARAMETER", "abc")
    assert events_of(client) == [KeepaliveSent(3, "GET_PARAMETER")]
    assert client.get_timer() == 70.0
    (answer,) = reply(client, "RTSP/1.0 454 Session Not Found\nCSeq: 3\n\n", 41.0)
    assert answer.response.status_code == 454
    assert client.get_timer() == 71.0


def test_keepalive_follows_the_timeout_of_a_later_setup() -> None:
    client = playing_client(timeout="60")
    assert client.get_timer() == 40.0
    cseq = client.setup(f"{URL}/trackID=1", TransportSpec(lower_transport="TCP"))
    reply(client, f"RTSP/1.0 200 OK\nCSeq: {cseq}\nSession: abc;timeout=20\n\n", 12.0)
    assert client.get_timer() == 22.0  # the new Session header's interval, 10 s
    client.teardown()
    reply(client, f"RTSP/1.0 200 OK\nCSeq: {cseq + 1}\n\n", 13.0)
    assert client.get_timer() is None


def test_keepalive_falls_back_to_options_and_follows_short_timeouts() -> None:
    client = playing_client(timeout="6")
    assert client.get_timer() == 11.0
    client.handle_timer(11.0)
    assert sent(client).method == "OPTIONS"
    client.handle_timer(11.5)  # unanswered keepalives are not resent early
    assert client.data_to_send() == b""
    client.handle_timer(12.0)
    assert sent(client).method == "OPTIONS"


@pytest.mark.parametrize(
    ("status", "reason"),
    [(454, "Session Not Found"), (405, "Method Not Allowed"), (501, "Not Implemented")],
)
def test_a_refused_keepalive_switches_to_options(status: int, reason: str) -> None:
    client = playing_client(public="OPTIONS, GET_PARAMETER")
    assert client.keepalive_method == "GET_PARAMETER"
    client.handle_timer(40.0)
    assert sent(client).method == "GET_PARAMETER"
    events_of(client)
    (answer,) = reply(client, f"RTSP/1.0 {status} {reason}\nCSeq: 3\n\n", 41.0)
    assert (answer.cseq, answer.request.method, answer.response.status_code) == (
        3,
        "GET_PARAMETER",
        status,
    )
    assert client.keepalive_method == "OPTIONS"
    assert (client.session, client.state, client.closed) == (
        SessionHeader("abc", 60),
        SessionState.READY,
        False,
    )
    client.handle_timer(71.0)
    keepalive = sent(client)
    assert (keepalive.method, keepalive.cseq, keepalive.headers["Session"]) == ("OPTIONS", 4, "abc")
    assert events_of(client) == [KeepaliveSent(4, "OPTIONS")]
    reply(client, "RTSP/1.0 200 OK\nCSeq: 4\nPublic: OPTIONS, GET_PARAMETER\n\n", 72.0)
    assert client.keepalive_method == "OPTIONS"  # the camera said what it thinks of GET_PARAMETER


def test_an_answered_keepalive_keeps_its_method() -> None:
    client = playing_client(public="OPTIONS, GET_PARAMETER")
    client.handle_timer(40.0)
    client.data_to_send()
    reply(client, "RTSP/1.0 200 OK\nCSeq: 3\n\n", 41.0)
    assert client.keepalive_method == "GET_PARAMETER"


def test_a_configured_keepalive_method_also_falls_back() -> None:
    client = RtspClientConnection(
        URL, ClientConfig(user_agent=None, keepalive_method="SET_PARAMETER")
    )
    client.setup(URL, TransportSpec(lower_transport="TCP"))
    reply(client, "RTSP/1.0 200 OK\nCSeq: 1\nSession: s;timeout=10\n\n", 0.0)
    client.data_to_send()
    client.handle_timer(5.0)
    assert sent(client).method == "SET_PARAMETER"
    reply(client, "RTSP/1.0 451 Parameter Not Understood\nCSeq: 2\n\n", 5.5)
    client.handle_timer(10.5)
    assert sent(client).method == "OPTIONS"


def test_unanswered_keepalives_are_forgotten_and_late_answers_match_nothing() -> None:
    client = playing_client(timeout="6")
    for now, cseq in ((11.0, 2), (12.0, 3), (13.0, 4)):
        client.handle_timer(now)
        assert sent(client).cseq == cseq
    assert events_of(client) == [
        KeepaliveSent(2, "OPTIONS"),
        KeepaliveSent(3, "OPTIONS"),
        KeepaliveSent(4, "OPTIONS"),
    ]
    assert client.describe() == 5
    client.data_to_send()
    # A late error for a forgotten keepalive is not taken for DESCRIBE's answer.
    late = b"RTSP/1.0 454 Session Not Found\r\nCSeq: 2\r\n\r\n"
    client.receive_data(late, 13.5)
    assert events_of(client) == [UnexpectedResponse(Response.parse(late))]
    (answer,) = reply(client, "RTSP/1.0 200 OK\nCSeq: 5\n\n", 13.6)
    assert (answer.cseq, answer.request.method) == (5, "DESCRIBE")
    # The latest keepalive is still awaited: its answer is matched to it.
    (current,) = reply(client, "RTSP/1.0 200 OK\nCSeq: 4\n\n", 13.7)
    assert (current.cseq, current.request.method) == (4, "OPTIONS")


def test_a_keepalive_retried_with_credentials_is_still_a_keepalive() -> None:
    config = ClientConfig(
        username="admin", password="pw", user_agent=None, keepalive_method="GET_PARAMETER"
    )
    client = RtspClientConnection(URL, config)
    client.setup(URL, TransportSpec(lower_transport="TCP"))
    reply(client, "RTSP/1.0 200 OK\nCSeq: 1\nSession: s;timeout=10\n\n", 0.0)
    client.data_to_send()
    client.handle_timer(5.0)
    assert sent(client).method == "GET_PARAMETER"
    events_of(client)
    assert reply(client, f"RTSP/1.0 401 Unauthorized\nCSeq: 2\n{CHALLENGE}\n\n", 5.1) == [
        AuthenticationRetried(2, 3, "Digest")
    ]
    assert sent(client).method == "GET_PARAMETER"
    (answer,) = reply(client, "RTSP/1.0 454 Session Not Found\nCSeq: 3\n\n", 5.2)
    assert (answer.cseq, answer.response.status_code) == (2, 454)
    assert client.keepalive_method == "OPTIONS"


def test_no_keepalive_without_a_session() -> None:
    client = RtspClientConnection(URL)
    assert client.get_timer() is None
    client.handle_timer(1000.0)
    assert client.data_to_send() == b""


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400), st.integers(min_value=1, max_value=64))
def test_any_bytes_give_events_or_termination(data, chunk) -> None:
    client = RtspClientConnection(URL, ClientConfig(username="u", password="p"))
    client.options()
    client.setup(URL, TransportSpec())
    for index, start in enumerate(range(0, len(data), chunk)):
        client.receive_data(data[start : start + chunk], float(index))
        client.handle_timer(float(index))
        events_of(client)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([200, 401, 454, 500]),
            st.sampled_from(["1", "2", "3", "", "x"]),
            st.sampled_from(
                [
                    "Session: s;timeout=7",
                    "Transport: RTP/AVP;ssrc=1",
                    "RTP-Info: url=a;seq=1",
                    'WWW-Authenticate: Digest realm="r", nonce="n", qop="auth"',
                    'WWW-Authenticate: Basic realm="r"',
                    "Range: npt=now-",
                    "Content-Base: /x/",
                ]
            ),
        ),
        max_size=8,
    )
)
def test_any_answers_keep_the_client_consistent(answers) -> None:
    client = RtspClientConnection(URL, ClientConfig(username="u", password="p"))
    client.describe()
    client.setup(URL, TransportSpec())
    for status, cseq, field in answers:
        client.receive_data(f"RTSP/1.0 {status} X\r\nCSeq: {cseq}\r\n{field}\r\n\r\n".encode(), 0)
        for event in events_of(client):
            assert isinstance(event, ResponseReceived | UnexpectedResponse | AuthenticationRetried)
        assert client.state in (SessionState.INIT, SessionState.READY)
