"""The camera side of ``tcp-drop-mid-frame``: the quirks that serve RTP on TCP only and cut an
interleaved frame short, as the scenario names them."""

from __future__ import annotations

import pytest

from camsim.camera.quirks import FAULT_REGISTRY, REGISTRY, resolve
from camsim.camera.quirks.timing import DROP_AT, cut_frame
from camsim.fault.scenarios import DeviceFault, get_scenario
from wire.rtp.packet import RtpPacket
from wire.rtsp import Headers, Method, Request, Response, StatusCode

PACKET = RtpPacket(96, 1234, 90_000, 0x11223344, payload=bytes(range(200))).serialize()


def test_the_scenario_names_the_quirks_and_the_drop_time() -> None:
    scenario = get_scenario("tcp-drop-mid-frame")
    assert scenario.device is DeviceFault.TCP_DROP_MID_FRAME
    assert scenario.camera_quirks == ("tcp-only", "tcp-drop-mid-frame")
    # Device faults, not field quirks: out of --quirks mixed and the rtsp-client suite's cases.
    assert set(scenario.camera_quirks) <= set(FAULT_REGISTRY)
    assert not set(scenario.camera_quirks) & set(REGISTRY)
    window = scenario.windows[0]
    assert window.start < DROP_AT < window.end
    assert resolve(scenario.camera_quirks).connection_drop() == DROP_AT
    assert resolve(["media-stall"]).connection_drop() is None


def test_a_cut_frame_announces_the_whole_packet_and_carries_part_of_it() -> None:
    cut = cut_frame(2, PACKET)
    assert cut[:4] == b"$\x02" + len(PACKET).to_bytes(2, "big")
    body = cut[4:]
    assert 12 <= len(body) < len(PACKET)
    assert PACKET.startswith(body)
    assert len(body) == len(PACKET) // 2
    # Header and one byte: the RTP header is whole, the payload is not.
    assert len(cut_frame(0, PACKET[:13])) == 4 + 12


@pytest.mark.parametrize(
    ("channel", "packet", "message"),
    [
        (256, PACKET, "an interleaved channel is one byte, got 256"),
        (0, b"\x80", "an interleaved frame holds 2 to 65535 bytes, got 1"),
        (0, bytes(70_000), "an interleaved frame holds 2 to 65535 bytes, got 70000"),
    ],
)
def test_a_frame_that_cannot_be_framed_is_refused(
    channel: int, packet: bytes, message: str
) -> None:
    with pytest.raises(ValueError) as raised:
        cut_frame(channel, packet)
    assert str(raised.value) == message


def setup_answer(transport: str) -> Response:
    headers = Headers([("CSeq", "3"), ("Transport", transport), ("Session", "abc;timeout=60")])
    return Response(StatusCode.OK, headers=headers)


def test_tcp_only_answers_461_to_a_udp_setup_and_keeps_interleaved() -> None:
    quirk = FAULT_REGISTRY["tcp-only"]
    request = Request(Method.SETUP, "rtsp://127.0.0.1/cam1/trackID=0")
    udp = quirk.edit_response(request, setup_answer("RTP/AVP;unicast;client_port=5000-5001"))
    assert udp is not None
    assert udp.status_code == StatusCode.UNSUPPORTED_TRANSPORT
    assert "Transport" not in udp.headers
    assert "Session" not in udp.headers
    assert udp.headers.get("CSeq") == "3"
    tcp = setup_answer("RTP/AVP/TCP;unicast;interleaved=0-1")
    assert quirk.edit_response(request, tcp) is tcp
    describe = Request(Method.DESCRIBE, "rtsp://127.0.0.1/cam1")
    answer = Response(StatusCode.OK)
    assert quirk.edit_response(describe, answer) is answer
