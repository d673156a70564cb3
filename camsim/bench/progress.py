"""Live progress of a bench run: one status line, redrawn in place about once a second.

On a terminal the bench shows where it is (profile, stage and round, protocol), how the
streams of the current trial or window are doing (streams publishing, frames sent) and how
long it has run, on one line of stderr that it redraws; elsewhere (a log, CI, ``--json``) it
prints a plain line as each stage starts instead, as ``camsim push`` draws its table only on a
terminal.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TextIO

from camsim.encoder.stats import StreamState, StreamStats

STATUS_INTERVAL = 1.0
"""Seconds between two redraws of the status line."""


@dataclass
class BenchStatus:
    """Where a bench run is; the streams are those of the trial or window under way."""

    started: float = field(default_factory=time.monotonic)
    """The run's start, on the monotonic clock."""
    profile: str = ""
    stage: str = ""
    """``set-up``, ``TLS set-up`` or ``streaming``."""
    round: str = ""
    """``warm-up`` or ``k/N`` of the kept rounds."""
    protocol: str = ""
    streams: Callable[[], Sequence[StreamStats]] = tuple
    """The current streams' stats, read at each redraw."""


def status_line(status: BenchStatus, now: float) -> str:
    """The status line for ``status`` at monotonic time ``now``."""
    streams = status.streams()
    up = sum(s.state is StreamState.PUBLISHING for s in streams)
    frames = sum(s.video_frames for s in streams)
    elapsed = max(0, int(now - status.started))
    where = " ".join(p for p in (status.stage, status.round) if p)
    parts = [
        status.profile or "starting",
        where,
        status.protocol,
        f"{up}/{len(streams)} streams up",
        f"{frames} frames sent",
        f"{elapsed // 60}:{elapsed % 60:02d} elapsed",
    ]
    return " | ".join(p for p in parts if p)


class StatusLine:
    """Redraws :func:`status_line` in place on a terminal each time it is called."""

    def __init__(self, out: TextIO, clock: Callable[[], float] = time.monotonic) -> None:
        self.out = out
        self.clock = clock

    def __call__(self, status: BenchStatus) -> None:
        # Back to the start of the line and clear it, so a shorter line leaves nothing behind.
        self.out.write(f"\r\x1b[K{status_line(status, self.clock())}")
        self.out.flush()

    def close(self) -> None:
        """End the line, so that what is printed next starts on its own."""
        self.out.write("\r\x1b[K")
        self.out.flush()
