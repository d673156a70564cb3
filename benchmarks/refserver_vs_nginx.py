"""refserver against nginx-rtmp: CPU, HLS latency and memory for the same FFmpeg pushes.

Each of N ``ffmpeg -re -stream_loop -1 -c copy`` processes pushes the default sample to both
servers at once through FFmpeg's ``tee`` muxer, so both receive exactly the same bytes at the
same moments. Both package 2 s segments (the sample's GOP is 2 s)::

    python -m benchmarks.refserver_vs_nginx --streams 20 --seconds 60 [--merge-reads]
        [--loop auto|asyncio|uvloop] [--rounds N]

``--rounds N`` runs the whole measurement N times, each with fresh servers and pushes, prints
every round and then the median of the rounds' CPU ratios: one 60 s window moves by about a
tenth of the ratio from one run to the next on a shared machine, which is as much as most
single changes are worth.

``--loop`` is refserver's own flag (which event loop it runs); the loop it said it runs is in
the report.

CPU: utime + stime from ``/proc/<pid>/stat`` over the measured window (after a warm-up), of the
refserver process and of the nginx process (run without a master, so it is the worker).

HLS latency: each server's playlist files are read from disk every 50 ms (which costs the servers
nothing); when a segment is first listed, its last video frame is found through the SEI stamp's
frame index, and the latency is the listing time minus when FFmpeg sent that frame (its launch
time plus the frame's media time, as ``-re`` paces). FFmpeg's start-up delay is in both figures
alike. The first frame's latency (which includes the segment's own duration) is reported too.

Memory: the refserver's RSS, sampled once a second over the measured window: at its start and
end, the least and most after the first minute (or the first half of a shorter window), and the
slope of a least-squares line through those later samples in MB per minute
(:mod:`benchmarks.memory`): the figure that tells a server still warming up from one that leaks.

Loop lag: refserver runs under :mod:`benchmarks.loopstall`, a callback every 10 ms in its event
loop measuring its own lateness; the longest stall and the p99 lateness over the measured window
are reported, beside those of an idle probed loop run alongside (the machine's own share).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path

from benchmarks.loopstall import LoopLag, idle_peer, probed, summarise
from benchmarks.memory import Rss
from camsim.media.make import default_sample
from camsim.media.spec import DEFAULT_SPEC
from tests.interop.encoder.nginx_rtmp import NginxRtmp
from wire.asyncio.loops import DEFAULT_LOOP, LOOP_CHOICES
from wire.codec.stamp import Stamp, find_stamp

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
POLL_SECONDS = 0.05
SEGMENT_SECONDS = 2
TS_PACKET_SIZE = 188
REFSERVER = (sys.executable, "-c", "from refserver.cli import main; main()")
CPU_RATIO_TARGET = 1.5
"""refserver's CPU over the nginx-rtmp worker's for the same pushes, at most."""
MAX_ROUNDS = 10


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, all threads, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def rss_bytes(pid: int) -> int:
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_SIZE


@dataclass
class Latencies:
    """Seconds from FFmpeg sending a frame to the segment holding it being listed."""

    last_frame: list[float] = field(default_factory=list)
    first_frame: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, float | int | None]:
        def pct(values: list[float], q: float) -> float | None:
            if not values:
                return None
            ordered = sorted(values)
            return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)

        return {
            "segments": len(self.last_frame),
            "last_frame_p50": pct(self.last_frame, 0.5),
            "last_frame_p95": pct(self.last_frame, 0.95),
            "last_frame_mean": round(statistics.fmean(self.last_frame), 3)
            if self.last_frame
            else None,
            "first_frame_p50": pct(self.first_frame, 0.5),
        }


@dataclass(frozen=True)
class ServerResult:
    name: str
    cpu_seconds: float
    seconds: float
    latency: dict[str, float | int | None]
    rss: Rss | None = None

    @property
    def core_percent(self) -> float:
        return 100 * self.cpu_seconds / self.seconds


@dataclass(frozen=True)
class Result:
    streams: int
    seconds: float
    refserver: ServerResult
    nginx: ServerResult
    loop_lag: dict[str, LoopLag] | None = None
    """refserver's event loop and an idle loop alongside: lateness of a 10 ms probe."""
    loop: str = "asyncio"
    """The event loop refserver ran, as its log said."""

    @property
    def cpu_ratio(self) -> float:
        return self.refserver.cpu_seconds / max(self.nginx.cpu_seconds, 1e-9)

    def to_json(self) -> dict[str, object]:
        return {
            "streams": self.streams,
            "seconds": self.seconds,
            "cpu_ratio": round(self.cpu_ratio, 2),
            "loop": self.loop,
            "refserver": asdict(self.refserver) | {"core_percent": self.refserver.core_percent},
            "nginx": asdict(self.nginx) | {"core_percent": self.nginx.core_percent},
            "loop_lag": {k: v.to_json() for k, v in (self.loop_lag or {}).items()},
        }

    def format(self) -> str:
        lines = [f"{self.streams} streams, {self.seconds:.0f} s measured, refserver on {self.loop}"]
        for server in (self.refserver, self.nginx):
            lat = server.latency
            lines.append(
                f"  {server.name:<9} CPU {server.core_percent:5.1f}% of a core   "
                f"HLS latency (last frame) p50 {lat['last_frame_p50']} s "
                f"p95 {lat['last_frame_p95']} s   (first frame p50 {lat['first_frame_p50']} s, "
                f"{lat['segments']} segments)"
            )
        lines.append(f"  CPU refserver / nginx: {self.cpu_ratio:.2f}")
        if self.refserver.rss is not None:
            lines.append(f"  refserver RSS MB: {self.refserver.rss.format()}")
        for name, lag in (self.loop_lag or {}).items():
            lines.append(
                f"  {name} loop lag: longest stall {lag.max_ms} ms, p99 {lag.p99_ms} ms, "
                f"p50 {lag.p50_ms} ms ({lag.probes} probes)"
            )
        return "\n".join(lines)


