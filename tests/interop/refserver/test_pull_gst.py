"""The ``refserver`` command pulls a camera served by GStreamer's gst-rtsp-server; ffprobe
reads the HLS it makes over HTTP.

gst-rtsp-server runs from ``benchmarks/peers/gst_cameras.py`` with the system Python (python3-gi
and its RTSP server bindings from Debian). It plays the file once, so the sample is long enough
for every segment the test looks at.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import time
from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path

import pytest

from tests.conftest import SampleFactory, in_ci
from tests.integration.camera.harness import free_ports
from tests.interop.refserver.conftest import RefserverProcess
from wire.hls import parse
from wire.hls.validate import check_playlist

pytestmark = pytest.mark.interop("gst-launch-1.0", "ffprobe")

SYSTEM_PYTHON = "/usr/bin/python3"
GST_CAMERAS = Path(__file__).resolve().parents[3] / "benchmarks" / "peers" / "gst_cameras.py"
SAMPLE_SECONDS = 12
SEGMENTS = 6
"""The fewest a live playlist should list (Apple's authoring rules)."""
FPS = 15


@pytest.fixture(scope="module", params=[0, 2], ids=["no-b-frames", "b-frames"])
def long_sample(make_test_sample: SampleFactory, request: pytest.FixtureRequest) -> Path:
    """1 s GOPs, so 1 s segments; long enough that gst-rtsp-server is still playing. With
    B-frames RTP carries presentation times out of decode order, and no decode times."""
    return make_test_sample(
        gop_seconds=Fraction(1), duration=Fraction(SAMPLE_SECONDS), bframes=request.param
    )


def gst_rtsp_server_missing() -> str | None:
    probe = (
        "import gi; gi.require_version('GstRtspServer', '1.0'); "
        "from gi.repository import GstRtspServer"
    )
    try:
        subprocess.run([SYSTEM_PYTHON, "-c", probe], check=True, capture_output=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return (
            f"{SYSTEM_PYTHON} cannot import GstRtspServer (python3-gi, gir1.2-gst-rtsp-server-1.0)"
        )
    return None


@pytest.fixture
def gst_camera(long_sample: Path) -> Iterator[str]:
    """``rtsp://127.0.0.1:PORT/cam1`` served by gst-rtsp-server."""
    missing = gst_rtsp_server_missing()
    if missing is not None:
        if in_ci():
            pytest.fail(f"CI=true and {missing}", pytrace=False)
        pytest.skip(missing)
    port = free_ports(1)
    command = [SYSTEM_PYTHON, str(GST_CAMERAS), str(long_sample), "1", str(port)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # "ready", or nothing when it failed
        if line.strip() != "ready":
            process.kill()
            _, errors = process.communicate(timeout=10)
            raise AssertionError(f"gst_cameras.py did not start: {line}{errors[-2000:]}")
        yield f"rtsp://127.0.0.1:{port}/cam1"
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


def ffprobe(url: str, *arguments: str) -> dict[str, object]:
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-of", "json", *arguments, url],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    parsed: dict[str, object] = json.loads(result.stdout)
    return parsed


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)


def test_refserver_pulls_gst_rtsp_server_and_ffprobe_reads_the_hls(
    gst_camera: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    refserver = RefserverProcess(
        tmp_path / "refserver", "--target-duration=1", f"--pull=gst={gst_camera}"
    )
    refserver.start()
    try:
        wait_for(
            lambda: (refserver.api("gst")["hls"] or {}).get("segments", 0) >= SEGMENTS,
            SAMPLE_SECONDS,
            f"{SEGMENTS} segments",
        )
        info = refserver.api("gst")
        assert info["live"] is True
        assert info["source"]["state"] == "playing"
        assert info["source"]["last_error"] is None
        assert info["publisher"]["protocol"] == "rtsp"
        assert info["tracks"]["video"] == "h264"
        assert info["tracks"]["audio"] == "mp4a.40.2"
        assert info["hls"]["discontinuities"] == 0

        status, body = refserver.get("/live/gst/index.m3u8")
        assert status == 200
        assert check_playlist(body) == []
        playlist = parse(body)
        assert len(playlist.segments) >= SEGMENTS

        probed = ffprobe(refserver.http_url("/live/gst/index.m3u8"), "-show_streams")
        streams = probed["streams"]
        assert isinstance(streams, list)
        assert sorted(str(s["codec_name"]) for s in streams) == ["aac", "h264"]
        video = next(s for s in streams if s["codec_type"] == "video")
        assert (video["width"], video["height"]) == (320, 240)

        # A whole segment, decoded: one second of pictures at 15 fps.
        segment = playlist.segments[1]
        counted = ffprobe(
            refserver.http_url(f"/live/gst/{segment.uri}"),
            "-count_frames",
            "-select_streams",
            "v",
            "-show_entries",
            "stream=nb_read_frames",
        )
        counted_streams = counted["streams"]
        assert isinstance(counted_streams, list)
        frames = int(counted_streams[0]["nb_read_frames"])
        assert abs(frames - round(segment.duration * FPS)) <= 1
        assert abs(segment.duration - 1.0) <= 0.1

        # FFmpeg's own reading of the timestamps: decode times rise, none after its picture's
        # presentation time; with B-frames the two differ.
        packets = ffprobe(
            refserver.http_url(f"/live/gst/{segment.uri}"),
            "-select_streams",
            "v",
            "-show_entries",
            "packet=pts,dts",
        )["packets"]
        assert isinstance(packets, list)
        dts = [int(p["dts"]) for p in packets]
        pts = [int(p["pts"]) for p in packets]
        assert all(a < b for a, b in itertools.pairwise(dts)), dts
        assert all(p >= d for p, d in zip(pts, dts, strict=True))
        assert (pts != dts) == (request.node.callspec.params["long_sample"] > 0)
    finally:
        assert refserver.stop() == 0
