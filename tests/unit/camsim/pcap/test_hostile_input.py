"""A capture is someone else's traffic: whatever its bytes, inspect reports and never raises."""

from __future__ import annotations

import struct
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from camsim.pcap.inspect import inspect_capture
from camsim.pcap.synth import write_capture
from wire.pcapng import TcpConversation, udp_packet

OPENINGS = [
    b"",
    b"RTSP/1.0 200 OK\r\nCSeq: 1\r\nContent-Type: application/sdp\r\nContent-Length: 60\r\n\r\n",
    b"DESCRIBE rtsp://10.0.0.1/a RTSP/1.0\r\nCSeq: 1\r\n\r\n",
    b"SETUP rtsp://10.0.0.1/a RTSP/1.0\r\nCSeq: 2\r\nTransport: RTP/AVP;client_port=",
    b"RTSP/1.0 200 OK\r\nCSeq: 2\r\nSession: 1\r\nTransport: RTP/AVP;unicast;client_port=",
    b"$\x00\x00\x10\x80\x60",
    b"\x03" + bytes(1536) + bytes(1536),
    b"\x16\x03\x01\x00\x40\x01",
    b"GET /x.m3u8 HTTP/1.1\r\n\r\n",
    b"POST /a HTTP/1.0\r\nx-sessioncookie: z\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
]
SDP_LINES = st.sampled_from(
    [
        b"v=0\r\n",
        b"m=video 0 RTP/AVP 96\r\n",
        b"a=rtpmap:96 H264\r\n",
        b"a=rtpmap:x\r\n",
        b"a=fmtp:96 sprop-parameter-sets=!!!,;\r\n",
        b"a=control:\r\n",
        b"c=IN\r\n",
        b"\r\n",
        b"a=rtpmap:97 MPEG4-GENERIC/0/2\r\n",
        b"a=fmtp:97 config=zz;sizelength=x\r\n",
    ]
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    client=st.tuples(st.sampled_from(OPENINGS), st.binary(max_size=600)),
    server=st.tuples(
        st.sampled_from(OPENINGS), st.lists(SDP_LINES, max_size=8), st.binary(max_size=600)
    ),
    datagrams=st.lists(st.binary(min_size=0, max_size=80), max_size=12),
)
def test_any_bytes_inspect_without_an_exception(
    tmp_path_factory: object,
    client: tuple[bytes, bytes],
    server: tuple[bytes, list[bytes], bytes],
    datagrams: list[bytes],
) -> None:
    conversation = TcpConversation(("10.0.0.2", 40000), ("10.0.0.1", 9999), mss=97)
    packets = conversation.open()
    packets += conversation.send(True, client[0] + client[1])
    packets += conversation.send(False, server[0] + b"".join(server[1]) + server[2])
    # RTP-looking datagrams to the port a SETUP may have named, and anything else.
    for index, data in enumerate(datagrams):
        payload = (
            struct.pack("!BBHII", 0x80, 96, index, index * 3000, 7) + data if index % 2 else data
        )
        packets.append(udp_packet("10.0.0.1", 5000, "10.0.0.2", 5000 + index % 3, payload))
    packets += conversation.close()
    folder = Path(tmp_path_factory.mktemp("hostile"))  # type: ignore[attr-defined]
    result = inspect_capture(
        write_capture(folder / "c.pcapng", [(i, p) for i, p in enumerate(packets)])
    )
    assert result.packets == len(packets)


def test_a_truncated_and_garbled_file(tmp_path: Path) -> None:
    conversation = TcpConversation(("10.0.0.2", 40000), ("10.0.0.1", 554))
    packets = conversation.open() + conversation.send(
        True, b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n"
    )
    path = write_capture(tmp_path / "c.pcapng", [(i, p) for i, p in enumerate(packets)])
    data = bytearray(path.read_bytes())
    data[-30:-20] = b"\xff" * 10  # inside the last packet's TCP header and payload
    path.write_bytes(bytes(data[:-7]))
    result = inspect_capture(path)
    assert result.truncated is not None
    assert result.packets == len(packets) - 1


def test_an_sdp_with_a_broken_rtpmap_still_binds_its_setup(tmp_path: Path) -> None:
    sdp = (
        b"v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=x\r\nt=0 0\r\n"
        b"m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264\r\na=control:track1\r\n"
    )
    conversation = TcpConversation(("10.0.0.2", 40000), ("10.0.0.1", 554))
    packets = conversation.open()
    packets += conversation.send(True, b"DESCRIBE rtsp://10.0.0.1/a RTSP/1.0\r\nCSeq: 1\r\n\r\n")
    packets += conversation.send(
        False,
        b"RTSP/1.0 200 OK\r\nCSeq: 1\r\nContent-Type: application/sdp\r\n"
        b"Content-Length: " + str(len(sdp)).encode() + b"\r\n\r\n" + sdp,
    )
    packets += conversation.send(
        True,
        b"SETUP rtsp://10.0.0.1/a/track1 RTSP/1.0\r\nCSeq: 2\r\n"
        b"Transport: RTP/AVP;unicast;client_port=5000-5001\r\n\r\n",
    )
    packets += conversation.send(
        False,
        b"RTSP/1.0 200 OK\r\nCSeq: 2\r\nSession: 9\r\n"
        b"Transport: RTP/AVP;unicast;client_port=5000-5001;server_port=6000-6001\r\n\r\n",
    )
    for seq in range(20):
        rtp = struct.pack("!BBHII", 0x80, 96, seq, seq * 3000, 5) + b"\x65" + bytes(50)
        packets.append(udp_packet("10.0.0.1", 6000, "10.0.0.2", 5000, rtp))
    result = inspect_capture(
        write_capture(tmp_path / "c.pcapng", [(i, p) for i, p in enumerate(packets)])
    )
    (dialog,) = result.dialogs
    assert [e.status for e in dialog.exchanges] == [200, 200]
    (stream,) = result.rtp_streams
    assert stream.packets == 20
    assert stream.setup is not None
