"""gst-rtsp-server judged by the rtsp-server suite (the project's copy of the peer script,
``benchmarks/peers/gst_cameras.py``, run with the system Python for python3-gi).

The peer serves a file as shared media: one pipeline for every client, which a PLAY with
``Range: npt=0.000-`` seeks for all of them. Judged one transport at a time it is a camera
with one client, and the verdict is one deviation, RTSP-RTP-010 (see the README's suite notes).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import SampleFactory, in_ci
from tests.integration.camera.harness import free_ports
from tests.integration.conformance.conftest import ConformRun, conform
from tests.interop.refserver.test_pull_gst import (
    GST_CAMERAS,
    SYSTEM_PYTHON,
    gst_rtsp_server_missing,
)

pytestmark = [pytest.mark.interop("gst-launch-1.0"), pytest.mark.slow, pytest.mark.timeout(300)]

GST_DEVIATIONS = frozenset({"RTSP-RTP-010"})
"""RTP-Info seq of the audio track is one below the first packet's sequence number."""


@pytest.fixture
def gst_camera(make_test_sample: SampleFactory) -> Iterator[str]:
    missing = gst_rtsp_server_missing()
    if missing is not None:
        if in_ci():
            pytest.fail(f"CI=true and {missing}", pytrace=False)
        pytest.skip(missing)
    from fractions import Fraction

    sample = make_test_sample(duration=Fraction(30))
    port = free_ports(1)
    command = [SYSTEM_PYTHON, str(GST_CAMERAS), str(sample), "1", str(port)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.strip() == "ready", f"gst_cameras.py did not start: {line}"
        yield f"rtsp://127.0.0.1:{port}/cam1"
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_gst_rtsp_server_fails_only_its_known_deviation(
    gst_camera: str, transport: str, tmp_path: Path
) -> None:
    args = ["--suite", "rtsp-server", "--target", gst_camera, "--duration", "8",
            "--set", f"transports={transport}"]  # fmt: skip
    run: ConformRun = conform(args, tmp_path / "gst.json", timeout=120)
    assert run.results is not None, run.stderr
    assert run.failing(("required", "recommended")) == GST_DEVIATIONS, run.stdout
    assert run.code == 1
    message = run.case("RTSP-RTP-010")["details"][0]["message"]
    assert "RTP-Info seq=" in message, message
