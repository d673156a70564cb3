"""The registry of fuzz targets and how one input is run: limits on CPU and memory, and the
documented error as the only allowed exception.

A :class:`Target` names the entry point, the error its module documents for malformed input, and
a function that feeds it one input. :func:`check` runs a target: the documented error is a
correct answer, any other exception is a bug, and so is an input that takes more than
:data:`CPU_LIMIT` seconds of CPU (a hang) or raises the peak memory by more than
:data:`MEMORY_LIMIT`.
"""

from __future__ import annotations

import contextlib
import resource
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import FrameType

CPU_LIMIT = 5.0
"""CPU seconds one input may take before it counts as a hang (inputs are a few kB at most)."""


MEMORY_LIMIT = 256 * 1024 * 1024
"""How far one input may raise the process's peak memory (inputs are a few kB at most)."""


class Hang(Exception):
    """An input kept a parser busy past :data:`CPU_LIMIT`."""


class MemoryHog(Exception):
    """An input made a parser allocate past :data:`MEMORY_LIMIT`."""


@dataclass(frozen=True)
class Target:
    """One entry point: ``run`` feeds it an input and raises only ``errors`` for bad input."""

    name: str
    entry: str
    errors: tuple[type[BaseException], ...]
    run: Callable[[bytes], object]
    seeds: Callable[[], list[bytes]] = field(default=list)


TARGETS: dict[str, Target] = {}


def target(
    name: str,
    entry: str,
    errors: tuple[type[BaseException], ...],
    seed_source: Callable[[], list[bytes]] = list,
) -> Callable[[Callable[[bytes], object]], Callable[[bytes], object]]:
    def register(run: Callable[[bytes], object]) -> Callable[[bytes], object]:
        if name in TARGETS:
            raise ValueError(f"fuzz target {name} registered twice")
        TARGETS[name] = Target(name, entry, errors, run, seed_source)
        return run

    return register


@contextlib.contextmanager
def cpu_limit(seconds: float = CPU_LIMIT) -> Iterator[None]:
    """Raise :class:`Hang` in the block once it has used ``seconds`` of CPU time.

    A virtual (CPU) timer, so a busy machine does not make a slow input look like a hang, and
    pytest-timeout's wall-clock SIGALRM is left alone.
    """

    def expire(signum: int, frame: FrameType | None) -> None:
        raise Hang(f"input took more than {seconds} s of CPU")

    previous = signal.signal(signal.SIGVTALRM, expire)
    outer = signal.setitimer(signal.ITIMER_VIRTUAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_VIRTUAL, *outer)  # an enclosing limit goes on
        signal.signal(signal.SIGVTALRM, previous)


def peak_memory() -> int:
    """The process's peak resident memory so far, in bytes (Linux reports kB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def check(name: str, data: bytes, *, limit: bool = True) -> None:
    """Run target ``name`` on ``data``; its documented error passes, anything else raises."""
    spec = TARGETS[name]
    peak = peak_memory()
    with cpu_limit() if limit else contextlib.nullcontext(), contextlib.suppress(*spec.errors):
        spec.run(data)
    # The peak only grows, so this catches the first input that allocates that much at once.
    if limit and (grown := peak_memory() - peak) > MEMORY_LIMIT:
        raise MemoryHog(f"input raised the peak memory by {grown >> 20} MiB")


def text(data: bytes) -> str:
    """Header text as the RTSP reader decodes it (UTF-8, undecodable bytes kept as surrogates)."""
    return data.decode("utf-8", "surrogateescape")


def pieces(data: bytes) -> Iterator[bytes]:
    """A connection target's input: the first byte chooses how the rest is split into reads.

    0 feeds everything at once, n feeds reads of n bytes, so the fuzzer explores both whole
    messages and every boundary inside them.
    """
    if not data:
        return
    size = data[0] or len(data)
    body = data[1:]
    for start in range(0, len(body), size):
        yield body[start : start + size]
