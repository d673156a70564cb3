"""Crashes the fuzzers found in modules whose fix is pending, each with its minimal input.

Every entry makes two tests strict xfails: the entry's own reproducer test in
``test_known_crashes.py``, and the property test of its target (which runs the reproducers of its
target first, so it fails every time, not only when the search finds the input again). Once the
module is fixed both xpass, and strict xfail turns that into a failure: delete the entry then.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis.strategies import DataObject

from tests.fuzz.strategies import fuzz_inputs
from tests.fuzz.targets import check


@dataclass(frozen=True)
class KnownCrash:
    """``data`` fed to fuzz target ``target`` raises ``error`` from ``where``."""

    target: str
    data: bytes
    error: str
    where: str

    @property
    def reason(self) -> str:
        return f"{self.error} from {self.where} (fix pending)"


_AUTH_URL = "an unclosed IPv6 bracket in the request URL"

KNOWN_CRASHES: tuple[KnownCrash, ...] = (
    KnownCrash(
        "rtsp_server_auth",
        b"\x00DESCRIBE rtsp://[ RTSP/1.0\r\nCSeq: 1\r\n\r\n",
        f"ValueError 'Invalid IPv6 URL' for {_AUTH_URL}",
        "wire/rtsp/authenticator.py uri_path (urllib.parse.urlsplit)",
    ),
    KnownCrash(
        "rtsp_server_auth",
        b"\x00DESCRIBE rtsp://h/\xac RTSP/1.0\r\nCSeq: 1\r\n\r\n",
        "UnicodeEncodeError: a request URL that is not UTF-8 (kept as a surrogate) is encoded "
        "for the nonce's scope",
        "wire/rtsp/authenticator.py Authenticator._new_nonce via challenges()",
    ),
    KnownCrash(
        "rtsp_server_auth_playing",
        b"\x00DESCRIBE rtsp://[ RTSP/1.0\r\nCSeq: 3\r\n\r\n",
        f"ValueError 'Invalid IPv6 URL' for {_AUTH_URL}, in a playing session",
        "wire/rtsp/authenticator.py uri_path (urllib.parse.urlsplit)",
    ),
    KnownCrash(
        "rtsp_client",
        b"\x00RTSP/1.0 401 Unauthorized\r\nCSeq: 1\r\n"
        b'WWW-Authenticate: Digest realm="cam", nonce="\xff"\r\n\r\n',
        "UnicodeEncodeError: a challenge parameter that is not UTF-8 (kept as a surrogate) is "
        "encoded for the digest",
        "wire/rtsp/auth.py digest_response",
    ),
    KnownCrash(
        "rtsp_authenticator",
        b'Digest username="a\xff", realm="cam", nonce="abc123", uri="rtsp://h/s", response="0"',
        "UnicodeEncodeError: a user name that is not UTF-8 (kept as a surrogate) is encoded for "
        "the digest",
        "wire/rtsp/auth.py digest_response via Authenticator.check",
    ),
    KnownCrash(
        "rtsp_authenticator",
        b'Digest username="admin", realm="cam", nonce="abc123", uri="rtsp://h/s", '
        b'response="\xc3\xa9"',
        "TypeError 'comparing strings with non-ASCII characters is not supported' for a "
        "non-ASCII response",
        "wire/rtsp/authenticator.py hmac.compare_digest in Authenticator.check",
    ),
    KnownCrash(
        "rtsp_authenticator",
        b'Digest username="admin", realm="cam", nonce="abc123", uri="rtsp://[", response="0"',
        f"ValueError 'Invalid IPv6 URL' for {_AUTH_URL} of the uri parameter",
        "wire/rtsp/authenticator.py uri_path via Authenticator.check",
    ),
)


def crashes_of(name: str) -> list[KnownCrash]:
    return [crash for crash in KNOWN_CRASHES if crash.target == name]


def params(names: list[str]) -> list[object]:
    """``names`` for ``parametrize``, those with a known crash marked as strict xfails."""
    result: list[object] = []
    for name in names:
        reasons = "; ".join(crash.reason for crash in crashes_of(name))
        marks = [pytest.mark.xfail(strict=True, reason=reasons)] if reasons else []
        result.append(pytest.param(name, marks=marks, id=name))
    return result


def run_property(name: str, data: DataObject, *, text: bool = False, max_size: int = 2048) -> None:
    """One example of a target's property: its known crashes first, then a drawn input."""
    for crash in crashes_of(name):
        check(name, crash.data)
    check(name, data.draw(fuzz_inputs(name, text=text, max_size=max_size), label="input"))
