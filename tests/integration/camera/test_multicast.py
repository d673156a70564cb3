"""A camera's RTP over UDP multicast, inside a network namespace made for the test.

Multicast groups are not loopback addresses, so these tests run the camera and its clients in
the ``lan`` namespace of a :class:`~camsim.fault.netns.Topology`, with the groups routed to that
namespace's own veth and nowhere else (its router forwards no multicast): nothing leaves it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import itertools
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from camsim.fault.netns import LAN_IF, Topology
from camsim.fault.netns_plugin import TopologyFactory, netns_topology
from tests.integration.camera.client import RtspTestClient, transport_of
from wire.rtp import RtcpSenderReport, RtpPacket, parse_compound
from wire.rtsp import PortRange

__all__ = ["netns_topology"]  # the fixture, imported for pytest

CAMSIM = str(Path(sys.executable).parent / "camsim")
POOL = "239.255.42.0/24"
PORT = 8554
GROUP_PORT = 8002
TTL = 3
TIMEOUT = 10.0


def start_camera(topology: Topology, sample: Path) -> subprocess.Popen[bytes]:
    """camsim in the lan namespace, sending multicast out of its veth only."""
    topology.exec("lan", ["ip", "route", "add", "239.0.0.0/8", "dev", LAN_IF])
    camera = topology.popen(
        "lan",
        [CAMSIM, "run", "--host", topology.lan_address, "--port", str(PORT), "--media", str(sample),
         "--json", "--duration", "60", "--multicast", POOL, "--multicast-ttl", str(TTL)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    assert camera.stdout is not None
    assert b'"started"' in camera.stdout.readline()  # listening once it says so
    return camera


class NamespaceClient(RtspTestClient):
    """An RTSP client whose TCP connection is made inside the topology's lan namespace."""

    def __init__(self, topology: Topology, url: str) -> None:
        super().__init__(url)
        self.topology = topology

    async def __aenter__(self) -> NamespaceClient:
        parts = urlsplit(self.url)
        assert parts.hostname is not None
        assert parts.port is not None
        sock = self.topology.connected_socket("lan", (parts.hostname, parts.port))
        reader, self._writer = await asyncio.open_connection(sock=sock)
        self._task = asyncio.create_task(self._read(reader))
        return self


def join_group(topology: Topology, group: str, port: int) -> socket.socket:
    """A socket in the lan namespace that joined ``group`` on the lan's veth."""
    sock = topology.socket("lan", socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # two members on one port
    sock.bind((group, port))
    membership = socket.inet_aton(group) + socket.inet_aton(topology.lan_address)
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, membership)
    sock.setblocking(False)
    return sock


async def receive(sock: socket.socket, count: int, timeout: float = TIMEOUT) -> list[bytes]:
    """``count`` datagrams, or fail after ``timeout``."""
    loop = asyncio.get_running_loop()
    deadline = time.monotonic() + timeout
    return [
        await asyncio.wait_for(loop.sock_recv(sock, 65536), deadline - time.monotonic())
        for _ in range(count)
    ]


def drain(sock: socket.socket) -> int:
    """Datagrams already queued on ``sock``, discarded."""
    count = 0
    while True:
        try:
            sock.recv(65536)
        except BlockingIOError:
            return count
        count += 1


async def silent_for(sock: socket.socket, seconds: float) -> bool:
    """True when nothing arrives on ``sock`` for ``seconds``."""
    try:
        await receive(sock, 1, seconds)
    except TimeoutError:
        return True
    return False


async def sender_report(sock: socket.socket, ssrc: int) -> RtcpSenderReport:
    """The first sender report on ``ssrc`` to arrive (RFC 3550 §6.2: within 1.5 intervals)."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        (data,) = await receive(sock, 1, deadline - time.monotonic())
        for packet in parse_compound(data):
            if isinstance(packet, RtcpSenderReport) and packet.ssrc == ssrc:
                return packet


def test_two_clients_share_one_group_per_track_until_the_last_leaves(
    netns_topology: TopologyFactory, sample: Path
) -> None:
    topology = netns_topology()
    start_camera(topology, sample)
    url = f"rtsp://{topology.lan_address}:{PORT}/cam1"

    async def scenario() -> None:
        async with (
            NamespaceClient(topology, url) as first,
            NamespaceClient(topology, url) as second,
        ):
            _, sdp = await first.describe()
            await second.describe()
            controls = [str(media.control) for media in sdp.media]
            assert len(controls) == 2  # video and audio
            answers = []
            for client in (first, second):
                specs = []
                for control in controls:
                    answer = await client.setup(control, "RTP/AVP;multicast")
                    assert answer.response.status_code == 200, answer.response
                    specs.append(transport_of(answer))
                answers.append(specs)
            video, audio = answers[0]
            for spec in answers[0]:
                assert spec.is_multicast
                assert spec.destination is not None
                assert ipaddress.ip_address(spec.destination) in ipaddress.ip_network(POOL)
                assert spec.port == PortRange(GROUP_PORT, GROUP_PORT + 1)
                assert spec.ttl == TTL
                assert spec.ssrc is not None
            assert video.destination != audio.destination  # one group per track
            assert answers[1] == answers[0]  # the second client shares the same groups
            assert video.destination is not None
            assert video.ssrc is not None

            members = [join_group(topology, video.destination, GROUP_PORT) for _ in range(2)]
            rtcp = join_group(topology, video.destination, GROUP_PORT + 1)
            try:
                assert await silent_for(members[0], 0.5), "the group is sent before any PLAY"
                assert (await first.play()).response.status_code == 200
                for member in members:  # each member hears the one stream
                    packets = [RtpPacket.parse(d) for d in await receive(member, 20)]
                    assert {p.ssrc for p in packets} == {video.ssrc}
                assert (await second.play()).response.status_code == 200
                report = await sender_report(rtcp, video.ssrc)
                assert report.packet_count > 0

                answer = await first.request("TEARDOWN", first.connection.aggregate_url)
                assert answer.response.status_code == 200
                drain(members[1])
                packets = [RtpPacket.parse(d) for d in await receive(members[1], 20)]
                assert {p.ssrc for p in packets} == {video.ssrc}, "the stream stopped early"
                sequences = [p.sequence_number for p in packets]
                assert all((b - a) & 0xFFFF == 1 for a, b in itertools.pairwise(sequences))

                answer = await second.request("TEARDOWN", second.connection.aggregate_url)
                assert answer.response.status_code == 200
                await asyncio.sleep(0.2)  # what was in flight at the TEARDOWN
                drain(members[1])
                assert await silent_for(members[1], 1.5), "media goes on with no member left"
            finally:
                for sock in (*members, rtcp):
                    sock.close()

    asyncio.run(scenario())


@pytest.mark.interop("ffmpeg")
def test_ffmpeg_pulls_the_camera_over_multicast(
    netns_topology: TopologyFactory, sample: Path
) -> None:
    topology = netns_topology()
    start_camera(topology, sample)
    url = f"rtsp://{topology.lan_address}:{PORT}/cam1"
    seconds = 3
    out = subprocess.run(
        topology.argv("lan", ["ffmpeg", "-nostdin", "-v", "error", "-rtsp_transport",
                              "udp_multicast", "-timeout", "5000000", "-i", url,
                              "-t", str(seconds), "-map", "0:v", "-f", "framecrc", "-"]),
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    frames = [line for line in out.stdout.splitlines() if line and not line.startswith("#")]
    assert len(frames) >= seconds * 15 // 2, out.stderr  # 15 fps sample
