"""Keeping removed segments downloadable for as long as RFC 8216 §6.2.2 requires.

"When the server removes a Media Segment URI from the Playlist, the corresponding Media Segment
MUST remain available to clients for a period of time equal to the duration of the segment plus
the duration of the longest Playlist file distributed by the server containing that segment."
A client may have fetched that longest playlist just before the removal and start playing at its
first segment, so the segment can be requested that long after.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field


@dataclass(order=True, frozen=True, slots=True)
class _Pending:
    deadline: float
    name: str = field(compare=False)


class Retention:
    """Segment names with the time they may be deleted; :meth:`due` pops the expired ones."""

    def __init__(self) -> None:
        self._longest: dict[str, float] = {}
        self._pending: list[_Pending] = []
        self.next_deadline = math.inf
        """The soonest deadline (infinity with none): :meth:`due` has nothing before it."""

    def published(self, names: list[str], playlist_duration: float) -> None:
        """A playlist of ``playlist_duration`` seconds listing ``names`` was written."""
        for name in names:
            self._longest[name] = max(self._longest.get(name, 0.0), playlist_duration)

    def removed(self, name: str, segment_duration: float, now: float) -> float:
        """``name`` left the playlist at ``now``; returns when it may be deleted."""
        deadline = now + segment_duration + self._longest.pop(name, 0.0)
        heapq.heappush(self._pending, _Pending(deadline, name))
        self.next_deadline = self._pending[0].deadline
        return deadline

    def due(self, now: float) -> list[str]:
        """Names whose deadline has passed, oldest first; they are forgotten."""
        expired = []
        while self._pending and self._pending[0].deadline <= now:
            expired.append(heapq.heappop(self._pending).name)
        self.next_deadline = self._pending[0].deadline if self._pending else math.inf
        return expired

    def pending(self) -> list[tuple[str, float]]:
        """Every name still waiting, with its deadline, soonest first."""
        return [(p.name, p.deadline) for p in sorted(self._pending)]
