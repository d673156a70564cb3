"""refserver with its media thrown away as it arrives: the cost of its sockets and event loop.

Run as ``python -m benchmarks.discarding [refserver flags]``. Everything before the media is
refserver's own code (RTMP handshake, connect and publish; RTSP DESCRIBE, SETUP and PLAY); from
then on each read is taken from the socket by the same asyncio code as always and dropped
unparsed. What such a process costs is the floor under refserver's CPU in the two benchmarks:
no parsing, depacketizing or packaging can make refserver cheaper than this.
"""

from __future__ import annotations

from refserver.cli import main
from refserver.ingest.session import RtmpSession
from refserver.pull.attempt import PullAttempt
from wire.rtmp.states import ServerState

_rtmp_received = RtmpSession.data_received
_rtsp_received = PullAttempt._received


def _drop_published(self: RtmpSession, data: bytes) -> None:
    connection = self.connection
    if connection is not None and connection.state is ServerState.PUBLISHING:
        self.last_activity = self.loop.time()
        return
    _rtmp_received(self, data)


def _drop_played(self: PullAttempt, data: bytes) -> None:
    # What we send (keepalives, receiver reports) still goes out.
    if data and self._announced:
        self._last_media = self.loop.time()
        self._flush()
        return
    _rtsp_received(self, data)


RtmpSession.data_received = _drop_published  # type: ignore[method-assign]
PullAttempt._received = _drop_played  # type: ignore[method-assign]

if __name__ == "__main__":
    main()
