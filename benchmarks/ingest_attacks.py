"""Attacks on refserver's RTMP/RTMPS ingest, each while a legitimate publisher tries to publish.

Three attacks, each against a fresh refserver process on loopback, bounded in connections and
time::

    python -m benchmarks.ingest_attacks [--attack tls|slowloris|chunks] [--source DIR] [--json]

- ``tls``: ``--connections`` (1500) TCP connections to the RTMPS port that never start their
  TLS handshake, kept up (a closed one is reopened after a second) for ``--seconds``.
- ``slowloris``: as many RTMP connections that trickle the handshake, one byte every 2 s.
- ``chunks``: ``--chunk-connections`` (2) publishers that each start a 8 MiB message on 64 chunk
  streams and send all of it but its last 64 KiB chunk (512 MiB per connection).

The attacker connects from 127.0.0.1 (or from ``--attacker-addresses`` N addresses,
127.0.1.1-N, to show what a per-address cap cannot do); the legitimate publisher connects from
127.0.0.2, starts a second into the attack and sends the default sample in real time for 4 s, over
RTMPS during the ``tls`` attack and RTMP otherwise. Reported per attack: refserver's RSS before,
at its peak during and 3 s after; the attacker's connections refserver held (established and
accepted, from ``/proc/net/tcp``, peak and median of ten samples a second); whether the publisher
was accepted and how many video frames refserver took from it; refserver's commonest warnings.

``--source DIR`` runs the refserver of another checkout (e.g. a ``git worktree`` of an older
commit) with the same attacker, for a before/after comparison; its flags must match this one's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path

from camsim.encoder.flv_source import FlvPlan
from camsim.media.loader import load
from camsim.media.make import default_sample
from tests.integration.refserver.harness import RtmpPublisher
from wire.rtmp.chunk import ChunkWriter, RtmpMessage, encode_basic_header
from wire.rtmp.events import PublishStarted
from wire.rtmp.messages import MessageType, SetChunkSize

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
MiB = 1024 * 1024
ATTACKER = "127.0.0.1"
PUBLISHER = "127.0.0.2"
REFSERVER = (sys.executable, "-c", "from refserver.cli import main; main()")
REOPEN_AFTER = 1.0
"""Seconds before the attacker reopens a connection the server closed: persistent, not a flood."""
SETTLE_SECONDS = 3.0
PUBLISH_SECONDS = 4.0


def rss_mb(pid: int) -> float:
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_SIZE / MiB


def socket_inodes(pid: int) -> set[int]:
    """The inodes of the sockets the process has open."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with suppress(OSError):
            link = os.readlink(fd)
            if link.startswith("socket:["):
                inodes.add(int(link[8:-1]))
    return inodes


def connections_held(pid: int, port: int, peers: set[str]) -> int:
    """Established TCP connections to ``port`` from ``peers`` that the process holds open
    (proc(5): a connection still in the listen backlog has no socket of the process yet)."""
    inodes = socket_inodes(pid)
    held = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, state, inode = fields[1], fields[2], fields[3], int(fields[9])
        if state != "01" or inode not in inodes or int(local.split(":")[1], 16) != port:
            continue
        address = socket.inet_ntoa(struct.pack("<I", int(remote.split(":")[0], 16)))
        held += address in peers
    return held


@dataclass
class Figures:
    attack: str
    source: str
    attacker_addresses: int
    attack_connections: int
    rss_before_mb: float = 0.0
    rss_peak_mb: float = 0.0
    rss_after_mb: float = 0.0
    held_peak: int = 0
    """The most attacker connections refserver held at once (sampled ten times a second)."""
    held_median: float = 0.0
    """The median of those samples (taken while the attack runs)."""
    attacker_opened: int = 0
    """TCP connections the attacker opened in all (reopening those the server closed)."""
    publisher: str = ""
    publisher_video_frames: int = 0
    warnings: dict[str, int] = field(default_factory=dict)
    """refserver's commonest warnings during the run."""
    notes: list[str] = field(default_factory=list)


@contextmanager
def refserver(
    source: Path, folder: Path
) -> Iterator[tuple[subprocess.Popen[bytes], dict[str, int]]]:
    """refserver from ``source`` with its default limits, on free loopback ports."""
    log = folder / "refserver.log"
    command = [
        *REFSERVER,
        "--rtmp-port=0",
        "--rtmps-port=0",
        "--http-port=0",
        f"--hls-dir={folder / 'hls'}",
        f"--state-dir={folder / 'state'}",
        "--log-format=json",
        "--log-level=info",
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=source, stdin=subprocess.DEVNULL, stdout=out, stderr=out
        )
    ports: dict[str, int] = {}
    try:
        deadline = time.monotonic() + 30
        while len(ports) < 3 and time.monotonic() < deadline and process.poll() is None:
            for line in log.read_text().splitlines():
                with suppress(ValueError):
                    entry = json.loads(line)
                    if entry.get("message") == "listening":
                        port = entry["address"].rsplit(":", 1)[1].split("/")[0]
                        ports[entry["protocol"]] = int(port)
            time.sleep(0.05)
        if len(ports) < 3:
            raise RuntimeError(f"refserver did not start: {log.read_text()[-2000:]}")
        yield process, ports
    finally:
        process.send_signal(2)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


