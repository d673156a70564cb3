"""What ``camsim push`` reports per stream: phase timings, counters, outcome."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class StreamState(StrEnum):
    CONNECTING = "connecting"
    PUBLISHING = "publishing"
    RECONNECTING = "reconnecting"
    DONE = "done"
    FAILED = "failed"


@dataclass(slots=True)
class PhaseTimings:
    """How long each phase of one connection attempt took, in milliseconds; None for a phase it
    did not complete. Each runs from the end of the one before, on the owner's clock."""

    tcp_connect_ms: float | None = None
    tls_handshake_ms: float | None = None
    rtmp_handshake_ms: float | None = None
    """C0+C1 sent to S2 received (``connect`` goes out with C2)."""
    connect_ms: float | None = None
    """``connect`` sent to its ``_result``."""
    create_stream_ms: float | None = None
    """``releaseStream``/``FCPublish``/``createStream`` sent to the ``createStream`` answer."""
    publish_ms: float | None = None
    """``publish`` sent to NetStream.Publish.Start."""
    first_frame_ms: float | None = None
    """NetStream.Publish.Start to the first media frame handed to the transport (the metadata
    and sequence headers go out with the start)."""

    @property
    def connect_to_publish_ms(self) -> float | None:
        """``connect`` sent to NetStream.Publish.Start."""
        parts = (self.connect_ms, self.create_stream_ms, self.publish_ms)
        if any(part is None for part in parts):
            return None
        return sum(part for part in parts if part is not None)


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
    timings: PhaseTimings = field(default_factory=PhaseTimings)
    """Every phase of the latest attempt (the ``*_ms`` fields above are its best-known ones)."""

    def uptime(self, now: float) -> float:
        """Seconds spent publishing up to monotonic time ``now``."""
        current = now - self.publishing_since if self.publishing_since is not None else 0.0
        return self.publishing_seconds + current

    def reset_timings(self) -> None:
        self.tcp_connect_ms = self.tls_handshake_ms = None
        self.rtmp_handshake_ms = self.connect_to_publish_ms = None
        self.timings = PhaseTimings()

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
