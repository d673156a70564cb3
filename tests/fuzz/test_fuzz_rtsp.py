"""RTSP from the network: messages, interleaved frames, header values, Digest/Basic
credentials and the HTTP tunnel give a value or the RTSP RemoteProtocolError; the server and
client connections never raise for the peer's bytes and end in ConnectionTerminated."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.known_crashes import params, run_property
from tests.fuzz.strategies import FUZZ_SETTINGS, NASTY_TOKENS, check_every_truncation
from tests.fuzz.targets import TARGETS, check

HEADERS = [
    "rtsp_header_transport",
    "rtsp_header_range",
    "rtsp_header_rtp_info",
    "rtsp_header_session",
    "rtsp_header_public",
    "rtsp_header_cseq",
    "rtsp_header_challenge",
    "rtsp_header_authorization",
    "rtsp_content_base",
    "rtsp_authenticator",
]
FRAMING = ["rtsp_message", "rtsp_reader", "rtsp_tunnel_decoder", "rtsp_tunnel_http"]
CONNECTIONS = [
    f"{role}{suffix}"
    for role in ("rtsp_server", "rtsp_server_auth", "rtsp_client")
    for suffix in ("", "_playing")
]
NAMES = HEADERS + FRAMING + CONNECTIONS


@pytest.mark.parametrize("name", NAMES)
def test_seeds_are_accepted(name):
    for seed in TARGETS[name].seeds():
        TARGETS[name].run(seed)


@pytest.mark.parametrize("name", params(NAMES))
@FUZZ_SETTINGS
@given(data=st.data())
def test_any_input_gives_a_value_or_the_documented_error(name, data):
    run_property(name, data, text=True, max_size=4096)


@pytest.mark.parametrize("name", NAMES)
def test_every_truncation_of_a_valid_input(name):
    assert check_every_truncation(name, max_seeds=1) > 0


def _request(method: str, *fields: str, body: bytes = b"") -> bytes:
    lines = [f"{method} rtsp://127.0.0.1:8554/cam1 RTSP/1.0", *fields]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "surrogatepass") + body


@pytest.mark.parametrize("name", ["rtsp_server", "rtsp_server_auth"])
@FUZZ_SETTINGS
@given(
    method=st.sampled_from(
        [
            "OPTIONS",
            "DESCRIBE",
            "SETUP",
            "PLAY",
            "PAUSE",
            "TEARDOWN",
            "GET_PARAMETER",
            "ANNOUNCE",
            "RECORD",
            "FOO",
        ]
    ),
    header=st.sampled_from(
        [
            "CSeq",
            "Content-Length",
            "Session",
            "Transport",
            "Range",
            "Authorization",
            "Require",
            "Accept",
        ]
    ),
    value=st.sampled_from(NASTY_TOKENS) | st.text(max_size=30),
    follow=st.booleans(),
)
def test_one_nasty_header_in_a_request(name, method, header, value, follow):
    """A request whose one header is a nasty value (5000 digits, negative, NUL, unicode ...),
    followed by a valid request on the same connection."""
    fields = [f"{header}: {value}"] if header == "CSeq" else ["CSeq: 1", f"{header}: {value}"]
    data = _request(method, *fields)
    if follow:
        data += _request("OPTIONS", "CSeq: 9")
    check(name, b"\x00" + data)


@FUZZ_SETTINGS
@given(
    status=st.integers(0, 1000).map(str) | st.sampled_from(["9" * 5000, "-1", "٣٠٠", "2OO"]),
    header=st.sampled_from(
        [
            "CSeq",
            "Content-Length",
            "Session",
            "Transport",
            "RTP-Info",
            "Range",
            "WWW-Authenticate",
            "Content-Base",
            "Public",
        ]
    ),
    value=st.sampled_from(NASTY_TOKENS) | st.text(max_size=30),
)
def test_one_nasty_header_in_a_response(status, header, value):
    text = f"RTSP/1.0 {status} X\r\nCSeq: 2\r\n{header}: {value}\r\n\r\n"
    check("rtsp_client", b"\x00" + text.encode("utf-8", "surrogatepass"))
