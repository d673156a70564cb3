"""refserver with its media thrown away as it arrives: the cost of its sockets and event loop.

Run as ``python -m benchmarks.discarding [refserver flags]``. Everything before the media is
refserver's own code (RTMP handshake, connect and publish; RTSP DESCRIBE, SETUP and PLAY); from
then on each read is taken from the socket by the same asyncio code as always and dropped
unparsed. What such a process costs is the floor under refserver's CPU in the two benchmarks:
no parsing, depacketizing or packaging can make refserver cheaper than this.

The media is dropped through public extension points only: refserver's ingest session and pull
attempt each build their sans-IO connection from a ``connection_class``, and the connections
below are subclasses that override public methods of ``wire.rtmp`` and ``wire.rtsp``.
"""

from __future__ import annotations

from refserver.cli import main
from refserver.ingest.session import IngestSession
from refserver.pull.attempt import PullAttempt
from wire.rtmp import RtmpServerConnection
from wire.rtmp.states import ServerState
from wire.rtp import RtpPacket
from wire.rtsp import (
    ClientConfig,
    InterleavedFrameReceived,
    Method,
    ResponseReceived,
    RtspClientConnection,
    Transport,
)
from wire.rtsp.events import Event
from wire.rtsp.state import SessionState

STAND_IN_PAYLOAD_TYPE = 72
"""Reserved (RFC 3551 section 3, RFC 5761 section 4): no pulled track has it, so the attempt takes
the stand-in packet as media arriving and its track ignores it."""
STAND_IN = RtpPacket(payload_type=STAND_IN_PAYLOAD_TYPE, sequence_number=0, timestamp=0, ssrc=0)
STAND_IN_INTERVAL = 0.25
"""Seconds between stand-ins: far inside any media timeout, and rare enough to cost nothing."""


class DiscardingIngestConnection(RtmpServerConnection):
    """Once the publish is accepted, every read is dropped unparsed (the session still counts
    it as activity, so the idle timeout stays away)."""

    def receive_data(self, data: bytes, now: float) -> None:
        if self.state is ServerState.PUBLISHING:
            return
        super().receive_data(data, now)


class DiscardingPullConnection(RtspClientConnection):
    """Once PLAY is answered, every read is dropped unparsed; every quarter of a second of such
    reads stands as one RTP packet on the first stream's RTP channel, so the attempt sees media
    arrive (its media timeout stays away). Its keepalives and receiver reports still go out."""

    def __init__(self, url: str, config: ClientConfig | None = None) -> None:
        super().__init__(url, config)
        self.rtp_channel: int | None = None
        self._dropped = False
        self._stood_in_at = float("-inf")
        self._stand_in = STAND_IN.serialize()

    def receive_data(self, data: bytes, now: float) -> None:
        if data and self.state is SessionState.PLAYING and self.rtp_channel is not None:
            if now - self._stood_in_at >= STAND_IN_INTERVAL:
                self._stood_in_at = now
                self._dropped = True
            return
        super().receive_data(data, now)

    def next_event(self) -> Event | None:
        event = super().next_event()
        if event is None and self._dropped and self.rtp_channel is not None:
            self._dropped = False
            return InterleavedFrameReceived(self.rtp_channel, self._stand_in)
        if self.rtp_channel is None and isinstance(event, ResponseReceived):
            self._learn_channel(event)
        return event

    def _learn_channel(self, answer: ResponseReceived) -> None:
        # The channels the attempt uses: the answer's, else those it asked for.
        if answer.request.method != Method.SETUP or not answer.response.ok:
            return
        transport = answer.transport
        if transport is None or transport.first.interleaved is None:
            asked = answer.request.headers.get("Transport")
            transport = Transport.parse(asked) if asked is not None else None
        if transport is not None and transport.first.interleaved is not None:
            self.rtp_channel = transport.first.interleaved.first


def install() -> None:
    """Make every ingest session and pull attempt of this process use the connections above."""
    IngestSession.connection_class = DiscardingIngestConnection
    PullAttempt.connection_class = DiscardingPullConnection


if __name__ == "__main__":
    install()
    main()
