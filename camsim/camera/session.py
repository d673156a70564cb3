"""RTSP sessions of a camera: which transports a SETUP may have, and the streams once set up.

Transport choice follows RFC 2326 §12.39: the client lists alternatives in order of preference
and the server answers with the first it supports, or 461 Unsupported Transport when there is
none. camsim sends RTP/AVP unicast, over UDP (to the client's ports from the server's shared
pair) or interleaved on the RTSP connection; multicast, SRTP (RTP/SAVP) and RECORD are refused.
"""

from __future__ import annotations

import random
import secrets
import time
from dataclasses import dataclass

from camsim.camera.device import Camera
from camsim.camera.sender import RtpSender
from camsim.camera.udp import UdpMedia
from wire.rtp import ntp_from_unix
from wire.rtsp import PortRange, Transport, TransportSpec
from wire.rtsp.transport import DELIVERY_UNICAST, LOWER_TRANSPORT_TCP, MODE_PLAY

MAX_CHANNEL = 0xFF


def choose_transport(
    transport: Transport, track: int, udp: UdpMedia | None
) -> TransportSpec | None:
    """The answer to the first acceptable alternative, without ``ssrc``; None means 461."""
    for spec in transport.specs:
        if (spec.protocol, spec.profile) != ("RTP", "AVP") or spec.is_multicast:
            continue
        if spec.mode not in (None, MODE_PLAY):
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


class MediaSession:
    """The streams one client set up on one camera, and whether they play.

    While it plays, the session is a task of the fleet's scheduler that sends its RTCP sender
    reports every ``report_interval`` seconds, randomized to [0.5, 1.5] times that as RFC 3550
    §6.3.5 asks, which also keeps a fleet's reports from all leaving in one wake-up.
    """

    def __init__(
        self,
        session_id: str,
        camera: Camera,
        udp: UdpMedia | None,
        *,
        report_interval: float = 5.0,
    ) -> None:
        self.session_id = session_id
        self.camera = camera
        self.streams: dict[int, Stream] = {}
        self.playing = False
        self.report_interval = report_interval
        self._udp = udp

    def add(self, track: int, stream: Stream, now: float) -> None:
        """Set up ``track``; a repeated SETUP of a track replaces its transport."""
        old = self.streams.pop(track, None)
        if old is not None:
            self._release(old)
        self.streams[track] = stream
        if self.playing:
            self.camera.subscribe([stream.sender], now)

    def play(self, now: float) -> dict[int, tuple[int, int]]:
        """Start (or keep) sending; per track the (seq, rtptime) of its first packet."""
        if self.playing:
            return {t: (s.sender.sequence, self._current(t, s, now)) for t, s in self.items()}
        self.playing = True
        if self.report_interval > 0:
            self.camera.scheduler.schedule(self, now + self._report_delay())
        return self.camera.subscribe((s.sender for s in self.streams.values()), now)

    def pause(self) -> None:
        if self.playing:
            self.playing = False
            self.camera.scheduler.cancel(self)
            self.camera.unsubscribe(s.sender for s in self.streams.values())

    def run(self, due: float) -> float | None:
        """The scheduler's task: send the reports that are due."""
        if not self.playing:
            return None
        self.send_reports(due, only_senders=True)
        return due + self._report_delay()

    def send_reports(self, now: float, *, only_senders: bool) -> None:
        """SR and SDES on every stream (with ``only_senders``, those that have sent RTP)."""
        ntp = ntp_from_unix(time.time())
        for track, stream in self.items():
            if only_senders and stream.sender.packet_count == 0:
                continue
            stream.sender.send_report(ntp, self._current(track, stream, now))

    def say_bye(self, now: float, reason: bytes) -> None:
        """SR, SDES and BYE on every stream that plays."""
        if not self.playing:
            return
        ntp = ntp_from_unix(time.time())
        for track, stream in self.items():
            stream.sender.send_bye(ntp, self._current(track, stream, now), reason)

    def _report_delay(self) -> float:
        return self.report_interval * random.uniform(0.5, 1.5)

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
        self.camera.unsubscribe([stream.sender])
        if self._udp is not None and stream.rtcp_address is not None:
            self._udp.unwatch(stream.rtcp_address, stream.sender.ssrc)
