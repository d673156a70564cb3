"""``camsim push --fault uplink-drop``: the push goes through a proxy that cuts it 4 s in."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.integration.encoder.rtmp_server import running_server

PUSH = [sys.executable, "-c", "from camsim.cli import main; main()", "push"]


def test_uplink_drop_resets_the_push_and_it_reconnects(sample_path: Path) -> None:
    """The proxy resets the connection when the window opens (4 s) and refuses new ones for
    1 s: the encoder, told to reconnect, publishes again; the server saw two sessions, the
    second still on the same stream name, and none of them on its own port directly."""
    with running_server() as server:
        result = subprocess.run(
            [
                *PUSH,
                server.url("live/cam"),
                "--media",
                str(sample_path),
                "--json",
                "--fault",
                "uplink-drop",
                "--reconnect",
                "--reconnect-cap",
                "1",
                "--duration",
                "8",
            ],
            capture_output=True,
            text=True,
            timeout=40,
        )
    assert result.returncode == 0, result.stderr
    (stats,) = json.loads(result.stdout)["streams"]
    assert stats["reconnects"] >= 1
    assert stats["state"] == "done"
    assert stats["url"] != server.url("live/cam")  # published through the proxy
    assert len(server.sessions) >= 2
    assert {s.publish_name for s in server.sessions} == {"cam"}
    assert all(len(s.video) > 3 for s in server.sessions[:2])


def test_without_the_fault_the_push_is_not_cut(sample_path: Path) -> None:
    with running_server() as server:
        result = subprocess.run(
            [
                *PUSH,
                server.url("live/cam"),
                "--media",
                str(sample_path),
                "--json",
                "--reconnect",
                "--duration",
                "6",
            ],
            capture_output=True,
            text=True,
            timeout=40,
        )
    assert result.returncode == 0, result.stderr
    (stats,) = json.loads(result.stdout)["streams"]
    assert stats["reconnects"] == 0
    assert len(server.sessions) == 1
