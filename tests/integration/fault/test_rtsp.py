"""RTSP through the proxy, against a real camsim camera on loopback: the dialog is followed,
SETUP is rewritten so RTP/RTCP over UDP pass through the proxy, and they are impaired there;
cone and symmetric NAT; mapping expiry."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from camsim.camera.fleet import FleetConfig
from camsim.camera.quirks import REGISTRY
from camsim.fault.config import FaultConfig
from camsim.fault.nat import NatKind
from camsim.fault.rtsp import RtspProxy
from tests.integration.camera.client import RtspTestClient, transport_of
from tests.integration.camera.harness import RunningFleet, running_fleet
from wire.rtp import RtpPacket
from wire.rtsp import PortRange, ResponseReceived, RtpInfo, TransportSpec

Address = tuple[str, int]


class Port(asyncio.DatagramProtocol):
    """A client's UDP port that keeps every datagram with its source."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[tuple[bytes, Address]] = asyncio.Queue()
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: Address) -> None:
        self.queue.put_nowait((data, addr))

    @property
    def port(self) -> int:
        assert self.transport is not None
        return int(self.transport.get_extra_info("sockname")[1])

    async def take(self, count: int, timeout: float = 10.0) -> list[tuple[bytes, Address]]:
        return [await asyncio.wait_for(self.queue.get(), timeout) for _ in range(count)]


async def open_ports() -> tuple[Port, Port]:
    loop = asyncio.get_running_loop()
    ports = []
    for _ in range(2):
        _, port = await loop.create_datagram_endpoint(Port, local_addr=("127.0.0.1", 0))
        ports.append(port)
    return ports[0], ports[1]


@asynccontextmanager
async def proxied(
    fleet: RunningFleet, config: FaultConfig, seed: int = 3
) -> AsyncIterator[tuple[RtspProxy, RtspTestClient]]:
    proxy = RtspProxy(("127.0.0.1", 0), ("127.0.0.1", fleet.port), config, seed=seed)
    await proxy.start()
    url = f"rtsp://127.0.0.1:{proxy.address[1]}/cam1"
    try:
        async with RtspTestClient(url) as client:
            yield proxy, client
    finally:
        proxy.close()


async def setup_video(client: RtspTestClient, rtp: Port, rtcp: Port) -> TransportSpec:
    answer, sdp = await client.describe()
    base = answer.response.headers.get("Content-Base")
    assert base is not None
    assert urlsplit(client.url).netloc in base, base  # the proxy's address, not the camera's
    control = sdp.media[0].control
    assert control is not None
    spec = TransportSpec(delivery="unicast", client_port=PortRange(rtp.port, rtcp.port))
    setup = await client.setup(control, spec)
    assert setup.response.status_code == 200, setup.response
    return transport_of(setup)


def test_rtp_over_udp_passes_through_the_proxy_from_the_announced_port(
    fleet: RunningFleet,
) -> None:
    async def main() -> None:
        async with proxied(fleet, FaultConfig()) as (proxy, client):
            rtp, rtcp = await open_ports()
            answer = await setup_video(client, rtp, rtcp)
            assert answer.client_port == PortRange(rtp.port, rtcp.port)  # given back as asked
            assert answer.server_port is not None
            outside = {m.port.port.address[1] for m in proxy.mappings}
            assert {answer.server_port.first, answer.server_port.last} == outside
            await client.play()
            packets = await rtp.take(20)
            assert {source for _, source in packets} == {("127.0.0.1", answer.server_port.first)}
            assert len({RtpPacket.parse(data).sequence_number for data, _ in packets}) == 20
            video = proxy.channels[0]
            assert video.down.stats.packets >= 20

    asyncio.run(main())


def test_rtp_is_impaired_with_the_seeded_loss(fleet: RunningFleet) -> None:
    async def main() -> None:
        async with proxied(fleet, FaultConfig().changed(down_loss=0.25)) as (proxy, client):
            rtp, rtcp = await open_ports()
            await setup_video(client, rtp, rtcp)
            await client.play()
            sequences = [RtpPacket.parse(data).sequence_number for data, _ in await rtp.take(60)]
            span = (sequences[-1] - sequences[0]) % 65536 + 1
            assert 0.12 < 1 - len(sequences) / span < 0.4
            video = proxy.channels[0]
            assert video.down.stats.lost > 0

    asyncio.run(main())


def test_symmetric_nat_sends_from_another_port_and_filters_the_announced_one(
    fleet: RunningFleet,
) -> None:
    async def main() -> None:
        config = FaultConfig(nat=NatKind.SYMMETRIC)
        async with proxied(fleet, config) as (proxy, client):
            rtp, rtcp = await open_ports()
            answer = await setup_video(client, rtp, rtcp)
            assert answer.server_port is not None
            await client.play()
            packets = await rtp.take(5)
            sources = {source for _, source in packets}
            assert len(sources) == 1
            actual = sources.pop()
            assert actual[1] not in (answer.server_port.first, answer.server_port.last)
            channel = proxy.channels[0]
            assert rtp.transport is not None
            before = channel.up.stats.packets
            rtp.transport.sendto(b"\x80" * 12, ("127.0.0.1", answer.server_port.first))
            await asyncio.sleep(0.2)
            assert channel.up.stats.packets == before  # the announced port lets nothing in
            rtp.transport.sendto(b"\x80" * 12, actual)  # the port packets come from does
            await asyncio.sleep(0.2)
            assert channel.up.stats.packets == before + 1

    asyncio.run(main())


