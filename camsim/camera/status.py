"""What ``camsim run`` reports while it runs: a status line for people, JSON for machines."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class FleetStatus:
    """Counters of a fleet since it started. Errors are in seconds."""

    elapsed: float
    cameras: int
    connections: int
    clients: int
    packets: int
    octets: int
    dropped_bursts: int
    late_packets: int
    p99_error: float
    max_error: float


class StatusMeter:
    """Turns successive :class:`FleetStatus` snapshots into rates."""

    def __init__(self) -> None:
        self._previous: FleetStatus | None = None

    def rates(self, status: FleetStatus) -> tuple[float, float]:
        """(bits per second, packets per second) since the previous snapshot."""
        previous = self._previous
        self._previous = status
        if previous is None or status.elapsed <= previous.elapsed:
            if status.elapsed <= 0:
                return 0.0, 0.0
            return 8 * status.octets / status.elapsed, status.packets / status.elapsed
        span = status.elapsed - previous.elapsed
        return (
            8 * (status.octets - previous.octets) / span,
            (status.packets - previous.packets) / span,
        )

    def line(self, status: FleetStatus) -> str:
        """One line for a terminal."""
        bitrate, packet_rate = self.rates(status)
        return (
            f"{status.elapsed:7.0f}s  cameras {status.cameras}  clients {status.clients}  "
            f"{bitrate / 1e6:7.1f} Mbit/s  {packet_rate:7.0f} pkt/s  "
            f"packets {status.packets}  late {status.late_packets}  "
            f"p99 {status.p99_error * 1000:.1f} ms"
        )

    def json(self, status: FleetStatus, event: str = "status") -> str:
        """One JSON object (a line of JSON Lines)."""
        bitrate, packet_rate = self.rates(status)
        record: dict[str, object] = {"event": event, **asdict(status)}
        record["bitrate"] = round(bitrate)
        record["packet_rate"] = round(packet_rate, 1)
        record["elapsed"] = round(status.elapsed, 3)
        record["p99_error"] = round(status.p99_error, 6)
        record["max_error"] = round(status.max_error, 6)
        return json.dumps(record, sort_keys=False)
