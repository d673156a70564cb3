"""Fuzz targets of RTSP and SDP: messages, the reader, header values, credentials, the HTTP
tunnel and both connections."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from tests.fuzz import seeds
from tests.fuzz.registry import pieces, target, text
from wire.rtsp import auth as rtsp_auth
from wire.rtsp import tunnel as rtsp_tunnel
from wire.rtsp.authenticator import Authenticator, ChallengeResponder
from wire.rtsp.client import ClientConfig, RtspClientConnection
from wire.rtsp.errors import RemoteProtocolError as RtspRemoteError
from wire.rtsp.events import ConnectionTerminated as RtspTerminated
from wire.rtsp.events import Event as RtspEvent
from wire.rtsp.events import RequestReceived
from wire.rtsp.headers import Headers, Public, SessionHeader, parse_cseq
from wire.rtsp.message import InterleavedFrame, Request, Response
from wire.rtsp.range import Range
from wire.rtsp.reader import RtspReader
from wire.rtsp.rtpinfo import RtpInfo
from wire.rtsp.server import RtspServerConfig, RtspServerConnection
from wire.rtsp.state import SessionState
from wire.rtsp.transport import Transport, TransportSpec
from wire.rtsp.urls import base_url
from wire.sdp import SdpError, SessionDescription, h264_parameter_sets, h265_parameter_sets

# -- RTSP and SDP ---------------------------------------------------------------------------------


@target("sdp", "wire.sdp.SessionDescription.parse", (SdpError,), seeds.sdp_seeds)
def _sdp(data: bytes) -> None:
    session = SessionDescription.parse(data)
    for media in session.media:
        for payload_format in media.payload_formats():
            parameters = media.fmtp(payload_format.payload_type)
            with contextlib.suppress(SdpError):
                h264_parameter_sets(parameters)
            with contextlib.suppress(SdpError):
                h265_parameter_sets(parameters)


@target(
    "rtsp_message",
    "wire.rtsp.message.Request.parse, Response.parse, InterleavedFrame.parse",
    (RtspRemoteError,),
    lambda: seeds.rtsp_request_seeds() + seeds.rtsp_response_seeds(),
)
def _rtsp_message(data: bytes) -> None:
    for parse in (Request.parse, Response.parse, InterleavedFrame.parse):
        with contextlib.suppress(RtspRemoteError):
            parse(data)


@target(
    "rtsp_reader",
    "wire.rtsp.reader.RtspReader.next_message",
    (RtspRemoteError,),
    lambda: [b"\x00" + b"".join(seeds.rtsp_request_seeds())],
)
def _rtsp_reader(data: bytes) -> None:
    reader = RtspReader()
    for piece in pieces(data):
        reader.receive_data(piece)
        while True:
            try:
                if reader.next_message() is None:
                    break
            except RtspRemoteError as error:
                if error.fatal:
                    return


def _header_target(kind: str, parse: Callable[[str], object]) -> None:
    target(
        f"rtsp_header_{kind}",
        f"{parse.__module__}.{parse.__qualname__}",
        (RtspRemoteError,),
        lambda: [value.encode() for value in seeds.header_value_seeds()[kind]],
    )(lambda data: parse(text(data)))


_header_target("transport", Transport.parse)
_header_target("range", Range.parse)
_header_target("rtp_info", RtpInfo.parse)
_header_target("session", SessionHeader.parse)
_header_target("public", Public.parse)
_header_target("cseq", parse_cseq)
_header_target("challenge", rtsp_auth.Challenge.parse_all)
_header_target("authorization", rtsp_auth.Authorization.parse)


@target(
    "rtsp_content_base",
    "wire.rtsp.urls.base_url, resolve_control",
    (RtspRemoteError,),
    lambda: [value.encode() for value in seeds.header_value_seeds()["content_base"]],
)
def _rtsp_content_base(data: bytes) -> None:
    from wire.rtsp.urls import resolve_control

    value = text(data)
    if any(c in value for c in "\r\n\x00"):
        return  # the RTSP reader refuses such a header before anyone reads it
    base = base_url(seeds.URL, Headers([("Content-Base", value)]))
    resolve_control(base, value)


@target(
    "rtsp_authenticator",
    "wire.rtsp.authenticator.Authenticator.check (never raises), ChallengeResponder.accept",
    (),
    lambda: [value.encode() for value in seeds.header_value_seeds()["authorization"]],
)
def _rtsp_authenticator(data: bytes) -> None:
    value = text(data)
    for basic, qop in ((False, False), (True, True)):
        authenticator = Authenticator(
            "cam", {"admin": "secret"}, random_source=seeds.seeded_random(5), basic=basic, qop=qop
        )
        authenticator.check("DESCRIBE", value, 0.0, uri="rtsp://h/s")
        # The nonce a client answers is one this authenticator issued.
        nonce = authenticator.challenges(0.0, uri="rtsp://h/s")[0].params.get("nonce", "")
        authenticator.check("DESCRIBE", value.replace("abc123", nonce), 1.0, uri="rtsp://h/s")
    with contextlib.suppress(RtspRemoteError):
        responder = ChallengeResponder("admin", "secret", cnonce_source=seeds.seeded_random(6))
        if responder.accept(rtsp_auth.Challenge.parse_all(value)):
            responder.authorization("DESCRIBE", seeds.URL)


@target(
    "rtsp_tunnel_decoder",
    "wire.rtsp.tunnel.TunnelDecoder.decode",
    (RtspRemoteError,),
    lambda: [b"\x00" + value for value in seeds.tunnel_seeds()["data"]],
)
def _rtsp_tunnel_decoder(data: bytes) -> None:
    decoder = rtsp_tunnel.TunnelDecoder()
    for piece in pieces(data):
        decoder.decode(piece)


@target(
    "rtsp_tunnel_http",
    "wire.rtsp.tunnel.parse_tunnel_request, parse_tunnel_response, is_tunnel_start",
    (RtspRemoteError,),
    lambda: seeds.tunnel_seeds()["request"] + seeds.tunnel_seeds()["response"],
)
def _rtsp_tunnel_http(data: bytes) -> None:
    rtsp_tunnel.is_tunnel_start(data)
    with contextlib.suppress(RtspRemoteError):
        rtsp_tunnel.parse_tunnel_request(data)
    with contextlib.suppress(RtspRemoteError):
        rtsp_tunnel.parse_tunnel_response(data)


def drain_rtsp(connection: RtspServerConnection | RtspClientConnection) -> list[RtspEvent]:
    events = []
    while (event := connection.next_event()) is not None:
        events.append(event)
    return events


def _check_rtsp_end(
    connection: RtspServerConnection | RtspClientConnection, events: list[RtspEvent]
) -> None:
    connection.receive_eof()
    events += drain_rtsp(connection)
    assert connection.closed, "receive_eof left the connection open"
    ends = [i for i, event in enumerate(events) if isinstance(event, RtspTerminated)]
    assert ends == [len(events) - 1], f"not one ConnectionTerminated at the end: {events[-3:]}"


RTSP_STAGES = ("raw", "playing")
"""How far a valid peer has taken an RTSP connection before the fuzzed bytes arrive."""

SESSION = "12345678"


def _answer(server: RtspServerConnection, events: list[RtspEvent]) -> None:
    """The application's part: 200 for every request, with a session for SETUP."""
    for event in events:
        if not isinstance(event, RequestReceived) or server.closed:
            continue
        fields = [("Session", f"{SESSION};timeout=60")]
        transport = event.request.headers.get("Transport")
        if transport is not None:
            fields.append(("Transport", transport))
        server.send_response(event.request, Response(200, headers=Headers(fields)))