@dataclass(frozen=True)
class Rounds:
    """The results of ``--rounds``: each round's, and the verdict on their median ratio."""

    results: tuple[Result, ...]

    @property
    def cpu_ratios(self) -> list[float]:
        return [round(result.cpu_ratio, 2) for result in self.results]

    @property
    def cpu_ratio(self) -> float:
        return statistics.median(self.cpu_ratios)

    @property
    def latency_behind(self) -> list[float | None]:
        """Seconds refserver's HLS latency p50 is behind nginx-rtmp's, by round (negative:
        ahead), None where a server listed no segment."""
        behind: list[float | None] = []
        for result in self.results:
            ours = result.refserver.latency["last_frame_p50"]
            theirs = result.nginx.latency["last_frame_p50"]
            if ours is None or theirs is None:
                behind.append(None)
            else:
                behind.append(round(ours - theirs, 3))
        return behind

    def to_json(self) -> dict[str, object]:
        return {
            "rounds": [result.to_json() for result in self.results],
            "cpu_ratios": self.cpu_ratios,
            "cpu_ratio_median": self.cpu_ratio,
            "latency_p50_behind": self.latency_behind,
            "target": CPU_RATIO_TARGET,
        }

    def format(self) -> str:
        lines = []
        for number, result in enumerate(self.results, 1):
            lines += [f"round {number}: " + result.format()]
        ratios = ", ".join(f"{ratio:.2f}" for ratio in self.cpu_ratios)
        behind = ", ".join("-" if b is None else f"{1000 * b:+.0f}" for b in self.latency_behind)
        verdict = "met" if self.cpu_ratio <= CPU_RATIO_TARGET else "missed"
        lines.append(
            f"CPU refserver / nginx: {ratios} by round, median {self.cpu_ratio:.2f} "
            f"(target <= {CPU_RATIO_TARGET:g}: {verdict}); HLS latency p50 behind nginx-rtmp "
            f"by round (ms): {behind}"
        )
        return "\n".join(lines)


class PlaylistWatcher:
    """Notices newly listed segments in one stream's playlist file on disk.

    :meth:`poll` only reads the playlist and notes when each segment first showed; the
    segments are opened afterwards by :meth:`measure`, so reading them never delays a listing
    time.
    """

    def __init__(self, playlist: Path, started: float, fps: Fraction) -> None:
        self.playlist = playlist
        self.started = started
        self.fps = fps
        self.listed: dict[str, float] = {}
        self._measured: set[str] = set()
        self._loop = 0
        self._last_index = -1

    def poll(self) -> None:
        try:
            text = self.playlist.read_text()
        except OSError:
            return
        now = time.time()
        for line in text.splitlines():
            if line and not line.startswith("#") and line not in self.listed:
                self.listed[line] = now

    def measure(self, latencies: Latencies, frames_per_loop: int) -> None:
        """Latencies of every listed segment not measured yet, in listing order."""
        for name, listed_at in sorted(self.listed.items(), key=lambda item: item[1]):
            if name in self._measured:
                continue
            self._measured.add(name)
            indexes = stamp_indexes(self.playlist.parent / name)
            if not indexes:
                continue
            first, last = (self._unwrap(i, frames_per_loop) for i in (indexes[0], indexes[-1]))
            latencies.first_frame.append(listed_at - self.started - float(first / self.fps))
            latencies.last_frame.append(listed_at - self.started - float(last / self.fps))

    def _unwrap(self, index: int, frames_per_loop: int) -> int:
        # The sample loops: its frame index starts again from 0.
        if index < self._last_index - frames_per_loop // 2:
            self._loop += 1
        self._last_index = index
        return self._loop * frames_per_loop + index


