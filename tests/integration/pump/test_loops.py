"""The pump on both event loops, whatever ``CAMSIM_LOOP`` says: TLS the pump starts on an
accepted connection, whose ClientHello uvloop reads at once (it starts reading once
``connection_made`` returns, though the pump paused it there), and plain TCP with
back-pressure. Loopback only, every wait bounded."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable

import pytest

from tests.unit.wire.asyncio.sessions import EchoSession, Ended, Line
from wire.asyncio.certificates import self_signed, server_context_for
from wire.asyncio.loops import LOOP_CHOICES, resolve
from wire.asyncio.pump import StreamPump, TlsHandshake
from wire.session import Cause

HOST = "127.0.0.1"
LIMIT = 10.0
LOOPS = [name for name in LOOP_CHOICES if name != "auto"]


def run_on(loop_name: str, scenario: Callable[[], object]) -> None:
    try:
        factory = resolve(loop_name).factory
    except RuntimeError as exc:  # LoopUnavailable: uvloop is not installed
        pytest.skip(str(exc))

    async def bounded() -> None:
        await asyncio.wait_for(scenario(), LIMIT)  # type: ignore[arg-type]

    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(bounded())


@pytest.mark.parametrize("loop_name", LOOPS)
def test_tls_started_by_the_pump_gets_the_client_hello(loop_name: str) -> None:
    pair = self_signed([HOST])
    client = ssl.create_default_context(cadata=pair.certificate.decode())

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        events: list[object] = []
        pumps: list[StreamPump] = []

        def accepted() -> StreamPump:
            handshake = TlsHandshake(server_context_for(pair), timeout=2.0, server_side=True)
            pumps.append(
                StreamPump(EchoSession(loop.time()), on_event=events.append, tls=handshake)
            )
            return pumps[-1]

        server = await loop.create_server(accepted, HOST, 0)
        port = server.sockets[0].getsockname()[1]
        for n in range(3):  # the ClientHello is in the socket before the handshake task runs
            reader, writer = await asyncio.open_connection(HOST, port, ssl=client)
            writer.write(f"line {n}\nbye\n".encode())
            assert await reader.readline() == f"echo: line {n}\n".encode()
            assert await reader.readline() == b"goodbye\n"
            writer.close()
        assert [e for e in events if isinstance(e, Line)] == [
            Line(text) for n in range(3) for text in (f"line {n}", "bye")
        ]
        ends = [e.termination.cause for e in events if isinstance(e, Ended)]
        assert ends == [Cause.LOCAL_CLOSE] * 3
        assert all(p.bytes_received == len(f"line {n}\nbye\n") for n, p in enumerate(pumps))
        server.close()
        await server.wait_closed()

    run_on(loop_name, scenario)


@pytest.mark.parametrize("loop_name", LOOPS)
def test_a_session_that_wants_no_data_pauses_reading(loop_name: str) -> None:
    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        pumps: list[StreamPump] = []
        sessions: list[EchoSession] = []

        def accepted() -> StreamPump:
            sessions.append(EchoSession(loop.time(), max_pending=1))
            sessions[-1].held = True  # lines pile up: the session stops wanting data
            pumps.append(StreamPump(sessions[-1]))
            return pumps[-1]

        server = await loop.create_server(accepted, HOST, 0)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection(HOST, port)
        writer.write(b"one\ntwo\nthree\n")
        while not pumps or not pumps[0].reading_paused:
            await asyncio.sleep(0.01)
        sessions[0].held = False
        sessions[0].answer()
        pumps[0].transmit()
        assert await reader.readline() == b"echo: one\n"
        assert await reader.readline() == b"echo: two\n"
        assert await reader.readline() == b"echo: three\n"  # read once reading resumed
        writer.close()
        server.close()
        await server.wait_closed()

    run_on(loop_name, scenario)
