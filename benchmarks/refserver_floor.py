"""The floor under refserver's CPU, against the same peers as its two benchmarks, in one run.

refserver runs as :mod:`benchmarks.discarding`: its own sockets, event loop and session set-up,
with every byte of media read and dropped unparsed. Whatever refserver does with the media costs
more than this, so the floor says how much of a CPU target is left for all of that work:

- ``rtmp``: N FFmpeg pushes of the default sample, each teed to nginx-rtmp (which does all its
  work: HLS included) and to the discarding refserver; the target is 2x the nginx worker.
- ``pull``: one camsim fleet of N cameras, pulled over TCP by the discarding refserver, then by N
  ``ffmpeg -rtsp_transport tcp -i URL -c copy -f hls`` processes; the target is 1x FFmpeg.

    python -m benchmarks.refserver_floor rtmp --streams 20 --seconds 60 [--loop uvloop]
    python -m benchmarks.refserver_floor pull --cameras 50 --seconds 60
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from benchmarks.camera_vs_gst import camsim_server
from benchmarks.refserver_pull_vs_ffmpeg import (
    PlaylistWatch,
    ffmpeg_pulling,
    kill_children,
    observe,
    refserver_pulling,
)
from benchmarks.refserver_vs_nginx import (
    SEGMENT_SECONDS,
    cpu_seconds,
    event_loop_of,
    push,
    refserver_process,
)
from camsim.media.make import default_sample
from tests.integration.camera.harness import free_ports
from tests.interop.encoder.nginx_rtmp import NginxRtmp
from wire.asyncio.loops import DEFAULT_LOOP, LOOP_CHOICES

DISCARDING = (sys.executable, "-m", "benchmarks.discarding")
TARGETS = {"rtmp": 2.0, "pull": 1.0}
"""refserver's CPU at most this many times the peer's (issue targets, kept with the benchmarks)."""
MAX_STREAMS = 200
MAX_SECONDS = 3600.0
START_SECONDS = 30.0


@dataclass(frozen=True)
class Floor:
    mode: str
    streams: int
    seconds: float
    floor_percent: float
    """The discarding refserver's CPU, % of one core."""
    peer: str
    peer_percent: float
    loop: str = "asyncio"
    """The event loop the discarding refserver ran, as its log said."""

    @property
    def target_percent(self) -> float:
        return TARGETS[self.mode] * self.peer_percent

    @property
    def left_ms_per_stream_second(self) -> float:
        """What the target leaves, once the floor is paid, for all media work on one stream:
        milliseconds of CPU per second of media (negative: the floor alone misses it)."""
        return (self.target_percent - self.floor_percent) * 10 / self.streams

    def format(self) -> str:
        return "\n".join(
            [
                f"refserver floor ({self.mode}, {self.streams} streams, {self.seconds:.0f} s, "
                f"{self.loop}):",
                f"  refserver reading and dropping the media: {self.floor_percent:.1f} % of a core",
                f"  {self.peer} doing all its work: {self.peer_percent:.1f} % of a core",
                f"  target {TARGETS[self.mode]:g}x {self.peer}: {self.target_percent:.1f} %",
                "  left for parsing and packaging: "
                f"{self.left_ms_per_stream_second:.2f} ms of CPU per stream per second",
            ]
        )


def rtmp_floor(streams: int, seconds: float, warmup: float, loop: str = DEFAULT_LOOP) -> Floor:
    """Both servers take the same teed pushes; CPU over ``seconds`` after ``warmup``; ``loop``
    is refserver's ``--loop``."""
    sample = default_sample()
    with tempfile.TemporaryDirectory(prefix="refserver-floor-") as temp:
        folder = Path(temp)
        (folder / "refserver").mkdir()
        with (
            NginxRtmp(folder / "nginx", hls_fragment=SEGMENT_SECONDS) as nginx,
            refserver_process(folder / "refserver", program=DISCARDING, loop=loop) as (
                refserver,
                ports,
            ),
        ):
            assert nginx.process is not None
            names = [f"floor{n}" for n in range(1, streams + 1)]
            urls = [f"rtmp://127.0.0.1:{ports['rtmp']}/live/{name}" for name in names]
            pushers = [
                push(sample, [url, nginx.rtmp_url(name)], warmup + seconds + 2)
                for name, url in zip(names, urls, strict=True)
            ]
            try:
                time.sleep(warmup)
                _require_publishing(folder / "refserver" / "refserver.log", streams)
                pids = {"refserver": refserver.pid, "nginx": nginx.process.pid}
                before = {name: cpu_seconds(pid) for name, pid in pids.items()}
                began = time.monotonic()
                time.sleep(seconds)
                elapsed = time.monotonic() - began
                used = {name: cpu_seconds(pid) - before[name] for name, pid in pids.items()}
                if any(pusher.poll() is not None for pusher in pushers):
                    raise RuntimeError("an FFmpeg push ended during the measurement")
                ran_on = event_loop_of(folder / "refserver" / "refserver.log")
            finally:
                for pusher in pushers:
                    pusher.kill()
                    pusher.wait(10)
    return Floor(
        "rtmp",
        streams,
        round(elapsed, 1),
        round(used["refserver"] * 100 / elapsed, 2),
        "nginx-rtmp worker",
        round(used["nginx"] * 100 / elapsed, 2),
        ran_on,
    )


