"""camsim cameras against GStreamer's gst-rtsp-server: the same sample, the same consumers.

For each lower transport (TCP interleaved, then UDP) both servers serve N cameras of the sample
and :mod:`benchmarks.rtsp_load` pulls every camera with one client. Measured over the same window
(after a warm-up that covers every client's SETUP and PLAY):

- CPU of the server process (all its threads; user + system time from /proc) as a fraction of
  one core, and camsim's ratio to gst-rtsp-server;
- peak RSS of the server process;
- camsim's own send-time error, from ``camsim run --json``: the 99th percentile and maximum since
  the start (setup included), and the packets sent more than ``--late-after`` ms late within the
  window (clients that all connect at once make the server late while it answers them; that is
  not pacing), also as a fraction of the packets sent in the window;
- what the consumers received.

Then the most cameras one camsim process (one core: it is single-threaded) sustains with a send
error within ``--late-after`` for 99 % of its packets and of its bursts: camera counts are tried
upwards until a step has more than 1 % of its packets late, a 99th percentile error above
``--late-after``, the core saturated or a consumer failing. By default
the consumers pull over UDP and do not read (so they cost next to nothing);
``--max-transport tcp`` pulls interleaved over TCP, as most recorders do, and the consumer reads
every byte (on a core of its own, ideally). ``--pin`` gives it one: the server's threads are
pinned to the first CPU and the consumers to the others, so "per core" is one core's worth and
the consumer's reading never takes the camera's core.

    python -m benchmarks.camera_vs_gst --cameras 50 --seconds 20 --json report.json
    python -m benchmarks.camera_vs_gst --no-gst --transports tcp --max-transport tcp \\
        --max-steps 300,400,500,600 --pin

gst-rtsp-server is run with the system Python (``/usr/bin/python3`` with python3-gi) from
``benchmarks/peers/gst_cameras.py``; it plays the file once, so a window must end before the
sample does (30 s for the default one).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from camsim.media.make import default_sample

PEERS = Path(__file__).resolve().parent / "peers"
SYSTEM_PYTHON = "/usr/bin/python3"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
CAMSIM = [sys.executable, "-c", "from camsim.cli import main; main()", "run"]
DEFAULT_LATE_AFTER_MS = 5.0
"""A packet sent later than this after its due time is late; p99 within it is the target."""
MAX_LATE_FRACTION = 0.01
"""A cameras-per-core step passes with at most this share of its packets late (p99)."""


@dataclass
class Measurement:
    server: str
    transport: str
    cameras: int
    seconds: float
    cpu: float
    """Fraction of one core."""
    rss_mb: float
    packets: int = 0
    receiving: int = 0
    failures: list[str] = field(default_factory=list)
    p99_error_ms: float | None = None
    max_error_ms: float | None = None
    late_packets: int | None = None
    """Within the window: packets sent more than ``late_after_ms`` after their due time."""
    late_after_ms: float | None = None
    late_fraction: float | None = None
    """``late_packets`` over the packets camsim sent within the window."""
    cpu_us_per_packet: float | None = None
    """camsim's CPU time over the packets it sent within the window: what a packet costs,
    which holds when other processes take the core too (the CPU fraction then only says how
    much of it camsim got)."""


def cpu_seconds(pid: int) -> float:
    """User plus system time of a process and all its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class PeakRss:
    """Samples a process's RSS twice a second."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_mb(self.pid))
            self._stop.wait(0.5)


def pin(pid: int, cpus: set[int]) -> None:
    """Every thread of ``pid`` (and so the threads it starts later) onto ``cpus``."""
    for task in os.listdir(f"/proc/{pid}/task"):
        os.sched_setaffinity(int(task), cpus)


def split_cpus() -> tuple[set[int], set[int]] | None:
    """The server's CPU and the consumers' CPUs for ``--pin``; None on a single CPU."""
    cpus = sorted(os.sched_getaffinity(0))
    return ({cpus[0]}, set(cpus[1:])) if len(cpus) > 1 else None


class Server:
    """A server process under measurement."""

    def __init__(self, name: str, command: list[str], ready: str) -> None:
        self.name = name
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        self.lines: list[str] = []
        assert self.process.stdout is not None
        deadline = time.monotonic() + 120
        for line in self.process.stdout:
            self.lines.append(line)
            if ready in line:
                break
            if time.monotonic() > deadline:
                break
        if self.process.poll() is not None:
            raise RuntimeError(f"{name} exited: {''.join(self.lines)[-2000:]}")
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._reader.join(5)

    def last_status(self) -> dict[str, Any] | None:
        for line in reversed(self.lines):
            if line.startswith("{"):
                record: dict[str, Any] = json.loads(line)
                if record.get("event") in ("status", "stopped"):
                    return record
        return None


def camsim_server(
    sample: Path, cameras: int, port: int, late_after_ms: float = DEFAULT_LATE_AFTER_MS
) -> Server:
    command = [
        *CAMSIM,
        "--cameras",
        str(cameras),
        "--port",
        str(port),
        "--media",
        str(sample),
        "--json",
        "--interval",
        "1",
        "--late-after",
        f"{late_after_ms:g}",
    ]
    return Server("camsim", command, '"started"')


def gst_server(sample: Path, cameras: int, port: int) -> Server:
    command = [SYSTEM_PYTHON, str(PEERS / "gst_cameras.py"), str(sample), str(cameras), str(port)]
    return Server("gst-rtsp-server", command, "ready")


def urls(port: int, cameras: int) -> list[str]:
    return [f"rtsp://127.0.0.1:{port}/cam{i}" for i in range(1, cameras + 1)]


def measure(
    server: Server,
    port: int,
    cameras: int,
    transport: str,
    seconds: float,
    warmup: float,
    discard: bool = False,
    pinned: tuple[set[int], set[int]] | None = None,
) -> Measurement:
    """Load ``server`` with one client per camera; measure ``seconds`` after ``warmup``;
    ``pinned``: the server's CPUs and the consumers'."""
    load_command = [
        sys.executable,
        "-m",
        "benchmarks.rtsp_load",
        "--seconds",
        str(seconds + warmup),
        "--transport",
        transport,
        *(["--discard"] if discard else []),
        *urls(port, cameras),
    ]
    load = subprocess.Popen(load_command, stdout=subprocess.PIPE, text=True)
    pid = server.process.pid
    if pinned is not None:
        pin(pid, pinned[0])
        pin(load.pid, pinned[1])
    time.sleep(warmup)
    status_before = server.last_status()
    before = cpu_seconds(pid)
    started = time.monotonic()
    with PeakRss(pid) as rss:
        time.sleep(seconds)
        elapsed = time.monotonic() - started
        cpu = (cpu_seconds(pid) - before) / elapsed
    status = server.last_status()
    output, _ = load.communicate(timeout=seconds + warmup + 60)
    result = json.loads(output) if output.strip() else {}
    measurement = Measurement(
        server.name,
        transport,
        cameras,
        seconds,
        round(cpu, 4),
        round(rss.peak, 1),
        packets=result.get("packets", 0),
        receiving=result.get("receiving", 0),
        failures=result.get("failures", ["no output from the consumer"]),
    )
    if status is not None:
        measurement.p99_error_ms = round(status["p99_error"] * 1000, 2)
        measurement.max_error_ms = round(status["max_error"] * 1000, 2)
        late_before = status_before["late_packets"] if status_before is not None else 0
        sent_before = status_before["packets"] if status_before is not None else 0
        measurement.late_packets = status["late_packets"] - late_before
        sent = status["packets"] - sent_before
        measurement.late_fraction = round(measurement.late_packets / sent, 5) if sent else None
        if sent:
            measurement.cpu_us_per_packet = round(cpu * elapsed / sent * 1e6, 3)
    return measurement


def side_by_side(
    sample: Path,
    cameras: int,
    port: int,
    seconds: float,
    warmup: float,
    with_gst: bool,
    transports: list[str],
    late_after_ms: float = DEFAULT_LATE_AFTER_MS,
) -> list[Measurement]:
    results = []
    for transport in transports:
        for name in ["camsim"] + (["gst-rtsp-server"] if with_gst else []):
            if name == "camsim":
                server = camsim_server(sample, cameras, port, late_after_ms)
            else:
                server = gst_server(sample, cameras, port)
            try:
                result = measure(server, port, cameras, transport, seconds, warmup)
            finally:
                server.stop()
            if server.name == "camsim":
                result.late_after_ms = late_after_ms
            results.append(result)
            print(_row(result), flush=True)
    return results


def max_cameras_per_core(
    sample: Path,
    port: int,
    steps: list[int],
    seconds: float,
    warmup: float,
    transport: str = "udp",
    late_after_ms: float = DEFAULT_LATE_AFTER_MS,
    pinned: tuple[set[int], set[int]] | None = None,
) -> tuple[int, list[Measurement]]:
    """The largest step with 99 % of the packets and 99 % of the bursts within
    ``late_after_ms`` of their due time, the core not saturated and every consumer receiving."""
    sustained = 0
    results = []
    for cameras in steps:
        server = camsim_server(sample, cameras, port, late_after_ms)
        try:
            result = measure(
                server,
                port,
                cameras,
                transport,
                seconds,
                warmup,
                discard=transport == "udp",
                pinned=pinned,
            )
        finally:
            server.stop()
        result.late_after_ms = late_after_ms
        results.append(result)
        print(_row(result), flush=True)
        late = result.late_fraction is None or result.late_fraction > MAX_LATE_FRACTION
        # The target is on the error's 99th percentile too: bursts late by more than
        # late_after_ms may be under 1 % of the packets and still over 1 % of the bursts.
        p99 = result.p99_error_ms
        late = late or p99 is None or p99 > late_after_ms
        if late or result.cpu > 0.95 or result.failures:
            break
        sustained = cameras
    return sustained, results


def _row(m: Measurement) -> str:
    pacing = ""
    if m.p99_error_ms is not None:
        fraction = "" if m.late_fraction is None else f" ({m.late_fraction * 100:.2f}%)"
        pacing = f"  p99 {m.p99_error_ms} ms  late>{m.late_after_ms:g}ms {m.late_packets}{fraction}"
    failures = f"  failures {len(m.failures)}" if m.failures else ""
    per_packet = "" if m.cpu_us_per_packet is None else f"  {m.cpu_us_per_packet:.2f} µs/packet"
    return (
        f"{m.server:<16} {m.transport}  {m.cameras:4d} cameras  cpu {m.cpu * 100:6.1f}%  "
        f"rss {m.rss_mb:6.1f} MB  packets {m.packets}{per_packet}{pacing}{failures}"
    )


def summary(
    results: list[Measurement], sustained: int | None, max_transport: str = "udp"
) -> dict[str, Any]:
    report: dict[str, Any] = {"measurements": [asdict(m) for m in results]}
    for transport in ("tcp", "udp"):
        ours = next((m for m in results if m.server == "camsim" and m.transport == transport), None)
        theirs = next(
            (m for m in results if m.server == "gst-rtsp-server" and m.transport == transport),
            None,
        )
        if ours is not None and theirs is not None and theirs.cpu > 0:
            report[f"cpu_ratio_{transport}"] = round(ours.cpu / theirs.cpu, 3)
    if sustained is not None:
        report["max_cameras_per_core"] = sustained
        report["max_cameras_transport"] = max_transport
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cameras", type=int, default=50)
    parser.add_argument("--port", type=int, default=18654)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--media", type=Path, help="default: the default sample")
    parser.add_argument("--no-gst", action="store_true", help="measure camsim alone")
    parser.add_argument(
        "--transports", default="tcp,udp", help="lower transports of the side-by-side rows"
    )
    parser.add_argument(
        "--late-after",
        type=float,
        default=DEFAULT_LATE_AFTER_MS,
        help="milliseconds after its due time a camsim packet is late",
    )
    parser.add_argument(
        "--max-transport",
        choices=("udp", "tcp"),
        default="udp",
        help="how the consumers of the cameras-per-core steps pull",
    )
    parser.add_argument(
        "--max-steps",
        default="100,200,300,400,600",
        help="camera counts tried for the cameras-per-core figure ('' to skip)",
    )
    parser.add_argument(
        "--pin",
        action="store_true",
        help="cameras-per-core steps: the server on the first CPU, the consumers on the others",
    )
    parser.add_argument("--json", type=Path, help="write the report here")
    args = parser.parse_args(argv)
    pinned = split_cpus() if args.pin else None
    if args.pin and pinned is None:
        parser.error("--pin needs two CPUs or more")
    sample = args.media or default_sample()
    transports = [t.strip() for t in args.transports.split(",") if t.strip()]
    results = side_by_side(
        sample,
        args.cameras,
        args.port,
        args.seconds,
        args.warmup,
        not args.no_gst,
        transports,
        args.late_after,
    )
    sustained = None
    steps = [int(s) for s in args.max_steps.split(",") if s.strip()]
    if steps:
        sustained, steps_results = max_cameras_per_core(
            sample,
            args.port,
            steps,
            min(args.seconds, 10.0),
            args.warmup,
            args.max_transport,
            args.late_after,
            pinned,
        )
        results += steps_results
    report = summary(results, sustained, args.max_transport)
    report["pinned"] = pinned is not None
    text = json.dumps(report, indent=2)
    if args.json is not None:
        args.json.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
