"""nginx-rtmp, a server no one here wrote, ingests what ``camsim push`` sends and makes HLS of it;
ffprobe judges the HLS."""

from __future__ import annotations

import itertools
import json
import re
import time
from pathlib import Path

import pytest

from tests.integration.encoder.certs import ServerCertificate
from tests.interop.encoder.conftest import camsim_push, ffprobe, start_push
from tests.interop.encoder.nginx_rtmp import NginxRtmp

pytestmark = pytest.mark.interop("nginx", "ffprobe")

EXTINF = re.compile(r"#EXTINF:([0-9.]+),\s*\n(\S+)")


def segments(nginx: NginxRtmp, name: str) -> list[tuple[float, Path]]:
    playlist = nginx.hls_dir / f"{name}.m3u8"
    try:
        text = playlist.read_text()
    except FileNotFoundError:
        return []
    return [(float(d), nginx.hls_dir / uri) for d, uri in EXTINF.findall(text)]


def wait_for_segments(nginx: NginxRtmp, name: str, count: int, timeout: float = 15) -> float:
    """Wait until the playlist lists ``count`` segments; their total duration."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        listed = segments(nginx, name)
        if len(listed) >= count:
            return sum(d for d, _ in listed)
        time.sleep(0.1)
    raise AssertionError(f"{name}: fewer than {count} HLS segments after {timeout} s")


def check_segments(nginx: NginxRtmp, name: str) -> list[tuple[float, float]]:
    """Every segment has H.264 320x240 and AAC and follows the previous one without a gap;
    their (start, duration) in seconds."""
    timeline = []
    for _, path in segments(nginx, name):
        info = ffprobe(
            path, "-show_entries", "stream=codec_name,width,height:format=start_time,duration"
        )
        streams = info["streams"]
        assert isinstance(streams, list)
        assert [s["codec_name"] for s in streams] == ["h264", "aac"]
        assert (streams[0]["width"], streams[0]["height"]) == (320, 240)
        fmt = info["format"]
        assert isinstance(fmt, dict)
        timeline.append((float(fmt["start_time"]), float(fmt["duration"])))
    for (start, duration), (following, _) in itertools.pairwise(timeline):
        assert abs(start + duration - following) < 0.15, timeline
    return timeline


def assert_clean_log(nginx: NginxRtmp) -> None:
    log = nginx.error_log.read_text()
    assert "[error]" not in log, log
    assert "[crit]" not in log, log


@pytest.mark.parametrize("chunk_size", [128, 60000])
def test_hls_from_nginx_advances(nginx: NginxRtmp, sample_path: Path, chunk_size: int):
    process = start_push(
        nginx.rtmp_url("cam{n}"),
        "--streams", "3",
        "--media", str(sample_path),
        "--duration", "6",
        "--chunk-size", str(chunk_size),
        "--json",
    )  # fmt: skip
    try:
        first = wait_for_segments(nginx, "cam1", 2)
        later = wait_for_segments(nginx, "cam1", len(segments(nginx, "cam1")) + 2)
        assert later > first, "the HLS duration advances while camsim pushes"
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    streams = json.loads(out)["streams"]
    assert [s["state"] for s in streams] == ["done"] * 3
    for n in (1, 2, 3):
        timeline = check_segments(nginx, f"cam{n}")
        assert len(timeline) >= 4
    assert_clean_log(nginx)


def test_crossing_the_extended_timestamp_boundary(nginx: NginxRtmp, sample_path: Path):
    boundary_s = (1 << 24) / 1000
    result = camsim_push(
        nginx.rtmp_url("ext"),
        "--media", str(sample_path),
        "--duration", "6",
        "--start-timestamp", str((1 << 24) - 2500),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    timeline = check_segments(nginx, "ext")
    assert timeline[0][0] < boundary_s < timeline[-1][0], timeline
    assert sum(duration for _, duration in timeline) > 4
    assert_clean_log(nginx)


def test_rtmps_through_nginx_tls_proxy(
    nginx_tls: NginxRtmp, certificate: ServerCertificate, sample_path: Path
):
    result = camsim_push(
        nginx_tls.rtmps_url("secure", host="localhost"),
        "--media", str(sample_path),
        "--duration", "3",
        "--ca", str(certificate.ca),
        "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    (stream,) = json.loads(result.stdout)["streams"]
    assert stream["state"] == "done"
    assert stream["tls_handshake_ms"] > 0
    assert stream["video_frames"] >= 40
    wait_for_segments(nginx_tls, "secure", 1)


def test_rtmps_with_an_untrusted_certificate_fails_clearly(nginx_tls: NginxRtmp, sample_path: Path):
    url = nginx_tls.rtmps_url("secure", host="localhost")
    result = camsim_push(url, "--media", str(sample_path), "--duration", "3")
    assert result.returncode == 1
    assert (
        f"stream 1 ({url}): TLS certificate of localhost:{nginx_tls.rtmps_port} rejected: "
        "unable to get local issuer certificate"
    ) in result.stderr
    assert "Traceback" not in result.stderr
    assert segments(nginx_tls, "secure") == []


def test_duplicate_name_is_rejected_by_nginx(nginx: NginxRtmp, sample_path: Path):
    holder = start_push(nginx.rtmp_url("dup"), "--media", str(sample_path), "--duration", "6")
    try:
        wait_for_segments(nginx, "dup", 1)
        result = camsim_push(nginx.rtmp_url("dup"), "--media", str(sample_path))
    finally:
        holder.kill()
        holder.communicate()
    assert result.returncode == 1
    assert "publish rejected: NetStream.Publish.BadName: Already publishing" in result.stderr
