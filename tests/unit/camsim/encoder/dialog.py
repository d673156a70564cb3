"""A publishing session wired to an in-memory RTMP server: no sockets, and time is an argument.

:func:`tiny_plan` is a plan of a few hand-made tags (no sample file, no PyAV); :class:`Dialog`
carries bytes between a :class:`PublishConnection` and a :class:`wire.rtmp.RtmpServerConnection`
one round trip at a time, at the time the test says.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

from camsim.encoder.connection import MediaClock, PublishConnection, PublishEvent
from camsim.encoder.flv_source import FlvFrame, FlvPlan
from camsim.encoder.stats import StreamStats
from camsim.encoder.target import PushTarget
from wire.flv import TAG_TYPE_AUDIO, TAG_TYPE_VIDEO
from wire.rtmp.events import PublishRequested, RtmpEvent, VideoReceived
from wire.rtmp.server import RtmpServerConnection

URL = "rtmp://127.0.0.1:1935/live/cam1"
TIMEOUT = 10.0


def tiny_plan() -> FlvPlan:
    """One second: a keyframe at 0, a video frame every 250 ms, audio every 200 ms."""
    video = [
        FlvFrame(
            TAG_TYPE_VIDEO,
            ms,
            bytearray(b"\x17\x01\x00\x00\x00" if ms == 0 else b"\x27\x01\x00\x00\x00")
            + bytes([ms // 250]) * 8,
            -1,
            ms // 250,
            ms == 0,
        )
        for ms in (0, 250, 500, 750)
    ]
    audio = [
        FlvFrame(TAG_TYPE_AUDIO, ms, bytearray(b"\xaf\x01" + bytes(6)), -1, 0, False)
        for ms in (0, 200, 400, 600, 800)
    ]
    frames = tuple(sorted(video + audio, key=lambda f: (f.offset_ms, f.type_id)))
    return FlvPlan(
        frames=frames,
        metadata={"width": 320.0, "height": 240.0},
        video_header=b"\x17\x00\x00\x00\x00\x01\x64\x00\x1f",
        audio_header=b"\xaf\x00\x11\x90",
        period=Fraction(1),
        video_frames_per_loop=4,
        keyframes=tuple(i for i, f in enumerate(frames) if f.keyframe),
        fourcc=None,
    )


def new_session(
    now: float = 0.0, *, timeout: float = TIMEOUT, plan: FlvPlan | None = None
) -> PublishConnection:
    target = PushTarget.parse(URL)
    stats = StreamStats(1, URL)
    clock = MediaClock(plan or tiny_plan(), 0)
    return PublishConnection(
        target, clock, stats, now=now, timeout=timeout, wallclock_us=lambda: 1_700_000_000
    )


@dataclass
class Dialog:
    """The session and a server that accepts the publish (or refuses it with ``refuse``)."""

    session: PublishConnection
    server: RtmpServerConnection = field(
        default_factory=lambda: RtmpServerConnection(now=0.0, handshake_timeout=1e9)
    )
    refuse: tuple[str, str] | None = None
    server_events: list[RtmpEvent] = field(default_factory=list)

    def round_trip(self, now: float) -> None:
        """The session's bytes reach the server, and the server's answer the session, at
        ``now``."""
        self.server.receive_data(self.session.data_to_send(), now)
        while (event := self.server.next_event()) is not None:
            self.server_events.append(event)
            if isinstance(event, PublishRequested):
                if self.refuse is None:
                    self.server.accept_publish(event.stream_id)
                else:
                    self.server.reject_publish(event.stream_id, *self.refuse)
        self.session.receive_data(self.server.data_to_send(), now)

    def publish(self, start: float = 0.0, step: float = 0.01) -> float:
        """Connect at ``start`` and answer every phase ``step`` later; return the time media
        started."""
        self.session.transport_connected(start)
        now = start
        for _ in range(4):  # handshake, connect, createStream, publish
            now += step
            self.round_trip(now)
        return now

    def frames_received(self) -> list[VideoReceived]:
        self.round_trip_media()
        return [e for e in self.server_events if isinstance(e, VideoReceived)]

    def round_trip_media(self) -> None:
        self.server.receive_data(self.session.data_to_send(), 0.0)
        while (event := self.server.next_event()) is not None:
            self.server_events.append(event)


def events_of(session: PublishConnection) -> list[PublishEvent]:
    events = []
    while (event := session.next_event()) is not None:
        events.append(event)
    return events
