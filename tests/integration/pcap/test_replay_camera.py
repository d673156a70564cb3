"""A captured camera served again: the packets, the SDP, the timing, the dialog (loopback)."""

from __future__ import annotations

import asyncio
from itertools import pairwise
from pathlib import Path

import pytest

from camsim.media.loader import load
from camsim.pcap.replay_camera import CapturedCamera, load_camera, start_camera
from camsim.pcap.synth import CameraCapture, camera_capture, write_capture
from tests.conftest import SampleFactory
from tests.integration.camera.client import RtspTestClient, open_udp_ports, transport_of
from wire.codec.stamp import find_stamp
from wire.rtp import RtcpBye, RtcpPacket, RtpPacket


@pytest.fixture(scope="module")
def capture(make_test_sample: SampleFactory) -> CameraCapture:
    return camera_capture(load(make_test_sample()), transport="udp", seconds=3)


@pytest.fixture(scope="module")
def captured(capture: CameraCapture, tmp_path_factory: pytest.TempPathFactory) -> CapturedCamera:
    path = write_capture(tmp_path_factory.mktemp("capture") / "camera.pcapng", capture.packets)
    return load_camera(path)


def _masked(payload: bytes) -> bytes:
    """A payload with the stamp's wallclock zeroed: the camera writes the time of sending."""
    stamp = find_stamp(payload)
    if stamp < 0:
        return payload
    data = bytearray(payload)
    data[stamp + 16 + 6 : stamp + 16 + 16] = bytes(10)
    return bytes(data)


def _captured_video(capture: CameraCapture) -> list[RtpPacket]:
    video = capture.streams[0]
    packets = [RtpPacket.parse(_udp_payload(capture.packets[i][1])) for i in video.packet_indexes]
    return packets


def _udp_payload(packet: bytes) -> bytes:
    return packet[28:]  # IPv4 (20) and UDP (8) headers of synth's packets


async def _pull_tcp(url: str, count: int) -> tuple[str, list[RtpPacket], list[RtcpPacket]]:
    async with RtspTestClient(url) as client:
        sdp, _, _ = await client.start_tcp()
        packets = await client.rtp(0, count, timeout=15)
        rtcp: list[RtcpPacket] = []
        while True:  # until the BYE that ends the capture
            report = await client.rtcp(1, timeout=15)
            rtcp += report
            if any(isinstance(p, RtcpBye) for p in report):
                break
        return sdp.serialize(), packets, rtcp


def test_a_client_gets_every_captured_packet_then_a_bye(
    capture: CameraCapture, captured: CapturedCamera
) -> None:
    expected = _captured_video(capture)

    async def run() -> tuple[str, list[RtpPacket], list[RtcpPacket]]:
        replay = await start_camera(captured, port=0)
        try:
            return await _pull_tcp(replay.url, len(expected))
        finally:
            await replay.close()

    sdp, packets, rtcp = asyncio.run(run())
    # The captured SDP (sprop, profile, AAC config) with the controls renamed.
    assert "sprop-parameter-sets=" in sdp
    assert "config=" in sdp
    assert "a=control:trackID=0" in sdp
    assert "a=control:trackID=1" in sdp
    assert [_masked(p.payload) for p in packets] == [_masked(p.payload) for p in expected]
    assert [p.marker for p in packets] == [p.marker for p in expected]
    assert [p.payload_type for p in packets] == [p.payload_type for p in expected]
    steps = {(b.timestamp - a.timestamp) & 0xFFFFFFFF for a, b in pairwise(expected)}
    got = {(b.timestamp - a.timestamp) & 0xFFFFFFFF for a, b in pairwise(packets)}
    assert got == steps  # the captured timestamp steps, from a new origin
    assert len({p.ssrc for p in packets}) == 1
    assert all(
        p.sequence_number == (packets[0].sequence_number + i) & 0xFFFF
        for i, p in enumerate(packets)
    )
    assert any(isinstance(p, RtcpBye) for p in rtcp)


