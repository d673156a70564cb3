"""RTSP sessions of a camera: which transports a SETUP may have, and the streams once set up.

Transport choice follows RFC 2326 §12.39: the client lists alternatives in order of preference
and the server answers with the first it supports, or 461 Unsupported Transport when there is
none. camsim sends RTP/AVP unicast, over UDP (to the client's ports from the server's shared
pair) or interleaved on the RTSP connection, and RTP/AVP multicast when the server has a pool of
groups (:mod:`camsim.camera.multicast`); SRTP (RTP/SAVP) and RECORD are refused.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from camsim.camera.device import Camera
from camsim.camera.sender import Address, RtpSender, RtpSink
from wire.rtp import ntp_from_unix
from wire.rtsp import PortRange, Transport, TransportSpec
from wire.rtsp.transport import (
    DELIVERY_MULTICAST,
    DELIVERY_UNICAST,
    LOWER_TRANSPORT_TCP,
    MODE_PLAY,
)

if TYPE_CHECKING:
    from camsim.camera.multicast import MulticastStream

MAX_CHANNEL = 0xFF


class MediaPorts(Protocol):
    """The server's shared UDP pair, as a session sees it (:class:`camsim.camera.udp.UdpMedia`):
    sinks to a client's ports, and the RTCP that keeps a session alive."""

    server_port: PortRange

    def sink(self, rtp: Address, rtcp: Address) -> RtpSink:
        """A sink sending RTP to ``rtp`` and RTCP to ``rtcp``."""

    def watch(self, rtcp: Address, ssrc: int, callback: Callable[[float], None]) -> None:
        """Call ``callback(now)`` on RTCP from ``rtcp`` or reporting on our ``ssrc``."""

    def unwatch(self, rtcp: Address, ssrc: int) -> None:
        """Stop watching for that RTCP."""


def choose_transport(
    transport: Transport, track: int, udp: MediaPorts | None, *, multicast: bool = False
) -> TransportSpec | None:
    """The answer to the first acceptable alternative, without ``ssrc``; None means 461.

    With ``multicast`` (the server has a pool of groups) a multicast alternative is answered
    ``RTP/AVP;multicast`` without its group: the caller fills in ``destination``, ``port`` and
    ``ttl`` of the camera's shared stream.
    """
    for spec in transport.specs:
        if (spec.protocol, spec.profile) != ("RTP", "AVP"):
            continue
        if spec.mode not in (None, MODE_PLAY):
            continue
        if spec.is_multicast:
            if multicast and spec.lower_transport in (None, "UDP") and not spec.is_tcp:
                return TransportSpec(delivery=DELIVERY_MULTICAST)
            continue
        if spec.is_tcp:
            channels = spec.interleaved or PortRange(2 * track, 2 * track + 1)
            rtcp = channels.first + 1 if channels.last is None else channels.last
            if rtcp > MAX_CHANNEL or rtcp == channels.first:
                continue
            return TransportSpec(
                lower_transport=LOWER_TRANSPORT_TCP,
                delivery=DELIVERY_UNICAST,
                interleaved=PortRange(channels.first, rtcp),
            )
        if spec.lower_transport in (None, "UDP") and spec.client_port is not None and udp:
            ports = spec.client_port
            rtcp = ports.first + 1 if ports.last is None else ports.last
            if ports.first == 0 or rtcp > 0xFFFF:
                continue
            return TransportSpec(
                delivery=DELIVERY_UNICAST,
                client_port=PortRange(ports.first, rtcp),
                server_port=udp.server_port,
            )
    return None


def new_session_id() -> str:
    """16 hex digits: unguessable, and what a client can store in any buffer."""
    return secrets.token_hex(8).upper()


def new_ssrc() -> int:
    """A random SSRC (RFC 3550 §8.1), never zero."""
    return secrets.randbits(32) or 1


@dataclass(slots=True)
class Stream:
    """One set-up track of a session: its sender and, over UDP, the client's RTCP address."""

    sender: RtpSender
    reply: TransportSpec
    rtcp_address: tuple[str, int] | None = None
    shared: MulticastStream | None = None
    """The camera's multicast stream this one is a member of (its ``sender`` is the group's)."""


