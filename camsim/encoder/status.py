"""The live status table of ``camsim push`` on a terminal, and its final summary."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TextIO

from camsim.encoder.stats import StreamState, StreamStats

MAX_ROWS = 24
"""Streams listed one per line; the totals line covers the rest."""
_HEADER = f"{'#':>4}  {'state':<12} {'up s':>7} {'frames':>8} {'kbit/s':>8} {'recon':>5}  detail"


def _row(stats: StreamStats, kbps: float, now: float) -> str:
    detail = stats.error or stats.url
    return (
        f"{stats.index:>4}  {stats.state.value:<12} {stats.uptime(now):>7.0f} "
        f"{stats.video_frames:>8} {kbps:>8.0f} {stats.reconnects:>5}  {detail}"
    )


def _totals(all_stats: Sequence[StreamStats], kbps: float) -> str:
    publishing = sum(1 for s in all_stats if s.state is StreamState.PUBLISHING)
    frames = sum(s.video_frames for s in all_stats)
    reconnects = sum(s.reconnects for s in all_stats)
    return (
        f"{'all':>4}  {f'{publishing}/{len(all_stats)} up':<12} {'':>7} {frames:>8} "
        f"{kbps:>8.0f} {reconnects:>5}"
    )


def format_summary(all_stats: Sequence[StreamStats]) -> str:
    """A plain table of every stream: phase timings, counters and the outcome."""
    lines = [
        f"{'#':>4}  {'state':<12} {'tcp ms':>7} {'tls ms':>7} {'hs ms':>7} {'pub ms':>7} "
        f"{'frames':>8} {'MB':>8} {'recon':>5}  detail"
    ]
    for s in all_stats:
        lines.append(
            f"{s.index:>4}  {s.state.value:<12} {_ms(s.tcp_connect_ms)} {_ms(s.tls_handshake_ms)} "
            f"{_ms(s.rtmp_handshake_ms)} {_ms(s.connect_to_publish_ms)} {s.video_frames:>8} "
            f"{s.bytes_sent / 1e6:>8.1f} {s.reconnects:>5}  {s.error or s.url}"
        )
    return "\n".join(lines)


def _ms(value: float | None) -> str:
    return f"{'-':>7}" if value is None else f"{value:>7.1f}"


class LiveStatus:
    """Redraws the status table in place on a terminal each time it is called."""

    def __init__(self, out: TextIO, clock: Callable[[], float] = time.monotonic) -> None:
        """``clock`` must be the event loop's clock (monotonic), which stamps the stats."""
        self.out = out
        self.clock = clock
        self._drawn = 0
        self._last_time: float | None = None
        self._last_bytes: dict[int, int] = {}

    def __call__(self, all_stats: Sequence[StreamStats]) -> None:
        now = self.clock()
        elapsed = now - self._last_time if self._last_time is not None else 0.0
        rates = {
            s.index: (s.bytes_sent - self._last_bytes.get(s.index, 0)) * 8 / 1000 / elapsed
            if elapsed > 0
            else 0.0
            for s in all_stats
        }
        self._last_time = now
        self._last_bytes = {s.index: s.bytes_sent for s in all_stats}
        lines = [_HEADER]
        lines += [_row(s, rates[s.index], now) for s in all_stats[:MAX_ROWS]]
        if len(all_stats) > MAX_ROWS:
            lines.append(f"{'':>4}  ... {len(all_stats) - MAX_ROWS} more")
        lines.append(_totals(all_stats, sum(rates.values())))
        # Back to the first line drawn last time, then clear to the end of the screen.
        rewind = f"\x1b[{self._drawn}F\x1b[J" if self._drawn else ""
        self.out.write(rewind + "\n".join(lines) + "\n")
        self.out.flush()
        self._drawn = len(lines)
