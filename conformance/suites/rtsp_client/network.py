"""The network between the suite's camera and the client: here, one that blocks UDP.

Many sites let RTSP's TCP connection through and drop every UDP datagram (a firewall, a NAT
without the client's ports forwarded). The camera then answers SETUP for UDP as usual and
sends RTP that never arrives, and only a client that notices the silence and asks again for
TCP interleaving (RFC 2326 §10.12) gets a picture. The suite reproduces it through the camera's
public capture hook (``UdpMedia.tap``, which wraps every UDP sink the camera makes) with a
sink that drops what it is given, so the camera itself is unchanged.
"""

from __future__ import annotations

from camsim.camera.plan import Wire
from camsim.camera.sender import UdpSink
from camsim.camera.udp import UdpMedia


class BlockedUdpSink(UdpSink):
    """A UDP sink whose datagrams the network drops: counted, never sent."""

    def send_rtp(self, packets: Wire, sequence: int, timestamp: int, ssrc: int) -> bool:
        self.dropped += len(packets)
        return True  # sent, as far as the camera can tell

    def send_rtcp(self, data: bytes) -> None:
        self.dropped += 1


def block_udp(udp: UdpMedia) -> None:
    """Every RTP and RTCP datagram ``udp``'s camera sends from now on is lost on the way."""

    def blocked(sink: UdpSink) -> UdpSink:
        return BlockedUdpSink(udp.rtp_socket, udp.rtcp_socket, sink.rtp_address, sink.rtcp_address)

    udp.tap = blocked