def test_the_captured_timing_over_udp(capture: CameraCapture, captured: CapturedCamera) -> None:
    expected = _captured_video(capture)

    async def run() -> list[tuple[float, RtpPacket]]:
        replay = await start_camera(captured, port=0)
        ports = await open_udp_ports()
        loop = asyncio.get_running_loop()
        try:
            async with RtspTestClient(replay.url) as client:
                await client.describe()
                answer = await client.setup("trackID=0", ports.transport())
                assert transport_of(answer).server_port is not None
                await client.play()
                arrivals = []
                for _ in range(len(expected)):
                    data = await asyncio.wait_for(ports.rtp.get(), 15)
                    arrivals.append((loop.time(), RtpPacket.parse(data)))
                return arrivals
        finally:
            ports.close()
            await replay.close()

    arrivals = asyncio.run(run())
    assert len(arrivals) == len(expected)
    # The last frame comes as long after the first as it did in the capture (3 s), give or
    # take the scheduling of a busy machine.
    elapsed = arrivals[-1][0] - arrivals[0][0]
    video = capture.streams[0]
    first, last = (
        capture.packets[video.packet_indexes[0]][0],
        capture.packets[video.packet_indexes[-1]][0],
    )
    assert elapsed == pytest.approx((last - first) / 1e9, abs=0.5)


def test_looping_continues_the_timestamps(make_test_sample: SampleFactory, tmp_path: Path) -> None:
    capture = camera_capture(load(make_test_sample()), transport="udp", seconds=1.5)
    captured = load_camera(write_capture(tmp_path / "short.pcapng", capture.packets))
    video = capture.streams[0]
    per_pass = video.packets

    async def run() -> list[RtpPacket]:
        replay = await start_camera(captured, port=0, loop_media=True)
        try:
            async with RtspTestClient(replay.url) as client:
                await client.start_tcp()
                return await client.rtp(0, per_pass * 2 + 10, timeout=20)
        finally:
            await replay.close()

    packets = asyncio.run(run())
    stamps = [p.timestamp for p in packets]
    steps = [(b - a) & 0xFFFFFFFF for a, b in pairwise(stamps)]
    assert all(step < 90000 for step in steps)  # never back, never a jump: one frame at most
    frame = 90000 // 15
    assert max(steps) <= frame  # the seam is one frame long, like every other step
    sequence = [p.sequence_number for p in packets]
    assert all((b - a) & 0xFFFF == 1 for a, b in pairwise(sequence))


def test_verbatim_dialog_gives_the_captured_answers(shared_dir: Path) -> None:
    captured = load_camera(shared_dir / "captures" / "camera-h264-udp-digest.pcapng")

    async def run() -> list[tuple[int, str]]:
        replay = await start_camera(captured, port=0, dialog="verbatim")
        answers = []
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", replay.server.port)
            for cseq, request in enumerate(
                [
                    f"DESCRIBE {replay.url} RTSP/1.0",
                    f'DESCRIBE {replay.url} RTSP/1.0\r\nAuthorization: Digest username="admin"',
                    f"SETUP {replay.url}/trackID=0 RTSP/1.0\r\n"
                    "Transport: RTP/AVP;unicast;client_port=40000-40001",
                ],
                start=7,
            ):
                writer.write(f"{request}\r\nCSeq: {cseq}\r\n\r\n".encode())
                await writer.drain()
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
                text = head.decode()
                length = next(
                    (
                        int(line.split(":")[1])
                        for line in text.split("\r\n")
                        if line.lower().startswith("content-length")
                    ),
                    0,
                )
                body = await reader.readexactly(length)
                answers.append((cseq, text + body.decode()))
            writer.close()
        finally:
            await replay.close()
        return answers

    (first, second, setup) = asyncio.run(run())
    # The camera's own words: its challenge and realm, no Server header as it sent none; our CSeq.
    assert first[1].startswith("RTSP/1.0 401 Unauthorized")
    assert 'realm="Login to 4H01D66PAJ2FA64"' in first[1]
    assert "Server:" not in first[1]
    assert "CSeq: 7" in first[1]
    assert second[1].startswith("RTSP/1.0 200 OK")
    assert "x-Accept-Dynamic-Rate: 1" in second[1]
    assert "Cache-Control: must-revalidate" in second[1]
    assert "a=fmtp:96 packetization-mode=1;profile-level-id=4D4028" in second[1]
    assert "a=control:trackID=0" in second[1]
    assert "Content-Base: rtsp://127.0.0.1:" in second[1]
    assert setup[1].startswith("RTSP/1.0 200 OK")
    transport = next(line for line in setup[1].split("\r\n") if line.startswith("Transport:"))
    # The captured spelling (RTP/AVP/UDP), our ports.
    assert transport.startswith(
        "Transport: RTP/AVP/UDP;unicast;client_port=40000-40001;server_port="
    )
    assert "36854" not in transport