def stamp_indexes(segment: Path) -> list[int]:
    """The frame index of every stamped picture in an MPEG-TS segment, in order.

    The payloads of each PID are joined first, so a stamp split across TS packets is found too.
    """
    try:
        data = segment.read_bytes()
    except OSError:
        return []
    payloads: dict[int, bytearray] = {}
    for pos in range(0, len(data) - TS_PACKET_SIZE + 1, TS_PACKET_SIZE):
        pid = (data[pos + 1] & 0x1F) << 8 | data[pos + 2]
        control = data[pos + 3] >> 4 & 0x03
        start = pos + 4 + (1 + data[pos + 4] if control & 0x02 else 0)
        if control & 0x01:
            payloads.setdefault(pid, bytearray()).extend(data[start : pos + TS_PACKET_SIZE])
    indexes = []
    for payload in payloads.values():
        offset = find_stamp(payload)
        while offset >= 0:
            indexes.append(Stamp.parse(payload, offset).frame_index)
            offset = find_stamp(payload, offset + 1)
    return indexes


def event_loop_of(log: Path) -> str:
    """``uvloop 0.21.0``: the event loop a refserver's JSON log says it runs, or ``unknown``."""
    for line in log.read_text().splitlines():
        entry = json.loads(line)
        if entry.get("message") == "event loop":
            return f"{entry['loop']} {entry['version']}"
    return "unknown"


