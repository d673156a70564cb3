"""Where a camera fleet's CPU goes, measured without sockets: the send path in one process.

:mod:`benchmarks.camera_vs_gst` says how many cameras one camsim core sustains beside
gst-rtsp-server; this one says which functions hold the time, so a change to the camera's hot
path is measured on its own, with no peer, socket, or kernel time: N cameras of the default
sample (720p30 H.264 at 2 Mbit/s and AAC) run on the fleet's real
:class:`~camsim.camera.scheduler.Scheduler` driven by a simulated clock, each with one client
pulling every track over TCP (interleaved :class:`~camsim.camera.sender.InterleavedSink` on a
transport that only counts the bytes). Cameras start at spread-out phases as the fleet starts
them.

The figure is CPU microseconds per second of one camera's media (scheduler, camera, sender,
framing; not the ``send`` system call nor the kernel's TCP); 10^6 divided by it is how many
cameras a core could run if the sockets were free, an upper bound on the live figure.
``--profile`` prints the functions that hold the time (cProfile, own time first)::

    python -m benchmarks.camera_hotpaths --cameras 200 --seconds 10
    python -m benchmarks.camera_hotpaths --profile
    CAMSIM_NO_EXTENSIONS=1 python -m benchmarks.camera_hotpaths    # the pure-Python reference
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from camsim.camera.device import Camera
from camsim.camera.fleet import GOLDEN_RATIO_FRACTION
from camsim.camera.plan import build_plan
from camsim.camera.scheduler import PacingStats, Scheduler
from camsim.camera.sender import InterleavedSink, RtpSender
from camsim.media.loader import load
from camsim.media.make import default_sample
from wire import speedups


class SimulatedLoop:
    """What the scheduler needs of an event loop, on a clock that jumps to each timer."""

    def __init__(self) -> None:
        self.now = 0.0
        self._timer: tuple[float, Callable[[], object]] | None = None

    def time(self) -> float:
        return self.now

    def call_at(self, when: float, callback: Callable[[], object], /) -> SimulatedLoop:
        self._timer = (when, callback)  # the scheduler keeps one timer; the last one stands
        return self

    def cancel(self) -> None:
        self._timer = None

    def run_until(self, end: float) -> int:
        """Fire timers until ``end``; returns how many fired."""
        fired = 0
        while self._timer is not None and self._timer[0] < end:
            when, callback = self._timer
            self._timer = None
            self.now = max(self.now, when)
            callback()
            fired += 1
        return fired


class CountingTransport:
    """An RTSP connection's transport that takes everything and keeps only the count."""

    def __init__(self) -> None:
        self.writes = 0
        self.octets = 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.writes += 1
        self.octets += len(data)

    def is_closing(self) -> bool:
        return False

    def get_write_buffer_size(self) -> int:
        return 0


@dataclass
class Figures:
    implementation: str
    cameras: int
    media_seconds: float
    wakeups: int
    writes: int
    packets: int
    cpu_seconds: float

    @property
    def us_per_camera_second(self) -> float:
        return self.cpu_seconds / (self.cameras * self.media_seconds) * 1e6

    def format(self) -> str:
        per_write = self.cpu_seconds / self.writes * 1e6 if self.writes else 0.0
        return (
            f"cameras ({self.implementation}): {self.us_per_camera_second:,.0f} µs of CPU per"
            f" second of one camera's media, {per_write:.2f} µs per write,"
            f" {self.cpu_seconds / self.packets * 1e9:.0f} ns per packet;"
            f" at most {1e6 / self.us_per_camera_second:,.0f} cameras per core without sockets"
        )

    def to_json(self) -> dict[str, object]:
        return {**asdict(self), "us_per_camera_second": round(self.us_per_camera_second, 1)}


def fleet(cameras: int, loop: SimulatedLoop) -> tuple[list[Camera], list[CountingTransport]]:
    """``cameras`` cameras of the default sample, each played by one TCP client."""
    sample = load(default_sample())
    plan = build_plan(sample)
    scheduler = Scheduler(loop)  # type: ignore[arg-type]
    pacing = PacingStats()
    fleet, transports = [], []
    for index in range(cameras):
        phase = (index * GOLDEN_RATIO_FRACTION) % 1.0 * plan.period_seconds
        camera = Camera(f"cam{index + 1}", f"/cam{index + 1}", sample, plan,
                        scheduler=scheduler, pacing=pacing, origin=-phase)  # fmt: skip
        transport = CountingTransport()
        senders = [
            RtpSender(
                track,
                plan.tracks[track].clock_rate,
                0x1000 + index,
                InterleavedSink(transport, 2 * track, 2 * track + 1),
                first_sequence=index * 7,
                timestamp_offset=index * 90_000,
                cname=camera.name,
            )
            for track in range(len(plan.tracks))
        ]
        camera.subscribe(senders, loop.now)
        fleet.append(camera)
        transports.append(transport)
    return fleet, transports


def run(cameras: int, seconds: float, profile: pstats.Stats | None = None) -> Figures:
    loop = SimulatedLoop()
    fleet_cameras, transports = fleet(cameras, loop)
    loop.run_until(1.0)  # every camera past its first keyframe
    start = loop.now
    writes_before = sum(t.writes for t in transports)
    packets_before = sum(c.counters.packets for c in fleet_cameras)
    profiler = cProfile.Profile() if profile is not None else None
    cpu = time.process_time()
    if profiler is not None:
        profiler.enable()
    wakeups = loop.run_until(start + seconds)
    if profiler is not None:
        profiler.disable()
    cpu = time.process_time() - cpu
    if profile is not None and profiler is not None:
        profile.add(profiler)
    return Figures(
        speedups.implementation(),
        cameras,
        seconds,
        wakeups,
        sum(t.writes for t in transports) - writes_before,
        sum(c.counters.packets for c in fleet_cameras) - packets_before,
        cpu,
    )


def print_profile(stats: pstats.Stats, limit: int) -> str:
    out = io.StringIO()
    stats.stream = out  # type: ignore[attr-defined]
    stats.strip_dirs().sort_stats("tottime").print_stats(limit)
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cameras", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=10, help="seconds of media")
    parser.add_argument("--profile", action="store_true", help="print cProfile's top functions")
    parser.add_argument("--limit", type=int, default=30, help="functions --profile prints")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    stats = pstats.Stats() if args.profile else None
    figures = run(args.cameras, args.seconds, stats)
    print(json.dumps(figures.to_json(), indent=2) if args.json else figures.format())
    if stats is not None:
        print(print_profile(stats, args.limit))


if __name__ == "__main__":
    main()
