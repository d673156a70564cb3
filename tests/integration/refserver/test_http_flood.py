"""A flood of idle HTTP connections against refserver in its own process, with few file
descriptors: it never runs out of them, logs the flood in a few lines, and a viewer on another
address still gets its playlist."""

from __future__ import annotations

import asyncio
import http.client
import json
from pathlib import Path

import pytest

from benchmarks.http_attacks import LEGIT_SOURCE, Refserver, attack, open_fds, raise_own_limit

pytestmark = pytest.mark.slow

NOFILE = 1024
CONNECTIONS = 3000
SOURCES = 16


def viewer_status(port: int) -> int:
    connection = http.client.HTTPConnection(
        "127.0.0.1", port, timeout=5, source_address=(LEGIT_SOURCE, 0)
    )
    try:
        connection.request("GET", "/api/streams")
        return connection.getresponse().status
    finally:
        connection.close()


def test_an_idle_connection_flood_exhausts_nothing(tmp_path: Path) -> None:
    connections = raise_own_limit(CONNECTIONS)
    assert connections == CONNECTIONS, "this machine's hard RLIMIT_NOFILE is too low"
    server = Refserver(Path.cwd(), tmp_path, NOFILE)
    server.start()
    try:

        async def flood_and_view() -> list[int]:
            port = server.ports["http"]
            addresses = [f"127.0.1.{n + 1}" for n in range(SOURCES)]
            flood = asyncio.create_task(attack(port, "idle", connections, addresses, 6.0))
            statuses = []
            for _ in range(5):
                await asyncio.sleep(1)
                statuses.append(await asyncio.to_thread(viewer_status, port))
                assert open_fds(server.pid) < NOFILE
            await flood
            return statuses

        statuses = asyncio.run(flood_and_view())
        assert server.alive()
    finally:
        server.stop()
    assert statuses == [200] * 5
    entries = [json.loads(line) for line in server.log.read_text().splitlines()]
    assert not [e for e in entries if "out of system resource" in e["message"]]
    flood_lines = [e for e in entries if e["logger"] == "refserver.http_limits"]
    # The cap was lowered to fit the limit, and the flood took a line per address, not more.
    assert flood_lines[0]["message"].startswith("file descriptor limit too low")
    assert len(flood_lines) <= 1 + 2 * SOURCES
