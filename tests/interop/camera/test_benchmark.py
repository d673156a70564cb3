"""The camsim-vs-gst-rtsp-server benchmark, run small: 5 cameras of the small sample, 5 s per
window, two steps of the cameras-per-core search. Run by hand with ``pytest -m bench``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.camera_vs_gst import SYSTEM_PYTHON
from tests.integration.camera.harness import free_ports

pytestmark = [pytest.mark.bench, pytest.mark.interop("gst-launch-1.0")]


def test_benchmark_reports_every_figure(sample: Path, tmp_path: Path) -> None:
    has_gi = subprocess.run(
        [SYSTEM_PYTHON, "-c", "import gi; gi.require_version('GstRtspServer', '1.0')"],
        capture_output=True,
        check=False,
    )
    if has_gi.returncode != 0:
        pytest.skip(f"{SYSTEM_PYTHON} lacks python3-gi with GstRtspServer")
    report_path = tmp_path / "report.json"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.camera_vs_gst",
            "--cameras",
            "5",
            "--seconds",
            "5",
            "--warmup",
            "3",
            "--media",
            str(sample),
            "--max-steps",
            "5,10",
            "--port",
            str(free_ports(1)),
            "--json",
            str(report_path),
        ],
        check=True,
        timeout=300,
        capture_output=True,
    )
    report = json.loads(report_path.read_text())
    servers = {(m["server"], m["transport"]) for m in report["measurements"]}
    assert {("camsim", "tcp"), ("camsim", "udp")} <= servers
    assert {("gst-rtsp-server", "tcp"), ("gst-rtsp-server", "udp")} <= servers
    for measurement in report["measurements"]:
        assert measurement["failures"] == []
        assert measurement["cpu"] > 0
        assert measurement["rss_mb"] > 0
        if measurement["server"] == "camsim":
            assert measurement["p99_error_ms"] is not None
    assert report["cpu_ratio_tcp"] > 0
    assert report["cpu_ratio_udp"] > 0
    assert report["max_cameras_per_core"] in (0, 5, 10)
    assert report["pinned"] is False