def rtsp_server_at(stage: str, *, authenticated: bool = False) -> RtspServerConnection:
    """A server connection a well-behaved client has taken to ``stage`` (playing: SETUP and
    PLAY answered, a session open)."""
    authenticator = (
        Authenticator("cam", {"admin": "secret"}, random_source=seeds.seeded_random(7), basic=True)
        if authenticated
        else None
    )
    server = RtspServerConnection(RtspServerConfig(authenticator=authenticator))
    if stage == "playing":
        credentials = ["Authorization: Basic YWRtaW46c2VjcmV0"] if authenticated else []
        for request in (
            seeds.message(
                f"SETUP {seeds.URL}/trackID=0 RTSP/1.0",
                "CSeq: 1",
                "Transport: RTP/AVP/TCP;unicast;interleaved=0-1",
                *credentials,
            ),
            seeds.message(
                f"PLAY {seeds.URL} RTSP/1.0", "CSeq: 2", f"Session: {SESSION}", *credentials
            ),
        ):
            server.receive_data(request, 0.0)
            _answer(server, drain_rtsp(server))
        server.data_to_send()
        assert server.sessions, "the valid SETUP opened no session"
    return server


def _rtsp_server_target(stage: str, authenticated: bool) -> Callable[[bytes], None]:
    def run(data: bytes) -> None:
        server = rtsp_server_at(stage, authenticated=authenticated)
        events: list[RtspEvent] = []
        now = 0.0
        for piece in pieces(data):
            now += 0.5
            server.receive_data(piece, now)
            new = drain_rtsp(server)
            _answer(server, new)
            events += new
            server.data_to_send()
        server.handle_timer(now + 1e6)
        events += drain_rtsp(server)
        _check_rtsp_end(server, events)

    return run


