from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Iterable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wire.rtsp.auth import Authorization, Challenge, challenges_from, digest_response
from wire.rtsp.authenticator import Authenticator, ChallengeResponder
from wire.rtsp.errors import LocalProtocolError, RemoteProtocolError
from wire.rtsp.headers import Headers

# RFC 7616 §3.9.1
RFC_USER, RFC_PASSWORD, RFC_REALM = "Mufasa", "Circle of Life", "http-auth@example.org"
RFC_NONCE = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"
RFC_CNONCE = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"
RFC_OPAQUE = "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"


def counter_source() -> Callable[[int], bytes]:
    counter = itertools.count()
    return lambda n: bytes((next(counter) + i) % 256 for i in range(n))


@pytest.mark.parametrize(
    ("algorithm", "expected"),
    [
        ("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
        ("SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"),
    ],
)
def test_rfc_7616_vectors(algorithm, expected) -> None:
    response = digest_response(
        algorithm=algorithm,
        username=RFC_USER,
        realm=RFC_REALM,
        password=RFC_PASSWORD,
        method="GET",
        uri="/dir/index.html",
        nonce=RFC_NONCE,
        qop="auth",
        nc="00000001",
        cnonce=RFC_CNONCE,
    )
    assert response == expected


def test_rfc_7616_challenge_answered_by_the_responder() -> None:
    challenges = Challenge.parse_all(
        f'Digest realm="{RFC_REALM}", qop="auth, auth-int", algorithm=SHA-256, '
        f'nonce="{RFC_NONCE}", opaque="{RFC_OPAQUE}", '
        f'Digest realm="{RFC_REALM}", qop="auth, auth-int", algorithm=MD5, '
        f'nonce="{RFC_NONCE}", opaque="{RFC_OPAQUE}"'
    )
    assert [c.algorithm for c in challenges] == ["SHA-256", "MD5"]
    assert challenges[0].qop_options == ("auth", "auth-int")
    responder = ChallengeResponder(
        RFC_USER, RFC_PASSWORD, cnonce_source=lambda n: b"", omit_md5_algorithm=True
    )
    assert responder.accept(reversed(challenges))
    assert responder.challenge is challenges[0]
    answer = Authorization.parse(responder.authorization("GET", "/dir/index.html") or "")
    expected = digest_response(
        algorithm="SHA-256",
        username=RFC_USER,
        realm=RFC_REALM,
        password=RFC_PASSWORD,
        method="GET",
        uri="/dir/index.html",
        nonce=RFC_NONCE,
        qop="auth",
        nc="00000001",
        cnonce="",
    )
    assert answer.params["response"] == expected
    assert answer.params["algorithm"] == "SHA-256"
    assert answer.params["opaque"] == RFC_OPAQUE
    assert (answer.params["qop"], answer.params["nc"]) == ("auth", "00000001")


def test_camera_challenge_and_empty_credentials() -> None:
    # A real camera's challenge, and VLC's first answer to it with empty credentials.
    challenge = 'Digest realm="Login to 4H01D66PAJ2FA64", nonce="ca3a440596cc3a91f9e325547e3a208e"'
    (parsed,) = Challenge.parse_all(challenge)
    assert parsed.realm == "Login to 4H01D66PAJ2FA64"
    assert parsed.algorithm == "MD5"
    assert parsed.serialize() == challenge
    response = digest_response(
        algorithm="MD5",
        username="",
        realm="Login to 4H01D66PAJ2FA64",
        password="",
        method="OPTIONS",
        uri="rtsp://192.168.1.108:554",
        nonce="ca3a440596cc3a91f9e325547e3a208e",
    )
    assert response == "a5d1ab005106689a22acd0887df14b57"


def test_several_challenges_in_one_value_and_in_several_fields() -> None:
    headers = Headers(
        [
            ("WWW-Authenticate", 'Digest realm="cam", nonce="n1", stale=TRUE, Basic realm="cam"'),
            ("WWW-Authenticate", "Negotiate abc123=="),
            ("WWW-Authenticate", 'Digest realm="cam", nonce="n2", algorithm="SHA-256"'),
        ]
    )
    challenges = challenges_from(headers)
    assert [c.scheme for c in challenges] == ["Digest", "Basic", "Negotiate", "Digest"]
    assert challenges[0].stale
    assert challenges[1].is_basic
    assert challenges[1].params == {"realm": "cam"}
    assert challenges[2].token68 == "abc123=="
    assert challenges[3].algorithm == "SHA-256"


def test_quoted_strings_with_escapes_and_commas() -> None:
    (challenge,) = Challenge.parse_all(r'Digest realm="a \"b\", c", nonce=tok')
    assert challenge.params == {"realm": 'a "b", c', "nonce": "tok"}
    assert challenge.serialize() == r'Digest realm="a \"b\", c", nonce="tok"'


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('realm="x"', "WWW-Authenticate: parameter 'realm' before any scheme"),
        ('Digest realm="x', "WWW-Authenticate: unterminated quoted-string for realm"),
        ("Digest @", "WWW-Authenticate: unexpected '@' at offset 7"),
    ],
)
def test_challenge_errors(value, message) -> None:
    with pytest.raises(RemoteProtocolError, match=message):
        Challenge.parse_all(value)


