"""HTTP attacks on refserver, with a publisher and a viewer that must not notice them.

refserver runs in a child process with ``RLIMIT_NOFILE`` lowered (``--nofile``, soft and hard,
so it cannot raise it back), which makes running out of file descriptors cheap to reach. An
RTMP publisher (``camsim push`` of the default sample, real time) feeds stream ``bench``; once
its playlist is on disk the attack starts: ``--connections`` sockets from ``--sources``
loopback addresses (127.0.1.1, 127.0.1.2, ...), each reconnecting whenever the server closes
it, that either send nothing (``idle``) or a request head one byte every 5 s (``slowloris``).
Throughout, a viewer on its own address (127.0.0.2) fetches the playlist over HTTP once a
second, and every second the child's open file descriptors, RSS and log size are sampled.

    python -m benchmarks.http_attacks [--mode idle|slowloris] [--connections 20000]
        [--sources 16] [--seconds 30] [--nofile 1024] [--baseline CHECKOUT]

``--baseline`` runs the same attack, in the same run, against refserver from another checkout
(e.g. ``git worktree add /tmp/before <commit>``), and prints each figure of this checkout
against it. Only loopback addresses are used; every loop is bounded in time and in attempts.
``KEEPLOG=FILE`` keeps the last refserver's log there.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from wire.hls import parse
from wire.hls.errors import PlaylistError

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
HERE = Path(__file__).resolve().parent.parent
LEGIT_SOURCE = "127.0.0.2"
STARTUP_SECONDS = 30.0
WARMUP_SECONDS = 60.0
RECOVERY_SECONDS = 6.0
SEGMENT_SECONDS = 2.0  # the default sample's GOP
CONNECTS_IN_FLIGHT = 256
SLOWLORIS_HEAD = b"GET /live/bench/index.m3u8 HTTP/1.1\r\nHost: refserver\r\nX-Padding: "


@dataclass
class AttackStats:
    attempts: int = 0
    connected: int = 0
    failed: int = 0
    refused_503: int = 0
    open: int = 0
    peak_open: int = 0


@dataclass
class Sample:
    at: float
    fds: int
    rss_mb: float
    log_bytes: int
    next_segment: int | None


@dataclass
class Result:
    build: str
    mode: str
    attack: AttackStats
    samples: list[Sample] = field(default_factory=list)
    viewer_ok: int = 0
    viewer_failed: int = 0
    viewer_seconds: list[float] = field(default_factory=list)
    segments_during_attack: int = 0
    segments_after_attack: int = 0
    log_bytes_during_attack: int = 0
    accept_errors_logged: int = 0
    publisher: dict[str, object] = field(default_factory=dict)
    alive_at_end: bool = True
    attack_seconds: float = 0.0

    def summary(self) -> dict[str, object]:
        during = self.samples
        return {
            "build": self.build,
            "mode": self.mode,
            "attack": asdict(self.attack),
            "server_fds_peak": max((s.fds for s in during), default=None),
            "server_rss_mb_peak": max((s.rss_mb for s in during), default=None),
            "log_bytes_during_attack": self.log_bytes_during_attack,
            "accept_errors_logged": self.accept_errors_logged,
            "viewer_playlists_ok": self.viewer_ok,
            "viewer_playlists_failed": self.viewer_failed,
            "viewer_p50_ms": _ms(statistics.median(self.viewer_seconds))
            if self.viewer_seconds
            else None,
            "viewer_max_ms": _ms(max(self.viewer_seconds)) if self.viewer_seconds else None,
            "segments_during_attack": self.segments_during_attack,
            "segments_expected": int(self.attack_seconds / SEGMENT_SECONDS),
            "attack_seconds": round(self.attack_seconds, 1),
            "segments_after_attack": self.segments_after_attack,
            "publisher_error": self.publisher.get("error"),
            "publisher_reconnects": self.publisher.get("reconnects"),
            "server_alive_at_end": self.alive_at_end,
        }


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def rss_mb(pid: int) -> float:
    try:
        pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    except (OSError, IndexError):
        return 0.0
    return round(pages * PAGE_SIZE / 1e6, 1)


def open_fds(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return -1


def next_segment(playlist: Path) -> int | None:
    """The number the next segment of the playlist on disk will have (read from the file, not
    over HTTP, so it can be read whatever state the server is in)."""
    try:
        return parse(playlist.read_bytes()).next_media_sequence
    except (OSError, PlaylistError):
        return None


class Refserver:
    """The ``refserver`` command from ``root`` in a child with ``nofile`` descriptors."""

    def __init__(self, root: Path, folder: Path, nofile: int) -> None:
        self.root = root
        self.folder = folder
        self.nofile = nofile
        self.log = folder / "refserver.log"
        self.hls = folder / "hls"
        self.process: subprocess.Popen[bytes] | None = None
        self.ports: dict[str, int] = {}

    def start(self) -> None:
        nofile = self.nofile

        def limit() -> None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

        command = [
            sys.executable,
            "-c",
            "from refserver.cli import main; main()",
            "--rtmp-port=0",
            "--no-rtmps",
            "--http-port=0",
            f"--hls-dir={self.hls}",
            f"--state-dir={self.folder / 'state'}",
            "--log-format=json",
        ]
        env = {**os.environ, "PYTHONPATH": str(self.root)}
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                command,
                cwd=self.root,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                preexec_fn=limit,  # before any thread of ours is started
            )
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline and {"rtmp", "http"} - set(self.ports):
            for line in self.log.read_text(errors="replace").splitlines():
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue
                if entry.get("message") == "listening":
                    port = str(entry["address"]).split(":")[2].split("/")[0]
                    self.ports[str(entry["protocol"])] = int(port)
            time.sleep(0.1)
        if {"rtmp", "http"} - set(self.ports):
            self.stop()
            raise RuntimeError(f"refserver did not start: {self.log.read_text()[-2000:]}")

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.process = None


async def attack(
    port: int, mode: str, connections: int, sources: list[str], seconds: float
) -> AttackStats:
    """``connections`` sockets held open (reconnecting when closed) until ``seconds`` pass;
    at most ten connection attempts per socket."""
    stats = AttackStats()
    deadline = time.monotonic() + seconds
    max_attempts = connections * 10
    in_flight = asyncio.Semaphore(CONNECTS_IN_FLIGHT)

    async def hold(source: str) -> None:
        while time.monotonic() < deadline and stats.attempts < max_attempts:
            stats.attempts += 1
            try:
                async with in_flight:
                    remaining = max(deadline - time.monotonic(), 0.1)
                    reader, writer = await asyncio.wait_for(
                        asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0)),
                        min(5.0, remaining),
                    )
            except (OSError, TimeoutError):
                stats.failed += 1
                await asyncio.sleep(0.5)
                continue
            stats.connected += 1
            stats.open += 1
            stats.peak_open = max(stats.peak_open, stats.open)
            try:
                await _occupy(reader, writer, mode, deadline, stats)
            finally:
                stats.open -= 1
                writer.transport.abort()
            await asyncio.sleep(0.2)

    await asyncio.gather(*(hold(sources[i % len(sources)]) for i in range(connections)))
    return stats


async def _occupy(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    mode: str,
    deadline: float,
    stats: AttackStats,
) -> None:
    """Hold the connection until the server closes it or the attack ends."""
    sent = 0
    while (remaining := deadline - time.monotonic()) > 0:
        if mode == "slowloris":
            byte = SLOWLORIS_HEAD[sent : sent + 1] or b"a"
            sent += 1
            try:
                writer.write(byte)
            except (OSError, RuntimeError):
                return
        try:
            async with asyncio.timeout(min(remaining, 5.0)):
                data = await reader.read(4096)
        except TimeoutError:
            continue
        except OSError:
            return
        if not data:
            return
        if data.startswith(b"HTTP/1.1 503"):
            stats.refused_503 += 1


def viewer(port: int, stop: threading.Event, result: Result) -> None:
    """A player's playlist request once a second from its own address."""
    while not stop.wait(1.0):
        began = time.monotonic()
        try:
            connection = http.client.HTTPConnection(
                "127.0.0.1", port, timeout=3, source_address=(LEGIT_SOURCE, 0)
            )
            connection.request("GET", "/live/bench/index.m3u8")
            response = connection.getresponse()
            body = response.read()
            connection.close()
            ok = response.status == 200 and body.startswith(b"#EXTM3U")
        except (OSError, http.client.HTTPException):
            ok = False
        if ok:
            result.viewer_ok += 1
            result.viewer_seconds.append(time.monotonic() - began)
        else:
            result.viewer_failed += 1


