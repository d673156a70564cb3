"""refserver pulling N camsim cameras into HLS against N ``ffmpeg -c copy -f hls`` processes.

One ``camsim run --cameras N`` process serves the default sample for the whole run. First one
refserver process pulls every camera (``--pull`` for each, RTP interleaved over TCP) and packages
2 s HLS segments; then, with refserver stopped, one FFmpeg per camera does the same job, as
products that shell out to FFmpeg per camera do::

    ffmpeg -rtsp_transport tcp -i rtsp://127.0.0.1:PORT/camN -c copy -f hls -hls_time 2 ...

Each phase is measured over its own window, after every playlist lists a first segment and a
warm-up, so that connecting and probing are left out::

    python -m benchmarks.refserver_pull_vs_ffmpeg --cameras 50 --seconds 600 --json pull.json

- CPU: utime + stime of every thread from ``/proc/<pid>/stat`` over the window, as a share of one
  core: the refserver process, the sum of the FFmpeg processes, and the camsim fleet in each phase
  (the same load both times). The ratio refserver/FFmpeg is the figure to beat (at most 1.0).
- Playlists: every stream's playlist is read from disk every 250 ms (which costs neither server
  anything). A stream keeps up when new segments keep appearing at most ``2 x 2 s + 1 s`` apart
  (the window's start and end count as appearances, so a stall at either edge shows), with no
  ``EXT-X-DISCONTINUITY``, no skipped Media Sequence Number and no restart of the numbering.
  (FFmpeg's muxer now and then closes a segment one keyframe late, 4 s, still within the limit.)
- Failures: refserver's ``pull failed`` log lines (start-up included) and FFmpeg processes that
  exited by themselves.
- Memory: refserver's RSS once a second over the window: at its start, the minimum and maximum
  after the first minute (or the first half of a shorter window), at its end, and the slope of a
  least-squares line through the samples after that first minute, in MB per minute.

With ``--rounds N`` the two phases run N times, in turn refserver first and FFmpeg first (the
order of a drift over the run is then cancelled out), against the same fleet; every round's
ratio is printed and the verdict takes their median. On a shared machine whose speed wanders by
a tenth from one minute to the next, one round of 60 s can miss the target or meet it by luck::

    python -m benchmarks.refserver_pull_vs_ffmpeg --cameras 50 --seconds 60 --rounds 3

Every child is stopped when the run ends, fails or is interrupted (Ctrl-C, SIGTERM).
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
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from benchmarks.camera_vs_gst import Server, camsim_server, cpu_seconds, rss_mb
from benchmarks.memory import RSS_SLOPE_LIMIT, Rss
from benchmarks.refserver_vs_nginx import REFSERVER, event_loop_of, refserver_process
from camsim.media.make import default_sample
from tests.integration.camera.harness import free_ports
from wire.asyncio.loops import DEFAULT_LOOP, LOOP_CHOICES
from wire.hls import PlaylistError, parse

SEGMENT_SECONDS = 2
WINDOW_SEGMENTS = 6
GAP_SLACK = 1.0
GAP_LIMIT = 2 * SEGMENT_SECONDS + GAP_SLACK
"""Seconds between new segments beyond which a stream has fallen behind."""
CPU_RATIO_TARGET = 0.75
"""refserver's CPU for N pulls over that of N FFmpeg processes doing the same work."""
POLL_SECONDS = 0.25
STARTUP_TIMEOUT = 90.0
STOP_TIMEOUT = 20.0
MAX_CAMERAS = 200
MAX_SECONDS = 3600.0
MAX_ROUNDS = 10


@dataclass(frozen=True)
class StreamResult:
    """How one stream's playlist advanced during a window."""

    name: str
    segments: int
    max_gap: float
    discontinuities: int
    skipped: int
    """Media Sequence Numbers that never appeared."""
    restarts: int
    """Times the numbering went backwards."""
    ended: bool

    def problems(self) -> list[str]:
        found = []
        if self.max_gap > GAP_LIMIT:
            found.append(f"{self.max_gap:.1f} s without a new segment")
        if self.discontinuities:
            found.append(f"{self.discontinuities} discontinuities")
        if self.skipped:
            found.append(f"{self.skipped} media sequence numbers skipped")
        if self.restarts:
            found.append(f"media sequence restarted {self.restarts} times")
        if self.ended:
            found.append("EXT-X-ENDLIST")
        return found


