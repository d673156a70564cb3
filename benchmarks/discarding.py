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

_received = RtmpSession.data_received


def _drop_published(self: RtmpSession, data: bytes) -> None:
    connection = self.connection
    if connection is not None and connection.state is ServerState.PUBLISHING:
        self.last_activity = self.loop.time()
        return
    _received(self, data)


async def _drop_played(self: PullAttempt) -> None:
    # PullAttempt._read, with every read after the session starts playing dropped; what we
    # send (keepalives, receiver reports) still goes out.
    connection = self.connection
    while not connection.closed:
        try:
            data = await self.link.read()
        except OSError as exc:
            connection.close(f"the connection broke: {exc.strerror or exc}")
            data = b""
        if data and self._announced:
            self._last_media = self.loop.time()
        elif data:
            connection.receive_data(data, self.loop.time())
        else:
            connection.receive_eof()
        self._dispatch()
        self._flush()


RtmpSession.data_received = _drop_published  # type: ignore[method-assign]
PullAttempt._read = _drop_played  # type: ignore[method-assign]

if __name__ == "__main__":
    main()
