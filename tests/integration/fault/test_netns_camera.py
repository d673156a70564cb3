"""A camsim camera on the camera LAN, behind a NAT with port 554 forwarded, pulled over RTSP with
RTP over UDP by FFmpeg and by refserver on the server side; and FFmpeg with UDP blocked."""

from __future__ import annotations

import subprocess
import sys
import time
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


REFSERVER = str(Path(sys.executable).parent / "refserver")


@pytest.mark.slow
def test_refserver_pulls_a_camera_behind_a_nat_over_udp_with_loss(
    netns_topology: TopologyFactory, sample: Path, tmp_path: Path
) -> None:
    topology = netns_topology()
    topology.faults.change(nat=True, forward="554", down_loss="1%", up_loss="1%")
    start_camera(topology, sample)
    topology.popen(
        "wan",
        [REFSERVER, "--bind", topology.wan_address, "--no-rtmps", "--hls-dir", str(tmp_path),
         "--state-dir", str(tmp_path), "--pull-transport", "udp",
         "--pull", f"cam=rtsp://{topology.router_wan_address}:554/cam1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    segments: list[Path] = []
    while len(segments) < 2 and time.monotonic() < deadline:
        time.sleep(0.5)
        segments = sorted(tmp_path.glob("cam/*.ts"))
    assert len(segments) >= 2, "refserver wrote no HLS segment from the camera"
    assert "#EXTINF" in (tmp_path / "cam" / "index.m3u8").read_text()
    assert udp_mappings(topology), "no RTP crossed the router over UDP"
