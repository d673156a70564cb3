"""Wireshark's RTMP dissector reads a captured ``camsim push`` session, nothing malformed."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.interop.encoder.conftest import camsim_push
from tests.interop.encoder.nginx_rtmp import NginxRtmp

pytestmark = pytest.mark.interop("tshark", "nginx")

ENCODER_COMMANDS = {"connect", "releaseStream", "FCPublish", "createStream", "publish"}


def tshark_read(capture: Path, port: int, display_filter: str, *fields: str) -> list[str]:
    columns = [arg for field in fields for arg in ("-e", field)]
    out = subprocess.run(
        [
            *("tshark", "-n", "-r", str(capture), "-d", f"tcp.port=={port},rtmpt"),
            *("-Y", display_filter, "-T", "fields", *columns),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return out.stdout.splitlines()


def test_capture_has_no_malformed_packets(nginx: NginxRtmp, sample_path: Path, tmp_path: Path):
    capture = tmp_path / "push.pcapng"
    tshark = subprocess.Popen(
        ["tshark", "-n", "-q", "-i", "lo", "-f", f"tcp port {nginx.rtmp_port}", "-w", str(capture)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 15
        while not (capture.exists() and capture.stat().st_size > 0):
            if tshark.poll() is not None:
                pytest.skip(f"cannot capture on lo: {tshark.communicate()[1].strip()}")
            assert time.monotonic() < deadline, "tshark did not start capturing"
            time.sleep(0.05)
        time.sleep(0.5)  # the file header is written just before the capture filter is live
        result = camsim_push(
            nginx.rtmp_url("cap"),
            "--media", str(sample_path),
            "--duration", "3",
            "--chunk-size", "128",
            # Above 2^24 ms from the start: every fmt 0 header carries an extended timestamp,
            # which 128-byte chunks repeat on their fmt 3 continuations.
            "--start-timestamp", str((1 << 24) + 1000),
        )  # fmt: skip
        time.sleep(0.5)
    finally:
        tshark.send_signal(signal.SIGINT)
        try:
            tshark.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            tshark.kill()
            tshark.communicate()
    assert result.returncode == 0, result.stderr
    port = nginx.rtmp_port
    strings = tshark_read(capture, port, "amf.string", "amf.string")
    seen = {value for line in strings for value in line.split(",")}
    assert seen >= ENCODER_COMMANDS | {"@setDataFrame", "onMetaData", "live", "cap"}
    video = tshark_read(capture, port, "rtmpt.header.typeid == 9", "frame.number")
    assert len(video) > 40
    extended = tshark_read(capture, port, "rtmpt.header.ets", "rtmpt.header.ets")
    assert str((1 << 24) + 1000) in {value for line in extended for value in line.split(",")}
    assert tshark_read(capture, port, "_ws.malformed", "frame.number") == []
    assert tshark_read(capture, port, "_ws.expert.severity >= 0x00800000", "frame.number") == []
