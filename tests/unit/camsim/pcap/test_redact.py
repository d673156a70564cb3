"""``redact``: no secret the input had is left anywhere in the output's bytes.

The capture is built with every hiding place a secret has in the field: Basic and Digest
credentials and URL passwords in RTSP (cut across TCP segments, retransmitted), the same in the
base64 of an RTSP-over-HTTP tunnel, an RTMP stream key and a tcUrl token cut by chunk headers,
an HLS token in a query string, and the addresses in headers, URLs and SDP.
"""

from __future__ import annotations

import base64
import ipaddress
import re
from pathlib import Path

import pytest

from camsim.media.loader import load
from camsim.pcap.inspect import inspect_capture
from camsim.pcap.redact import redact
from camsim.pcap.synth import CLIENT, SERVER, camera_capture, write_capture
from camsim.pcap.tcp import Hole, TcpDirection
from tests.conftest import SampleFactory
from tests.unit.camsim.pcap.test_rtmp import Peer
from wire.pcapng import TcpConversation, pack_address
from wire.rtmp.messages import Command, status_info
from wire.rtsp.tunnel import TunnelDecoder

PASSWORD = "Sup3rS3cret"
DIGEST_USER = "operator7"
DIGEST_RESPONSE = "6629fae49393a05397450978507c4ef1"
TUNNEL_PASSWORD = "T0nn3lPass"
RTMP_KEY = "sk_live_4f9a8b7c6d5e"
RTMP_TOKEN = "9f8e7d6c5b4a3f2e1d"
HLS_TOKEN = "hlsT0ken123"
BASIC = base64.b64encode(f"admin:{PASSWORD}".encode()).decode()
TUNNEL_BASIC = base64.b64encode(f"tunnelman:{TUNNEL_PASSWORD}".encode()).decode()
SECRETS = [
    PASSWORD,
    DIGEST_USER,
    DIGEST_RESPONSE,
    TUNNEL_PASSWORD,
    RTMP_KEY,
    RTMP_TOKEN,
    HLS_TOKEN,
    BASIC,
    TUNNEL_BASIC,
    "tunnelman",
]
ADDRESSES = [CLIENT[0], SERVER[0], "198.51.100.77", "203.0.113.5"]


def _rtsp(server: str, client: str) -> list[bytes]:
    """A dialog whose credentials straddle segments of 40 bytes, one segment sent twice."""
    conversation = TcpConversation((client, 40000), (server, 554), mss=40)
    url = f"rtsp://{server}:554/cam1"
    requests = [
        f"DESCRIBE {url} RTSP/1.0\r\nCSeq: 1\r\nAuthorization: Basic {BASIC}\r\n\r\n",
        f"SETUP rtsp://admin:{PASSWORD}@{server}:554/cam1/trackID=0 RTSP/1.0\r\nCSeq: 2\r\n"
        f'Authorization: Digest username="{DIGEST_USER}", realm="cam", nonce="abc", '
        f'uri="{url}", response="{DIGEST_RESPONSE}"\r\n'
        "Transport: RTP/AVP;unicast;client_port=5000-5001\r\n\r\n",
    ]
    sdp = (
        f"v=0\r\no=- 1 1 IN IP4 {server}\r\ns=c\r\nc=IN IP4 {client}\r\nt=0 0\r\n"
        "m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n"
    )
    answers = [
        f"RTSP/1.0 200 OK\r\nCSeq: 1\r\nContent-Base: {url}/\r\nContent-Type: application/sdp\r\n"
        f"Content-Length: {len(sdp)}\r\n\r\n{sdp}",
        f"RTSP/1.0 200 OK\r\nCSeq: 2\r\nSession: 1\r\n"
        "Transport: RTP/AVP;unicast;client_port=5000-5001;server_port=6000-6001;"
        f"source={server}\r\n\r\n",
    ]
    packets = conversation.open()
    for request, answer in zip(requests, answers, strict=True):
        sent = conversation.send(True, request.encode())
        packets += sent + sent[1:3]  # two segments retransmitted
        packets += conversation.send(False, answer.encode())
    return packets + conversation.close()


