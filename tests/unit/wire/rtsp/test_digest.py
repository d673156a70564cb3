"""Digest on the server side against captured and replayed credentials: the ``uri`` must name the
request's resource, nonces are bound to one camera, nonce counts are used once, and a stale
nonce earns a fresh challenge that the client follows by itself."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest

from wire.rtsp import authenticator as authenticator_module
from wire.rtsp.auth import Authorization, Challenge, challenges_from
from wire.rtsp.authenticator import (
    Authenticator,
    ChallengeResponder,
    first_path_segment,
    names_same_resource,
    uri_path,
)
from wire.rtsp.client import ClientConfig, RtspClientConnection
from wire.rtsp.events import (
    AuthenticationRetried,
    RequestReceived,
    RequestRejected,
    ResponseReceived,
)
from wire.rtsp.headers import Headers
from wire.rtsp.message import Request, Response
from wire.rtsp.server import RtspServerConfig, RtspServerConnection

HOST = "rtsp://127.0.0.1:8554"
CAM1, CAM2 = f"{HOST}/cam1", f"{HOST}/cam2"


def counter_source() -> Callable[[int], bytes]:
    counter = itertools.count()
    return lambda n: bytes((next(counter) + i) % 256 for i in range(n))


class Server:
    """A camera server connection that answers 200 to whatever gets past authentication."""

    def __init__(self, **options: Any) -> None:
        self.authenticator = Authenticator(
            "camsim", {"admin": "secret"}, random_source=counter_source(), **options
        )
        self.connection = RtspServerConnection(RtspServerConfig(authenticator=self.authenticator))
        self.cseq = 0

    def request(
        self, method: str, url: str, authorization: str | None, now: float = 1.0
    ) -> tuple[Response, str]:
        """The answer to one request, and the reason the connection gave for a refusal."""
        self.cseq += 1
        headers = Headers([("CSeq", str(self.cseq))])
        if authorization is not None:
            headers.add("Authorization", authorization)
        self.connection.receive_data(Request(method, url, headers).serialize(), now)
        reason = ""
        while (event := self.connection.next_event()) is not None:
            if isinstance(event, RequestReceived):
                headers = Headers()
                if method == "SETUP":
                    headers.add("Session", f"s{self.cseq};timeout=60")
                self.connection.send_response(event.request, Response(200, headers=headers))
            elif isinstance(event, RequestRejected):
                reason = event.reason
        return Response.parse(self.connection.data_to_send()), reason

    def credentials(
        self,
        method: str,
        url: str,
        *,
        uri: str | None = None,
        challenge_url: str | None = None,
        now: float = 1.0,
    ) -> str:
        """What a client that knows the password sends after a 401 to ``challenge_url``."""
        refused, _ = self.request(method, challenge_url or url, None, now)
        assert refused.status_code == 401
        responder = ChallengeResponder("admin", "secret", cnonce_source=counter_source())
        assert responder.accept(challenges_from(refused.headers))
        authorization = responder.authorization(method, uri or url)
        assert authorization is not None
        return authorization


def test_a_captured_header_is_refused_for_another_camera() -> None:
    server = Server()
    captured = server.credentials("DESCRIBE", CAM1)
    assert server.request("DESCRIBE", CAM1, captured)[0].status_code == 200
    refused, reason = server.request("DESCRIBE", CAM2, captured)
    assert refused.status_code == 401
    assert reason == f"uri '{CAM1}' does not name {CAM2}"


def test_a_captured_header_is_refused_for_another_track() -> None:
    server = Server()
    captured = server.credentials("SETUP", f"{CAM1}/trackID=0")
    assert server.request("SETUP", f"{CAM1}/trackID=0", captured)[0].status_code == 200
    refused, reason = server.request("SETUP", f"{CAM1}/trackID=1", captured)
    assert refused.status_code == 401
    assert reason.startswith("uri ")


def test_live555_base_url_in_uri_is_accepted_for_its_tracks_only() -> None:
    # VLC/live555 against a real camera (the shared capture camera-h264-udp-digest.pcapng):
    # "SETUP rtsp://192.168.1.108:554/trackID=0" with uri="rtsp://192.168.1.108:554/".
    server = Server()
    setup = server.credentials("SETUP", f"{CAM1}/trackID=0", uri=f"{CAM1}/")
    assert server.request("SETUP", f"{CAM1}/trackID=0", setup)[0].status_code == 200
    assert server.request("SETUP", f"{CAM1}/trackID=1", setup)[0].status_code == 200
    keepalive = server.credentials("GET_PARAMETER", f"{CAM1}/", uri=f"{CAM1}/")
    assert server.request("GET_PARAMETER", f"{CAM1}/", keepalive)[0].status_code == 200
    # The base URL of another camera names none of this camera's tracks.
    other = server.credentials("SETUP", f"{CAM1}/trackID=0", uri=f"{CAM2}/")
    assert server.request("SETUP", f"{CAM1}/trackID=0", other)[0].status_code == 401


def test_nonce_of_one_camera_is_refused_on_another_without_stale() -> None:
    server = Server()
    # The client knows the password but answers cam2 with the nonce cam1's challenge gave.
    authorization = server.credentials("DESCRIBE", CAM2, challenge_url=CAM1)
    refused, reason = server.request("DESCRIBE", CAM2, authorization)
    assert refused.status_code == 401
    assert reason == "nonce was not issued by this server for /cam2"
    (challenge,) = challenges_from(refused.headers)
    assert not challenge.stale
    assert server.request("DESCRIBE", CAM1, server.credentials("DESCRIBE", CAM1))[0].ok


def test_replayed_nonce_count_is_refused() -> None:
    server = Server(qop=True)
    refused, _ = server.request("DESCRIBE", CAM1, None)
    responder = ChallengeResponder("admin", "secret", cnonce_source=counter_source())
    assert responder.accept(challenges_from(refused.headers))
    first = responder.authorization("DESCRIBE", CAM1)
    assert server.request("DESCRIBE", CAM1, first)[0].status_code == 200
    replayed, reason = server.request("DESCRIBE", CAM1, first)
    assert replayed.status_code == 401
    assert reason == "nonce count 00000001 was already used (a replay)"
    assert not challenges_from(replayed.headers)[0].stale
    # The legitimate client goes on counting with the same nonce.
    assert server.request("DESCRIBE", CAM1, responder.authorization("DESCRIBE", CAM1))[0].ok


def test_nonce_counts_may_arrive_out_of_order_once_each() -> None:
    server = Server(qop=True)
    refused, _ = server.request("GET_PARAMETER", CAM1, None)
    responder = ChallengeResponder("admin", "secret", cnonce_source=counter_source())
    responder.accept(challenges_from(refused.headers))
    headers = [responder.authorization("GET_PARAMETER", CAM1) for _ in range(3)]
    statuses = [
        server.request("GET_PARAMETER", CAM1, headers[i])[0].status_code for i in (0, 2, 1, 1)
    ]
    assert statuses == [200, 200, 200, 401]


def test_counts_too_far_behind_are_refused() -> None:
    authenticator = Authenticator("camsim", {"a": "b"}, random_source=counter_source(), qop=True)
    (challenge,) = authenticator.challenges(0.0, uri=CAM1)
    responder = ChallengeResponder("a", "b", cnonce_source=counter_source())
    responder.accept([challenge])
    window = authenticator_module.NONCE_COUNT_WINDOW
    headers = [responder.authorization("PLAY", CAM1) for _ in range(window + 1)]
    assert authenticator.check("PLAY", headers[window], 1.0, uri=CAM1).ok
    verdict = authenticator.check("PLAY", headers[0], 1.0, uri=CAM1)
    assert (verdict.ok, verdict.stale) == (False, False)
    assert authenticator.check("PLAY", headers[1], 1.0, uri=CAM1).ok


@pytest.mark.parametrize("nc", ["00000000", "1", "0x000001", "+0000001", "0000000g"])
def test_malformed_nonce_counts_are_refused(nc: str) -> None:
    authenticator = Authenticator("camsim", {"a": "b"}, random_source=counter_source(), qop=True)
    (challenge,) = authenticator.challenges(0.0, uri=CAM1)
    responder = ChallengeResponder("a", "b", cnonce_source=counter_source())
    responder.accept([challenge])
    params = dict(Authorization.parse(responder.authorization("PLAY", CAM1) or "").params)
    params["nc"] = nc
    verdict = authenticator.check(
        "PLAY", Authorization("Digest", params).serialize(), 1.0, uri=CAM1
    )
    assert verdict.reason == "unsupported qop 'auth' or no nc/cnonce"


def test_a_nonce_whose_counts_were_pushed_out_is_stale(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(authenticator_module, "MAX_TRACKED_NONCES", 2)
    authenticator = Authenticator("camsim", {"a": "b"}, random_source=counter_source(), qop=True)
    responders = []
    for issued in (0.0, 1.0, 2.0):
        responder = ChallengeResponder("a", "b", cnonce_source=counter_source())
        responder.accept(authenticator.challenges(issued, uri=CAM1))
        responders.append(responder)
        assert authenticator.check("PLAY", responder.authorization("PLAY", CAM1), 3.0, uri=CAM1).ok
    # The first nonce's counts made room for the third's: it may no longer be trusted.
    verdict = authenticator.check("PLAY", responders[0].authorization("PLAY", CAM1), 4.0, uri=CAM1)
    assert (verdict.ok, verdict.stale) == (False, True)
    assert authenticator.check("PLAY", responders[2].authorization("PLAY", CAM1), 4.0, uri=CAM1).ok


def test_without_a_request_url_digest_is_refused() -> None:
    authenticator = Authenticator("camsim", {"a": "b"}, random_source=counter_source())
    responder = ChallengeResponder("a", "b", cnonce_source=counter_source())
    responder.accept(authenticator.challenges(0.0, uri=CAM1))
    verdict = authenticator.check("PLAY", responder.authorization("PLAY", CAM1), 1.0)
    assert verdict.reason == "no request URL to check Digest credentials"


@pytest.mark.parametrize(
    ("uri", "request_url", "same"),
    [
        (CAM1, CAM1, True),
        (f"{CAM1}/", CAM1, True),
        ("/cam1", CAM1, True),  # path only, as HTTP clients write it
        ("127.0.0.1:8554/cam1/", f"{CAM1}/trackID=0", True),  # from a scheme-less Content-Base
        ("rtsp://localhost/cam1", CAM1, True),  # another name of the same server
        (f"{CAM1}?channel=1", CAM1, True),
        ("rtsp://127.0.0.1:8554/c%61m1", CAM1, True),
        (f"{CAM1}/", f"{CAM1}/trackID=0", True),
        (f"{CAM1}/trackID=0", f"{CAM1}/trackID=0", True),
        ("*", "*", True),
        (CAM2, CAM1, False),
        (f"{CAM1}/trackID=0", f"{CAM1}/trackID=1", False),
        (f"{CAM1}/trackID=0", CAM1, False),  # a track does not name its presentation
        (f"{HOST}/", CAM1, False),  # nor does the server root name a camera
        (HOST, f"{CAM1}/trackID=0", False),
        ("*", CAM1, False),
    ],
)
def test_which_uri_names_the_requested_resource(uri: str, request_url: str, same: bool) -> None:
    assert names_same_resource(uri, request_url) is same


def test_scope_is_the_first_path_segment() -> None:
    assert first_path_segment(f"{CAM1}/trackID=0") == "cam1"
    assert first_path_segment(CAM2) == "cam2"
    assert first_path_segment("*") == "*"
    assert uri_path(f"{HOST}/") == ""


class ClientAndServer:
    """The project's RTSP client against the Digest server, in memory."""

    def __init__(self, qop: bool) -> None:
        self.server = Server(qop=qop, nonce_lifetime=30.0)
        config = ClientConfig(username="admin", password="secret", cnonce_source=counter_source())
        self.client = RtspClientConnection(CAM1, config)

    def exchange(self, method: str, url: str, now: float) -> list[Any]:
        self.client.request(method, url)
        events: list[Any] = []
        while data := self.client.data_to_send():
            self.server.connection.receive_data(data, now)
            while (event := self.server.connection.next_event()) is not None:
                if isinstance(event, RequestReceived):
                    self.server.connection.send_response(event.request, Response(200))
            self.client.receive_data(self.server.connection.data_to_send(), now)
            while (event := self.client.next_event()) is not None:
                events.append(event)
        return events


