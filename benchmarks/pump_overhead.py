"""The pump's own cost per read: StreamPump.data_received around a session that does nothing.

The session takes the bytes and drops them, has nothing to send, no event and a fixed deadline;
the transport only counts. What is left is the pump's plumbing on every read (the entry guard,
the clock, the write, event drain, timer and reading checks), the same work every camera,
encoder, ingest and pull connection pays before its protocol code runs. Two figures come out of
one run, side by side: µs per read through the pump, and µs per read calling the session
directly (the peer: the least any pump can cost), alternating rounds so both see the same
machine::

    python -m benchmarks.pump_overhead --reads 200000 --rounds 5
    python -m benchmarks.pump_overhead --profile      # cProfile of the pump's reads
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import pstats
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from wire.asyncio.pump import StreamPump
from wire.session import Termination

MAX_READS = 10_000_000
MAX_ROUNDS = 50
CHUNK = bytes(4096)
"""One read as the ingest sees it from a pushing encoder: a socket buffer's worth."""


class DroppingSession:
    """A :class:`~wire.asyncio.pump.StreamSession` that reads and drops, and never ends."""

    def __init__(self) -> None:
        self.received = 0
        self.deadline = 1e9

    def receive_data(self, data: bytes, now: float) -> None:
        self.received += len(data)

    def receive_eof(self, now: float) -> None:
        pass

    def connection_lost(self, now: float, exc: Exception | None) -> None:
        pass

    def data_to_send(self) -> bytes:
        return b""

    def get_timer(self) -> float | None:
        return self.deadline

    def handle_timer(self, now: float) -> None:
        pass

    def next_event(self) -> object | None:
        return None

    def writing_paused(self, now: float) -> None:
        pass

    def writing_resumed(self, now: float) -> None:
        pass

    def close(self, termination: Termination) -> None:
        pass

    @property
    def wants_data(self) -> bool:
        return True

    @property
    def termination(self) -> Termination | None:
        return None


class CountingTransport(asyncio.Transport):
    """Open, never paused, writes counted and dropped."""

    def __init__(self) -> None:
        super().__init__()
        self.written = 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += len(data)

    def is_closing(self) -> bool:
        return False

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name: str, default: object = None) -> object:
        return ("127.0.0.1", 1935) if name == "peername" else default

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def abort(self) -> None:
        pass


@dataclass(frozen=True)
class Figures:
    reads: int
    rounds: int
    pump_us: float
    """Median over rounds of µs per read through StreamPump.data_received."""
    direct_us: float
    """Median over rounds of µs per read calling session.receive_data with loop.time()."""

    @property
    def overhead_us(self) -> float:
        return self.pump_us - self.direct_us

    @property
    def ratio(self) -> float:
        return self.pump_us / self.direct_us

    def format(self) -> str:
        return (
            f"pump overhead ({self.reads} reads x {self.rounds} rounds, median):\n"
            f"  through StreamPump.data_received: {self.pump_us:.3f} µs per read\n"
            f"  calling the session directly:     {self.direct_us:.3f} µs per read\n"
            f"  the pump's own cost: {self.overhead_us:.3f} µs per read "
            f"({self.ratio:.2f}x the direct call)"
        )


def _pumped(loop: asyncio.AbstractEventLoop) -> tuple[StreamPump, DroppingSession]:
    session = DroppingSession()
    pump = StreamPump(session, loop=loop)
    pump.connection_made(CountingTransport())
    return pump, session


def _timed(reads: int, read: Callable[[bytes], None]) -> float:
    data = CHUNK
    started = time.perf_counter()
    for _ in range(reads):
        read(data)
    return (time.perf_counter() - started) / reads * 1e6


def measure(reads: int, rounds: int) -> Figures:
    """Alternate rounds of pumped and direct reads on one event loop; medians of each."""
    if not 0 < reads <= MAX_READS or not 0 < rounds <= MAX_ROUNDS:
        raise ValueError(f"reads in 1..{MAX_READS}, rounds in 1..{MAX_ROUNDS}")
    loop = asyncio.new_event_loop()
    try:
        pump, _ = _pumped(loop)
        session = DroppingSession()
        clock = loop.time

        def direct(data: bytes) -> None:
            session.receive_data(data, clock())

        pumped, plain = [], []
        for _ in range(rounds):
            pumped.append(_timed(reads, pump.data_received))
            plain.append(_timed(reads, direct))
        pump.abort()
    finally:
        loop.close()
    return Figures(reads, rounds, statistics.median(pumped), statistics.median(plain))


def profile(reads: int) -> None:
    loop = asyncio.new_event_loop()
    try:
        pump, _ = _pumped(loop)
        profiler = cProfile.Profile()
        profiler.runcall(_timed, reads, pump.data_received)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(12)
    finally:
        loop.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--reads", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="cProfile the pumped reads")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.profile:
        profile(args.reads)
        return 0
    figures = measure(args.reads, args.rounds)
    if args.json:
        print(json.dumps({**asdict(figures), "overhead_us": figures.overhead_us}))
    else:
        print(figures.format())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