def sampler(server: Refserver, stop: threading.Event, result: Result) -> None:
    playlist = server.hls / "bench" / "index.m3u8"
    while not stop.wait(1.0):
        result.samples.append(
            Sample(
                time.monotonic(),
                open_fds(server.pid),
                rss_mb(server.pid),
                server.log.stat().st_size,
                next_segment(playlist),
            )
        )


def run(
    build: str, root: Path, mode: str, connections: int, sources: int, seconds: float, nofile: int
) -> Result:
    result = Result(build, mode, AttackStats())
    with tempfile.TemporaryDirectory(prefix="refserver-attack-") as folder:  # KEEPLOG
        server = Refserver(root, Path(folder), nofile)
        server.start()
        total = WARMUP_SECONDS + seconds + RECOVERY_SECONDS + 10
        publisher = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from camsim.cli import main; main()",
                "push",
                f"rtmp://127.0.0.1:{server.ports['rtmp']}/live/bench",
                f"--duration={total}",
                "--json",
            ],
            cwd=HERE,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        playlist = server.hls / "bench" / "index.m3u8"
        try:
            deadline = time.monotonic() + WARMUP_SECONDS
            while (next_segment(playlist) or 0) < 2:
                if time.monotonic() > deadline:
                    raise RuntimeError("no playlist from the publisher")
                time.sleep(0.2)
            stop = threading.Event()
            threads = [
                threading.Thread(target=viewer, args=(server.ports["http"], stop, result)),
                threading.Thread(target=sampler, args=(server, stop, result)),
            ]
            for thread in threads:
                thread.start()
            log_before = server.log.stat().st_size
            first = next_segment(playlist) or 0
            addresses = [f"127.0.1.{n + 1}" for n in range(sources)]
            began = time.monotonic()
            result.attack = asyncio.run(
                attack(server.ports["http"], mode, connections, addresses, seconds)
            )
            result.attack_seconds = time.monotonic() - began
            during = next_segment(playlist) or first
            result.segments_during_attack = during - first
            result.log_bytes_during_attack = server.log.stat().st_size - log_before
            time.sleep(RECOVERY_SECONDS)
            result.segments_after_attack = (next_segment(playlist) or during) - during
            stop.set()
            for thread in threads:
                thread.join(10)
            result.alive_at_end = server.alive()
        finally:
            publisher.send_signal(signal.SIGINT)
            try:
                out, _ = publisher.communicate(timeout=15)
            except subprocess.TimeoutExpired:
                publisher.kill()
                out, _ = publisher.communicate()
            server.stop()
        try:
            result.publisher = json.loads(out)["streams"][0]
        except (ValueError, KeyError, IndexError):
            result.publisher = {"error": f"no report (exit {publisher.returncode})"}
        result.accept_errors_logged = server.log.read_text(errors="replace").count(
            "out of system resource"
        )
        if os.environ.get("KEEPLOG"):
            Path(os.environ["KEEPLOG"]).write_bytes(server.log.read_bytes())
    return result


