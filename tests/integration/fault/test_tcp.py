"""The TCP relay on loopback: each connection fault, per direction, and changes while it runs."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest

from camsim.fault.config import FaultConfig
from camsim.fault.tcp import TcpProxy

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()
    writer.write(b"<bye>")
    writer.close()


@asynccontextmanager
async def relay(handler: Handler, config: FaultConfig | None = None) -> AsyncIterator[TcpProxy]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    upstream = server.sockets[0].getsockname()[:2]
    proxy = TcpProxy(("127.0.0.1", 0), upstream, config, seed=1)
    await proxy.start()
    try:
        yield proxy
    finally:
        proxy.close()
        server.close()


async def connect(proxy: TcpProxy) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection(*proxy.address)


async def read_all(reader: asyncio.StreamReader, timeout: float = 5.0) -> bytes:
    return await asyncio.wait_for(reader.read(), timeout)


def test_relays_both_ways_and_passes_a_half_close_on() -> None:
    async def main() -> None:
        async with relay(echo) as proxy:
            reader, writer = await connect(proxy)
            writer.write(b"hello " * 1000)
            writer.write_eof()  # the echo server then answers <bye> and closes
            assert await read_all(reader) == b"hello " * 1000 + b"<bye>"
            writer.close()

    asyncio.run(main())


def test_latency_per_direction() -> None:
    arrivals: list[float] = []

    async def stamp(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"greeting")
        await reader.read(1)
        arrivals.append(time.monotonic())
        writer.close()

    async def main() -> None:
        config = FaultConfig().changed(up_delay=0.3, down_delay=0.15)
        async with relay(stamp, config) as proxy:
            start = time.monotonic()
            reader, writer = await connect(proxy)
            assert await reader.readexactly(8) == b"greeting"
            down = time.monotonic() - start
            sent = time.monotonic()
            writer.write(b"x")
            await read_all(reader)
            up = arrivals[0] - sent
            writer.close()
        assert 0.15 <= down < 0.28
        assert 0.3 <= up < 0.45

    asyncio.run(main())


def test_bandwidth_limit() -> None:
    size = 400_000

    async def blast(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"\0" * size)
        await writer.drain()
        writer.close()

    async def main() -> None:
        config = FaultConfig().changed(down_rate=4_000_000.0)  # 0.8 s for 400 kB
        async with relay(blast, config) as proxy:
            start = time.monotonic()
            reader, writer = await connect(proxy)
            data = await read_all(reader)
            elapsed = time.monotonic() - start
            writer.close()
        assert len(data) == size
        expected = (size - config.down.burst_bytes) * 8 / 4_000_000
        assert expected * 0.95 <= elapsed < expected * 1.6

    asyncio.run(main())


def test_slicing_into_small_writes() -> None:
    reads: list[int] = []

    async def count_reads(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            reads.append(len(data))
        writer.close()

    async def main() -> None:
        config = FaultConfig(slice_size=7, slice_interval=0.01)
        async with relay(count_reads, config) as proxy:
            reader, writer = await connect(proxy)
            writer.write(b"a" * 70)
            writer.write_eof()
            await read_all(reader)
            writer.close()

    asyncio.run(main())
    assert sum(reads) == 70
    assert max(reads) <= 7
    assert len(reads) == 10


def test_stall_keeps_the_connection_open_and_delivers_nothing() -> None:
    async def main() -> None:
        async with relay(echo) as proxy:
            reader, writer = await connect(proxy)
            writer.write(b"before")
            assert await asyncio.wait_for(reader.readexactly(6), 5) == b"before"
            proxy.apply(proxy.config.changed(stall=True))
            writer.write(b"during")
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(reader.read(1), 0.5)
            assert not reader.at_eof()
            proxy.apply(proxy.config.changed(stall=False))
            writer.write(b"after")
            assert await asyncio.wait_for(reader.readexactly(5), 5) == b"after"
            writer.close()

    asyncio.run(main())


def test_reset_after_bytes() -> None:
    upstream_got = bytearray()

    async def collect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                upstream_got.extend(data)
        except ConnectionResetError:
            upstream_got.extend(b"<reset>")
        writer.close()

    async def main() -> None:
        async with relay(collect, FaultConfig(reset_after_bytes=1000)) as proxy:
            reader, writer = await connect(proxy)
            writer.write(b"z" * 600)
            await asyncio.sleep(0.1)
            writer.write(b"y" * 600)  # 400 of these pass, then both sides are reset
            with pytest.raises(ConnectionResetError):
                await asyncio.wait_for(reader.read(65536), 5)
            for _ in range(50):
                if upstream_got.endswith(b"<reset>"):
                    break
                await asyncio.sleep(0.05)
            writer.close()

    asyncio.run(main())
    assert upstream_got == b"z" * 600 + b"y" * 400 + b"<reset>"


def test_reset_after_seconds() -> None:
    async def main() -> None:
        async with relay(echo, FaultConfig(reset_after_seconds=0.3)) as proxy:
            start = time.monotonic()
            reader, writer = await connect(proxy)
            with pytest.raises(ConnectionResetError):
                await asyncio.wait_for(reader.read(1), 5)
            assert 0.3 <= time.monotonic() - start < 1.0
            writer.close()

    asyncio.run(main())


def test_half_close_ends_only_the_server_to_client_direction() -> None:
    got: list[bytes] = []

    async def collect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        got.append(await reader.read())
        writer.close()

    async def main() -> None:
        async with relay(collect, FaultConfig(half_close_after=0.2)) as proxy:
            reader, writer = await connect(proxy)
            assert await read_all(reader) == b""  # the FIN, after 0.2 s
            writer.write(b"still talking")  # our direction stays open
            writer.write_eof()
            for _ in range(50):
                if got:
                    break
                await asyncio.sleep(0.05)
            writer.close()

    asyncio.run(main())
    assert got == [b"still talking"]


def test_refuse_and_accept_again_at_run_time() -> None:
    async def main() -> None:
        async with relay(echo) as proxy:
            proxy.apply(proxy.config.changed(refuse=True))
            with pytest.raises(ConnectionRefusedError):
                await connect(proxy)
            proxy.apply(proxy.config.changed(refuse=False))
            reader, writer = await connect(proxy)
            writer.write(b"back")
            assert await asyncio.wait_for(reader.readexactly(4), 5) == b"back"
            writer.close()

    asyncio.run(main())


def test_unreachable_upstream_resets_only_that_client() -> None:
    async def main() -> None:
        async with relay(echo) as proxy:
            working_reader, working = await connect(proxy)
            proxy.upstream = ("127.0.0.1", 1)  # nothing listens there
            reader, writer = await connect(proxy)
            with pytest.raises(ConnectionResetError):
                await asyncio.wait_for(reader.read(1), 5)
            working.write(b"alive")
            assert await asyncio.wait_for(working_reader.readexactly(5), 5) == b"alive"
            writer.close()
            working.close()

    asyncio.run(main())
