"""Which event loop runs the pumps: asyncio's own, or uvloop's (libuv) when it is installed.

Everything under :mod:`wire.asyncio` and its owners (refserver, the camera fleet, the encoder)
speaks only the :class:`asyncio.AbstractEventLoop` API, so either loop drives them unchanged.
uvloop is an optional dependency (``pip install camsim[fast]``); ``auto`` takes it when it can
be imported and asyncio's loop otherwise.

Two ways in, for two kinds of caller:

- :func:`resolve` for a program that owns its one loop (refserver): pass the choice's
  ``factory`` to :class:`asyncio.Runner`; nothing global changes;
- :func:`use_loop` for a command whose subcommands call :func:`asyncio.run` themselves (camsim):
  it sets the event loop policy for the duration of a ``with`` block.

The environment variable :data:`LOOP_ENV` gives the choice when no flag does (the command lines
read it), which is also how a test run moves every loop it starts onto uvloop.

Where uvloop differs in ways that matter here:

- its transports derive from none of asyncio's transport classes, so
  ``isinstance(transport, asyncio.Transport)`` is false for them;
- it starts reading a new connection once ``connection_made`` returns, even when that paused
  reading (asyncio honours the pause; :class:`~wire.asyncio.pump.StreamPump` copes with both);
- ``loop.time()`` advances in whole milliseconds (libuv's ``uv_now``), and so do its timers;
- ``get_extra_info("socket")`` is a stand-in that takes ``setsockopt`` (``SO_RCVLOWAT`` for
  ``merge_reads``) but cannot read or write;
- ``loop.sock_sendto``/``sock_recvfrom`` raise ``NotImplementedError`` (``camsim pcap replay``
  uses the first, so camsim's ``--loop`` applies to ``run`` and ``push`` only).
"""

from __future__ import annotations

import asyncio
import importlib
import platform
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType

LOOP_CHOICES = ("auto", "asyncio", "uvloop")
"""What ``--loop`` takes: ``auto`` is uvloop when importable, else asyncio."""
DEFAULT_LOOP = "asyncio"
"""What the command lines run without ``--loop`` or :data:`LOOP_ENV`. Not ``auto`` yet: on
uvloop ``loop.time()`` moves in whole milliseconds (``camsim push``'s phase timings read 0 ms on
loopback), timers may fire up to a millisecond early, and a protocol that pauses reading in
``connection_made`` still gets the first bytes; each caller must be checked for these first."""
LOOP_ENV = "CAMSIM_LOOP"
"""The environment variable the command lines read when ``--loop`` is not given."""
MISSING_UVLOOP = "uvloop is not installed (pip install 'camsim[fast]')"

LoopFactory = Callable[[], asyncio.AbstractEventLoop]


class LoopUnavailable(RuntimeError):
    """The loop asked for by name cannot be had (uvloop not installed)."""


@dataclass(frozen=True)
class EventLoopChoice:
    """A resolved choice: what to say in the log, and how to make such a loop."""

    name: str
    """``asyncio`` or ``uvloop``."""
    version: str
    factory: LoopFactory
    policy: Callable[[], asyncio.AbstractEventLoopPolicy]

    def describe(self) -> str:
        """``uvloop 0.21.0``, ``asyncio 3.11.7`` (Python's version)."""
        return f"{self.name} {self.version}"


def _uvloop() -> ModuleType | None:
    try:
        return importlib.import_module("uvloop")
    except ImportError:
        return None


def _asyncio_loop() -> asyncio.AbstractEventLoop:
    # The platform's own loop, whatever policy is installed at the moment (a test run may have
    # put uvloop's there).
    return asyncio.DefaultEventLoopPolicy().new_event_loop()


def resolve(choice: str) -> EventLoopChoice:
    """The loop ``choice`` (one of :data:`LOOP_CHOICES`) stands for on this machine; raises
    :class:`LoopUnavailable` for ``uvloop`` without uvloop, ``ValueError`` for an unknown name."""
    if choice not in LOOP_CHOICES:
        raise ValueError(f"unknown event loop {choice!r}: one of {', '.join(LOOP_CHOICES)}")
    if choice != "asyncio":
        uvloop = _uvloop()
        if uvloop is not None:
            return EventLoopChoice(
                "uvloop", uvloop.__version__, uvloop.new_event_loop, uvloop.EventLoopPolicy
            )
        if choice == "uvloop":
            raise LoopUnavailable(MISSING_UVLOOP)
    return EventLoopChoice(
        "asyncio", platform.python_version(), _asyncio_loop, asyncio.DefaultEventLoopPolicy
    )


@contextmanager
def use_loop(choice: str) -> Iterator[EventLoopChoice]:
    """Inside the block, every loop ``asyncio.run`` or ``asyncio.new_event_loop`` makes is of
    the chosen kind; the previous policy is back afterwards."""
    chosen = resolve(choice)
    previous = asyncio.get_event_loop_policy()
    asyncio.set_event_loop_policy(chosen.policy())
    try:
        yield chosen
    finally:
        asyncio.set_event_loop_policy(previous)


def running_loop_name(loop: asyncio.AbstractEventLoop) -> str:
    """``uvloop`` or ``asyncio``: which kind of loop ``loop`` is."""
    return "uvloop" if type(loop).__module__.startswith("uvloop") else "asyncio"