class MediaSession:
    """The streams one client set up on one camera, whether they play, and the session's own
    deadlines (sans-IO: the connection that owns it asks :meth:`get_timer` and calls
    :meth:`handle_timer` with the time).

    While it plays, the session sends its RTCP sender reports every ``report_interval`` seconds,
    randomized to [0.5, 1.5] times that as RFC 3550 §6.3.5 asks, which also keeps a fleet's
    reports from all leaving in one wake-up. A ``media-stall`` quirk stops its RTP at
    :attr:`stall_due` for good (the reports go on).
    """

    def __init__(
        self,
        session_id: str,
        camera: Camera,
        udp: MediaPorts | None,
        *,
        report_interval: float = 5.0,
        rng: random.Random | None = None,
        wallclock: Callable[[], float],
        loop_clock: Callable[[], float],
    ) -> None:
        self.session_id = session_id
        self.camera = camera
        self.streams: dict[int, Stream] = {}
        self.playing = False
        self.report_interval = report_interval
        self.report_due: float | None = None
        """When the next sender reports leave, while playing."""
        self.stall_due: float | None = None
        """When the RTP stops for good (the ``media-stall`` quirk), once armed."""
        self._udp = udp
        self._rng = rng if rng is not None else random.Random()
        self._wallclock = wallclock  # Unix time, for the NTP side of sender reports
        self._loop_clock = loop_clock  # the clock ``now`` is read from

    def add(self, track: int, stream: Stream, now: float) -> None:
        """Set up ``track``; a repeated SETUP of a track replaces its transport."""
        old = self.streams.pop(track, None)
        if old is not None and (old.shared is None or old.shared is not stream.shared):
            self._release(old)  # a repeated SETUP of the same group keeps its membership
        self.streams[track] = stream
        if self.playing:
            if stream.shared is not None:
                stream.shared.play(self.session_id, now)
            else:
                self.camera.subscribe([stream.sender], now)

    def play(self, now: float) -> dict[int, tuple[int, int]]:
        """Start (or keep) sending; per track the (seq, rtptime) of its first packet."""
        if self.playing:
            return {t: (s.sender.sequence, self._current(t, s, now)) for t, s in self.items()}
        self.playing = True
        if self.report_interval > 0:
            self.report_due = now + self._report_delay()
        unicast = self._unicast_senders()
        first = self.camera.subscribe(unicast, now) if unicast else {}
        for track, stream in self.items():
            if stream.shared is not None:
                first[track] = stream.shared.play(self.session_id, now)
        return first

    def pause(self) -> None:
        if self.playing:
            self.playing = False
            self.report_due = self.stall_due = None
            self.camera.unsubscribe(self._unicast_senders())
            for stream in self.streams.values():
                if stream.shared is not None:
                    stream.shared.stop(self.session_id)

    def _unicast_senders(self) -> list[RtpSender]:
        return [s.sender for s in self.streams.values() if s.shared is None]

    def stall_at(self, due: float) -> None:
        """Stop the RTP of every stream at ``due`` (the ``media-stall`` quirk)."""
        self.stall_due = due

    def get_timer(self) -> float | None:
        """The session's next deadline: its sender reports or its stall."""
        report, stall = self.report_due, self.stall_due
        if report is None or (stall is not None and stall < report):
            return stall
        return report

    def handle_timer(self, now: float) -> None:
        """Send the reports that are due, stop the RTP if its stall is due."""
        if self.stall_due is not None and now >= self.stall_due:
            self.stall_due = None
            self.camera.unsubscribe(self._unicast_senders())  # a group's clients are not stalled
        if self.report_due is not None and now >= self.report_due:
            self.send_reports(now, only_senders=True)
            self.report_due = now + self._report_delay()

    def send_reports(self, now: float, *, only_senders: bool) -> None:
        """SR and SDES on every stream (with ``only_senders``, those that have sent RTP)."""
        ntp = ntp_from_unix(self._unix_time(now))
        for track, stream in self.items():
            if only_senders and stream.sender.packet_count == 0:
                continue
            if stream.shared is not None and stream.shared.reporter != self.session_id:
                continue  # one member reports for the whole group
            stream.sender.send_report(ntp, self._current(track, stream, now))

    def say_bye(self, now: float, reason: bytes) -> None:
        """SR, SDES and BYE on every stream that plays."""
        if not self.playing:
            return
        ntp = ntp_from_unix(self._unix_time(now))
        for track, stream in self.items():
            if stream.shared is not None and list(stream.shared.playing) != [self.session_id]:
                continue  # the group goes on for its other members
            stream.sender.send_bye(ntp, self._current(track, stream, now), reason)

    def _unix_time(self, now: float) -> float:
        """Unix time at loop time ``now``, the instant the reports' RTP time is taken at.

        RFC 3550 §6.4.1: an SR's NTP and RTP timestamps name the same instant. ``now`` is
        when the timer fired, which may be well before this runs on a busy loop, so the
        wallclock is not read as "now" but dated back by the loop time elapsed since.
        """
        return self._wallclock() - (self._loop_clock() - now)

    def _report_delay(self) -> float:
        return self.report_interval * self._rng.uniform(0.5, 1.5)

    def close(self) -> None:
        """Stop sending and forget the streams."""
        self.pause()
        for stream in self.streams.values():
            self._release(stream)
        self.streams.clear()

    def items(self) -> list[tuple[int, Stream]]:
        return sorted(self.streams.items())

    def _current(self, track: int, stream: Stream, now: float) -> int:
        return stream.sender.timestamp(self.camera.media_ticks(track, now))

    def _release(self, stream: Stream) -> None:
        if stream.shared is not None:
            stream.shared.leave(self.session_id)
            return
        self.camera.unsubscribe([stream.sender])
        if self._udp is not None and stream.rtcp_address is not None:
            self._udp.unwatch(stream.rtcp_address, stream.sender.ssrc)
