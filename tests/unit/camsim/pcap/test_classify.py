"""Flows recognised by their content, whatever their ports."""

from __future__ import annotations

import ssl

import pytest

from camsim.pcap.classify import (
    NEED_MORE,
    UDP_OTHER,
    UDP_RTCP,
    UDP_RTP,
    Protocol,
    Verdict,
    sniff,
    udp_kind,
)


def _client_hello(server_name: str) -> bytes:
    context = ssl.create_default_context()
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname=server_name)
    with pytest.raises(ssl.SSLWantReadError):
        tls.do_handshake()
    return outgoing.read()


@pytest.mark.parametrize(
    ("data", "verdict"),
    [
        (
            b"OPTIONS rtsp://10.0.0.5:10554/live RTSP/1.0\r\nCSeq: 1\r\n\r\n",
            Verdict(Protocol.RTSP, True),
        ),
        (b"RTSP/1.0 200 OK\r\nCSeq: 1\r\n\r\n", Verdict(Protocol.RTSP, False)),
        (
            b"$\x00\x00\x0c\x80\x60\x00\x01\x00\x00\x00\x01\x00\x00\x00\x01"
            b"$\x01\x00\x08\x80\xc8\x00\x01\x00\x00\x00\x01",
            Verdict(Protocol.RTSP, False),
        ),
        (
            b"GET /cam1 HTTP/1.0\r\nx-sessioncookie: abc\r\n"
            b"Accept: application/x-rtsp-tunnelled\r\n\r\n",
            Verdict(Protocol.RTSP_TUNNEL, True),
        ),
        (
            b"POST /cam1 HTTP/1.0\r\nx-sessioncookie: abc\r\nContent-Length: 32767\r\n\r\nT1BUSU9O",
            Verdict(Protocol.RTSP_TUNNEL, True),
        ),
        (
            b"HTTP/1.0 200 OK\r\nContent-Type: application/x-rtsp-tunnelled\r\n\r\nRTSP/1.0",
            Verdict(Protocol.RTSP_TUNNEL, False),
        ),
        (b"GET /live/cam/index.m3u8 HTTP/1.1\r\nHost: a\r\n\r\n", Verdict(Protocol.HTTP, True)),
        (b"\x03" + bytes(1536), Verdict(Protocol.RTMP, True)),
    ],
    ids=[
        "rtsp-request",
        "rtsp-answer",
        "interleaved",
        "tunnel-get",
        "tunnel-post",
        "tunnel-answer",
        "hls",
        "rtmp",
    ],
)
def test_tcp_protocols(data: bytes, verdict: Verdict) -> None:
    assert sniff(data) == verdict


def test_tls_client_hello_from_a_real_stack() -> None:
    assert sniff(_client_hello("ingest.example.com")) == Verdict(Protocol.TLS, True)


@pytest.mark.parametrize(
    "data",
    [
        b"OPTIONS rtsp://10.0.0.5/live RTS",
        b"\x03" + bytes(100),
        b"GET /index.m3u8 HTTP/1.1\r\nHost",
    ],
)
def test_partial_openings_wait_for_more(data: bytes) -> None:
    assert sniff(data) is NEED_MORE


@pytest.mark.parametrize(
    "data",
    [b"SSH-2.0-OpenSSH_9.2\r\n", b"\x00\x01\x02\x03 binary", b"HELLO world\r\n"],
)
def test_other_protocols_are_not_taken(data: bytes) -> None:
    assert sniff(data, final=True) is None


def test_udp_datagrams() -> None:
    assert udp_kind(0x80, 0x60, 1200) == UDP_RTP
    assert udp_kind(0x80, 0xE0, 1200) == UDP_RTP  # marker bit and PT 96
    assert udp_kind(0x81, 200, 52) == UDP_RTCP  # SR with one report block
    assert udp_kind(0x80, 201, 8) == UDP_RTCP
    assert udp_kind(0xCE, 0xFA, 4) == UDP_OTHER  # a live555 NAT punch packet
    assert udp_kind(0x80, 0x60, 8) == UDP_OTHER  # too short for an RTP header
    assert udp_kind(0x00, 0x01, 20) == UDP_OTHER  # STUN
