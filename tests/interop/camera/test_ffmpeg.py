"""FFmpeg, a client no one here wrote, pulls from camsim cameras and decodes what they send."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from camsim.camera.fleet import FleetConfig
from tests.integration.camera.harness import running_fleet

pytestmark = pytest.mark.interop("ffmpeg", "ffprobe")

SECONDS = 3


def probe(url: str, *options: str) -> list[dict[str, object]]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", *options, "-show_streams", "-of", "json", url],
        check=True,
        capture_output=True,
        text=True,
        timeout=30,
    )
    streams: list[dict[str, object]] = json.loads(out.stdout)["streams"]
    return streams


def decode(url: str, *options: str, seconds: int = SECONDS) -> tuple[dict[int, int], str]:
    """Decode ``seconds`` of media; returns decoded frames per stream and ffmpeg's errors."""
    out = subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-v",
            "error",
            *options,
            "-i",
            url,
            "-t",
            str(seconds),
            "-f",
            "framecrc",
            "-",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    frames: dict[int, int] = {}
    for line in out.stdout.splitlines():
        if line and not line.startswith("#"):
            stream = int(line.split(",")[0])
            frames[stream] = frames.get(stream, 0) + 1
    return frames, out.stderr


@pytest.mark.parametrize("transport", ["udp", "tcp", "http"])
def test_ffmpeg_decodes_h264_and_aac(sample: Path, transport: str) -> None:
    config = FleetConfig(cameras=2, media=(sample,))
    with running_fleet(config) as fleet:
        url = fleet.urls[1]
        streams = probe(url, "-rtsp_transport", transport)
        assert [(s["codec_name"], s.get("width")) for s in streams] == [
            ("h264", 320),
            ("aac", None),
        ]
        frames, errors = decode(url, "-rtsp_transport", transport)
        assert errors == ""
        assert frames[0] >= 15 * SECONDS - 2  # 15 fps
        assert frames[1] >= 46 * SECONDS  # 48 kHz / 1024 samples per frame


def test_ffmpeg_decodes_h265(h265_sample: Path) -> None:
    config = FleetConfig(cameras=1, media=(h265_sample,))
    with running_fleet(config) as fleet:
        url = fleet.urls[0]
        assert probe(url, "-rtsp_transport", "tcp")[0]["codec_name"] == "hevc"
        frames, errors = decode(url, "-rtsp_transport", "udp")
        assert errors == ""
        assert frames[0] >= 15 * SECONDS - 2


def test_ffmpeg_with_digest_auth(sample: Path) -> None:
    config = FleetConfig(cameras=1, media=(sample,), users=(("admin", "pa55"),))
    with running_fleet(config) as fleet:
        url = fleet.urls[0]
        refused = subprocess.run(
            ["ffprobe", "-v", "error", url], capture_output=True, text=True, timeout=30
        )
        assert refused.returncode != 0
        assert "401 Unauthorized" in refused.stderr
        with_credentials = url.replace("rtsp://", "rtsp://admin:pa55@")
        frames, errors = decode(with_credentials, "-rtsp_transport", "tcp")
        assert errors == ""
        assert frames[0] >= 15 * SECONDS - 2


def test_ffmpeg_over_rtsps(sample: Path) -> None:
    config = FleetConfig(cameras=1, media=(sample,), tls=True)
    with running_fleet(config) as fleet:
        url = fleet.urls[0]
        assert url.startswith("rtsps://")
        frames, errors = decode(url)
        assert errors == ""
        assert frames[0] >= 15 * SECONDS - 2


def test_fifty_clients_pull_fifty_cameras_at_once(sample: Path) -> None:
    """Fifty cameras, each pulled by one client: ffmpeg decoders over UDP and TCP, and the
    project's light consumers (no decoding) over UDP and TCP for the rest."""
    config = FleetConfig(cameras=50, media=(sample,))
    seconds = 6
    with running_fleet(config) as fleet:
        urls = fleet.urls
        decoders = [
            subprocess.Popen(
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
                    str(seconds - 2),
                    "-f",
                    "framecrc",
                    "-",
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for url, transport in zip(urls[:4], ["udp", "tcp", "udp", "tcp"], strict=True)
        ]
        consumers = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "benchmarks.rtsp_load",
                    "--seconds",
                    str(seconds),
                    "--transport",
                    transport,
                    *group,
                ],
                stdout=subprocess.PIPE,
                text=True,
            )
            for transport, group in (("udp", urls[4:27]), ("tcp", urls[27:]))
        ]
        results = [json.loads(c.communicate(timeout=60)[0]) for c in consumers]
        for result in results:
            assert result["failures"] == []
            assert result["receiving"] == result["clients"]
        assert sum(r["clients"] for r in results) == 46
        # Every consumer got about the sample's packet rate for the whole time.
        assert min(r["packets"] / r["clients"] for r in results) > seconds * 40
        for decoder in decoders:
            out, errors = decoder.communicate(timeout=60)
            assert decoder.returncode == 0, errors
            video_frames = sum(1 for line in out.splitlines() if line.startswith("0,"))
            assert video_frames >= 15 * (seconds - 2) - 2
        # No client lost a burst to a full buffer. (Pacing is measured by the benchmark, on a
        # machine not also running four decoders and the consumers.)
        status = fleet.fleet.status()
        assert status.dropped_bursts == 0
        assert status.packets >= sum(r["packets"] for r in results)
