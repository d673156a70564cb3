"""The UDP relay on loopback: each datagram impairment, seeded determinism end to end, mapping
expiry and changes at run time."""

from __future__ import annotations

import asyncio
import itertools
import struct
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest

from camsim.fault.config import FaultConfig
from camsim.fault.impair import Link
from camsim.fault.udp import UdpProxy

Address = tuple[str, int]
COUNT = 600


class Collector(asyncio.DatagramProtocol):
    """Keeps what arrives, with the time and the source; answers with ``reply`` if set."""

    def __init__(self, reply: bytes | None = None) -> None:
        self.received: list[tuple[bytes, Address, float]] = []
        self.reply = reply
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: Address) -> None:
        self.received.append((data, addr, asyncio.get_running_loop().time()))
        if self.reply is not None and self.transport is not None:
            self.transport.sendto(self.reply, addr)


async def endpoint(reply: bytes | None = None) -> tuple[asyncio.DatagramTransport, Collector]:
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_datagram_endpoint(
        lambda: Collector(reply), local_addr=("127.0.0.1", 0)
    )
    return transport, protocol


@asynccontextmanager
async def relay(
    config: FaultConfig | None = None, *, reply: bytes | None = None, seed: int = 5
) -> AsyncIterator[tuple[UdpProxy, Collector, asyncio.DatagramTransport, Collector]]:
    server_transport, server = await endpoint(reply)
    proxy = UdpProxy(
        ("127.0.0.1", 0), server_transport.get_extra_info("sockname"), config, seed=seed
    )
    await proxy.start()
    client_transport, client = await endpoint()
    try:
        yield proxy, server, client_transport, client
    finally:
        client_transport.close()
        proxy.close()
        server_transport.close()


async def send_numbered(proxy: UdpProxy, client: asyncio.DatagramTransport, count: int = COUNT):
    for index in range(count):
        client.sendto(struct.pack("!I", index) + b"p" * 196, proxy.address)
        if index % 20 == 19:
            await asyncio.sleep(0.002)  # paced, so no socket buffer drops anything


async def settle(seconds: float = 0.3) -> None:
    await asyncio.sleep(seconds)


def indices(received: list[tuple[bytes, Address, float]]) -> list[int]:
    return [struct.unpack_from("!I", data)[0] for data, _, _ in received]


def run_through(config: FaultConfig, seed: int = 5) -> list[tuple[bytes, Address, float]]:
    async def main() -> list[tuple[bytes, Address, float]]:
        async with relay(config, seed=seed) as (proxy, server, client_transport, _):
            await send_numbered(proxy, client_transport)
            await settle(0.5)
            return server.received

    return asyncio.run(main())


def test_same_seed_same_drops_end_to_end_and_as_the_model_says() -> None:
    config = FaultConfig().changed(loss=0.1)
    first = sorted(indices(run_through(config)))
    second = sorted(indices(run_through(config)))
    assert first == second
    # The first flow of seed 5 is named 5/udp/0: the model alone predicts the same packets.
    model = Link("5/udp/0/up", config.up)
    predicted = [i for i in range(COUNT) if model.process(b"x", float(i))]
    assert first == predicted
    assert sorted(indices(run_through(config, seed=6))) != first


def _loss(got: list[int], data: list[bytes]) -> None:
    assert 0.05 < 1 - len(got) / COUNT < 0.15


def _burst(got: list[int], data: list[bytes]) -> None:
    lost = sorted(set(range(COUNT)) - set(got))
    adjacent = sum(1 for a, b in itertools.pairwise(lost) if b == a + 1)
    assert lost
    assert adjacent / len(lost) > 0.5


def _duplicate(got: list[int], data: list[bytes]) -> None:
    assert len(got) > COUNT * 1.1
    assert set(got) == set(range(COUNT))


def _corrupt(got: list[int], data: list[bytes]) -> None:
    originals = {struct.pack("!I", index) + b"p" * 196 for index in range(COUNT)}
    damaged = [d for d in data if d not in originals]
    assert len(data) == COUNT
    assert len(damaged) > COUNT * 0.1


def _reorder(got: list[int], data: list[bytes]) -> None:
    assert sorted(got) == list(range(COUNT))
    assert got != sorted(got)


def _blocked(got: list[int], data: list[bytes]) -> None:
    assert got == []


CASES: dict[str, tuple[dict[str, Any], Callable[[list[int], list[bytes]], None]]] = {
    "loss": ({"loss": 0.1}, _loss),
    "burst": ({"burst": "5%,30%"}, _burst),
    "duplicate": ({"duplicate": 0.2}, _duplicate),
    "corrupt": ({"corrupt": 0.3}, _corrupt),
    "reorder": ({"reorder": 0.1, "reorder_hold": 0.01}, _reorder),
    "jitter": ({"jitter": 0.02}, _reorder),
    "blocked": ({"blocked": True}, _blocked),
    "udp_blocked": ({"udp_blocked": True}, _blocked),
}


@pytest.mark.parametrize("name", CASES)
def test_each_datagram_impairment(name: str) -> None:
    from camsim.fault.config import parse_settings

    settings, check = CASES[name]
    received = run_through(FaultConfig().changed(**parse_settings(settings)))
    check(indices(received), [data for data, _, _ in received])


def test_delay_and_rate() -> None:
    async def main() -> None:
        config = FaultConfig().changed(up_delay=0.1, up_rate=800_000.0, up_burst_bytes=200)
        async with relay(config) as (proxy, server, client_transport, _):
            start = asyncio.get_running_loop().time()
            for index in range(100):  # 20 kB offered at once into 100 kB/s
                client_transport.sendto(struct.pack("!I", index) + b"p" * 196, proxy.address)
            await settle(0.6)
        times = [at - start for _, _, at in server.received]
        assert len(times) == 100
        assert min(times) >= 0.1
        assert max(times) - min(times) == pytest.approx(99 * 200 * 8 / 800_000, abs=0.05)

    asyncio.run(main())


def test_answers_come_back_and_a_mapping_expires_when_idle() -> None:
    async def main() -> None:
        config = FaultConfig(nat_timeout=0.3)
        async with relay(config, reply=b"pong") as (proxy, server, client_transport, client):
            client_transport.sendto(b"ping", proxy.address)
            await settle(0.1)
            assert [data for data, _, _ in client.received] == [b"pong"]
            first_mapping = server.received[0][1]
            await settle(0.5)  # idle past the timeout: the mapping's socket is gone
            assert len(proxy.nat) == 0
            assert server.transport is not None
            server.transport.sendto(b"late", first_mapping)
            await settle(0.1)
            assert [data for data, _, _ in client.received] == [b"pong"]
            client_transport.sendto(b"ping", proxy.address)
            await settle(0.1)
            assert server.received[1][1] != first_mapping  # a new mapping, a new port
            assert [data for data, _, _ in client.received] == [b"pong", b"pong"]

    asyncio.run(main())


def test_loss_changed_while_the_flow_runs() -> None:
    async def main() -> None:
        async with relay() as (proxy, server, client_transport, _):
            await send_numbered(proxy, client_transport, 50)
            await settle(0.1)
            proxy.apply(proxy.config.changed(loss=1.0))
            await send_numbered(proxy, client_transport, 50)
            await settle(0.1)
            proxy.apply(proxy.config.changed(loss=0.0))
            await send_numbered(proxy, client_transport, 50)
            await settle(0.2)
        assert len(server.received) == 100

    asyncio.run(main())