def test_cone_nat_lets_the_client_in_through_the_announced_port(fleet: RunningFleet) -> None:
    async def main() -> None:
        async with proxied(fleet, FaultConfig()) as (proxy, client):
            rtp, rtcp = await open_ports()
            answer = await setup_video(client, rtp, rtcp)
            assert answer.server_port is not None
            assert rtcp.transport is not None
            rtcp.transport.sendto(
                b"\x81\xc9\x00\x01" + b"\0" * 4, ("127.0.0.1", answer.server_port.last or 0)
            )
            await asyncio.sleep(0.2)
            assert proxy.channels[1].up.stats.packets == 1

    asyncio.run(main())


def test_a_mapping_expires_when_the_camera_goes_quiet(fleet: RunningFleet) -> None:
    async def main() -> None:
        async with proxied(fleet, FaultConfig(nat_timeout=0.4)) as (proxy, client):
            rtp, rtcp = await open_ports()
            answer = await setup_video(client, rtp, rtcp)
            assert answer.server_port is not None
            await client.play()
            first = {source for _, source in await rtp.take(5)}
            await asyncio.sleep(0.6)
            assert proxy.mappings  # RTP flowing out keeps the RTP mapping alive
            paused = await client.request("PAUSE", client.connection.aggregate_url)
            assert paused.response.status_code == 200
            await asyncio.sleep(1.0)  # no packet out for longer than the timeout
            assert proxy.mappings == []
            while not rtp.queue.empty():
                rtp.queue.get_nowait()
            await client.play()
            again = {source for _, source in await rtp.take(5)}
            assert again != first  # a new mapping, a new port

    asyncio.run(main())


def test_interleaved_rtp_passes_in_the_tcp_stream(fleet: RunningFleet) -> None:
    async def main() -> None:
        async with proxied(fleet, FaultConfig()) as (proxy, client):
            await client.start_tcp()
            packets = await client.rtp(0, 10)
            assert len(packets) == 10
            assert proxy.channels == []  # no UDP was set up

    asyncio.run(main())


def test_garbage_from_the_client_gets_400_and_closes_only_that_connection(
    fleet: RunningFleet,
) -> None:
    async def main() -> None:
        async with proxied(fleet, FaultConfig()) as (proxy, client):
            reader, writer = await asyncio.open_connection(*proxy.address)
            writer.write(b"\x01\x02garbage\r\n\r\n")
            answer = await asyncio.wait_for(reader.read(), 5)
            assert answer.startswith(b"RTSP/1.0 400 Bad Request\r\n")
            assert b"Connection: close" in answer
            writer.close()
            _, sdp = await client.describe()  # the other connection is untouched
            assert sdp.media

    asyncio.run(main())


async def lost_offsets(fleet: RunningFleet, seed: int) -> tuple[list[int], str]:
    """Offsets (from RTP-Info's first sequence number) of the video packets lost among the
    first 80, with ``down_loss`` 20% and ``seed``; and PLAY's RTP-Info."""
    async with proxied(fleet, FaultConfig().changed(down_loss=0.2), seed=seed) as (_, client):
        rtp, rtcp = await open_ports()
        await setup_video(client, rtp, rtcp)
        play = await client.play()
        info = play.response.headers.get("RTP-Info")
        assert info is not None
        entry = RtpInfo.parse(info).entries[0]
        assert entry.seq is not None
        got: set[int] = set()
        while len(got) < 80 and max(got, default=0) < 79:
            data, _ = (await rtp.take(1))[0]
            got.add((RtpPacket.parse(data).sequence_number - entry.seq) % 65536)
        return sorted(set(range(80)) - got), info


def test_same_seed_same_rtp_packets_lost_through_rtsp(fleet: RunningFleet) -> None:
    first, info = asyncio.run(lost_offsets(fleet, seed=21))
    again, _ = asyncio.run(lost_offsets(fleet, seed=21))
    other, _ = asyncio.run(lost_offsets(fleet, seed=22))
    assert first  # 20% of 80
    assert first == again
    assert first != other
    assert "url=rtsp://127.0.0.1:" in info


def test_http_tunnel_passes_through_as_bytes(fleet: RunningFleet) -> None:
    async def main() -> None:
        async with proxied(fleet, FaultConfig()) as (proxy, _):
            reader, writer = await asyncio.open_connection(*proxy.address)
            writer.write(
                b"GET /cam1 HTTP/1.0\r\nx-sessioncookie: faultproxy1\r\n"
                b"Accept: application/x-rtsp-tunnelled\r\n\r\n"
            )
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            assert head.startswith(b"HTTP/1.0 200")
            assert proxy.channels == []
            writer.close()

    asyncio.run(main())