class Attacker:
    """Keeps ``count`` connections open to ``port`` for ``seconds``, reopening closed ones."""

    def __init__(self, port: int, count: int, seconds: float, addresses: list[str]) -> None:
        self.port = port
        self.count = count
        self.seconds = seconds
        self.addresses = addresses
        self.opened = 0

    async def run(self) -> None:
        deadline = time.monotonic() + self.seconds
        await asyncio.gather(*(self._hold(index, deadline) for index in range(self.count)))

    async def _hold(self, index: int, deadline: float) -> None:
        address = self.addresses[index % len(self.addresses)]
        while time.monotonic() < deadline:
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection("127.0.0.1", self.port, local_addr=(address, 0)), 5
                )
            except (OSError, TimeoutError):
                await asyncio.sleep(REOPEN_AFTER)
                continue
            self.opened += 1
            try:
                await self.occupy(reader, writer, deadline)
            except (OSError, TimeoutError):
                pass
            finally:
                writer.transport.abort()
            await asyncio.sleep(REOPEN_AFTER)

    async def occupy(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, deadline: float
    ) -> None:
        """Hold the connection until the server closes it or the attack ends: send nothing."""
        remaining = deadline - time.monotonic()
        with suppress(TimeoutError):
            await asyncio.wait_for(reader.read(), max(remaining, 0))


class Slowloris(Attacker):
    async def occupy(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, deadline: float
    ) -> None:
        """C0, then C1 one byte every 2 s, never completing it."""
        writer.write(b"\x03")
        while time.monotonic() < deadline:
            try:
                data = await asyncio.wait_for(
                    reader.read(65536), min(2.0, deadline - time.monotonic())
                )
            except TimeoutError:
                writer.write(b"\x00")
                continue
            if not data:
                return


