"""Authentication: Basic and Digest as RFC 2617/7616 define them, only when the target URL
carries credentials."""

from __future__ import annotations

from conformance.case import INFO, REQUIRED, CaseRecord, case, fail, not_applicable
from conformance.rtsp.link import Exchange
from conformance.rtsp.spec import rfc2326, rfc2617, rfc7235, rfc7616
from conformance.rtsp.view import CameraView
from reports.model import Detail
from wire.rtsp import Challenge, RemoteProtocolError, challenges_from

DIGEST_ALGORITHMS = (
    "MD5",
    "MD5-SESS",
    "SHA-256",
    "SHA-256-SESS",
    "SHA-512-256",
    "SHA-512-256-SESS",
)


def _anonymous(camera: CameraView) -> Exchange:
    exchange = camera.observation.unauthenticated
    if exchange is None:
        not_applicable("the target URL carries no credentials")
    return exchange


def _challenges(exchange: Exchange) -> list[Challenge]:
    if exchange.answer is None:
        return []
    try:
        return list(challenges_from(exchange.answer.response.headers))
    except RemoteProtocolError:
        return []


@case(
    "RTSP-AUTH-001",
    "A request without credentials is answered 401 with a WWW-Authenticate challenge",
    level=REQUIRED,
    spec=[rfc7235("3.1"), rfc2326("11.4.1")],
)
def test_challenge(camera: CameraView) -> None:
    exchange = _anonymous(camera)
    if exchange.status != 401:
        fail(
            f"DESCRIBE without credentials answered {exchange.status}, expected 401",
            [Detail(exchange.describe(), "DESCRIBE")],
        )
    if not _challenges(exchange):
        header = exchange.header("WWW-Authenticate")
        fail(
            f"401 without a readable WWW-Authenticate ({header!r})",
            [Detail(exchange.describe(), "DESCRIBE")],
        )


@case(
    "RTSP-AUTH-002",
    "A Digest challenge names a realm, a nonce and a known algorithm",
    level=REQUIRED,
    spec=[rfc7616("3.3"), rfc2617("3.2.1")],
)
def test_digest_challenge(camera: CameraView) -> None:
    digests = [c for c in _challenges(_anonymous(camera)) if c.is_digest]
    if not digests:
        not_applicable("the camera offers no Digest challenge")
    problems = []
    for challenge in digests:
        missing = [name for name in ("realm", "nonce") if not challenge.params.get(name)]
        if missing:
            problems.append(Detail(f"no {' or '.join(missing)}", str(dict(challenge.params))))
        if challenge.algorithm.upper() not in DIGEST_ALGORITHMS:
            problems.append(Detail(f"algorithm {challenge.algorithm}", str(dict(challenge.params))))
    if problems:
        fail("malformed Digest challenge", problems)


@case(
    "RTSP-AUTH-003",
    "The right credentials are accepted",
    level=REQUIRED,
    spec=[rfc7616("3.4"), rfc2617("2")],
)
def test_right_credentials(camera: CameraView) -> None:
    _anonymous(camera)
    describe = camera.observation.describe
    assert describe is not None
    if describe.status != 200:
        fail(
            f"DESCRIBE with credentials answered {describe.status}",
            [Detail(describe.describe(), "DESCRIBE")],
        )


@case(
    "RTSP-AUTH-004",
    "A wrong password is refused with 401",
    level=REQUIRED,
    spec=[rfc7616("3.4"), rfc7235("3.1")],
)
def test_wrong_password(camera: CameraView) -> None:
    _anonymous(camera)
    exchange = camera.observation.wrong_password
    assert exchange is not None
    if exchange.status != 401:
        fail(
            f"DESCRIBE with a wrong password answered {exchange.status}, expected 401",
            [Detail(exchange.describe(), "DESCRIBE")],
        )


@case("RTSP-AUTH-005", "The schemes the camera offers", level=INFO, spec=[rfc7235("4.1")])
def test_schemes(camera: CameraView, case_record: CaseRecord) -> None:
    challenges = _challenges(_anonymous(camera))
    offered = [f"{c.scheme} {c.algorithm}" if c.is_digest else c.scheme for c in challenges]
    case_record.measure("schemes", ", ".join(offered) or "none")
    case_record.summary = ", ".join(offered) or "none"
