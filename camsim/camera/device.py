"""One simulated camera: its session description and its live media clock.

A camera plays its packet plan in a loop from ``origin`` (loop time) whether anyone watches or
not, so where it is in the loop is a function of the clock. It only does work while it has
viewers: the first :meth:`Camera.subscribe` puts it in the fleet's scheduler at the burst due
next, and it leaves the scheduler once nobody is left. A new viewer's video starts at the next
keyframe and its audio from the same instant, as a decoder joining a live stream wants.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from dataclasses import dataclass

from camsim.camera.audio import audio_media
from camsim.camera.origin import RtpOrigin
from camsim.camera.plan import Burst, PacketPlan, Wire
from camsim.camera.quirks.base import Quirks
from camsim.camera.scheduler import PacingStats, Scheduler
from camsim.camera.sender import RtpSender
from camsim.media.loader import MediaKind, MediaSample
from wire.codec.nal import VideoCodec
from wire.codec.stamp import write_wallclock
from wire.rtp import RTP_HEADER_SIZE
from wire.sdp import MediaDescription, camera_session, h264_media, h265_media

Position = tuple[int, int]
"""(loop number, burst index) in a camera's plan."""


def track_control(track: int) -> str:
    """The ``a=control`` value of a track, relative to the camera URL."""
    return f"trackID={track}"


@dataclass(slots=True)
class CameraCounters:
    packets: int = 0
    octets: int = 0
    dropped_bursts: int = 0


