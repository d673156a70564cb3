"""Changing faults while streams run: the Python API, the HTTP/JSON endpoint, the pytest fixture
and the command line."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import Any

import pytest

from camsim.fault.control import FaultProxy, require_loopback
from camsim.fault.pytest_plugin import ProxyFactory
from tests.integration.camera.client import RtspTestClient
from tests.integration.camera.harness import RunningFleet


async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(65536):
        writer.write(data)
    writer.close()


def http(url: str, body: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method="GET" if body is None else "POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_the_endpoint_changes_faults_on_running_connections_and_logs_each_change() -> None:
    async def main() -> None:
        server = await asyncio.start_server(echo, "127.0.0.1", 0)
        proxy = FaultProxy(("127.0.0.1", 0), server.sockets[0].getsockname()[:2], seed=1)
        await proxy.start()
        host, port = await proxy.serve_control()
        base = f"http://{host}:{port}/faults"
        try:
            reader, writer = await asyncio.open_connection(*proxy.address)
            writer.write(b"one")
            assert await asyncio.wait_for(reader.readexactly(3), 5) == b"one"
            before = time.time()
            status, state = await asyncio.to_thread(http, base, {"stall": True, "delay": "20ms"})
            assert status == 200
            assert state["config"]["stall"] is True
            assert state["config"]["down"]["delay"] == pytest.approx(0.02)
            writer.write(b"two")
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(reader.read(1), 0.4)
            status, state = await asyncio.to_thread(http, base, {"stall": "sideways"})
            assert status == 400
            assert state == {"error": "stall: expected true or false, got 'sideways'"}
            status, state = await asyncio.to_thread(http, base + "/reset", {})
            assert status == 200
            writer.write(b"three")
            assert await asyncio.wait_for(reader.readexactly(5), 5) == b"three"
            status, state = await asyncio.to_thread(http, base)
            history = state["history"]
            assert [entry["settings"] for entry in history] == [
                {"stall": True, "delay": "20ms"},
                {"reset": True},
            ]
            assert before <= history[0]["at"] <= history[1]["at"] <= time.time()
            assert history[1]["config"]["stall"] is False
            writer.close()
        finally:
            await proxy.stop_control()
            proxy.close()
            server.close()

    asyncio.run(main())


def test_the_endpoint_and_the_proxy_stay_on_loopback() -> None:
    with pytest.raises(ValueError, match="must be a loopback address"):
        require_loopback("0.0.0.0", "the control endpoint")
    with pytest.raises(ValueError, match="must be a loopback address"):
        require_loopback("192.0.2.1", "the upstream")
    require_loopback("127.0.0.2", "x")
    require_loopback("::1", "x")


def test_the_fixture_puts_a_proxy_in_front_of_a_camera(
    fault_proxy: ProxyFactory, fleet: RunningFleet
) -> None:
    proxy = fault_proxy(("127.0.0.1", fleet.port), protocol="rtsp", seed=2, down_delay="500ms")
    url = f"rtsp://127.0.0.1:{proxy.address[1]}/cam1"

    async def describe() -> float:
        async with RtspTestClient(url) as client:
            start = time.monotonic()
            _, sdp = await client.describe()
            assert sdp.media
            return time.monotonic() - start

    assert asyncio.run(describe()) >= 0.5
    proxy.change(down_delay=0)
    assert asyncio.run(describe()) < 0.5
    assert [change.settings for change in proxy.history] == [{"down_delay": 0}]


def test_the_command_runs_the_proxy_and_its_control_until_sigterm() -> None:
    async def main() -> None:
        server = await asyncio.start_server(echo, "127.0.0.1", 0)
        upstream = server.sockets[0].getsockname()[1]
        command = [
            sys.executable, "-c", "from camsim.cli import main; main()",
            "fault", "proxy", "--listen", "127.0.0.1:0", "--upstream", f"127.0.0.1:{upstream}",
            "--control", "127.0.0.1:0", "--delay", "10ms", "--seed", "4", "--json",
        ]  # fmt: skip
        process = await asyncio.create_subprocess_exec(
            *command, stdout=subprocess.PIPE, env={**os.environ, "PYTHONUNBUFFERED": "1"}
        )
        assert process.stdout is not None
        try:
            first = json.loads(await asyncio.wait_for(process.stdout.readline(), 20))
            assert first["event"] == "listening"
            host, port = first["listen"].rsplit(":", 1)
            reader, writer = await asyncio.open_connection(host, int(port))
            writer.write(b"ping")
            assert await asyncio.wait_for(reader.readexactly(4), 5) == b"ping"
            control = f"http://{first['control']}/faults"
            status, state = await asyncio.to_thread(http, control, {"loss": "5%"})
            assert status == 200
            assert state["seed"] == 4
            assert state["config"]["up"]["delay"] == pytest.approx(0.01)
            changed = json.loads(await asyncio.wait_for(process.stdout.readline(), 5))
            assert changed["event"] == "changed"
            assert changed["settings"] == {"loss": "5%"}
            writer.close()
        finally:
            process.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(process.wait(), 10) == 0
            server.close()

    asyncio.run(main())


def test_the_command_names_a_bad_setting() -> None:
    result = subprocess.run(
        [
            sys.executable, "-c", "from camsim.cli import main; main()", "fault", "proxy",
            "--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:9", "--set", "loss=3",
        ],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert "loss: probability must be a probability in [0, 1], got 3.0" in result.stderr


def test_tcp_and_udp_on_one_port_share_the_faults() -> None:
    async def main() -> None:
        server = await asyncio.start_server(echo, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        loop = asyncio.get_running_loop()
        answers: asyncio.Queue[bytes] = asyncio.Queue()

        class Echo(asyncio.DatagramProtocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                self.transport = transport

            def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
                self.transport.sendto(data, addr)  # type: ignore[attr-defined]

        class Client(asyncio.DatagramProtocol):
            def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
                answers.put_nowait(data)

        udp_server, _ = await loop.create_datagram_endpoint(Echo, local_addr=("127.0.0.1", port))
        proxy = FaultProxy(("127.0.0.1", 0), ("127.0.0.1", port), protocol="tcp+udp")
        await proxy.start()
        client, _ = await loop.create_datagram_endpoint(Client, local_addr=("127.0.0.1", 0))
        try:
            assert proxy.tcp is not None
            assert proxy.udp is not None
            assert proxy.udp.address[1] == proxy.tcp.address[1]
            client.sendto(b"dgram", proxy.address)
            assert await asyncio.wait_for(answers.get(), 5) == b"dgram"
            reader, writer = await asyncio.open_connection(*proxy.address)
            writer.write(b"bytes")
            assert await asyncio.wait_for(reader.readexactly(5), 5) == b"bytes"
            proxy.change(udp_blocked=True)
            client.sendto(b"lost", proxy.address)
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(answers.get(), 0.3)
            writer.write(b"still")  # TCP is not UDP
            assert await asyncio.wait_for(reader.readexactly(5), 5) == b"still"
            writer.close()
        finally:
            client.close()
            proxy.close()
            udp_server.close()
            server.close()

    asyncio.run(main())


def test_the_command_keeps_its_listening_address_on_loopback() -> None:
    result = subprocess.run(
        [
            sys.executable, "-c", "from camsim.cli import main; main()", "fault", "proxy",
            "--listen", "0.0.0.0:0", "--upstream", "127.0.0.1:9",
        ],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert "--listen must be a loopback address (127.0.0.0/8 or ::1), not '0.0.0.0'" in (
        result.stderr
    )