class PlaylistWatch:
    """One playlist on disk, polled: when each new segment first showed and what broke.

    A playlist is parsed again only when its file changed (servers replace it atomically).
    """

    def __init__(self, name: str, path: Path) -> None:
        self.name = name
        self.path = path
        self.last_number: int | None = None
        self._file: tuple[int, int, int] | None = None
        self.begin(time.monotonic())

    @property
    def started(self) -> bool:
        return self.last_number is not None

    def begin(self, now: float) -> None:
        """Start counting afresh from ``now``; what is listed already is not new."""
        self.last_new = now
        self.max_gap = 0.0
        self.segments = self.discontinuities = self.skipped = self.restarts = 0
        self.ended = False

    def poll(self, now: float) -> None:
        try:
            stat = self.path.stat()
            key = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
            if key == self._file:
                return
            playlist = parse(self.path.read_bytes())
        except (OSError, PlaylistError):
            return  # not written yet, or replaced while read: the next poll sees it
        self._file = key
        self.ended = playlist.endlist
        newest = playlist.next_media_sequence - 1
        if self.last_number is not None and newest < self.last_number:
            self.restarts += 1
            self.last_number = newest
            return
        for number, segment in playlist.numbered():
            if self.last_number is not None:
                if number <= self.last_number:
                    continue
                self.skipped += number - self.last_number - 1
            self.last_number = number
            self.segments += 1
            self.discontinuities += segment.discontinuity
            self.max_gap = max(self.max_gap, now - self.last_new)
            self.last_new = now

    def result(self, now: float) -> StreamResult:
        gap = max(self.max_gap, now - self.last_new)
        return StreamResult(
            self.name,
            self.segments,
            round(gap, 2),
            self.discontinuities,
            self.skipped,
            self.restarts,
            self.ended,
        )


@dataclass(frozen=True)
class Phase:
    """One puller (refserver, or the FFmpeg processes) measured over its window."""

    name: str
    processes: int
    seconds: float
    cpu_seconds: float
    fleet_cpu_seconds: float
    machine_busy: float
    """Share of all the machine's cores that was busy, everyone included."""
    fleet_clients: int | None
    fleet_late_packets: int | None
    streams: tuple[StreamResult, ...]
    failures: tuple[str, ...] = ()
    rss: Rss | None = None

    @property
    def core_percent(self) -> float:
        return 100 * self.cpu_seconds / self.seconds

    @property
    def fleet_core_percent(self) -> float:
        return 100 * self.fleet_cpu_seconds / self.seconds

    def behind(self) -> list[StreamResult]:
        """The streams that did not keep up (or never started)."""
        return [s for s in self.streams if s.problems() or not s.segments]

    def to_json(self) -> dict[str, Any]:
        return asdict(self) | {
            "core_percent": round(self.core_percent, 2),
            "fleet_core_percent": round(self.fleet_core_percent, 2),
            "streams_behind": len(self.behind()),
            "max_gap": max((s.max_gap for s in self.streams), default=None),
        }


Round = tuple[Phase, Phase]
"""refserver's phase and FFmpeg's, measured against the same fleet one after the other."""


def cpu_ratio_of(ours: Phase, theirs: Phase) -> float:
    """refserver's share of a core over the FFmpeg processes' (rates: windows may differ)."""
    return ours.core_percent / max(theirs.core_percent, 1e-9)


