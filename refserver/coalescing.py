"""Fewer, larger socket reads from peers that send a steady stream.

A 2 Mbit/s publisher's bytes arrive as many small TCP segments, and waking the event loop for
each of them costs more than the work the bytes carry: with 20 FFmpeg publishers, a third of the
server's CPU. ``SO_RCVLOWAT`` (socket(7)) tells the kernel not to report
the socket readable until that many bytes are queued (end of stream and errors still wake us).
:class:`ReadCoalescing` sets it to what the peer sends in :data:`WINDOW` seconds, re-estimated
every second from what actually arrived, so at a steady rate a byte waits at most about
``WINDOW`` longer than it would have. When the peer goes quiet the mark drops back to one byte
after :data:`QUIET_AFTER`, so a stream that slows down or stops is never held back for long.

A message's tail would still wait for the next message's bytes to lift the queue over the mark
(a keyframe's tail, by a frame interval, and with it the segment it closes), so a protocol that
knows how many bytes complete the message it is reading passes that bound, and the mark stays
under it: the read that completes a message is never held back.

What it cannot avoid: a sender using Nagle's algorithm (FFmpeg's default) holds its next small
segment until the last is acknowledged, and the kernel delays that ACK while the queue is under
the mark, so such a sender stalls for up to a delayed ACK (~40 ms). This is why it is an option
(``merge_reads``), like SRS's merged read, and off by default.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Protocol

WINDOW = 0.02
"""Seconds of the peer's data a read waits for: far below any HLS latency, and enough to turn
~100 reads a second per 2 Mbit/s stream into ~30 larger ones."""
ESTIMATE_EVERY = 1.0
"""Seconds between re-estimates of the peer's rate."""
QUIET_AFTER = 1.5
"""Seconds without data after which the low-water mark goes back to one byte."""
MAX_LOW_WATER = 65536


class _Socket(Protocol):
    def setsockopt(self, level: int, option: int, value: int, /) -> None: ...


class ReadCoalescing:
    """Keeps one socket's ``SO_RCVLOWAT`` at :data:`WINDOW` seconds of its peer's data.

    Call :meth:`received` for every read and :meth:`close` when the connection ends. A socket that
    does not take the option (not TCP, or not Linux) is left as it is.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, sock: _Socket | None) -> None:
        self.loop = loop
        self.low_water = 1
        self._socket = sock if hasattr(socket, "SO_RCVLOWAT") else None
        self._since = loop.time()
        self._bytes = 0
        self._last_data = self._since
        self._steady = 1
        self._quiet: asyncio.TimerHandle | None = None

    def received(self, size: int, now: float, *, wanted: int | None = None) -> None:
        """``size`` bytes were read at ``now`` (the loop's clock). ``wanted``, when the protocol
        knows it, is a lower bound on the bytes that complete the message being received: the
        mark stays at or below it, so a message's tail never waits for the next message."""
        self._bytes += size
        self._last_data = now
        if now - self._since >= ESTIMATE_EVERY:
            rate = self._bytes / (now - self._since)
            self._since, self._bytes = now, 0
            self._steady = min(MAX_LOW_WATER, max(1, int(rate * WINDOW)))
        self._set(self._steady if wanted is None else min(self._steady, wanted))

    def close(self) -> None:
        """Stop: every byte is read as it comes from now on (the connection is ending)."""
        self._steady = 1
        self._set(1)
        if self._quiet is not None:
            self._quiet.cancel()
            self._quiet = None
        self._socket = None

    def _set(self, low_water: int) -> None:
        if self._socket is None or low_water == self.low_water:
            return
        try:
            self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT, low_water)
        except OSError:
            self._socket = None  # closed under us, or an option this socket does not take
            return
        self.low_water = low_water
        if low_water > 1 and self._quiet is None:
            self._quiet = self.loop.call_later(QUIET_AFTER, self._check_quiet)

    def _check_quiet(self) -> None:
        self._quiet = None
        now = self.loop.time()
        if now - self._last_data >= QUIET_AFTER:
            # Whatever sits below the mark is delivered now; the next estimate starts afresh.
            self._since, self._bytes, self._steady = now, 0, 1
            self._set(1)
        elif self.low_water > 1:
            self._quiet = self.loop.call_at(self._last_data + QUIET_AFTER, self._check_quiet)
