"""A camsim camera on the camera LAN, behind a NAT with port 554 forwarded, pulled over RTSP with
RTP over UDP by FFmpeg on the server side; then the same with UDP blocked on the way."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from camsim.fault.netns import Topology
from camsim.fault.netns_plugin import TopologyFactory, netns_topology

__all__ = ["netns_topology"]  # the fixture, imported for pytest

CAMSIM = str(Path(sys.executable).parent / "camsim")
SECONDS = 3


def start_camera(topology: Topology, sample: Path) -> subprocess.Popen[bytes]:
    camera = topology.popen(
        "lan",
        [CAMSIM, "run", "--host", topology.lan_address, "--port", "554", "--media", str(sample),
         "--json", "--duration", "60"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    assert camera.stdout is not None
    assert b'"started"' in camera.stdout.readline()  # listening once it says so
    return camera


def pull(topology: Topology, timeout_us: int) -> subprocess.CompletedProcess[str]:
    url = f"rtsp://{topology.router_wan_address}:554/cam1"
    return subprocess.run(
        topology.argv("wan", ["ffmpeg", "-nostdin", "-v", "error", "-rtsp_transport", "udp",
                              "-timeout", str(timeout_us), "-i", url, "-t", str(SECONDS),
                              "-map", "0:v", "-f", "framecrc", "-"]),
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def udp_mappings(topology: Topology) -> list[str]:
    """The router's conntrack entries of UDP from the camera, as NAT rewrote them."""
    table = topology.exec("router", ["cat", "/proc/net/nf_conntrack"])
    return [
        line for line in table.splitlines()
        if " udp " in line and f"src={topology.lan_address}" in line
    ]  # fmt: skip


@pytest.mark.interop("ffmpeg")
def test_ffmpeg_pulls_a_camera_behind_a_nat_over_udp(
    netns_topology: TopologyFactory, sample: Path
) -> None:
    topology = netns_topology()
    topology.faults.change(nat=True, forward="554")
    start_camera(topology, sample)
    out = pull(topology, 5_000_000)
    assert out.returncode == 0, out.stderr
    frames = [line for line in out.stdout.splitlines() if line and not line.startswith("#")]
    assert len(frames) >= SECONDS * 15 // 2, out.stderr  # 15 fps sample
    mappings = udp_mappings(topology)
    assert mappings, "no RTP crossed the router over UDP"
    # The camera's RTP left through the router's address: the NAT rewrote it on the way.
    assert all(f"dst={topology.router_wan_address}" in line for line in mappings), mappings


@pytest.mark.interop("ffmpeg")
def test_udp_blocked_starves_a_udp_only_puller(
    netns_topology: TopologyFactory, sample: Path
) -> None:
    topology = netns_topology()
    topology.faults.change(nat=True, forward="554", udp_blocked=True)
    start_camera(topology, sample)
    out = pull(topology, 3_000_000)
    frames = [line for line in out.stdout.splitlines() if line and not line.startswith("#")]
    assert frames == [], "frames arrived although UDP is blocked"
    assert udp_mappings(topology) == []