@dataclass(frozen=True)
class Report:
    cameras: int
    refserver: Phase
    ffmpeg: Phase
    gap_limit: float = GAP_LIMIT
    loop: str = "asyncio"
    """The event loop refserver ran, as its log said."""
    later: tuple[Round, ...] = ()
    """The rounds after the first (``--rounds``); the first is ``refserver`` and ``ffmpeg``."""

    @property
    def rounds(self) -> tuple[Round, ...]:
        return ((self.refserver, self.ffmpeg), *self.later)

    @property
    def cpu_ratios(self) -> list[float]:
        """Each round's ratio, in the order they ran."""
        return [cpu_ratio_of(ours, theirs) for ours, theirs in self.rounds]

    @property
    def cpu_ratio(self) -> float:
        """The median of the rounds' ratios: the one ratio of a single round."""
        return statistics.median(self.cpu_ratios)

    def missed_targets(self) -> list[str]:
        missed = []
        if self.cpu_ratio > CPU_RATIO_TARGET:
            median = "median " if self.later else ""
            missed.append(f"CPU ratio {median}{self.cpu_ratio:.2f} > {CPU_RATIO_TARGET}")
        # Every round must keep every stream on time and the memory flat, not just most.
        behind = max((len(ours.behind()) for ours, _ in self.rounds))
        if behind:
            missed.append(f"{behind} of {self.cameras} refserver streams fell behind")
        slopes = [ours.rss.slope for ours, _ in self.rounds if ours.rss is not None]
        if slopes and max(slopes) > RSS_SLOPE_LIMIT:
            missed.append(f"refserver RSS grows {max(slopes)} MB/min > {RSS_SLOPE_LIMIT}")
        return missed

    def to_json(self) -> dict[str, Any]:
        return {
            "cameras": self.cameras,
            "segment_seconds": SEGMENT_SECONDS,
            "gap_limit": self.gap_limit,
            "loop": self.loop,
            "cpu_ratio": round(self.cpu_ratio, 3),
            "cpu_ratios": [round(ratio, 3) for ratio in self.cpu_ratios],
            "targets": {"cpu_ratio": CPU_RATIO_TARGET, "rss_slope": RSS_SLOPE_LIMIT},
            "missed_targets": self.missed_targets(),
            "refserver": self.refserver.to_json(),
            "ffmpeg": self.ffmpeg.to_json(),
            "later_rounds": [
                {"refserver": ours.to_json(), "ffmpeg": theirs.to_json()}
                for ours, theirs in self.later
            ],
        }

    def format(self) -> str:
        lines = [
            f"{self.cameras} camsim cameras pulled over RTSP/TCP into {SEGMENT_SECONDS} s HLS "
            f"segments; a stream falls behind after {self.gap_limit:g} s without a new one; "
            f"refserver on {self.loop}",
            f"{'':<12} {'procs':>5} {'window':>7} {'CPU':>7} {'fleet CPU':>9} {'fleet late':>10} "
            f"{'machine':>7} {'on time':>7} {'max gap':>7} {'disc.':>5} {'skipped':>7} "
            f"{'failures':>8}",
        ]
        numbered = len(self.rounds) > 1
        phases = [
            (f"{phase.name} {number}" if numbered else phase.name, phase)
            for number, pair in enumerate(self.rounds, 1)
            for phase in pair
        ]
        for label, phase in phases:
            on_time = f"{len(phase.streams) - len(phase.behind())}/{len(phase.streams)}"
            gap = max((s.max_gap for s in phase.streams), default=0.0)
            late = "-" if phase.fleet_late_packets is None else str(phase.fleet_late_packets)
            lines.append(
                f"{label:<12} {phase.processes:>5} {phase.seconds:>6.0f}s "
                f"{phase.core_percent:>6.1f}% {phase.fleet_core_percent:>8.1f}% {late:>10} "
                f"{100 * phase.machine_busy:>6.0f}% {on_time:>7} {gap:>6.1f}s "
                f"{sum(s.discontinuities for s in phase.streams):>5} "
                f"{sum(s.skipped for s in phase.streams):>7} {len(phase.failures):>8}"
            )
        ratio = f"{self.cpu_ratio:.2f}"
        if numbered:
            each = ", ".join(f"{r:.2f}" for r in self.cpu_ratios)
            ratio = f"{each} by round, median {ratio}"
        lines.append(
            f"CPU refserver / ffmpeg: {ratio} (target <= {CPU_RATIO_TARGET:g}); "
            f"CPU in % of one core, machine in % of all {os.cpu_count()} cores"
        )
        for number, (ours, _) in enumerate(self.rounds, 1):
            rss = ours.rss
            if rss is not None:
                lines.append(f"refserver{f' {number}' if numbered else ''} RSS MB: {rss.format()}")
        for label, phase in phases:
            for stream in phase.behind():
                why = "; ".join(stream.problems()) or "no segment"
                lines.append(f"  {label} {stream.name} behind: {why}")
            lines += [f"  {label}: {failure}" for failure in phase.failures[:10]]
        missed = self.missed_targets()
        lines.append("targets met" if not missed else "targets missed: " + "; ".join(missed))
        return "\n".join(lines)