def raise_own_limit(connections: int) -> int:
    """The attacker needs a descriptor per connection: raise ours to the hard limit."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return min(connections, hard - 256)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=["idle", "slowloris"], default="idle")
    parser.add_argument("--connections", type=int, default=20000)
    parser.add_argument("--sources", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--nofile", type=int, default=1024)
    parser.add_argument("--baseline", type=Path, help="another checkout to attack in the same run")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    connections = raise_own_limit(args.connections)
    builds = [("this", HERE)] + ([("baseline", args.baseline)] if args.baseline else [])
    summaries = []
    for name, root in builds:
        result = run(name, root, args.mode, connections, args.sources, args.seconds, args.nofile)
        summaries.append(result.summary())
    if args.json:
        print(json.dumps(summaries, indent=2))
        return
    keys = [k for k in summaries[0] if k not in ("build", "mode", "attack")]
    print(
        f"mode {args.mode}, {connections} connections from {args.sources} addresses, "
        f"{args.seconds:g} s, RLIMIT_NOFILE {args.nofile}"
    )
    for summary in summaries:
        print(f"  {summary['build']}: attack {summary['attack']}")
    width = max(len(k) for k in keys)
    print(f"  {'':{width}}  " + "  ".join(f"{s['build']:>12}" for s in summaries))
    for key in keys:
        print(f"  {key:{width}}  " + "  ".join(f"{s[key]!s:>12}" for s in summaries))


if __name__ == "__main__":
    main()
