"""What ``camsim push`` reports per stream: phase timings, counters, outcome."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class StreamState(StrEnum):
    CONNECTING = "connecting"
    PUBLISHING = "publishing"
    RECONNECTING = "reconnecting"
    DONE = "done"
    FAILED = "failed"


@dataclass
class StreamStats:
    """Counters of one stream over its whole life; timings are those of the latest attempt."""

    index: int
    url: str
    state: StreamState = StreamState.CONNECTING
    tcp_connect_ms: float | None = None
    tls_handshake_ms: float | None = None
    rtmp_handshake_ms: float | None = None
    connect_to_publish_ms: float | None = None
    """From sending ``connect`` to NetStream.Publish.Start."""
    bytes_sent: int = 0
    video_frames: int = 0
    audio_frames: int = 0
    reconnects: int = 0
    publishing_seconds: float = 0.0
    """Time spent publishing in finished attempts."""
    publishing_since: float | None = None
    """Monotonic time the current attempt started publishing, while it does."""
    error: str | None = None
    status_code: str | None = None
    """The server's onStatus code when it refused the stream (NetStream.Publish.BadName...)."""
    status_description: str | None = None

    def uptime(self, now: float) -> float:
        """Seconds spent publishing up to monotonic time ``now``."""
        current = now - self.publishing_since if self.publishing_since is not None else 0.0
        return self.publishing_seconds + current

    def reset_timings(self) -> None:
        self.tcp_connect_ms = self.tls_handshake_ms = None
        self.rtmp_handshake_ms = self.connect_to_publish_ms = None

    def to_json(self) -> dict[str, object]:
        return {
            "index": self.index,
            "url": self.url,
            "state": self.state.value,
            "tcp_connect_ms": _rounded(self.tcp_connect_ms),
            "tls_handshake_ms": _rounded(self.tls_handshake_ms),
            "rtmp_handshake_ms": _rounded(self.rtmp_handshake_ms),
            "connect_to_publish_ms": _rounded(self.connect_to_publish_ms),
            "bytes_sent": self.bytes_sent,
            "video_frames": self.video_frames,
            "audio_frames": self.audio_frames,
            "reconnects": self.reconnects,
            "publishing_seconds": round(self.publishing_seconds, 3),
            "error": self.error,
            "status_code": self.status_code,
            "status_description": self.status_description,
        }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