def _tunnel(server: str, client: str) -> list[bytes]:
    get = TcpConversation((client, 41000), (server, 8080), mss=60)
    post = TcpConversation((client, 41001), (server, 8080), mss=60)
    packets = get.open() + post.open()
    packets += get.send(
        True,
        b"GET /cam HTTP/1.0\r\nx-sessioncookie: QWE\r\n"
        b"Accept: application/x-rtsp-tunnelled\r\n\r\n",
    )
    packets += get.send(
        False, b"HTTP/1.0 200 OK\r\nContent-Type: application/x-rtsp-tunnelled\r\n\r\n"
    )
    packets += post.send(
        True, b"POST /cam HTTP/1.0\r\nx-sessioncookie: QWE\r\nContent-Length: 32767\r\n\r\n"
    )
    request = (
        f"OPTIONS rtsp://{server}:8080/cam RTSP/1.0\r\nCSeq: 1\r\n"
        f"Authorization: Basic {TUNNEL_BASIC}\r\n\r\n"
    )
    encoded = base64.b64encode(request.encode())
    packets += post.send(
        True, encoded[:31] + b"\r\n" + encoded[31:]
    )  # a line break, as ONVIF allows
    packets += get.send(False, b"RTSP/1.0 200 OK\r\nCSeq: 1\r\n\r\n")
    return packets


def _rtmp(server: str, client: str) -> list[bytes]:
    peer, answer = Peer(), Peer()
    tc_url = f"rtmp://{server}/live?token={RTMP_TOKEN}"
    # flashVer long enough that the first 128-byte chunk ends inside tcUrl's token.
    for padding in range(200):
        fields = {"app": "live", "flashVer": "FMLE/3.0" + "x" * padding, "tcUrl": tc_url}
        payload = Command("connect", 1.0, fields).serialize()  # type: ignore[arg-type]
        at = payload.rfind(RTMP_TOKEN.encode())
        if at < 128 < at + len(RTMP_TOKEN):
            break
    peer.command("connect", 1.0, fields)
    peer.command("publish", 2.0, None, RTMP_KEY, "live", stream=1)
    answer.command(
        "onStatus",
        0.0,
        None,
        status_info("status", "NetStream.Publish.Start", f"{RTMP_KEY} is now published"),
        stream=1,
    )
    conversation = TcpConversation((client, 42000), (server, 1935))
    return (
        conversation.open()
        + conversation.send(True, bytes(peer.out))
        + conversation.send(False, bytes(answer.out))
    )


def _http(server: str, client: str) -> list[bytes]:
    conversation = TcpConversation((client, 43000), (server, 80))
    request = f"GET /live/cam/index.m3u8?token={HLS_TOKEN} HTTP/1.1\r\nHost: {server}\r\n\r\n"
    body = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\nseg0.ts\n"
    answer = (
        "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.apple.mpegurl\r\n"
        f"Content-Length: {len(body)}\r\n\r\n{body}"
    )
    return (
        conversation.open()
        + conversation.send(True, request.encode())
        + conversation.send(False, answer.encode())
    )


@pytest.fixture(scope="module")
def capture_path(make_test_sample: SampleFactory, tmp_path_factory: pytest.TempPathFactory) -> Path:
    media = camera_capture(load(make_test_sample()), transport="udp", seconds=2)
    packets = [p for _, p in media.packets]
    packets += _rtsp("198.51.100.77", "203.0.113.5") + _tunnel(SERVER[0], CLIENT[0])
    packets += _rtmp(SERVER[0], CLIENT[0]) + _http(SERVER[0], CLIENT[0])
    timed = [(1_700_000_000_000_000_000 + i * 1_000_000, p) for i, p in enumerate(packets)]
    return write_capture(tmp_path_factory.mktemp("secret") / "secret.pcapng", timed)


def _everything(capture: Path) -> bytes:
    """The capture's bytes, every TCP stream reassembled, the tunnel's RTSP decoded and the
    RTMP strings as a reader gets them: wherever a secret could be read from."""
    result = inspect_capture(capture)
    streams = [capture.read_bytes(), _tunnel_text(capture).encode()]
    for connection in result.connections:
        for port in (connection.client.port, connection.server.port):
            sink = _Collect()
            direction = TcpDirection(sink)
            for seq, data in _segments(capture, port, connection):
                direction.segment(seq, 0, data, 0, 0.0)
            streams.append(bytes(sink.data_bytes))
    for session in result.rtmp:
        streams.append(
            " ".join([session.app or "", session.tc_url or "", *session.stream_names]).encode()
        )
    joined = b"\n".join(streams)
    basic = [_decoded(m) for m in re.findall(rb"Basic ([A-Za-z0-9+/]+=*)", joined)]
    return joined + b"\n" + b"\n".join(basic)


def _decoded(token: bytes) -> bytes:
    try:
        return base64.b64decode(token + b"=" * (-len(token) % 4))
    except ValueError:
        return b""