class UnfinishedMessages(Attacker):
    """Publishes, then fills 64 chunk streams with all but the last chunk of 8 MiB messages;
    a connection the server closes is not reopened."""

    async def run(self) -> None:
        deadline = time.monotonic() + self.seconds
        await asyncio.gather(*(self._attack(index, deadline) for index in range(self.count)))

    async def _attack(self, index: int, deadline: float) -> None:
        publisher = RtmpPublisher(self.port, source=self.addresses[index % len(self.addresses)])
        self.opened += 1
        await self._fill(publisher, index, deadline)

    async def _fill(self, publisher: RtmpPublisher, index: int, deadline: float) -> None:
        if not isinstance(await publisher.publish(f"attack{index}"), PublishStarted):
            return
        assert publisher.writer is not None
        size = 64 * 1024
        chunk_size = RtmpMessage(MessageType.SET_CHUNK_SIZE, SetChunkSize(size).serialize(), 0, 0)
        writer = publisher.writer
        try:
            writer.write(ChunkWriter().write(2, chunk_size))
            for csid in range(10, 74):
                header = encode_basic_header(0, csid) + bytes(3) + (8 * MiB).to_bytes(3, "big")
                header += bytes((MessageType.VIDEO,)) + struct.pack("<I", 1)
                writer.write(header + b"\x17" * size)
                for _ in range(8 * MiB // size - 2):
                    writer.write(encode_basic_header(3, csid) + b"\x17" * size)
                    await writer.drain()
                    if time.monotonic() > deadline:
                        return
            # Everything is sent: hold on until the attack ends.
            assert publisher.reader is not None
            await asyncio.wait_for(publisher.reader.read(), max(deadline - time.monotonic(), 0))
        except (OSError, TimeoutError):
            pass
        finally:
            publisher.abort()


async def legitimate_publish(port: int, plan: FlvPlan, *, tls: bool) -> str:
    publisher = RtmpPublisher(port, tls=tls, source=PUBLISHER)
    try:
        answer = await asyncio.wait_for(publisher.publish("legit"), 15)
        if not isinstance(answer, PublishStarted):
            return f"refused: {answer}"
        await publisher.send_plan(plan, seconds=PUBLISH_SECONDS, realtime=True)
        await publisher.unpublish()
        return "published"
    except (OSError, TimeoutError, AssertionError) as exc:
        publisher.abort()
        return f"failed: {type(exc).__name__}: {exc}"


def video_frames(http_port: int) -> int:
    try:
        with urllib.request.urlopen(
            f"http://127.0.0.1:{http_port}/api/streams/legit", timeout=5
        ) as r:
            info = json.loads(r.read())
    except OSError:
        return 0
    frames = info.get("frames", {})
    return int(frames.get("video", 0)) if isinstance(frames, dict) else 0


class Sampler(threading.Thread):
    """refserver's RSS fifty times a second, and the attacker's connections it holds ten."""

    def __init__(self, pid: int, port: int, peers: set[str]) -> None:
        super().__init__(daemon=True)
        self.pid, self.port, self.peers = pid, port, peers
        self.rss_peak = 0.0
        self.held: list[int] = []
        """Samples taken while ``attacking`` is set."""
        self.attacking = threading.Event()
        self.stop = threading.Event()

    def run(self) -> None:
        tick = 0
        while not self.stop.is_set():
            with suppress(OSError):
                self.rss_peak = max(self.rss_peak, rss_mb(self.pid))
                if tick % 5 == 0 and self.attacking.is_set():
                    self.held.append(connections_held(self.pid, self.port, self.peers))
            tick += 1
            self.stop.wait(0.02)


def warnings(log: Path, most: int = 4) -> dict[str, int]:
    """The commonest warnings refserver logged (message: reason), with their counts."""
    seen: Counter[str] = Counter()
    for line in log.read_text().splitlines():
        with suppress(ValueError):
            entry = json.loads(line)
            if entry.get("level") == "warning":
                seen[f"{entry.get('message')}: {entry.get('reason', '')}"] += 1
    return dict(seen.most_common(most))


def run_attack(
    attack: str,
    source: Path,
    plan: FlvPlan,
    *,
    connections: int,
    chunk_connections: int,
    seconds: float,
    addresses: int,
) -> Figures:
    attacker_addresses = (
        [ATTACKER] if addresses == 1 else [f"127.0.1.{n}" for n in range(1, addresses + 1)]
    )
    count = chunk_connections if attack == "chunks" else connections
    figures = Figures(attack, str(source), addresses, count)
    with (
        tempfile.TemporaryDirectory(prefix="ingest-attacks-") as folder,
        refserver(source, Path(folder)) as (process, ports),
    ):
        time.sleep(1.0)
        figures.rss_before_mb = round(rss_mb(process.pid), 1)
        tls = attack == "tls"
        port = ports["rtmps" if tls else "rtmp"]
        kind = {"tls": Attacker, "slowloris": Slowloris, "chunks": UnfinishedMessages}[attack]
        attacker = kind(port, count, seconds, attacker_addresses)
        sampler = Sampler(process.pid, port, set(attacker_addresses))
        sampler.start()

        async def scenario() -> str:
            sampler.attacking.set()
            attacking = asyncio.create_task(attacker.run())
            await asyncio.sleep(1.0)
            answer = await legitimate_publish(port, plan, tls=tls)
            await attacking
            sampler.attacking.clear()
            return answer

        figures.publisher = asyncio.run(scenario())
        figures.publisher_video_frames = video_frames(ports["http"])
        time.sleep(SETTLE_SECONDS)
        sampler.stop.set()
        sampler.join()
        figures.rss_peak_mb = round(sampler.rss_peak, 1)
        figures.rss_after_mb = round(rss_mb(process.pid), 1)
        figures.held_peak = max(sampler.held, default=0)
        figures.held_median = statistics.median(sampler.held) if sampler.held else 0.0
        figures.attacker_opened = attacker.opened
        if process.poll() is not None:
            figures.notes.append(f"refserver exited with {process.returncode}")
        figures.warnings = warnings(Path(folder) / "refserver.log")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--attack", choices=["tls", "slowloris", "chunks"], action="append")
    parser.add_argument("--source", type=Path, default=Path(__file__).resolve().parents[1])
    parser.add_argument("--connections", type=int, default=1500)
    parser.add_argument("--chunk-connections", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=12.0)
    parser.add_argument("--attacker-addresses", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not 1 <= args.connections <= 5000 or not 1 <= args.chunk_connections <= 4:
        parser.error("--connections is 1-5000 and --chunk-connections 1-4 (2 GiB before the fix)")
    if not 1 <= args.attacker_addresses <= 250 or not 1 <= args.seconds <= 120:
        parser.error("--attacker-addresses is 1-250 and --seconds 1-120")
    plan = FlvPlan.build(load(default_sample()))
    results = [
        run_attack(
            attack,
            args.source,
            plan,
            connections=args.connections,
            chunk_connections=args.chunk_connections,
            seconds=args.seconds,
            addresses=args.attacker_addresses,
        )
        for attack in args.attack or ["tls", "slowloris", "chunks"]
    ]
    if args.json:
        print(json.dumps([asdict(r) for r in results], indent=2))
        return
    for r in results:
        print(
            f"{r.attack:9}  held {r.held_peak:5} (median {r.held_median:6.1f})  "
            f"opened {r.attacker_opened:5}  "
            f"RSS {r.rss_before_mb:6.1f} -> peak {r.rss_peak_mb:7.1f} -> "
            f"after {r.rss_after_mb:6.1f} MB"
            f"  publisher: {r.publisher} ({r.publisher_video_frames} video frames)"
            + (f"  [{'; '.join(r.notes)}]" if r.notes else "")
        )


if __name__ == "__main__":
    main()
