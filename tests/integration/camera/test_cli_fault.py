"""``camsim run --fault NAME``: the scenario's network faults are in force on the URLs printed.

Each camera is pulled through the printed URL by the rtsp-client suite's test-only puller, in
this process, for a few seconds: what it gets shows which faults the proxy plays.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.integration.camera.harness import free_ports
from tests.integration.conformance.rtsp_client.puller import Puller

CAMSIM = [sys.executable, "-c", "from camsim.cli import main; main()", "run"]
PULL_SECONDS = 4.0


@contextmanager
def cameras(sample: Path, *fault: str) -> Iterator[tuple[int, str]]:
    """``camsim run`` with ``fault`` arguments: the cameras' port and the URL printed."""
    port = free_ports(1)
    command = [*CAMSIM, "--port", str(port), "--media", str(sample), "--json", *fault]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        assert process.stdout is not None
        started = json.loads(process.stdout.readline())
        # The status lines that follow are read and dropped: a full pipe would stop the cameras.
        threading.Thread(target=process.stdout.read, name="camsim-stdout", daemon=True).start()
        yield port, started["urls"][0]
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def frames_pulled(url: str, out: Path, *faults: str, udp: bool = False) -> int:
    """Video frames the test-only puller output from ``url`` in :data:`PULL_SECONDS`."""
    out.mkdir(parents=True, exist_ok=True)
    puller = Puller(url, out, set(faults), udp)

    async def pull() -> None:
        with suppress(TimeoutError):
            async with asyncio.timeout(PULL_SECONDS):
                await puller.run()

    asyncio.run(pull())
    return puller.frames


def test_symmetric_nat_is_in_force_on_the_printed_url(sample: Path, tmp_path: Path) -> None:
    """Behind the symmetric NAT, RTP comes from ports other than those SETUP announced: a
    puller that takes only the announced port gets nothing, one that takes any port plays."""
    with cameras(sample, "--fault", "symmetric-nat") as (port, url):
        assert urlsplit(url).port != port  # the proxy's URL, not the camera's
        assert urlsplit(url).path == "/cam1"
        assert frames_pulled(url, tmp_path / "any", udp=True) > 0
        assert frames_pulled(url, tmp_path / "announced", "announced-port") == 0


def test_udp_blocked_is_in_force_on_the_printed_url(sample: Path, tmp_path: Path) -> None:
    """With UDP blocked, a pull over UDP gets nothing and one over TCP interleaved plays; the
    camera's own URL, next to it, serves UDP as usual."""
    with cameras(sample, "--fault", "udp-blocked") as (port, url):
        assert frames_pulled(url, tmp_path / "udp", udp=True) == 0
        assert frames_pulled(url, tmp_path / "tcp") > 0
        direct = f"rtsp://127.0.0.1:{port}/cam1"
        assert frames_pulled(direct, tmp_path / "direct", udp=True) > 0


@pytest.mark.parametrize("name", ["camera-reboot", "uplink-drop", "no-such-scenario"])
def test_only_network_scenarios_of_a_pull(sample: Path, name: str) -> None:
    result = subprocess.run(
        [*CAMSIM, "--port", "0", "--media", str(sample), "--fault", name, "--duration", "1"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "--fault" in result.stderr
