"""Refused stream keys, per address: how long each refusal waits, and bans.

Every refusal of a key says the same thing (see :mod:`refserver.ingest.keys`), so what guessing
costs is time. The n-th refusal from an address within the window is answered after
``delay * 2 ** (n - 1)`` seconds (at most :data:`MAX_DOUBLINGS` doublings), and until that answer
is due the address is *penalised*: its next publish is refused, and counted, without its key
being looked at, so neither parallel connections nor hanging up early buy another guess. After
``limit`` refusals within the window the address is banned for ``window`` seconds: its
connections are closed as they are accepted (fail2ban's ``maxretry``/``findtime``/``bantime``).

The table is bounded: past :data:`MAX_ADDRESSES` the record changed longest ago is forgotten, so
a peer with many addresses costs memory no more than it gains guesses.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

MAX_ADDRESSES = 4096
MAX_DOUBLINGS = 4
"""The delay stops growing at 16 times its first value."""


@dataclass(slots=True)
class _Record:
    window_start: float
    failures: int = 0
    penalty_until: float = 0.0
    banned_until: float | None = None


class KeyFailures:
    """A sans-IO record of refused keys per address (callers pass ``now``)."""

    def __init__(
        self, *, delay: float, limit: int, window: float, max_addresses: int = MAX_ADDRESSES
    ) -> None:
        self.delay = delay
        self.limit = limit
        self.window = window
        self.max_addresses = max_addresses
        self._records: OrderedDict[str, _Record] = OrderedDict()

    def __len__(self) -> int:
        return len(self._records)

    def banned(self, address: str, now: float) -> bool:
        """True while ``address`` is banned."""
        record = self._current(address, now)
        return record is not None and record.banned_until is not None

    def refusal(self, address: str, now: float) -> str | None:
        """Why a publish from ``address`` is refused before its key is checked, or ``None``."""
        record = self._current(address, now)
        if record is None:
            return None
        if record.banned_until is not None:
            return f"address banned after {record.failures} refused stream keys"
        if now < record.penalty_until:
            return f"{record.failures} refused stream keys, the last answer not yet due"
        return None

    def record(self, address: str, now: float) -> float:
        """Count a refusal from ``address``; the seconds to wait before answering it."""
        record = self._current(address, now)
        if record is None:
            record = self._records[address] = _Record(window_start=now)
            while len(self._records) > self.max_addresses:
                self._records.popitem(last=False)
        self._records.move_to_end(address)
        record.failures += 1
        delay = self.delay * (1 << min(record.failures - 1, MAX_DOUBLINGS))
        record.penalty_until = max(record.penalty_until, now + delay)
        if self.limit and record.failures >= self.limit and record.banned_until is None:
            record.banned_until = now + self.window
        return delay

    def _current(self, address: str, now: float) -> _Record | None:
        """The record of ``address``, forgotten once its window (or ban) and penalty are over."""
        record = self._records.get(address)
        if record is None:
            return None
        if record.banned_until is not None:
            over = now >= record.banned_until
        else:
            over = now >= record.window_start + self.window and now >= record.penalty_until
        if over:
            del self._records[address]
            return None
        return record
