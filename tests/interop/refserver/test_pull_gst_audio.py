"""The ``refserver`` command pulls gst-rtsp-server cameras that send G.711 (PCMU, PCMA) or Opus
beside H.264; their HLS carries the audio as AAC LC, which ffprobe reads and FFmpeg's decoder
plays back as the camera's 1 kHz tone.

The cameras are ``gst_audio_cameras.py`` run with the system Python (python3-gi and the
gst-rtsp-server bindings from Debian), GStreamer's own payloaders on the wire.
"""

from __future__ import annotations

import functools
import io
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
import pytest

from tests.conftest import in_ci
from tests.integration.camera.harness import free_ports
from tests.interop.refserver.conftest import RefserverProcess
from tests.interop.refserver.test_pull_gst import SYSTEM_PYTHON, gst_rtsp_server_missing, wait_for
from wire.hls import parse

pytestmark = pytest.mark.interop("gst-launch-1.0", "ffprobe")

GST_AUDIO_CAMERAS = Path(__file__).with_name("gst_audio_cameras.py")
CAMERAS = {"pcmu": 8000, "pcma": 8000, "opus": 48000}
"""Mount, and the sample rate of the AAC it becomes (the RTP clock of its codec)."""
SEGMENTS = 4


@pytest.fixture
def gst_audio_cameras() -> Iterator[int]:
    """The port of gst-rtsp-server serving /pcmu, /pcma and /opus."""
    missing = gst_rtsp_server_missing()
    if missing is not None:
        if in_ci():
            pytest.fail(f"CI=true and {missing}", pytrace=False)
        pytest.skip(missing)
    port = free_ports(1)
    command = [SYSTEM_PYTHON, str(GST_AUDIO_CAMERAS), str(port)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if line.strip() != "ready":
            process.kill()
            _, errors = process.communicate(timeout=10)
            raise AssertionError(f"gst_audio_cameras.py did not start: {line}{errors[-2000:]}")
        yield port
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


def audio_of(segment: bytes) -> tuple[int, np.ndarray]:
    """The AAC of a TS segment decoded by FFmpeg: its sample rate and its first channel."""
    pieces: list[np.ndarray] = []
    with av.open(io.BytesIO(segment), mode="r", format="mpegts") as container:
        stream = container.streams.audio[0]
        rate = stream.codec_context.sample_rate
        pieces += [frame.to_ndarray()[0] for frame in container.decode(stream)]
    return rate, np.concatenate(pieces)


def test_g711_and_opus_cameras_play_as_aac(gst_audio_cameras: int, tmp_path: Path) -> None:
    pulls = [f"--pull={name}=rtsp://127.0.0.1:{gst_audio_cameras}/{name}" for name in CAMERAS]
    refserver = RefserverProcess(tmp_path / "refserver", "--target-duration=1", *pulls)
    refserver.start()
    try:

        def enough(name: str) -> bool:
            return int((refserver.api(name)["hls"] or {}).get("segments", 0)) >= SEGMENTS

        for name in CAMERAS:
            wait_for(functools.partial(enough, name), 30, f"{SEGMENTS} segments of {name}")
        for name, rate in CAMERAS.items():
            info = refserver.api(name)
            assert info["tracks"] == {"video": "h264", "audio": "mp4a.40.2", "audio_left_out": None}
            assert info["source"]["tracks_left_out"] == []
            assert info["hls"]["discontinuities"] == 0

            url = refserver.http_url(f"/live/{name}/index.m3u8")
            probed = subprocess.run(
                ["ffprobe", "-v", "error", "-of", "json", "-show_streams", url],
                capture_output=True,
                text=True,
                timeout=60,
                check=True,
            )
            streams = json.loads(probed.stdout)["streams"]
            audio = next(s for s in streams if s["codec_type"] == "audio")
            assert (audio["codec_name"], audio["profile"], int(audio["sample_rate"])) == (
                "aac",
                "LC",
                rate,
            )

            status, body = refserver.get(f"/live/{name}/index.m3u8")
            assert status == 200
            segment = parse(body).segments[-1]
            status, data = refserver.get(f"/live/{name}/{segment.uri}")
            assert status == 200
            decoded_rate, samples = audio_of(data)
            assert decoded_rate == rate
            assert abs(len(samples) / rate - segment.duration) <= 0.3
            spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
            assert abs(np.argmax(spectrum) * rate / len(samples) - 1000) <= 10
    finally:
        assert refserver.stop() == 0
