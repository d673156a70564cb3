"""The real exchange between VLC/live555 and an IP camera, read from the shared captures."""

from pathlib import Path
from typing import Any

import pytest

from wire.rtsp.auth import Authorization, challenges_from
from wire.rtsp.events import RequestReceived
from wire.rtsp.headers import Headers, Public, SessionHeader
from wire.rtsp.message import Request, Response
from wire.rtsp.range import Range
from wire.rtsp.reader import RtspReader
from wire.rtsp.rtpinfo import RtpInfo
from wire.rtsp.server import RtspServerConnection
from wire.rtsp.transport import PortRange, Transport
from wire.rtsp.urls import base_url, resolve_control

CAMERA_PORT = 554


@pytest.fixture(scope="module")
def streams(shared_dir: Path) -> tuple[bytes, bytes]:
    """(client-to-camera bytes, camera-to-client bytes) of the RTSP connection."""
    path = shared_dir / "captures" / "camera-h264-udp-digest.pcapng"
    if not path.is_file():
        pytest.skip(f"{path} is not present")
    scapy_all = pytest.importorskip("scapy.all")
    to_camera, to_client = bytearray(), bytearray()
    for packet in scapy_all.rdpcap(str(path)):
        if scapy_all.TCP not in packet or scapy_all.Raw not in packet:
            continue
        tcp = packet[scapy_all.TCP]
        if CAMERA_PORT not in (tcp.sport, tcp.dport):
            continue
        target = to_camera if tcp.dport == CAMERA_PORT else to_client
        target += bytes(packet[scapy_all.Raw].load)
    return bytes(to_camera), bytes(to_client)


def read_all(data: bytes) -> list[Any]:
    reader = RtspReader()
    reader.receive_data(data)
    messages = []
    while (message := reader.next_message()) is not None:
        messages.append(message)
    assert not reader.has_partial
    return messages


def test_both_directions_round_trip_byte_for_byte(streams) -> None:
    for data in streams:
        messages = read_all(data)
        assert len(messages) == 9
        assert b"".join(m.serialize() for m in messages) == data


def test_requests(streams) -> None:
    requests = read_all(streams[0])
    assert all(isinstance(r, Request) for r in requests)
    assert [(r.method, r.cseq) for r in requests] == [
        ("OPTIONS", 2),
        ("OPTIONS", 3),
        ("DESCRIBE", 4),
        ("OPTIONS", 5),
        ("OPTIONS", 6),
        ("DESCRIBE", 7),
        ("SETUP", 8),
        ("PLAY", 9),
        ("TEARDOWN", 10),
    ]
    setup = requests[6]
    assert setup.url == "rtsp://192.168.1.108:554/trackID=0"
    assert Transport.parse(setup.headers["Transport"]).first.client_port == PortRange(46048, 46049)
    credentials = Authorization.parse(setup.headers["Authorization"])
    assert credentials.params["username"] == "admin"
    # live555 hashes the aggregate URL even when it sets up a track.
    assert credentials.params["uri"] == "rtsp://192.168.1.108:554/"
    assert Range.parse(requests[7].headers["Range"]) == Range.npt("0.000")


def test_responses(streams) -> None:
    responses = read_all(streams[1])
    assert all(isinstance(r, Response) for r in responses)
    assert [r.status_code for r in responses] == [401] * 4 + [200] * 5
    (challenge,) = challenges_from(responses[0].headers)
    assert (challenge.realm, challenge.algorithm) == ("Login to 4H01D66PAJ2FA64", "MD5")
    assert "GET_PARAMETER" in Public.parse(responses[4].headers["Public"])
    describe = responses[5]
    assert describe.headers["Content-Type"] == "application/sdp"
    assert len(describe.body) == 429
    assert describe.body.startswith(b"v=0\r\n")
    base = base_url("rtsp://192.168.1.108:554", describe.headers)
    assert resolve_control(base, "trackID=0") == "rtsp://192.168.1.108:554/trackID=0"
    setup = responses[6]
    assert SessionHeader.parse(setup.headers["Session"]) == SessionHeader("1774501350", 60)
    spec = Transport.parse(setup.headers["Transport"]).first
    assert (spec.lower_transport, spec.server_port, spec.ssrc) == (
        "UDP",
        PortRange(36854, 36855),
        0x4DD55626,
    )
    play = responses[7]
    assert RtpInfo.parse(play.headers["RTP-Info"]).entries[0].seq == 22054
    assert Range.parse(play.headers["Range"]).serialize() == "npt=0.000000-"


def test_the_client_bytes_drive_our_server_one_byte_at_a_time(streams) -> None:
    server = RtspServerConnection()
    requests = []
    for i in range(len(streams[0])):
        server.receive_data(streams[0][i : i + 1], float(i))
        while (event := server.next_event()) is not None:
            assert isinstance(event, RequestReceived)
            requests.append(event.request)
            fields = []
            if event.request.method == "SETUP":
                fields.append(("Session", "1774501350;timeout=60"))
            server.send_response(event.request, Response(200, headers=Headers(fields)))
    assert len(requests) == 9
    assert server.sessions == {}
    assert server.data_to_send().count(b"RTSP/1.0 200 OK\r\n") == 9