def test_authorization_from_the_capture_round_trips() -> None:
    value = (
        'Digest username="admin", realm="Login to 4H01D66PAJ2FA64", '
        'nonce="ca3a440596cc3a91f9e325547e3a208e", uri="rtsp://192.168.1.108:554/", '
        'response="c3a2455dfd6995c559d9f7818a9d1524"'
    )
    credentials = Authorization.parse(value)
    assert credentials.params["uri"] == "rtsp://192.168.1.108:554/"
    assert credentials.serialize() == value


def test_basic_authorization() -> None:
    credentials = Authorization.basic("admin", "pa:ss")
    assert credentials.serialize() == "Basic YWRtaW46cGE6c3M="
    assert Authorization.parse("Basic YWRtaW46cGE6c3M=").basic_credentials == ("admin", "pa:ss")
    with pytest.raises(RemoteProtocolError, match="Basic credentials are not base64"):
        _ = Authorization.parse("Basic YQ").basic_credentials
    with pytest.raises(RemoteProtocolError, match="Basic credentials without ':'"):
        _ = Authorization.parse("Basic YWRtaW4=").basic_credentials
    with pytest.raises(RemoteProtocolError, match="expected one credential, got 2"):
        Authorization.parse("Basic YQ==, Basic Yg==")


def make_authenticator(**options: Any) -> Authenticator:
    return Authenticator("camsim", {"admin": "secret"}, random_source=counter_source(), **options)


URI = "rtsp://h/s"


def answer(
    challenges: Iterable[Challenge],
    method: str = "DESCRIBE",
    uri: str = URI,
    password: str = "secret",
    **options: Any,
) -> str | None:
    responder = ChallengeResponder("admin", password, cnonce_source=counter_source(), **options)
    assert responder.accept(challenges)
    return responder.authorization(method, uri)


def test_lone_md5_challenge_looks_like_a_camera() -> None:
    (challenge,) = make_authenticator().challenges(100.0, uri=URI)
    assert challenge.scheme == "Digest"
    assert set(challenge.params) == {"realm", "nonce"}
    assert len(challenge.params["nonce"]) == 64


@pytest.mark.parametrize("algorithms", [("MD5",), ("SHA-256",), ("SHA-256", "MD5")])
@pytest.mark.parametrize("qop", [False, True])
def test_digest_accepted(algorithms, qop) -> None:
    authenticator = make_authenticator(digest_algorithms=algorithms, qop=qop, opaque="op")
    authorization = answer(authenticator.challenges(100.0, uri=URI))
    verdict = authenticator.check("DESCRIBE", authorization, 101.0, uri=URI)
    assert (verdict.ok, verdict.username, verdict.stale) == (True, "admin", False)
    if qop:
        assert 'qop=auth, nc=00000001, cnonce="' in (authorization or "")