def test_client_connections_and_their_transports_are_events(fleet: RunningFleet) -> None:
    async def main() -> None:
        async with proxied(fleet, FaultConfig()) as (proxy, client):
            rtp, rtcp = await open_ports()
            await setup_video(client, rtp, rtcp)
            await client.__aexit__(None, None, None)
            for _ in range(50):
                if len(proxy.events) == 3:
                    break
                await asyncio.sleep(0.02)
            async with RtspTestClient(client.url) as again:
                await again.start_tcp()
                await again.rtp(0, 2)
            reader, writer = await asyncio.open_connection(*proxy.address)
            writer.write(b"GET /cam1 HTTP/1.0\r\nx-sessioncookie: events1\r\n\r\n")
            await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            writer.close()
            for _ in range(50):  # the proxy sees the last close a moment later
                if len(proxy.events) == 8:
                    break
                await asyncio.sleep(0.02)
            events = [event.what for event in proxy.events]
            assert events == [
                "client connection 1: connected (RTSP)",
                "client connection 1: media over UDP",
                "client connection 1: closed",
                "client connection 2: connected (RTSP)",
                "client connection 2: media interleaved over TCP",
                "client connection 2: closed",
                "client connection 3: connected (RTSP tunnelled in HTTP)",
                "client connection 3: closed",
            ]
            times = [event.at for event in proxy.events]
            assert times == sorted(times)

    asyncio.run(main())


def quirky(sample: Path, quirk: str) -> FleetConfig:
    return FleetConfig(
        cameras=1, media=(sample,), request_timeout=2.0, idle_timeout=10.0, quirks=(quirk,)
    )


async def raw_setup_answer(proxy: RtspProxy, rtp: Port, rtcp: Port) -> str:
    """The Transport of a SETUP answer as the client's socket received it."""
    async with RtspTestClient(f"rtsp://127.0.0.1:{proxy.address[1]}/cam1") as client:
        await setup_video(client, rtp, rtcp)
        answers = [e for e in client.events if isinstance(e, ResponseReceived)]
        transport = answers[-1].response.headers.get("Transport")
        assert transport is not None
        return transport


def test_only_the_ports_of_a_transport_are_rewritten(sample: Path) -> None:
    async def main(port: int) -> None:
        proxy = RtspProxy(("127.0.0.1", 0), ("127.0.0.1", port), FaultConfig())
        await proxy.start()
        try:
            rtp, rtcp = await open_ports()
            transport = await raw_setup_answer(proxy, rtp, rtcp)
            outside = [m.port.port.address[1] for m in proxy.mappings]  # RTP, RTCP
        finally:
            proxy.close()
        assert "ssrc= " in transport  # the camera's odd ssrc, not a normalised one
        assert f"client_port={rtp.port}-{rtcp.port}" in transport
        assert f"server_port={outside[0]}-{outside[1]}" in transport

    with running_fleet(quirky(sample, "odd-ssrc")) as fleet:
        asyncio.run(main(fleet.port))


def test_a_camera_that_announces_no_server_port_is_still_relayed(sample: Path) -> None:
    async def main(port: int) -> None:
        async with proxied_to(port) as (proxy, client):
            rtp, rtcp = await open_ports()
            answer = await setup_video(client, rtp, rtcp)
            assert answer.server_port is None
            await client.play()
            packets = await rtp.take(5)
            assert len(packets) == 5
            assert len(proxy.mappings) >= 1  # made by the first packet out

    with running_fleet(quirky(sample, "no-server-port")) as fleet:
        asyncio.run(main(fleet.port))


@asynccontextmanager
async def proxied_to(port: int) -> AsyncIterator[tuple[RtspProxy, RtspTestClient]]:
    proxy = RtspProxy(("127.0.0.1", 0), ("127.0.0.1", port), FaultConfig())
    await proxy.start()
    try:
        async with RtspTestClient(f"rtsp://127.0.0.1:{proxy.address[1]}/cam1") as client:
            yield proxy, client
    finally:
        proxy.close()


@pytest.mark.slow
@pytest.mark.parametrize("quirk", sorted(REGISTRY))
def test_every_quirky_camera_is_relayed_over_udp(sample: Path, quirk: str) -> None:
    """The proxy follows what real cameras send (wire.rtsp reads it) and never ends a dialog
    a client could have gone on with."""

    async def main(port: int) -> None:
        async with proxied_to(port) as (proxy, client):
            rtp, rtcp = await open_ports()
            await setup_video(client, rtp, rtcp)
            await client.play()
            assert len(await rtp.take(3)) == 3
            assert proxy.tcp.connections  # not reset

    with running_fleet(quirky(sample, quirk)) as fleet:
        asyncio.run(main(fleet.port))
