"""What one run of the rtmp-ingest scenarios saw: plain data for the cases to judge.

Every stream the suite publishes is a :class:`PushedStream` with the frames it sent (stamp
index, RTMP timestamp, keyframe) and, when ``--hls`` says where, the
:class:`~conformance.rtmp.follower.FollowedStream` of its HLS. Probe connections are kept as
their :class:`~conformance.rtmp.probe.ProbeLog`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from conformance.rtmp.follower import FollowedStream
from conformance.rtmp.probe import ProbeLog
from conformance.rtmp.tls import TlsFacts


@dataclass(frozen=True, slots=True)
class PushedFrame:
    index: int
    """The frame index written in the frame's stamp."""
    timestamp: int
    """Its RTMP timestamp in milliseconds (32-bit)."""
    keyframe: bool
    wallclock_us: int = 0


@dataclass
class PushedStream:
    """A stream the suite published, and how it went."""

    role: str
    name: str
    how: str
    """In words, for messages: "camsim's encoder, chunk size 128"."""
    frames: list[PushedFrame] = field(default_factory=list)
    published: bool = False
    refusal: str = ""
    """The server's onStatus code and description when it refused the publish."""
    error: str = ""
    """How the connection ended when it was not the suite that ended it."""
    started_at: float = 0.0
    stopped_at: float = 0.0
    hls: FollowedStream | None = None
    log: ProbeLog | None = None
    """The probe's log, for streams a probe published."""

    @property
    def last_keyframe(self) -> int | None:
        """Index in :attr:`frames` of the last keyframe pushed."""
        keyframes = [i for i, frame in enumerate(self.frames) if frame.keyframe]
        return keyframes[-1] if keyframes else None

    def complete_gops(self) -> list[PushedFrame]:
        """The frames before the last keyframe: every group of pictures that another keyframe
        followed, which a server has cut into segments whatever it does with the tail."""
        last = self.last_keyframe
        return self.frames[:last] if last is not None else []


@dataclass
class AckRecord:
    """The acknowledgement scenario: windows announced, bytes sent, Acknowledgements seen."""

    log: ProbeLog
    client_window: int
    server_window: int | None = None
    sent_marks: list[tuple[float, int]] = field(default_factory=list)
    """(time, bytes sent so far) after each write, to bound what an ack may count."""
    acks: list[tuple[float, int]] = field(default_factory=list)
    """(arrival, sequence number) of each Acknowledgement."""
    pushed: int = 0
    published: bool = False

    def sent_by(self, at: float) -> int:
        """Bytes the probe had sent by time ``at``."""
        sent = 0
        for when, total in self.sent_marks:
            if when > at:
                break
            sent = total
        return sent


@dataclass
class IngestObservation:
    """Everything the cases of rtmp-ingest judge."""

    target: str
    hls_template: str | None
    key: str | None
    handshakes: dict[str, ProbeLog] = field(default_factory=dict)
    sequences: dict[str, ProbeLog] = field(default_factory=dict)
    ping: ProbeLog | None = None
    ack: AckRecord | None = None
    streams: dict[str, PushedStream] = field(default_factory=dict)
    second_publisher: ProbeLog | None = None
    republish: PushedStream | None = None
    """The stream published again after an unpublish (its HLS is the first's too)."""
    keys: dict[str, ProbeLog] = field(default_factory=dict)
    tls: TlsFacts | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def follows_hls(self) -> bool:
        return bool(self.hls_template)