def test_sess_algorithm_with_qop_accepted() -> None:
    authenticator = make_authenticator(digest_algorithms=("MD5-sess",), qop=True)
    verdict = authenticator.check(
        "PLAY", answer(authenticator.challenges(0.0, uri=URI), "PLAY"), 1.0, uri=URI
    )
    assert verdict.ok


def test_wrong_password_method_or_user_is_refused() -> None:
    authenticator = make_authenticator()
    challenges = authenticator.challenges(0.0, uri=URI)
    verdict = authenticator.check("DESCRIBE", answer(challenges, password="nope"), 1.0, uri=URI)
    assert (verdict.ok, verdict.reason) == (False, "wrong user name or password")
    assert not authenticator.check("PLAY", answer(challenges, method="DESCRIBE"), 1.0, uri=URI).ok
    stranger = ChallengeResponder("eve", "secret", cnonce_source=counter_source())
    stranger.accept(challenges)
    assert not authenticator.check(
        "DESCRIBE", stranger.authorization("DESCRIBE", "u"), 1.0, uri=URI
    ).ok


def test_expired_nonce_with_right_credentials_is_stale() -> None:
    authenticator = make_authenticator(nonce_lifetime=30.0)
    authorization = answer(authenticator.challenges(100.0, uri=URI))
    assert authenticator.check("DESCRIBE", authorization, 130.0, uri=URI).ok
    verdict = authenticator.check("DESCRIBE", authorization, 130.5, uri=URI)
    assert (verdict.ok, verdict.stale, verdict.reason) == (False, True, "nonce expired")
    (challenge,) = authenticator.challenges(130.5, uri=URI, stale=True)
    assert challenge.stale


def test_expired_nonce_with_wrong_credentials_is_not_stale() -> None:
    authenticator = make_authenticator(nonce_lifetime=30.0)
    authorization = answer(authenticator.challenges(100.0, uri=URI), password="wrong")
    verdict = authenticator.check("DESCRIBE", authorization, 200.0, uri=URI)
    assert (verdict.ok, verdict.stale) == (False, False)


def test_forged_nonce_is_refused() -> None:
    authenticator = make_authenticator()
    forged = [Challenge("Digest", {"realm": "camsim", "nonce": "ab" * 32})]
    verdict = authenticator.check("DESCRIBE", answer(forged), 1.0, uri=URI)
    assert verdict.reason == "nonce was not issued by this server for /s"
    other_server = make_authenticator()
    other_server._key = b"another key"
    authorization = answer(authenticator.challenges(0.0, uri=URI))
    verdict = other_server.check("DESCRIBE", authorization, 1.0, uri=URI)
    assert verdict.reason == "nonce was not issued by this server for /s"


@pytest.mark.parametrize(
    ("authorization", "reason"),
    [
        (None, "no Authorization header"),
        ('Digest username="admin"', "Digest credentials lack realm, nonce, uri, response"),
        (
            'Digest username="admin", realm="other", nonce="n", uri="u", response="r"',
            "realm 'other' is not ours",
        ),
        (
            'Digest username="a", realm="camsim", nonce="n", uri="u", response="r", '
            "algorithm=SHA-256",
            "algorithm SHA-256 was not offered",
        ),
        (
            'Digest username="a", realm="camsim", nonce="n", uri="u", response="r", qop=auth',
            "unsupported qop 'auth' or no nc/cnonce",
        ),
        ("Basic YWRtaW46c2VjcmV0", "scheme Basic was not offered"),
        ('Digest realm="x', "Authorization: unterminated quoted-string for realm"),
    ],
)
def test_digest_refusal_reasons(authorization, reason) -> None:
    verdict = make_authenticator().check("DESCRIBE", authorization, 0.0, uri=URI)
    assert (verdict.ok, verdict.reason) == (False, reason)