@contextmanager
def refserver_process(
    folder: Path, *flags: str, program: Sequence[str] = REFSERVER, loop: str = DEFAULT_LOOP
) -> Iterator[tuple[subprocess.Popen[bytes], dict[str, int]]]:
    """refserver with JSON logs in ``folder`` and its RTMP and HTTP ports, stopped with SIGINT;
    ``program`` is the command before the flags, ``loop`` its ``--loop``."""
    log = folder / "refserver.log"
    command = [
        *program,
        "--rtmp-port=0",
        "--no-rtmps",
        "--http-port=0",
        f"--hls-dir={folder / 'hls'}",
        f"--target-duration={SEGMENT_SECONDS}",
        "--log-format=json",
        f"--loop={loop}",
        *flags,
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
    ports: dict[str, int] = {}
    try:
        deadline = time.monotonic() + 20
        while len(ports) < 2 and time.monotonic() < deadline:
            for line in log.read_text().splitlines():
                entry = json.loads(line)
                if entry.get("message") == "listening":
                    ports[entry["protocol"]] = int(entry["address"].split(":")[2].split("/")[0])
            time.sleep(0.05)
        if len(ports) < 2:
            raise RuntimeError(f"refserver did not start: {log.read_text()[-2000:]}")
        yield process, ports
    finally:
        process.send_signal(2)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def push(sample: Path, urls: list[str], seconds: float) -> subprocess.Popen[bytes]:
    outputs = "|".join(f"[f=flv:onfail=ignore]{url}" for url in urls)
    command = [
        "ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin",
        "-re", "-stream_loop", "-1", "-i", str(sample), "-t", f"{seconds:g}",
        "-map", "0", "-c", "copy", "-tag:v", "7", "-tag:a", "10", "-f", "tee", outputs,
    ]  # fmt: skip
    return subprocess.Popen(command, stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def run(
    streams: int = 20,
    seconds: float = 60,
    warmup: float = 6,
    *,
    merge_reads: bool = False,
    disk_delay: float = 0.0,
    loop: str = DEFAULT_LOOP,
) -> Result:
    """Push ``streams`` streams for ``warmup + seconds`` and measure the last ``seconds``;
    ``merge_reads`` runs refserver with ``--merge-reads``; ``disk_delay`` slows each of its
    HLS writes by that many seconds (a slow disk, see :mod:`benchmarks.loopstall`); ``loop``
    is refserver's ``--loop``."""
    sample = default_sample()
    fps = DEFAULT_SPEC.fps
    frames_per_loop = DEFAULT_SPEC.frame_count
    with tempfile.TemporaryDirectory(prefix="refserver-bench-") as temp:
        folder = Path(temp)
        (folder / "refserver").mkdir()
        with (
            NginxRtmp(folder / "nginx", hls_fragment=SEGMENT_SECONDS) as nginx,
            refserver_process(
                folder / "refserver",
                *(["--merge-reads"] if merge_reads else []),
                program=probed(folder / "refserver-lag.json", disk_delay),
                loop=loop,
            ) as (refserver, ports),
        ):
            assert nginx.process is not None
            total = warmup + seconds + 2
            idle = idle_peer(folder / "idle-lag.json", total + 1)
            pushers = []
            watchers: dict[str, list[PlaylistWatcher]] = {"refserver": [], "nginx": []}
            for n in range(1, streams + 1):
                name = f"bench{n}"
                url = f"rtmp://127.0.0.1:{ports['rtmp']}/live/{name}"
                started = time.time()
                pushers.append(push(sample, [url, nginx.rtmp_url(name)], total))
                ref_playlist = folder / "refserver" / "hls" / name / "index.m3u8"
                watchers["refserver"].append(PlaylistWatcher(ref_playlist, started, fps))
                watchers["nginx"].append(
                    PlaylistWatcher(nginx.hls_dir / f"{name}.m3u8", started, fps)
                )
            pids = {"refserver": refserver.pid, "nginx": nginx.process.pid}
            latencies = {server: Latencies() for server in watchers}
            began = time.monotonic()
            cpu_start: dict[str, float] = {}
            measured_from = 0.0
            window_start = 0.0
            rss: list[tuple[float, float]] = []  # (seconds into the window, MB), once a second
            while time.monotonic() - began < warmup + seconds:
                now_mono = time.monotonic()
                if not cpu_start and now_mono - began >= warmup:
                    cpu_start = {k: cpu_seconds(pid) for k, pid in pids.items()}
                    measured_from = now_mono
                    window_start = time.time()
                    latencies = {server: Latencies() for server in watchers}
                if cpu_start and now_mono - measured_from >= len(rss):
                    rss.append((now_mono - measured_from, round(rss_bytes(refserver.pid) / 1e6, 1)))
                for watcher in (*watchers["refserver"], *watchers["nginx"]):
                    watcher.poll()
                # Read the new segments now, while both servers still have them on disk.
                for server, group in watchers.items():
                    for watcher in group:
                        watcher.measure(latencies[server], frames_per_loop)
                time.sleep(POLL_SECONDS)
            elapsed = time.monotonic() - measured_from
            window = (window_start, time.time())
            cpu = {k: cpu_seconds(pid) - cpu_start[k] for k, pid in pids.items()}
            for pusher in pushers:
                pusher.kill()
                pusher.wait(10)
            # The window is over: the idle peer stops now (it writes its probes as it exits),
            # not when its own clock says, which a loaded machine starts late.
            idle.send_signal(signal.SIGINT)
            idle.wait(10)
            ran_on = event_loop_of(folder / "refserver" / "refserver.log")
        # refserver writes its probes as it exits, at the end of the with block.
        loop_lag = {
            "refserver": summarise(folder / "refserver-lag.json", *window),
            "idle": summarise(folder / "idle-lag.json", *window),
        }
    return Result(
        streams=streams,
        seconds=elapsed,
        refserver=ServerResult(
            "refserver",
            cpu["refserver"],
            elapsed,
            latencies["refserver"].summary(),
            Rss.over(rss, elapsed) if rss else None,
        ),
        nginx=ServerResult("nginx", cpu["nginx"], elapsed, latencies["nginx"].summary()),
        loop_lag=loop_lag,
        loop=ran_on,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--warmup", type=float, default=6)
    parser.add_argument("--merge-reads", action="store_true", help="refserver --merge-reads")
    parser.add_argument(
        "--disk-delay", type=float, default=0.0, help="seconds added to each HLS write of refserver"
    )
    parser.add_argument(
        "--loop", choices=LOOP_CHOICES, default=DEFAULT_LOOP, help="refserver --loop"
    )
    parser.add_argument(
        "--rounds", type=int, default=1, help=f"measurements, then their median (1..{MAX_ROUNDS})"
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not 1 <= args.rounds <= MAX_ROUNDS:
        parser.error(f"--rounds must be within 1..{MAX_ROUNDS}")
    results = []
    for _ in range(args.rounds):
        results.append(
            run(
                args.streams,
                args.seconds,
                args.warmup,
                merge_reads=args.merge_reads,
                disk_delay=args.disk_delay,
                loop=args.loop,
            )
        )
    report: Result | Rounds = results[0] if args.rounds == 1 else Rounds(tuple(results))
    print(json.dumps(report.to_json(), indent=2) if args.json else report.format())


if __name__ == "__main__":
    main()