@pytest.mark.parametrize("qop", [False, True])
def test_client_follows_a_stale_challenge_without_new_credentials(qop: bool) -> None:
    pair = ClientAndServer(qop)
    first = pair.exchange("DESCRIBE", CAM1, now=0.0)
    assert [type(e) for e in first] == [AuthenticationRetried, ResponseReceived]
    assert first[-1].response.status_code == 200
    nonce = pair.client._responder.challenge.params["nonce"]  # type: ignore[union-attr]
    # Within the nonce's lifetime the client goes on without a 401.
    (answer,) = pair.exchange("GET_PARAMETER", CAM1, now=20.0)
    assert answer.response.status_code == 200
    # After it, the server says stale=true; the client retries once with the fresh nonce.
    events = pair.exchange("DESCRIBE", CAM1, now=45.0)
    assert [type(e) for e in events] == [AuthenticationRetried, ResponseReceived]
    assert events[-1].response.status_code == 200
    assert pair.client._responder.challenge.params["nonce"] != nonce  # type: ignore[union-attr]


def test_a_count_far_ahead_restarts_the_window() -> None:
    authenticator = Authenticator("camsim", {"a": "b"}, random_source=counter_source(), qop=True)
    (challenge,) = authenticator.challenges(0.0, uri=CAM1)
    responder = ChallengeResponder("a", "b", cnonce_source=counter_source())
    responder.accept([challenge])
    first = responder.authorization("GET_PARAMETER", CAM1)
    assert authenticator.check("GET_PARAMETER", first, 1.0, uri=CAM1).ok
    responder._nc = 0xFFFFFFFE  # a client that has counted for a very long time
    last = responder.authorization("GET_PARAMETER", CAM1)
    assert authenticator.check("GET_PARAMETER", last, 1.0, uri=CAM1).ok
    assert not authenticator.check("GET_PARAMETER", last, 1.0, uri=CAM1).ok
    assert not authenticator.check("GET_PARAMETER", first, 1.0, uri=CAM1).ok


