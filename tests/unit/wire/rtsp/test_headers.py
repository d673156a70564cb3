from __future__ import annotations

import pytest

from wire.rtsp.errors import LocalProtocolError, RemoteProtocolError
from wire.rtsp.headers import Headers, Public, SessionHeader, parse_cseq


def test_headers_are_case_insensitive_ordered_and_multi_valued() -> None:
    headers = Headers([("WWW-Authenticate", "Digest a"), ("CSeq", "1")])
    headers.add("www-authenticate", "Basic b")
    assert headers.get("cseq") == "1"
    assert headers["CSEQ"] == "1"
    assert headers.get_all("WWW-AUTHENTICATE") == ["Digest a", "Basic b"]
    assert "Cseq" in headers
    assert "Session" not in headers
    assert headers.get("Session") is None
    assert headers.get("Session", "x") == "x"
    assert len(headers) == 3
    with pytest.raises(KeyError):
        headers["Session"]
    assert headers.serialize() == (
        b"WWW-Authenticate: Digest a\r\nCSeq: 1\r\nwww-authenticate: Basic b\r\n"
    )


def test_set_replaces_in_place_and_remove_drops_all() -> None:
    headers = Headers([("A", "1"), ("B", "2"), ("a", "3"), ("C", "4")])
    headers.set("A", "9")
    assert list(headers) == [("A", "9"), ("B", "2"), ("C", "4")]
    headers.set("D", "5")
    assert list(headers)[-1] == ("D", "5")
    headers.remove("b")
    assert list(headers) == [("A", "9"), ("C", "4"), ("D", "5")]


def test_equality_ignores_name_case_but_not_order() -> None:
    assert Headers([("CSeq", "1"), ("A", "2")]) == Headers([("cseq", "1"), ("a", "2")])
    assert Headers([("CSeq", "1"), ("A", "2")]) != Headers([("A", "2"), ("CSeq", "1")])


def test_invalid_names_are_refused() -> None:
    with pytest.raises(LocalProtocolError, match="header name 'Bad Name' is not a token"):
        Headers().add("Bad Name", "x")


@pytest.mark.parametrize(("value", "cseq"), [("1", 1), (" 42 ", 42), ("7\t", 7), (None, None)])
def test_parse_cseq(value, cseq) -> None:
    assert parse_cseq(value) == cseq


@pytest.mark.parametrize(
    ("value", "session_id", "timeout"),
    [
        ("1774501350;timeout=60", "1774501350", 60),
        ("1774501350", "1774501350", None),
        ("d65JtJdXQUU5mwJB ; timeout = 5", "d65JtJdXQUU5mwJB", 5),
        ("121.254.102.120+7789+937239728", "121.254.102.120+7789+937239728", None),
        ("abc;other=1;timeout=30", "abc", 30),
    ],
)
def test_session_header(value, session_id, timeout) -> None:
    header = SessionHeader.parse(value)
    assert (header.session_id, header.timeout) == (session_id, timeout)


def test_session_header_default_timeout_and_round_trip() -> None:
    assert SessionHeader("abc").effective_timeout == 60
    assert SessionHeader("abc", 30).effective_timeout == 30
    assert SessionHeader.parse("1774501350;timeout=60").serialize() == "1774501350;timeout=60"
    assert SessionHeader("abc").serialize() == "abc"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "Session: invalid session id ''"),
        ("a b", "Session: invalid session id 'a b'"),
    ],
)
def test_session_header_errors(value, message) -> None:
    with pytest.raises(RemoteProtocolError, match=message):
        SessionHeader.parse(value)


def test_public() -> None:
    value = (
        "OPTIONS, DESCRIBE, ANNOUNCE, SETUP, PLAY, RECORD, PAUSE, TEARDOWN, SET_PARAMETER, "
        "GET_PARAMETER"
    )
    public = Public.parse(value)
    assert public.methods[0] == "OPTIONS"
    assert len(public.methods) == 10
    assert "GET_PARAMETER" in public
    assert "REDIRECT" not in public
    assert public.serialize() == value
    assert Public.parse("OPTIONS,DESCRIBE,").methods == ("OPTIONS", "DESCRIBE")
    with pytest.raises(RemoteProtocolError, match="Public: 'GET PARAMETER' is not a method name"):
        Public.parse("OPTIONS, GET PARAMETER")
