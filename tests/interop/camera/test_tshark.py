"""tshark dissects a capture of camsim's RTSP, RTP and RTCP and finds nothing malformed."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from camsim.camera.fleet import FleetConfig
from tests.integration.camera.harness import running_fleet

pytestmark = pytest.mark.interop("tshark", "ffmpeg")


def tshark_fields(capture: Path, port: int, display_filter: str, field: str) -> list[str]:
    out = subprocess.run(
        [
            "tshark",
            "-r",
            str(capture),
            "-d",
            f"tcp.port=={port},rtsp",
            "-o",
            "rtp.heuristic_rtp:TRUE",
            "-o",
            "rtcp.heuristic_rtcp:TRUE",
            "-Y",
            display_filter,
            "-T",
            "fields",
            "-e",
            field,
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return [line for line in out.stdout.splitlines() if line]


def test_capture_has_no_malformed_packets(sample: Path, tmp_path: Path) -> None:
    capture = tmp_path / "camsim.pcapng"
    with running_fleet(FleetConfig(cameras=2, media=(sample,), report_interval=1.0)) as fleet:
        port = fleet.port
        dumper = subprocess.Popen(
            ["tshark", "-q", "-i", "lo", "-f", f"tcp port {port} or udp", "-w", str(capture)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(2)  # let the capture start
        for url, transport in zip(fleet.urls, ["tcp", "udp"], strict=True):
            subprocess.run(
                [
                    "ffmpeg",
                    "-nostdin",
                    "-v",
                    "error",
                    "-rtsp_transport",
                    transport,
                    "-i",
                    url,
                    "-t",
                    "3",
                    "-c",
                    "copy",
                    "-f",
                    "null",
                    "-",
                ],
                check=True,
                timeout=60,
            )
        time.sleep(1)
        dumper.terminate()
        dumper.wait(10)
    methods = tshark_fields(capture, port, "rtsp.request", "rtsp.method")
    assert {"DESCRIBE", "SETUP", "PLAY", "TEARDOWN"} <= set(methods)
    assert len(tshark_fields(capture, port, "rtp.p_type == 96", "rtp.seq")) > 50
    assert len(tshark_fields(capture, port, "rtp.p_type == 97", "rtp.seq")) > 50
    assert tshark_fields(capture, port, "rtcp.pt == 200", "rtcp.senderssrc")
    malformed = tshark_fields(
        capture, port, "_ws.malformed || _ws.expert.severity >= error", "frame.number"
    )
    assert malformed == []
