"""``camsim push --streams 20`` into the ``refserver`` command: every stream packaged, with
per-frame latency measured from the SEI stamps camsim writes as it sends."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.interop.refserver.conftest import RefserverProcess
from wire.hls import parse
from wire.hls.validate import check_playlist, only_errors

STREAMS = 20


@pytest.mark.slow
def test_camsim_push_20_streams(refserver: RefserverProcess, sample_path: Path):
    url = f"rtmp://127.0.0.1:{refserver.ports['rtmp']}/live/cam{{n}}"
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "from camsim.cli import main; main()",
            "push",
            url,
            "--streams",
            str(STREAMS),
            "--duration",
            "6",
            "--media",
            str(sample_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr

    streams = refserver.api()["streams"]
    assert sorted(s["name"] for s in streams) == sorted(f"cam{n}" for n in range(1, STREAMS + 1))
    for stream in streams:
        name = stream["name"]
        assert stream["publishes"] == 1, name
        assert stream["frames"]["video"] >= 85, name  # 6 s at 15 fps, less start-up jitter
        latency = stream["latency"]
        assert latency["samples"] == stream["frames"]["video"], name
        assert 0 <= latency["p50"] <= latency["p95"] <= latency["p99"] < 1.0, name
        status, body = refserver.get(f"/live/{name}/index.m3u8")
        assert status == 200, name
        assert only_errors(check_playlist(body)) == [], name
        assert len(parse(body).segments) >= 5, name
