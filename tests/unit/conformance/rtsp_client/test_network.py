"""rtsp-client's blocked UDP: the camera's sinks send nothing, on loopback."""

from __future__ import annotations

import asyncio
import socket

from camsim.camera.udp import UdpMedia
from conformance.suites.rtsp_client.network import BlockedUdpSink, block_udp

PACKET = [(b"\x80\x60", b"payload")]


def test_a_blocked_camera_sends_no_datagram() -> None:
    async def scenario() -> tuple[int, bytes | None]:
        receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        receiver.bind(("127.0.0.1", 0))
        receiver.settimeout(0.3)
        address = receiver.getsockname()
        udp = await UdpMedia.open("127.0.0.1")
        try:
            block_udp(udp)
            sink = udp.sink(address, address)
            assert isinstance(sink, BlockedUdpSink)
            for sequence in range(5):
                assert sink.send_rtp(PACKET, sequence, 0, 1234)  # type: ignore[arg-type]
            sink.send_rtcp(b"\x80\xc8\x00\x06")
            try:
                received: bytes | None = receiver.recv(2048)
            except TimeoutError:
                received = None
            return sink.dropped, received
        finally:
            udp.close()
            receiver.close()

    dropped, received = asyncio.run(scenario())
    assert received is None
    assert dropped == 6