def machine_ticks() -> tuple[int, int]:
    """(busy, total) clock ticks of all cores since boot, from ``/proc/stat``."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


def observe(
    name: str,
    pids: Sequence[int],
    fleet: Server,
    watches: Sequence[PlaylistWatch],
    warmup: float,
    seconds: float,
    rss_pid: int | None = None,
) -> Phase:
    """Wait for every playlist (bounded) and ``warmup``, then measure ``seconds``."""
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline and not all(w.started for w in watches):
        _poll(watches)
    settled = time.monotonic() + warmup
    while time.monotonic() < settled:
        _poll(watches)
    fleet_pid = fleet.process.pid
    status = fleet.last_status()
    late_before = status["late_packets"] if status is not None else 0
    cpu_before = sum(cpu_seconds(pid) for pid in pids)
    fleet_before = cpu_seconds(fleet_pid)
    busy_before, total_before = machine_ticks()
    began = time.monotonic()
    for watch in watches:
        watch.begin(began)
    rss: list[tuple[float, float]] = []
    while (now := time.monotonic()) - began < seconds:
        if rss_pid is not None and now - began >= len(rss):
            rss.append((now - began, round(rss_mb(rss_pid), 1)))
        _poll(watches)
    ended = time.monotonic()
    cpu = sum(cpu_seconds(pid) for pid in pids) - cpu_before
    fleet_cpu = cpu_seconds(fleet_pid) - fleet_before
    busy_after, total_after = machine_ticks()
    status = fleet.last_status()
    return Phase(
        name=name,
        processes=len(pids),
        seconds=round(ended - began, 2),
        cpu_seconds=round(cpu, 2),
        fleet_cpu_seconds=round(fleet_cpu, 2),
        machine_busy=round((busy_after - busy_before) / max(total_after - total_before, 1), 3),
        fleet_clients=status["clients"] if status is not None else None,
        fleet_late_packets=status["late_packets"] - late_before if status is not None else None,
        streams=tuple(w.result(ended) for w in watches),
        rss=Rss.over(rss, seconds) if rss else None,
    )


def _poll(watches: Sequence[PlaylistWatch]) -> None:
    now = time.monotonic()
    for watch in watches:
        watch.poll(now)
    time.sleep(POLL_SECONDS)


@contextmanager
def refserver_pulling(
    folder: Path, urls: Sequence[str], program: Sequence[str] = REFSERVER, loop: str = DEFAULT_LOOP
) -> Iterator[subprocess.Popen[bytes]]:
    """``refserver --pull URL ...`` with JSON logs in ``folder``; stopped with SIGINT.
    ``program`` is the command before the flags, ``loop`` its ``--loop``."""
    folder.mkdir()
    pulls = (f"--pull={url}" for url in urls)
    flags = (f"--window={WINDOW_SEGMENTS}", "--pull-transport=tcp", *pulls)
    with refserver_process(folder, *flags, program=program, loop=loop) as (process, _ports):
        yield process


def refserver_failures(log: Path) -> list[str]:
    """``pull failed`` lines of a JSON log, as ``stream: reason``."""
    failures = []
    for line in log.read_text().splitlines():
        if '"pull failed"' in line:
            entry = json.loads(line)
            failures.append(f"{entry.get('stream')}: pull failed: {entry.get('reason')}")
    return failures


@contextmanager
def ffmpeg_pulling(folder: Path, urls: Sequence[str]) -> Iterator[list[subprocess.Popen[bytes]]]:
    """One ``ffmpeg -rtsp_transport tcp -i URL -c copy -f hls`` per URL, into ``folder/<name>``."""
    processes = []
    try:
        for url in urls:
            out = folder / url.rpartition("/")[2]
            out.mkdir(parents=True)
            command = [
                *("ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error"),
                *("-rtsp_transport", "tcp", "-i", url, "-c", "copy", "-f", "hls"),
                *("-hls_time", str(SEGMENT_SECONDS), "-hls_list_size", str(WINDOW_SEGMENTS)),
                *("-hls_flags", "delete_segments", str(out / "index.m3u8")),
            ]
            with (out / "ffmpeg.log").open("wb") as log:
                processes.append(
                    subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
                )
        yield processes
    finally:
        _stop(processes, signal.SIGTERM)


def _stop(processes: Sequence[subprocess.Popen[bytes]], signum: int) -> None:
    """Signal every process, wait for them all (bounded), then kill what is left."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signum)
    deadline = time.monotonic() + STOP_TIMEOUT
    for process in processes:
        try:
            process.wait(max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def exited(processes: Sequence[subprocess.Popen[bytes]], logs: Sequence[Path]) -> list[str]:
    """Processes that stopped by themselves, with the last line they logged."""
    found = []
    for process, log in zip(processes, logs, strict=True):
        if process.poll() is not None:
            last = log.read_text(errors="replace").strip().rpartition("\n")[2]
            found.append(f"{log.parent.name}: exited with {process.returncode}: {last}")
    return found


def run(
    cameras: int = 50,
    seconds: float = 600.0,
    ffmpeg_seconds: float | None = None,
    warmup: float = 10.0,
    port: int | None = None,
    media: Path | None = None,
    loop: str = DEFAULT_LOOP,
    rounds: int = 1,
) -> Report:
    """Both phases against one fleet, ``rounds`` times (refserver first in the odd rounds,
    FFmpeg first in the even ones); ``ffmpeg_seconds`` defaults to ``seconds``; ``loop`` is
    refserver's ``--loop``."""
    window = seconds if ffmpeg_seconds is None else ffmpeg_seconds
    problem = out_of_bounds(cameras, seconds, window, warmup, rounds)
    if problem is not None:
        raise ValueError(problem)
    sample = media if media is not None else default_sample()
    port = port or free_ports(1)
    urls = [f"rtsp://127.0.0.1:{port}/cam{n}" for n in range(1, cameras + 1)]
    fleet = camsim_server(sample, cameras, port)
    measured: list[Round] = []
    ran_on = loop
    try:
        with tempfile.TemporaryDirectory(prefix="refserver-pull-bench-") as temp:
            for number in range(1, rounds + 1):
                folder = Path(temp) / f"round{number}"
                folder.mkdir()
                if number % 2:
                    ours, ran_on = _refserver_phase(folder, urls, fleet, warmup, seconds, loop)
                    theirs = _ffmpeg_phase(folder, urls, fleet, warmup, window)
                else:
                    theirs = _ffmpeg_phase(folder, urls, fleet, warmup, window)
                    ours, ran_on = _refserver_phase(folder, urls, fleet, warmup, seconds, loop)
                measured.append((ours, theirs))
    finally:
        fleet.stop()
    (ours, theirs), *later = measured
    return Report(cameras, ours, theirs, loop=ran_on, later=tuple(later))


def _refserver_phase(
    folder: Path, urls: Sequence[str], fleet: Server, warmup: float, seconds: float, loop: str
) -> tuple[Phase, str]:
    """refserver's phase, and the event loop it says it ran."""
    names = [url.rpartition("/")[2] for url in urls]
    with refserver_pulling(folder / "refserver", urls, loop=loop) as refserver:
        hls = folder / "refserver" / "hls"
        watches = [PlaylistWatch(n, hls / n / "index.m3u8") for n in names]
        ours = observe("refserver", [refserver.pid], fleet, watches, warmup, seconds,
                       rss_pid=refserver.pid)  # fmt: skip
        failures = refserver_failures(folder / "refserver" / "refserver.log")
        ran_on = event_loop_of(folder / "refserver" / "refserver.log")
        if refserver.poll() is not None:
            failures.append(f"refserver exited with {refserver.returncode}")
    return replace(ours, failures=tuple(failures)), ran_on


def _ffmpeg_phase(
    folder: Path, urls: Sequence[str], fleet: Server, warmup: float, seconds: float
) -> Phase:
    names = [url.rpartition("/")[2] for url in urls]
    with ffmpeg_pulling(folder / "ffmpeg", urls) as processes:
        watches = [PlaylistWatch(n, folder / "ffmpeg" / n / "index.m3u8") for n in names]
        pids = [p.pid for p in processes]
        theirs = observe("ffmpeg", pids, fleet, watches, warmup, seconds)
        logs = [folder / "ffmpeg" / n / "ffmpeg.log" for n in names]
        return replace(theirs, failures=tuple(exited(processes, logs)))


def out_of_bounds(
    cameras: int, seconds: float, ffmpeg_seconds: float, warmup: float, rounds: int = 1
) -> str | None:
    """Why a run would not be bounded in count and time, or None."""
    if not 1 <= rounds <= MAX_ROUNDS:
        return f"--rounds must be within 1..{MAX_ROUNDS}"
    if not 1 <= cameras <= MAX_CAMERAS:
        return f"--cameras must be within 1..{MAX_CAMERAS}"
    if not (0 < seconds <= MAX_SECONDS and 0 < ffmpeg_seconds <= MAX_SECONDS):
        return f"a window must be more than 0 s and at most {MAX_SECONDS:g} s"
    if not 0 <= warmup <= MAX_SECONDS:
        return f"--warmup must be within 0..{MAX_SECONDS:g} s"
    return None


def kill_children() -> None:
    """SIGKILL what this process started and has not stopped yet (the last line of defence)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # After the ")" closing the command name: state, then the parent's pid.
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            if parent == os.getpid():
                os.kill(int(stat.parent.name), signal.SIGKILL)
        except (OSError, IndexError, ValueError):
            continue


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--cameras", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=600.0, help="refserver's window")
    parser.add_argument("--ffmpeg-seconds", type=float, help="FFmpeg's window (default: same)")
    parser.add_argument("--warmup", type=float, default=10.0, help="after the first segments")
    parser.add_argument("--port", type=int, help="the fleet's RTSP port (default: a free one)")
    parser.add_argument("--media", type=Path, help="sample (default: the default sample)")
    parser.add_argument("--json", type=Path, help="write the report here too")
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="run both phases this many times, alternating which goes first; median ratio",
    )
    parser.add_argument(
        "--loop", choices=LOOP_CHOICES, default=DEFAULT_LOOP, help="refserver --loop"
    )
    args = parser.parse_args(argv)
    ffmpeg_seconds = args.seconds if args.ffmpeg_seconds is None else args.ffmpeg_seconds
    problem = out_of_bounds(args.cameras, args.seconds, ffmpeg_seconds, args.warmup, args.rounds)
    if problem is not None:
        parser.error(problem)
    # SIGTERM unwinds like Ctrl-C, so every child is stopped on the way out.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    try:
        report = run(
            args.cameras,
            args.seconds,
            ffmpeg_seconds,
            args.warmup,
            args.port,
            args.media,
            args.loop,
            args.rounds,
        )
    finally:
        kill_children()
    print(report.format())
    if args.json is not None:
        args.json.write_text(json.dumps(report.to_json(), indent=2) + "\n")
    return 1 if report.missed_targets() else 0


if __name__ == "__main__":
    sys.exit(main())
