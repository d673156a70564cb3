"""FFmpeg listening as an RTMP server decodes every frame ``camsim push`` sends."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.interop.encoder.conftest import camsim_push, wait_listening
from tests.interop.encoder.nginx_rtmp import free_port

pytestmark = pytest.mark.interop("ffmpeg")


def test_ffmpeg_server_decodes_every_frame(sample_path: Path):
    port = free_port()
    listener = subprocess.Popen(
        [
            *("ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error"),
            *("-listen", "1", "-timeout", "20", "-i", f"rtmp://127.0.0.1:{port}/live/cam"),
            *("-map", "0:v", "-f", "framecrc", "-"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_listening(port)
        result = camsim_push(
            f"rtmp://127.0.0.1:{port}/live/cam",
            "--media", str(sample_path),
            "--duration", "3",
            "--json",
        )  # fmt: skip
        out, err = listener.communicate(timeout=30)
    finally:
        if listener.poll() is None:
            listener.kill()
            listener.communicate()
    assert result.returncode == 0, result.stderr
    (stream,) = json.loads(result.stdout)["streams"]
    decoded = [line for line in out.splitlines() if line and not line.startswith("#")]
    assert stream["video_frames"] >= 40  # 3 s at 15 fps, less the connect time
    assert len(decoded) == stream["video_frames"], err