class Camera:
    """A camera at ``path`` (e.g. ``/cam1``) serving ``plan``."""

    def __init__(
        self,
        name: str,
        path: str,
        sample: MediaSample,
        plan: PacketPlan,
        *,
        scheduler: Scheduler,
        pacing: PacingStats,
        origin: float,
        quirks: Quirks | None = None,
        session_timeout: int = 60,
        rtp_origin: RtpOrigin | None = None,
    ) -> None:
        self.name = name
        self.path = path
        self.sample = sample
        self.plan = plan
        self.quirks = quirks or Quirks()
        self.session_timeout = self.quirks.session_timeout(session_timeout)
        self.origin = origin
        self.rtp_origin = rtp_origin or RtpOrigin()
        self.counters = CameraCounters()
        self.scheduler = scheduler
        self._pacing = pacing
        self._subscribers: list[list[RtpSender]] = [[] for _ in plan.tracks]
        self._loop_number = 0
        self._index = 0
        self._scheduled = False
        self._sdp: dict[str, bytes] = {}
        # The plan as run() reads it, once per burst.
        self._bursts = plan.bursts
        self._burst_count = len(plan.bursts)
        self._period = plan.period_seconds
        self._period_ticks = [track.period_ticks for track in plan.tracks]

    @property
    def track_count(self) -> int:
        return len(self.plan.tracks)

    def session_description(self, address: str) -> bytes:
        """The DESCRIBE body; ``address`` goes in the origin line."""
        cached = self._sdp.get(address)
        if cached is None:
            media = [self._media_description(i) for i in range(self.track_count)]
            session = camera_session(
                media, session_id=int(self.origin * 1000) & 0x7FFFFFFF, address=address
            )
            session.session_name = self.name
            self.quirks.edit_sdp(session)
            cached = self._sdp[address] = session.serialize().encode()
        return cached

    def _media_description(self, track: int) -> MediaDescription:
        plan = self.plan.tracks[track]
        control = track_control(track)
        video, audio = self.sample.video, self.sample.audio
        if plan.kind is MediaKind.VIDEO and video is not None:
            sets = video.parameter_sets
            if video.codec is VideoCodec.H264:
                return h264_media(plan.payload_type, sets[0], sets[1], control=control)
            return h265_media(plan.payload_type, sets[0], sets[1], sets[2], control=control)
        assert audio is not None
        return audio_media(audio, plan.payload_type, control=control)

    def media_ticks(self, track: int, now: float) -> int:
        """The camera's continuous media clock of ``track`` at loop time ``now``."""
        return math.floor((now - self.origin) * self.plan.tracks[track].clock_rate)

    def subscribe(self, senders: Iterable[RtpSender], now: float) -> dict[int, tuple[int, int]]:
        """Start sending to ``senders``; returns per track the (seq, rtptime) of its first packet.

        Every sender starts at the same position: the next keyframe (or the next burst of an
        audio-only camera). A stream that has sent nothing yet starts at the camera's
        :class:`~camsim.camera.origin.RtpOrigin` where it names one.
        """
        senders = list(senders)
        cursor = self._cursor(now)
        video = self.plan.video_track
        track = video if video is not None else senders[0].track
        start = self._advance(cursor, max(self.plan.first_of_track(cursor[1], track, True), 0))
        first: dict[int, tuple[int, int]] = {}
        for sender in senders:
            steps = self.plan.first_of_track(start[1], sender.track)
            loop_number, index = self._advance(start, max(steps, 0))
            ticks = self._ticks(loop_number, index)
            if sender.packet_count == 0:  # a new stream; a resumed one counts on
                rtp_origin = self.rtp_origin
                sender.timestamp_offset = rtp_origin.timestamp_offset(
                    ticks, sender.timestamp_offset
                )
                sender.sequence = rtp_origin.first_sequence(sender.sequence)
            first[sender.track] = (sender.sequence, sender.timestamp(ticks))
            sender.start = start
            self._subscribers[sender.track].append(sender)
        if not self._scheduled:
            self._loop_number, self._index = cursor
            self._scheduled = True
            self.scheduler.schedule(self, self._due(cursor))
        return first

    def unsubscribe(self, senders: Iterable[RtpSender]) -> None:
        """Stop sending to ``senders``; the camera leaves the scheduler at its next burst."""
        for sender in senders:
            subscribers = self._subscribers[sender.track]
            if sender in subscribers:
                subscribers.remove(sender)

    def run(self, due: float) -> float | None:
        """Send the burst due at ``due`` to its subscribers (the scheduler's task).

        The hot path of a fleet: it runs once per burst per camera, so it reads the plan
        through the attributes cached at construction and keeps method calls out of the loop.
        """
        loop_number, index = self._loop_number, self._index
        burst = self._bursts[index]
        subscribers = self._subscribers[burst.track]
        if subscribers:
            now = time.monotonic()  # the event loop's clock
            packets = self.stamped_wire(burst) if burst.stamped else burst.wire
            ticks = loop_number * self._period_ticks[burst.track] + burst.ticks
            octets = burst.payload_octets
            position = (loop_number, index)
            sent = delivered_to = dropped = 0
            for sender in subscribers:
                start = sender.start
                if start is not None:
                    if position < start:
                        continue
                    sender.start = None
                delivered = sender.deliver(packets, ticks, due, octets)
                if delivered:
                    sent += delivered
                    delivered_to += 1
                else:
                    dropped += 1
            counters = self.counters
            counters.octets += octets * delivered_to
            counters.dropped_bursts += dropped
            counters.packets += sent
            self._pacing.record(now - due, sent)
        index += 1
        if index == self._burst_count:
            loop_number += 1
            index = 0
        self._loop_number, self._index = loop_number, index
        if not any(self._subscribers):
            self._scheduled = False
            return None
        # As _due() computes it, to the same float.
        return self.origin + loop_number * self._period + self._bursts[index].offset

    @staticmethod
    def stamped_wire(burst: Burst) -> Wire:
        """The burst with the wallclock of now in its stamp (one copy per burst, not per client)."""
        wallclock_us = time.time_ns() // 1000
        wire = list(burst.wire)
        for index in burst.stamps:
            planned = burst.packets[index]
            stamped = bytearray(planned.data)
            write_wallclock(stamped, planned.stamp_offset, wallclock_us)
            wire[index] = (planned.head, memoryview(stamped)[RTP_HEADER_SIZE:])
        return tuple(wire)

    def _cursor(self, now: float) -> Position:
        if self._scheduled:
            return self._loop_number, self._index
        period = self.plan.period_seconds
        elapsed = max(now - self.origin, 0.0)
        loop_number = math.floor(elapsed / period)
        index = self.plan.index_at(elapsed - loop_number * period)
        return self._advance((loop_number, index), 0)

    def _advance(self, position: Position, steps: int) -> Position:
        count = len(self.plan.bursts)
        loop_number, index = position
        index += steps
        return loop_number + index // count, index % count

    def _due(self, position: Position) -> float:
        loop_number, index = position
        return self.origin + loop_number * self._period + self._bursts[index].offset

    def _ticks(self, loop_number: int, index: int) -> int:
        burst = self.plan.bursts[index]
        return loop_number * self.plan.tracks[burst.track].period_ticks + burst.ticks
