"""GStreamer's rtspsrc pulls from a camsim camera and decodes video and audio."""

from __future__ import annotations

import re
import signal
import subprocess
from pathlib import Path

import pytest

from camsim.camera.fleet import FleetConfig
from tests.integration.camera.harness import running_fleet

pytestmark = pytest.mark.interop("gst-launch-1.0")

SECONDS = 5


def pull(url: str, protocols: str) -> tuple[int, int, str]:
    """Run rtspsrc for a while; returns decoded video and audio buffers, and stderr."""
    pipeline = (
        f"rtspsrc location={url} protocols={protocols} latency=200 name=src "
        "src. ! rtph264depay ! h264parse ! avdec_h264 ! fakesink name=video silent=false "
        "src. ! rtpmp4gdepay ! aacparse ! avdec_aac ! fakesink name=audio silent=false"
    )
    process = subprocess.Popen(
        ["gst-launch-1.0", "-v", "-e", *pipeline.split()],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        out, err = process.communicate(timeout=SECONDS)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGINT)  # -e: EOS, then a clean exit
        out, err = process.communicate(timeout=20)
    video = len(re.findall(r"GstFakeSink:video: last-message = chain", out))
    audio = len(re.findall(r"GstFakeSink:audio: last-message = chain", out))
    return video, audio, err


@pytest.mark.parametrize("protocols", ["tcp", "udp"])
def test_rtspsrc_decodes_video_and_audio(sample: Path, protocols: str) -> None:
    with running_fleet(FleetConfig(cameras=1, media=(sample,))) as fleet:
        video, audio, errors = pull(fleet.urls[0], protocols)
    assert "ERROR" not in errors
    # 15 fps and ~47 AAC frames a second, less the time to set up and the jitter buffer.
    assert video >= 15 * (SECONDS - 3)
    assert audio >= 46 * (SECONDS - 3)