def _require_publishing(log: Path, streams: int) -> None:
    started = sum(1 for line in log.read_text().splitlines() if '"publish started"' in line)
    if started != streams:
        raise RuntimeError(f"{started} of {streams} pushes publish to refserver")


def pull_floor(cameras: int, seconds: float, warmup: float, loop: str = DEFAULT_LOOP) -> Floor:
    """The discarding refserver, then the FFmpeg processes, on one fleet."""
    port = free_ports(1)
    urls = [f"rtsp://127.0.0.1:{port}/cam{n}" for n in range(1, cameras + 1)]
    names = [url.rpartition("/")[2] for url in urls]
    fleet = camsim_server(default_sample(), cameras, port)
    try:
        with tempfile.TemporaryDirectory(prefix="refserver-floor-") as temp:
            folder = Path(temp)
            with refserver_pulling(folder / "refserver", urls, DISCARDING, loop) as refserver:
                _require_playing(folder / "refserver" / "refserver.log", cameras)
                time.sleep(warmup)
                before = cpu_seconds(refserver.pid)
                began = time.monotonic()
                time.sleep(seconds)
                elapsed = time.monotonic() - began
                ours = cpu_seconds(refserver.pid) - before
                if refserver.poll() is not None:
                    raise RuntimeError(f"refserver exited with {refserver.returncode}")
                ran_on = event_loop_of(folder / "refserver" / "refserver.log")
            with ffmpeg_pulling(folder / "ffmpeg", urls) as processes:
                watches = [PlaylistWatch(n, folder / "ffmpeg" / n / "index.m3u8") for n in names]
                phase = observe("ffmpeg", [p.pid for p in processes], fleet, watches, warmup,
                                seconds)  # fmt: skip
                if phase.behind():
                    raise RuntimeError(f"{len(phase.behind())} FFmpeg playlists fell behind")
    finally:
        fleet.stop()
    return Floor(
        "pull",
        cameras,
        round(elapsed, 1),
        round(ours * 100 / elapsed, 2),
        f"{cameras} FFmpeg processes",
        round(phase.core_percent, 2),
        ran_on,
    )


def _require_playing(log: Path, cameras: int) -> None:
    """Every camera's session plays (bounded): otherwise the floor would be too low."""
    deadline = time.monotonic() + START_SECONDS
    while True:
        text = log.read_text()
        playing = sum(1 for line in text.splitlines() if '"pull started"' in line)
        if playing >= cameras:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{playing} of {cameras} cameras play: {text[-1000:]}")
        time.sleep(0.25)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("mode", choices=sorted(TARGETS))
    parser.add_argument("--streams", "--cameras", type=int, default=None)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--warmup", type=float, default=10.0)
    parser.add_argument(
        "--loop", choices=LOOP_CHOICES, default=DEFAULT_LOOP, help="refserver --loop"
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    streams = args.streams or (20 if args.mode == "rtmp" else 50)
    if not 1 <= streams <= MAX_STREAMS or not 0 < args.seconds <= MAX_SECONDS:
        parser.error(f"streams within 1..{MAX_STREAMS}, seconds within 0..{MAX_SECONDS:g}")
    if not 0 <= args.warmup <= MAX_SECONDS:
        parser.error(f"warmup within 0..{MAX_SECONDS:g}")
    try:
        measure = rtmp_floor if args.mode == "rtmp" else pull_floor
        floor = measure(streams, args.seconds, args.warmup, args.loop)
    finally:
        kill_children()
    print(json.dumps(asdict(floor)) if args.json else floor.format())
    return 0


if __name__ == "__main__":
    sys.exit(main())