NASTY_AUTHORIZATIONS = [
    # A user name that is not UTF-8 (the reader keeps such bytes as surrogates).
    b'Digest username="a\xff", realm="camsim", nonce="n", uri="/cam1", response="0"',
    # A response with non-ASCII characters (hmac.compare_digest refuses such str).
    b'Digest username="admin", realm="camsim", nonce="n", uri="/cam1", response="\xc3\xa9"',
    # A uri whose authority is broken (urlsplit raises on it).
    b'Digest username="admin", realm="camsim", nonce="n", uri="rtsp://[", response="0"',
]


@pytest.mark.parametrize("raw", NASTY_AUTHORIZATIONS)
def test_nasty_credentials_are_refused_not_raised(raw: bytes) -> None:
    authenticator = Authenticator("camsim", {"admin": "secret"}, random_source=counter_source())
    value = raw.decode("utf-8", "surrogateescape")  # as the RTSP reader decodes a header
    verdict = authenticator.check("DESCRIBE", value, 1.0, uri=CAM1)
    assert not verdict.ok
    assert verdict.reason


@pytest.mark.parametrize("url", [b"rtsp://[", b"rtsp://h/\xac", b"rtsp://h/c\xc3\xa9m"])
def test_nasty_request_urls_get_a_challenge(url: bytes) -> None:
    authenticator = Authenticator("camsim", {"a": "b"}, random_source=counter_source())
    server = RtspServerConnection(RtspServerConfig(authenticator=authenticator))
    server.receive_data(b"DESCRIBE " + url + b" RTSP/1.0\r\nCSeq: 1\r\n\r\n", 0.0)
    while server.next_event() is not None:
        pass
    answer = Response.parse(server.data_to_send())
    assert answer.status_code == 401
    (challenge,) = challenges_from(answer.headers)
    # The client's answer over the same bytes is accepted: the scope is the bytes it sent.
    responder = ChallengeResponder("a", "b", cnonce_source=counter_source())
    assert responder.accept([challenge])
    text = url.decode("utf-8", "surrogateescape")
    authorization = responder.authorization("DESCRIBE", text)
    assert authenticator.check("DESCRIBE", authorization, 1.0, uri=text).ok


def test_a_client_answers_a_challenge_that_is_not_utf8() -> None:
    challenge = Challenge.parse_all('Digest realm="cam", nonce="\udcff"')
    responder = ChallengeResponder("admin", "secret", cnonce_source=counter_source())
    assert responder.accept(challenge)
    authorization = responder.authorization("DESCRIBE", CAM1)
    assert authorization is not None
    assert 'nonce="\udcff"' in authorization
