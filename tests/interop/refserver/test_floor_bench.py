"""The floor benchmark: refserver with its media dropped unparsed, against the same peers.

The long runs are ``-m bench``; the arithmetic the verdict rests on and the discarding
refserver's entry point are checked by default.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from benchmarks.refserver_floor import DISCARDING, TARGETS, Floor, pull_floor, rtmp_floor


def test_what_the_target_leaves_per_stream() -> None:
    floor = Floor("rtmp", 20, 60.0, floor_percent=6.0, peer="nginx", peer_percent=5.5)
    assert floor.target_percent == pytest.approx(11.0)
    # 5 % of a core over 20 streams: 2.5 ms of CPU per stream per second of media.
    assert floor.left_ms_per_stream_second == pytest.approx(2.5)
    missed = Floor("pull", 50, 60.0, floor_percent=40.0, peer="ffmpeg", peer_percent=36.0)
    assert missed.left_ms_per_stream_second == pytest.approx(-0.8)
    assert "-0.80 ms" in missed.format()
    assert TARGETS == {"rtmp": 2.0, "pull": 1.0}


def test_the_discarding_refserver_is_refserver() -> None:
    """The patched entry point starts refserver's own command line."""
    shown = subprocess.run(
        [*DISCARDING, "--help"], capture_output=True, text=True, timeout=60, check=True
    )
    assert "--pull" in shown.stdout
    assert "--merge-reads" in shown.stdout


def test_the_patches_replace_the_media_paths() -> None:
    code = (
        "import benchmarks.discarding as d;"
        "from refserver.ingest.session import RtmpSession;"
        "from refserver.pull.attempt import PullAttempt;"
        "assert RtmpSession.data_received is d._drop_published;"
        "assert PullAttempt._received is d._drop_played"
    )
    subprocess.run([sys.executable, "-c", code], timeout=60, check=True)


@pytest.mark.bench
@pytest.mark.interop("ffmpeg", "nginx")
def test_rtmp_floor_is_measured_against_nginx() -> None:
    floor = rtmp_floor(streams=20, seconds=30, warmup=8)
    print(floor.format())
    assert floor.floor_percent > 0
    assert floor.peer_percent > 0


@pytest.mark.bench
@pytest.mark.interop("ffmpeg")
def test_pull_floor_is_measured_against_ffmpeg() -> None:
    floor = pull_floor(cameras=50, seconds=30, warmup=8)
    print(floor.format())
    assert floor.floor_percent > 0
    assert floor.peer_percent > 0
