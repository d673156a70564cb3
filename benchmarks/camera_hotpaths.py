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
framing); 10^6 divided by it is how many cameras a core could run. Without sockets it leaves
out the ``send`` system call and the kernel's TCP, so it is an upper bound on the live figure;
``--sockets`` gives every client a real loopback TCP connection, written with ``socket.send``
as asyncio's transport does when its buffer is empty, and drained between wake-ups outside the
measured time (the peer's side): the kernel's share is then counted as on a live camera, minus
the event loop's own overhead. The clock the cameras send by is that of a core of their own
(:class:`SimulatedLoop`), so the run also says how late they send there: the 99th percentile
of the send-time error and the share of packets over 5 ms late, the camera's own target, which
a shared machine does not blur. ``--profile`` prints the functions that hold the time (cProfile,
own time first)::

    python -m benchmarks.camera_hotpaths --cameras 200 --seconds 10
    python -m benchmarks.camera_hotpaths --cameras 200 --seconds 10 --sockets
    python -m benchmarks.camera_hotpaths --profile
    CAMSIM_NO_EXTENSIONS=1 python -m benchmarks.camera_hotpaths    # the pure-Python reference
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import socket
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from benchmarks.hotpaths import print_profile
from camsim.camera import device
from camsim.camera.device import Camera
from camsim.camera.fleet import GOLDEN_RATIO_FRACTION
from camsim.camera.plan import build_plan
from camsim.camera.scheduler import PacingStats, Scheduler
from camsim.camera.sender import InterleavedSink, RtpSender
from camsim.media.loader import load
from camsim.media.make import default_sample
from wire import speedups

LATE_AFTER = 0.005
"""A packet sent later than this after its due time is late: the target is p99 within it."""


class SimulatedLoop:
    """What the scheduler needs of an event loop, on a clock that jumps to each timer.

    The clock is that of a core of its own: during a wake-up it runs on by the CPU time the
    wake-up has used (:meth:`monotonic`, which the cameras read as the time they send at), and
    a timer due while the previous wake-up still ran fires when that one ends. The send-time
    errors the cameras record are then those of one dedicated core, whatever else the machine
    runs; the event loop's own overhead (polling, its timer heap) is left out.
    """

    def __init__(self) -> None:
        self.now = 0.0
        self._timer: tuple[float, Callable[[], object]] | None = None
        self.fired = 0
        self._busy_until = 0.0
        self._wake_cpu: float | None = None

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        """The clock during a wake-up: its start plus the CPU time used since."""
        if self._wake_cpu is None:
            return self.now
        return self.now + (time.process_time() - self._wake_cpu)

    @staticmethod
    def time_ns() -> int:
        return time.time_ns()  # the stamps' wallclock stays real

    def call_at(self, when: float, callback: Callable[[], object], /) -> SimulatedLoop:
        self._timer = (when, callback)  # the scheduler keeps one timer; the last one stands
        return self

    def cancel(self) -> None:
        self._timer = None

    def run_until(self, end: float, between: Callable[[], object] | None = None) -> float:
        """Fire timers until ``end``, calling ``between`` after each outside the measured time;
        returns the CPU seconds the timers took."""
        cpu = 0.0
        self.fired = 0
        while self._timer is not None and self._timer[0] < end:
            when, callback = self._timer
            self._timer = None
            self.now = max(self.now, when, self._busy_until)
            self._wake_cpu = started = time.process_time()
            callback()
            spent = time.process_time() - started
            self._wake_cpu = None
            self._busy_until = self.now + spent
            cpu += spent
            self.fired += 1
            if between is not None:
                between()
        return cpu


class SocketTransport:
    """The camera's side of a loopback TCP connection, written as asyncio's transport writes
    when nothing is queued: one ``send`` per write; what the kernel does not take is dropped
    and counted (the peer drains fast enough that it never is)."""

    def __init__(self, sock: socket.socket) -> None:
        sock.setblocking(False)
        self.sock = sock
        self.writes = 0
        self.octets = 0
        self.short = 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.writes += 1
        try:
            sent = self.sock.send(data)
        except BlockingIOError:
            sent = 0
        if sent < len(data):
            self.short += 1
        self.octets += sent

    def is_closing(self) -> bool:
        return False

    def get_write_buffer_size(self) -> int:
        return 0


class LoopbackPeers:
    """The clients' ends of the loopback connections, read until empty between wake-ups."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._readers: list[socket.socket] = []
        self._buffer = bytearray(1 << 20)

    def connect(self) -> socket.socket:
        """A new connection; returns the camera's end."""
        reader = socket.create_connection(self._listener.getsockname())
        reader.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
        reader.setblocking(False)
        self._readers.append(reader)
        camera_end, _ = self._listener.accept()
        return camera_end

    def drain(self) -> None:
        buffer = self._buffer
        for reader in self._readers:
            try:
                while reader.recv_into(buffer) == len(buffer):
                    pass
            except BlockingIOError:
                pass

    def close(self) -> None:
        for reader in self._readers:
            reader.close()
        self._listener.close()


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
    p99_error_ms: float
    late_fraction: float
    """Packets sent more than :data:`LATE_AFTER` after their due time, over all packets."""

    @property
    def us_per_camera_second(self) -> float:
        return self.cpu_seconds / (self.cameras * self.media_seconds) * 1e6

    def format(self) -> str:
        per_write = self.cpu_seconds / self.writes * 1e6 if self.writes else 0.0
        return (
            f"cameras ({self.implementation}): {self.us_per_camera_second:,.0f} µs of CPU per"
            f" second of one camera's media, {per_write:.2f} µs per write,"
            f" {self.cpu_seconds / self.packets * 1e9:.0f} ns per packet;"
            f" at most {1e6 / self.us_per_camera_second:,.0f} cameras per core;"
            f" on a core of their own {self.cpu_seconds / self.media_seconds * 100:.0f}% busy,"
            f" p99 send error {self.p99_error_ms:.1f} ms,"
            f" {self.late_fraction * 100:.2f}% of packets over {LATE_AFTER * 1000:g} ms late"
        )

    def to_json(self) -> dict[str, object]:
        return {**asdict(self), "us_per_camera_second": round(self.us_per_camera_second, 1)}


def fleet(
    cameras: int, loop: SimulatedLoop, pacing: PacingStats, peers: LoopbackPeers | None = None
) -> tuple[list[Camera], list[CountingTransport | SocketTransport]]:
    """``cameras`` cameras of the default sample, each played by one TCP client (over a
    loopback connection to ``peers`` when given)."""
    sample = load(default_sample())
    plan = build_plan(sample)
    scheduler = Scheduler(loop)  # type: ignore[arg-type]
    fleet: list[Camera] = []
    transports: list[CountingTransport | SocketTransport] = []
    for index in range(cameras):
        phase = (index * GOLDEN_RATIO_FRACTION) % 1.0 * plan.period_seconds
        camera = Camera(f"cam{index + 1}", f"/cam{index + 1}", sample, plan,
                        scheduler=scheduler, pacing=pacing, origin=-phase)  # fmt: skip
        transport = CountingTransport() if peers is None else SocketTransport(peers.connect())
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


def run(
    cameras: int, seconds: float, profile: pstats.Stats | None = None, sockets: bool = False
) -> Figures:
    loop = SimulatedLoop()
    pacing = PacingStats(LATE_AFTER)
    peers = LoopbackPeers() if sockets else None
    between = peers.drain if peers is not None else None
    # The cameras read the time they send at from their module's ``time``: the core's clock.
    clock = vars(device)["time"]
    vars(device)["time"] = loop
    try:
        fleet_cameras, transports = fleet(cameras, loop, pacing, peers)
        loop.run_until(1.0, between)  # every camera past its first keyframe
        pacing.reset()
        start = loop.now
        writes_before = sum(t.writes for t in transports)
        packets_before = sum(c.counters.packets for c in fleet_cameras)
        profiler = cProfile.Profile() if profile is not None else None
        if profiler is not None:
            profiler.enable()
        cpu = loop.run_until(start + seconds, between)
        if profiler is not None:
            profiler.disable()
        if profile is not None and profiler is not None:
            profile.add(profiler)
        short = sum(t.short for t in transports if isinstance(t, SocketTransport))
        if short:
            print(f"warning: {short} writes the kernel did not take whole")
    finally:
        vars(device)["time"] = clock
        if peers is not None:
            peers.close()
    return Figures(
        speedups.implementation() + (", loopback TCP" if sockets else ", no sockets"),
        cameras,
        seconds,
        loop.fired,
        sum(t.writes for t in transports) - writes_before,
        sum(c.counters.packets for c in fleet_cameras) - packets_before,
        cpu,
        round(pacing.percentile(0.99) * 1000, 2),
        round(pacing.late_packets / pacing.packets, 5) if pacing.packets else 0.0,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cameras", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=10, help="seconds of media")
    parser.add_argument("--profile", action="store_true", help="print cProfile's top functions")
    parser.add_argument("--limit", type=int, default=30, help="functions --profile prints")
    parser.add_argument("--sockets", action="store_true", help="write to loopback TCP connections")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    stats = pstats.Stats() if args.profile else None
    figures = run(args.cameras, args.seconds, stats, args.sockets)
    print(json.dumps(figures.to_json(), indent=2) if args.json else figures.format())
    if stats is not None:
        print(print_profile(stats, args.limit))


if __name__ == "__main__":
    main()
