"""How long a process's event loop is kept from running its callbacks: a loop-lag probe.

A callback scheduled every ``interval`` seconds measures its own lateness (when it ran minus when
it was due). Anything that holds the loop (a blocking write, a long parse) shows as lateness of
the next probe, so the longest lateness is the loop's longest stall and the lateness percentiles
say how late any other callback (a socket read, a timer) ran in the same run.

Run as a wrapper around refserver, the probe in refserver's own loop::

    python -m benchmarks.loopstall OUT.json [--disk-delay SECONDS] [refserver flags]

or alone, as the baseline of the same machine at the same moment (an idle loop, the peer the
refserver figures are divided by)::

    python -m benchmarks.loopstall OUT.json --idle SECONDS

``--disk-delay`` stands in for a slow disk (a busy spindle, a network file system): every HLS
file refserver writes takes that much longer, slept in the writing thread before the write.

Either way OUT.json gets ``{"interval": s, "samples": [[wallclock, lateness], ...]}`` when the
process ends (SIGINT included), and :func:`summarise` turns a window of it into figures.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import subprocess
import sys
import time
from array import array
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

INTERVAL = 0.01
"""Seconds between probes: fine enough to see a stall of a few milliseconds, and costing the
loop some hundred cheap callbacks a second."""
MAX_SAMPLES = 2_000_000
"""A bound on memory: over five hours of probes at the default interval."""
SAMPLE_BYTES = 16
"""Memory one probe's sample takes (two doubles): the probe lives in the process it measures,
whose RSS the benchmarks also report, so it must not pass for that process's own growth (as
a list of tuples of floats, 112 bytes a probe, did: 0.6 MB a minute)."""


class LoopLagProbe:
    """Schedules itself every ``interval`` seconds on ``loop`` and records its lateness."""

    def __init__(self, loop: asyncio.AbstractEventLoop, interval: float = INTERVAL) -> None:
        self.loop = loop
        self.interval = interval
        self._wallclock = array("d")
        self._lateness = array("d")
        self._due = 0.0
        self._handle: asyncio.TimerHandle | None = None

    def start(self) -> None:
        self._due = time.monotonic() + self.interval
        self._handle = self.loop.call_later(self.interval, self._fire)

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _fire(self) -> None:
        # time.monotonic, not loop.time(): uvloop's clock and timers move in whole milliseconds,
        # asyncio's loop.time() is time.monotonic() itself.
        now = time.monotonic()
        if len(self._wallclock) < MAX_SAMPLES:
            self._wallclock.append(time.time())
            self._lateness.append(max(now - self._due, 0.0))
        # The next probe is due one interval after this one ran, not on a fixed grid: a stall
        # is then counted once, by the probe it held up, not again by every probe it skipped.
        self._due = now + self.interval
        self._handle = self.loop.call_later(self.interval, self._fire)

    @property
    def samples(self) -> list[tuple[float, float]]:
        """(wallclock, lateness in seconds) of every probe."""
        return list(zip(self._wallclock, self._lateness, strict=True))

    def dump(self, path: Path) -> None:
        path.write_text(json.dumps({"interval": self.interval, "samples": self.samples}))


@dataclass(frozen=True)
class LoopLag:
    """Figures over one window: probe count, longest stall, p99 and p50 of lateness (ms)."""

    probes: int
    max_ms: float
    p99_ms: float
    p50_ms: float

    def to_json(self) -> dict[str, float | int]:
        return asdict(self)


def summarise(path: Path, since: float = 0.0, until: float = math.inf) -> LoopLag:
    """The figures of the probes in ``path`` that ran between wallclock ``since`` and ``until``."""
    data = json.loads(path.read_text())
    lags: list[float] = sorted(lag for at, lag in data["samples"] if since <= at <= until)
    if not lags:
        raise RuntimeError(f"no loop-lag probe ran in the window ({path})")

    def rank(q: float) -> float:
        return round(lags[max(math.ceil(q * len(lags)) - 1, 0)] * 1000, 3)

    return LoopLag(len(lags), rank(1.0), rank(0.99), rank(0.5))


def probe_servers(probes: list[LoopLagProbe], interval: float = INTERVAL) -> None:
    """Every :class:`~refserver.server.ReferenceServer` of this process probes the loop it
    starts in, whichever kind of loop that is (refserver makes its own, see ``--loop``)."""
    from refserver.server import ReferenceServer

    start = ReferenceServer.start

    async def probed_start(self: ReferenceServer) -> None:
        probe = LoopLagProbe(asyncio.get_running_loop(), interval)
        probe.start()
        probes.append(probe)
        await start(self)

    ReferenceServer.start = probed_start  # type: ignore[method-assign]


class ProbingPolicy(asyncio.DefaultEventLoopPolicy):
    """Every new event loop gets a probe (``asyncio.run`` makes its loop through the policy)."""

    def __init__(self, interval: float = INTERVAL) -> None:
        super().__init__()
        self.interval = interval
        self.probes: list[LoopLagProbe] = []

    def new_event_loop(self) -> asyncio.AbstractEventLoop:
        loop = super().new_event_loop()
        probe = LoopLagProbe(loop, self.interval)
        probe.start()
        self.probes.append(probe)
        return loop


def probed(out: Path, disk_delay: float = 0.0) -> tuple[str, ...]:
    """The command that runs refserver with a probe writing to ``out`` (flags follow it), its
    HLS writes slowed by ``disk_delay`` seconds each."""
    delay = (f"--disk-delay={disk_delay:g}",) if disk_delay > 0 else ()
    return (sys.executable, "-m", "benchmarks.loopstall", str(out), *delay)


def slow_disk(delay: float) -> None:
    """Every HLS file write of refserver's storage takes ``delay`` seconds more."""
    from refserver.hls.storage import DirectoryStorage

    write = DirectoryStorage.write

    def slow_write(self: DirectoryStorage, name: str, data: bytes) -> None:
        time.sleep(delay)  # in whichever thread writes: the point of the measurement
        write(self, name, data)

    DirectoryStorage.write = slow_write  # type: ignore[method-assign]


def idle_peer(out: Path, seconds: float) -> subprocess.Popen[bytes]:
    """An idle probed loop for ``seconds``: the same machine's lateness with nothing to do."""
    command = [*probed(out), "--idle", f"{seconds:g}"]
    return subprocess.Popen(command, stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def _idle(seconds: float) -> None:
    await asyncio.sleep(seconds)


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        raise SystemExit("usage: python -m benchmarks.loopstall OUT.json [--idle S | FLAGS]")
    out = Path(args.pop(0))
    if args and args[0].startswith("--disk-delay="):
        slow_disk(float(args.pop(0).split("=", 1)[1]))
    policy = ProbingPolicy()
    try:
        if args[:1] == ["--idle"]:
            asyncio.set_event_loop_policy(policy)
            with contextlib.suppress(KeyboardInterrupt):
                asyncio.run(_idle(float(args[1])))
        else:
            from refserver.cli import main as refserver_main

            probe_servers(policy.probes, policy.interval)
            refserver_main(args)
    finally:
        samples = [s for probe in policy.probes for s in probe.samples]
        out.write_text(json.dumps({"interval": policy.interval, "samples": samples}))


if __name__ == "__main__":
    main()
