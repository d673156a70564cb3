"""FFmpeg pulls a camsim camera through the RTSP proxy over UDP with 5% loss and still decodes."""

from __future__ import annotations

import subprocess

import pytest

from camsim.fault.pytest_plugin import ProxyFactory
from tests.integration.camera.harness import RunningFleet

SECONDS = 4


@pytest.mark.interop("ffmpeg")
def test_ffmpeg_pulls_through_five_percent_loss_over_udp(
    fault_proxy: ProxyFactory, fleet: RunningFleet
) -> None:
    proxy = fault_proxy(("127.0.0.1", fleet.port), protocol="rtsp", seed=11, down_loss="5%")
    url = f"rtsp://127.0.0.1:{proxy.address[1]}/cam1"
    out = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-rtsp_transport", "udp", "-i", url,
         "-t", str(SECONDS), "-map", "0:v", "-f", "framecrc", "-"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    frames = [line for line in out.stdout.splitlines() if line and not line.startswith("#")]
    # 15 fps for 4 s; a lost packet may cost a frame, not the stream.
    assert len(frames) >= SECONDS * 15 // 2, out.stderr
    rtsp = proxy.proxy.rtsp
    assert rtsp is not None
    _, down = proxy.call(rtsp.totals)
    assert down.packets > 100  # the media did go through the proxy over UDP...
    assert 0.02 < down.lost / down.packets < 0.09  # ...and lost about 5%