def test_the_input_holds_every_secret(capture_path: Path) -> None:
    everything = _everything(capture_path)
    for secret in SECRETS:
        assert secret.encode() in everything, secret
    # Some are in no single packet: cut by a segment boundary, or by an RTMP chunk header.
    data = capture_path.read_bytes()
    assert DIGEST_USER.encode() not in data
    assert RTMP_TOKEN.encode() not in data


@pytest.mark.parametrize("drop_media", [False, True])
def test_no_secret_survives(capture_path: Path, tmp_path: Path, drop_media: bool) -> None:
    output = tmp_path / "shared.pcapng"
    report = redact(capture_path, output, drop_media=drop_media)
    data = output.read_bytes()
    everything = _everything(output)
    for secret in SECRETS:
        assert secret.encode() not in everything, secret
    for address in ADDRESSES:
        assert address.encode() not in everything, address
        assert pack_address(address) not in data, address
    # Read back as a protocol reader would: the RTMP strings, the tunnel's decoded RTSP.
    result = inspect_capture(output)
    (session,) = result.rtmp
    shown = " ".join([session.app or "", session.tc_url or "", *session.stream_names])
    assert RTMP_TOKEN not in shown
    assert RTMP_KEY not in shown
    assert {s.value.decode() for s in report.secrets} >= {PASSWORD, RTMP_KEY, RTMP_TOKEN, HLS_TOKEN}
    assert all(address not in report.addresses.values() for address in ADDRESSES)
    assert TUNNEL_PASSWORD not in _tunnel_text(output)


def test_the_redacted_capture_reads_as_the_same_session(capture_path: Path, tmp_path: Path) -> None:
    before = inspect_capture(capture_path)
    output = tmp_path / "shared.pcapng"
    redact(capture_path, output, drop_media=True)
    after = inspect_capture(output)
    assert [len(d.exchanges) for d in after.dialogs] == [len(d.exchanges) for d in before.dialogs]
    assert [[e.status for e in d.exchanges] for d in after.dialogs] == [
        [e.status for e in d.exchanges] for d in before.dialogs
    ]
    assert [(s.packets, s.frames, s.keyframes, s.missing) for s in after.rtp_streams] == [
        (s.packets, s.frames, s.keyframes, s.missing) for s in before.rtp_streams
    ]
    assert [e.status for e in after.http] == [200]
    # Every rewritten address is private or for documentation, and text kept its length.
    for address in {str(s.flow.source.host) for s in after.rtp_streams}:
        ip = ipaddress.ip_address(address)
        assert ip.is_private or ip in ipaddress.ip_network("100.64.0.0/10")
    assert not [c for c in after.connections if c.holes]


def _tunnel_text(capture: Path) -> str:
    """The decoded RTSP of every tunnel POST leg in ``capture``."""
    result = inspect_capture(capture)
    texts = []
    for connection in result.connections:
        if connection.protocol.value != "rtsp-http-tunnel":
            continue
        sink = _Collect()
        direction = TcpDirection(sink)
        for seq, data in _segments(capture, connection.client.port, connection):
            direction.segment(seq, 0, data, 0, 0.0)
        stream = bytes(sink.data_bytes)
        if stream.startswith(b"POST"):
            body = stream.split(b"\r\n\r\n", 1)[1]
            texts.append(TunnelDecoder().decode(body).decode("latin-1"))
    return "\n".join(texts)


class _Collect:
    def __init__(self) -> None:
        self.data_bytes = bytearray()

    def data(self, chunk: bytes, number: int, time: float) -> None:
        self.data_bytes += chunk

    def hole(self, hole: Hole) -> None:
        raise AssertionError(f"hole in a redacted stream: {hole}")


def _segments(capture: Path, source_port: int, connection: object) -> list[tuple[int, bytes]]:
    """The TCP segments sent from ``source_port`` on the connection's endpoints."""
    from camsim.pcap.capture import CaptureFile
    from camsim.pcap.packet import IPPROTO_TCP, PacketDecoder

    found = []
    decoder = PacketDecoder()
    with CaptureFile.open(capture) as opened:
        for _, link_type, offset, length in opened.records():
            segment = decoder.decode(link_type, opened.buffer, offset, length, 0)
            if (
                segment is not None
                and segment[0] == IPPROTO_TCP
                and segment[2] == source_port
                and {segment[1], segment[3]}
                == {connection.client.address, connection.server.address}  # type: ignore[attr-defined]
            ):
                data = bytes(segment[5][segment[6] : segment[7]])
                if data:
                    found.append((segment[8], data))
    return found
