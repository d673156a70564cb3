"""``camsim fault netns`` and ``camsim fault cleanup`` as a user runs them."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from camsim.fault.kernel import NETEM_MISSING
from camsim.fault.netns import list_namespaces, netem_available
from camsim.fault.netns_plugin import skip_without_netns

CAMSIM = str(Path(sys.executable).parent / "camsim")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def call(url: str, body: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method="GET" if data is None else "POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_netns_command_changes_faults_at_run_time_and_leaves_nothing() -> None:
    skip_without_netns()
    port = free_port()
    command = subprocess.Popen(
        [CAMSIM, "fault", "netns", "--json", "--nat", "--forward", "554", "--set", "loss=10%",
         "--control", f"127.0.0.1:{port}", "--lan", "sleep 60", "--duration", "60"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert command.stdout is not None
        up = json.loads(command.stdout.readline())
        assert up["event"] == "up"
        names = list(up["namespaces"].values())
        assert set(names) <= set(list_namespaces())
        assert up["config"]["nat"] is True
        assert up["config"]["forward"] == [554]
        assert up["loss_method"] == ("netem" if netem_available() else "iptables statistic")
        url = f"http://127.0.0.1:{port}/faults"

        status, state = call(url, {"udp_blocked": True, "rtsp_blocked": "reject"})
        assert status == 200
        assert [change["settings"] for change in state["history"]][-1] == {
            "udp_blocked": True, "rtsp_blocked": "reject"
        }  # fmt: skip
        router = up["namespaces"]["router"]
        rules = subprocess.run(["ip", "netns", "exec", router, "iptables-save"],
                               capture_output=True, text=True, check=True)  # fmt: skip
        assert "-A FORWARD -p udp -j DROP" in rules.stdout
        assert "--dport 554 -j REJECT --reject-with tcp-reset" in rules.stdout

        status, error = call(url, {"latency": "5ms"})
        assert status == 400
        assert error["error"] == "unknown kernel fault setting 'latency'"
        if not netem_available():
            status, error = call(url, {"delay": "50ms"})
            assert status == 400
            assert NETEM_MISSING in error["error"]
        assert len(call(url)[1]["history"]) == 2  # the refused changes changed nothing

        changed = json.loads(command.stdout.readline())  # printed as it happened
        assert changed["event"] == "changed"
        assert changed["settings"] == {"udp_blocked": True, "rtsp_blocked": "reject"}
        command.send_signal(signal.SIGTERM)
        down = json.loads(command.stdout.readline())
        assert down["event"] == "down"
        assert command.wait(20) == 0
    finally:
        if command.poll() is None:
            command.kill()
            command.wait(10)
    assert not set(names) & set(list_namespaces())


def test_cleanup_command_reports_what_it_removed() -> None:
    skip_without_netns()
    out = subprocess.run([CAMSIM, "fault", "cleanup", "--json"], capture_output=True, text=True,
                         check=True, timeout=60)  # fmt: skip
    removed = json.loads(out.stdout)["removed"]
    assert isinstance(removed, list)
    assert all(name.startswith("camsim-") for name in removed)
