"""RTSP dialogs read from reassembled bytes: pairing, SDP, SETUP bindings, tunnel, resync."""

from __future__ import annotations

import base64
import struct

from camsim.pcap.flow import Endpoint
from camsim.pcap.rtsp import DialogRegistry, RtspDialog, find_boundary
from camsim.pcap.tcp import Hole
from wire.pcapng import pack_address

CLIENT = Endpoint(pack_address("10.0.0.2"), 40000)
SERVER = Endpoint(pack_address("10.0.0.1"), 8554)

SDP = (
    b"v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=cam\r\nt=0 0\r\na=control:*\r\n"
    b"m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=control:track1\r\n"
    b"m=audio 0 RTP/AVP 0\r\na=control:track2\r\n"
)
DESCRIBE = (
    b"DESCRIBE rtsp://10.0.0.1:8554/cam RTSP/1.0\r\nCSeq: 2\r\n"
    b"Authorization: Basic YWRtaW46c2VjcmV0\r\n\r\n"
)
DESCRIBED = (
    b"RTSP/1.0 200 OK\r\nCSeq: 2\r\nContent-Base: rtsp://10.0.0.1:8554/cam/\r\n"
    b"Content-Type: application/sdp\r\nContent-Length: "
    + str(len(SDP)).encode()
    + b"\r\n\r\n"
    + SDP
)
SETUP = (
    b"SETUP rtsp://10.0.0.1:8554/cam/track1 RTSP/1.0\r\nCSeq: 3\r\n"
    b"Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n"
)
SET_UP = (
    b"RTSP/1.0 200 OK\r\nCSeq: 3\r\nSession: 77;timeout=30\r\n"
    b"Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n"
)


def _rtp(seq: int) -> bytes:
    packet = struct.pack("!BBHII", 0x80, 96, seq, seq * 3000, 0xABCD) + b"\x65" + bytes(20)
    return struct.pack("!cBH", b"$", 0, len(packet)) + packet


def _dialog() -> RtspDialog:
    return RtspDialog(1, "tcp", CLIENT, SERVER)


def test_exchanges_paired_by_cseq_fed_one_byte_at_a_time() -> None:
    dialog = _dialog()
    for number, (from_client, data) in enumerate(
        [(True, DESCRIBE), (False, DESCRIBED), (True, SETUP), (False, SET_UP)], start=1
    ):
        for byte in data:
            dialog.data(from_client, bytes([byte]), number, number / 10)
    describe, setup = dialog.exchanges
    assert (describe.method, describe.status, describe.authorization, describe.username) == (
        "DESCRIBE",
        200,
        "Basic",
        "admin",
    )
    assert (describe.request_packet, describe.response_packet) == (1, 2)
    assert setup.session == "77"
    assert setup.session_timeout == 30
    (binding,) = dialog.bindings
    assert binding.media is not None
    assert (binding.media.codec, binding.media.control) == ("H264", "track1")
    assert dialog.binding_for_channel(False, 0) is binding


def test_interleaved_frames_between_answers_and_a_hole() -> None:
    dialog = _dialog()
    dialog.data(True, SETUP, 1, 0.0)
    dialog.data(False, SET_UP + _rtp(1) + _rtp(2), 2, 0.1)
    dialog.data(False, _rtp(3)[:10], 3, 0.2)
    dialog.hole(False, Hole(offset=0, size=100, after_packet=3, before_packet=5))
    # What follows the hole starts in the middle of a frame: reading resumes at frame 5.
    dialog.data(False, _rtp(4)[7:] + _rtp(5) + _rtp(6), 5, 0.3)
    dialog.finish()
    recorder = dialog.rtp[(False, 0)]
    assert recorder.count == 4
    numbers = [struct.unpack_from("!H", recorder.records, 16 * i + 2)[0] for i in range(4)]
    assert numbers == [1, 2, 5, 6]


def test_an_answer_that_matches_no_request() -> None:
    dialog = _dialog()
    dialog.data(True, b"SET_PARAMETER rtsp://10.0.0.1/cam RTSP/1.0\r\nCSeq: 9\r\n\r\n", 1, 0.0)
    dialog.data(False, b"RTSP/1.0 400 Bad Request\r\nCSeq: 10\r\n\r\n", 2, 0.1)
    assert dialog.unmatched_responses == [(2, 10, 400)]
    assert dialog.exchanges[0].status is None


def test_garbage_is_skipped_to_the_next_message() -> None:
    dialog = _dialog()
    dialog.data(False, b"\x00\x01garbage\xff\xfe" + SET_UP, 1, 0.0)
    assert dialog.malformed
    assert dialog.unmatched_responses == [(1, 3, 200)]


def test_boundary_search_wants_a_frame_to_be_followed_by_another() -> None:
    frame = _rtp(1)
    fake = b"xx$\x00\x00\x01\x80yy"  # a "$" inside media whose length leads nowhere
    data = fake + frame + frame
    assert find_boundary(data) == (len(fake), len(fake))
    assert find_boundary(frame) == (None, 0)  # cannot tell yet
    assert find_boundary(frame, final=True) == (0, 0)
    assert find_boundary(b"junk\r\nRTSP/1.0 200 OK\r\n") == (6, 6)


def test_tunnel_legs_meet_by_cookie() -> None:
    from camsim.pcap.connection import ConnectionInfo
    from camsim.pcap.rtsp import TunnelLegAnalyser

    registry = DialogRegistry()
    get_info = ConnectionInfo(1, CLIENT, SERVER, 1, 0.0)
    post_info = ConnectionInfo(2, Endpoint(CLIENT.address, 40001), SERVER, 3, 0.0)
    get_leg, post_leg = (
        TunnelLegAnalyser(get_info, registry),
        TunnelLegAnalyser(post_info, registry),
    )
    get_leg.data(True, b"GET /cam HTTP/1.0\r\nx-sessioncookie: K1\r\n\r\n", 1, 0.0)
    get_leg.data(
        False, b"HTTP/1.0 200 OK\r\nContent-Type: application/x-rtsp-tunnelled\r\n\r\n", 2, 0.0
    )
    post_leg.data(
        True, b"POST /cam HTTP/1.0\r\nx-sessioncookie: K1\r\nContent-Length: 32767\r\n\r\n", 3, 0.0
    )
    encoded = base64.b64encode(SETUP)
    post_leg.data(True, encoded[:7], 4, 0.1)  # base64 split anywhere
    post_leg.data(True, encoded[7:] + b"\r\n", 5, 0.1)
    get_leg.data(False, SET_UP + _rtp(1), 6, 0.2)
    (dialog,) = registry.dialogs
    assert dialog.transport == "http"
    assert dialog.tunnel_cookie == "K1"
    assert [(e.method, e.status) for e in dialog.exchanges] == [("SETUP", 200)]
    assert dialog.rtp[(False, 0)].flow.transport == "http"
