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


KNOWN_CRASHES: tuple[KnownCrash, ...] = ()

_DIGITS = b"9" * 5000  # past Python's 4300-digit limit for int()

FIXED_CRASHES: tuple[tuple[str, bytes], ...] = (
    # (target, input) that once raised another exception or hung; each must pass now.
    ("fmp4_boxes", b"\x00\x00\x00\x10trun\x00\x00\x00\x00\xff\xff\xff\xff"),
    # An SPS whose pic_width_in_mbs_minus1 makes the width overflow tkhd (struct.error).
    (
        "writers_from_network_parameters",
        b'\x02\x00\x00\x01gz\x00(\xbc\xb2\x00\x00\r\n\xc4\xc2\x00"',
    ),
    ("hls_validate", b"#EXTM3U\n#EXT-X-VERSION:" + _DIGITS + b"\n#EXT-X-TARGETDURATION:4\n"),
    ("sdp", b"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=x\r\nt=" + _DIGITS + b" 0\r\n"),
    ("sdp", b"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=x\r\nt=0 0\r\nm=video 0 RTP/AVP " + _DIGITS),
    ("rtsp_header_transport", b"RTP/AVP;multicast;ttl=" + _DIGITS),
    ("rtsp_header_rtp_info", b"url=rtsp://h/s/trackID=0;seq=" + _DIGITS),
    ("rtsp_header_session", b"12345678;timeout=" + _DIGITS),
    (
        "rtsp_server",
        b"\x00OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nContent-Length: " + _DIGITS + b"\r\n\r\n",
    ),
    (
        "rtsp_server",
        b"\x00OPTIONS * RTSP/1.0\r\nCSeq: 2\r\n\r\nOPTIONS * RTSP/1.0\r\nCSeq: 2\r\n\r\n",
    ),
    ("rtsp_server", b"\x00OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nX: a\r\n \x00\r\n\r\n"),
    ("rtsp_client", b"\x00RTSP/1.0 200 OK\r\nCSeq: 1\r\nX: a\r\n \x00\r\n\r\n"),
    ("rtsp_message", b"OPTIONS * RTSP/1.0\r\nX: a\r\n \x00\r\n\r\n"),
    ("rtsp_tunnel_http", b"GET / HTTP/1.0\r\nX: a\r\n \r\r\n\r\n"),
    ("rtsp_server_auth", b"\x00DESCRIBE rtsp://[ RTSP/1.0\r\nCSeq: 1\r\n\r\n"),
    ("rtsp_server_auth", b"\x00DESCRIBE rtsp://h/\xac RTSP/1.0\r\nCSeq: 1\r\n\r\n"),
    ("rtsp_server_auth_playing", b"\x00DESCRIBE rtsp://[ RTSP/1.0\r\nCSeq: 3\r\n\r\n"),
    (
        "rtsp_client",
        b"\x00RTSP/1.0 401 Unauthorized\r\nCSeq: 1\r\n"
        b'WWW-Authenticate: Digest realm="cam", nonce="\xff"\r\n\r\n',
    ),
    (
        "rtsp_authenticator",
        b'Digest username="a\xff", realm="cam", nonce="abc123", uri="rtsp://h/s", response="0"',
    ),
    (
        "rtsp_authenticator",
        b'Digest username="admin", realm="cam", nonce="abc123", uri="rtsp://h/s", '
        b'response="\xc3\xa9"',
    ),
    (
        "rtsp_authenticator",
        b'Digest username="admin", realm="cam", nonce="abc123", uri="rtsp://[", response="0"',
    ),
    # A Content-Base with a space became the aggregate URL, whose keepalive could not be written.
    (
        "rtsp_client",
        b"\x00RTSP/1.0 200 OK\r\nCSeq: 2\r\nContent-Base: rtsp://h/a b/\r\n\r\n"
        b"RTSP/1.0 200 OK\r\nCSeq: 3\r\nSession: 1\r\n\r\n",
    ),
)
"""Inputs the fuzzers found that crashed or hung before their module was fixed: a corpus that
every run replays, so that the crash cannot come back unnoticed."""


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