def test_basic_only_and_both() -> None:
    basic = make_authenticator(digest_algorithms=(), basic=True)
    assert [c.serialize() for c in basic.challenges(0.0, uri=URI)] == ['Basic realm="camsim"']
    assert basic.check("OPTIONS", "Basic YWRtaW46c2VjcmV0", 0.0, uri=URI).ok
    assert basic.check("OPTIONS", "Basic YWRtaW46d3Jvbmc=", 0.0, uri=URI).reason == (
        "wrong user name or password"
    )
    both = make_authenticator(basic=True)
    assert [c.scheme for c in both.challenges(0.0, uri=URI)] == ["Digest", "Basic"]


def test_authenticator_configuration_errors() -> None:
    with pytest.raises(LocalProtocolError, match=r"unsupported digest algorithms \['SHA-512'\]"):
        make_authenticator(digest_algorithms=("SHA-512",))
    with pytest.raises(LocalProtocolError, match="needs Digest, Basic or both"):
        make_authenticator(digest_algorithms=())


def test_responder_prefers_digest_and_sha256() -> None:
    basic = Challenge("Basic", {"realm": "r"})
    md5 = Challenge("Digest", {"realm": "r", "nonce": "1"})
    sha = Challenge("Digest", {"realm": "r", "nonce": "2", "algorithm": "SHA-256"})
    unknown = Challenge("Digest", {"realm": "r", "nonce": "3", "algorithm": "SHA-512-256"})
    auth_int = Challenge("Digest", {"realm": "r", "nonce": "4", "qop": "auth-int"})
    responder = ChallengeResponder("u", "p", cnonce_source=counter_source())
    assert responder.authorization("OPTIONS", "*") is None
    assert not responder.accept([unknown, auth_int, Challenge("Negotiate")])
    assert responder.accept([basic, md5])
    assert responder.challenge is md5
    assert responder.accept([basic, md5, unknown, sha])
    assert responder.challenge is sha
    assert responder.accept([basic])
    assert responder.authorization("OPTIONS", "*") == "Basic dTpw"


@pytest.mark.parametrize(
    ("challenge_params", "omit", "expected_algorithm"),
    [
        ({}, False, None),
        ({"algorithm": "MD5"}, False, "MD5"),
        ({"algorithm": "MD5"}, True, None),
        ({"algorithm": "SHA-256"}, True, "SHA-256"),
    ],
)
def test_algorithm_parameter_in_the_answer(challenge_params, omit, expected_algorithm) -> None:
    challenge = Challenge("Digest", {"realm": "r", "nonce": "n", **challenge_params})
    authorization = answer([challenge], omit_md5_algorithm=omit)
    assert Authorization.parse(authorization or "").params.get("algorithm") == expected_algorithm


def test_nonce_count_increments_and_resets_with_a_new_nonce() -> None:
    responder = ChallengeResponder("u", "p", cnonce_source=counter_source())
    responder.accept([Challenge("Digest", {"realm": "r", "nonce": "a", "qop": "auth"})])
    counts = [
        Authorization.parse(responder.authorization("PLAY", "u") or "").params["nc"]
        for _ in range(3)
    ]
    assert counts == ["00000001", "00000002", "00000003"]
    responder.accept([Challenge("Digest", {"realm": "r", "nonce": "b", "qop": "auth"})])
    assert Authorization.parse(responder.authorization("PLAY", "u") or "").params["nc"] == (
        "00000001"
    )


@settings(max_examples=300)
@given(st.text(max_size=80))
def test_any_text_gives_challenges_or_the_documented_error(text) -> None:
    with contextlib.suppress(RemoteProtocolError):
        Challenge.parse_all(text)
    verdict = make_authenticator().check("OPTIONS", text, 0.0, uri=URI)
    assert not verdict.ok