def _rtsp_server_seeds() -> list[bytes]:
    return [b"\x00" + b"".join(seeds.rtsp_request_seeds())]


def rtsp_client_at(stage: str) -> RtspClientConnection:
    """A client with OPTIONS, DESCRIBE, SETUP and PLAY sent; at ``playing`` a well-behaved
    camera has answered all four."""
    client = RtspClientConnection(
        seeds.URL,
        ClientConfig(username="admin", password="secret", cnonce_source=seeds.seeded_random(8)),
    )
    client.options()
    client.describe()
    client.setup(
        f"{seeds.URL}/trackID=0", TransportSpec.parse("RTP/AVP/TCP;unicast;interleaved=0-1")
    )
    client.play()
    client.data_to_send()
    if stage == "playing":
        answers = [seeds.rtsp_response_seeds()[i] for i in (0, 2, 3, 4)]
        for cseq, answer in enumerate(answers, start=1):
            client.receive_data(_with_cseq(answer, cseq), 0.0)
        events = drain_rtsp(client)
        assert client.state is SessionState.PLAYING, (client.state, events)
        client.data_to_send()
    return client


def _with_cseq(message: bytes, cseq: int) -> bytes:
    head, _, rest = message.partition(b"CSeq: ")
    return head + f"CSeq: {cseq}".encode() + rest[rest.index(b"\r\n") :]


def _rtsp_client_target(stage: str) -> Callable[[bytes], None]:
    def run(data: bytes) -> None:
        client = rtsp_client_at(stage)
        events: list[RtspEvent] = []
        now = 0.0
        for piece in pieces(data):
            now += 0.5
            client.receive_data(piece, now)
            events += drain_rtsp(client)
            client.data_to_send()
        if not client.closed:
            client.handle_timer(now + 1e6)
        events += drain_rtsp(client)
        _check_rtsp_end(client, events)

    return run


def _rtsp_client_seeds() -> list[bytes]:
    return [b"\x00" + b"".join(seeds.rtsp_response_seeds())]


for _stage in RTSP_STAGES:
    suffix = "" if _stage == "raw" else f"_{_stage}"
    target(
        f"rtsp_server{suffix}",
        f"wire.rtsp.RtspServerConnection.receive_data at {_stage} (never raises)",
        (),
        _rtsp_server_seeds,
    )(_rtsp_server_target(_stage, False))
    target(
        f"rtsp_server_auth{suffix}",
        f"wire.rtsp.RtspServerConnection.receive_data at {_stage}, with an Authenticator",
        (),
        _rtsp_server_seeds,
    )(_rtsp_server_target(_stage, True))
    target(
        f"rtsp_client{suffix}",
        f"wire.rtsp.RtspClientConnection.receive_data at {_stage} (never raises)",
        (),
        _rtsp_client_seeds,
    )(_rtsp_client_target(_stage))
