"""An in-process RTMP ingest for the encoder's tests, built on ``wire.rtmp.RtmpServerConnection``.

It runs its own event loop in a thread, so the code under test (the ``camsim push`` command or a
``Fleet``) keeps the main thread. Behaviours are switched per server: reject the publish, stay
silent, send a malformed chunk or garbage AMF after ``connect``, drop the first connection after
some video frames. Everything each connection received is recorded for the assertions.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import cast

from wire import amf0
from wire.rtmp import RtmpServerConnection
from wire.rtmp.chunk import ChunkWriter, RtmpMessage
from wire.rtmp.events import (
    AudioReceived,
    ClientConnected,
    ConnectionTerminated,
    MetadataReceived,
    PublishRequested,
    StreamDeleted,
    VideoReceived,
)
from wire.rtmp.messages import MessageType
from wire.session import Termination

# A fmt 3 chunk on a chunk stream that never had a header: nothing to inherit (section 5.3.1.2).
MALFORMED_CHUNK = bytes((0xC0 | 40,)) + b"\x00" * 16
# A command whose first value claims a 0x4000-byte string that is not there.
GARBAGE_AMF = ChunkWriter().write(
    30, RtmpMessage(MessageType.COMMAND_AMF0, b"\x02\x40\x00onStatus", 0, 0)
)

# FFmpeg's listen mode answers FCPublish with a command that is only a name: no transaction id.
BARE_ON_FC_PUBLISH = ChunkWriter().write(
    30, RtmpMessage(MessageType.COMMAND_AMF0, amf0.encode("onFCPublish"), 0, 0)
)


@dataclass
class Behaviour:
    reject: tuple[str, str] | None = None
    """onStatus code and description to refuse the publish with."""
    silent: bool = False
    """Accept TCP, then never read or answer."""
    answer_publish: bool = True
    inject_after_connect: bytes | None = None
    """Raw bytes written right after the connect answer."""
    drop_first_after_frames: int | None = None
    """Close the first connection after this many video frames."""
    stop_reading_after_publish: bool = False
    """Accept the publish, then never read again (the client's writes back up)."""


@dataclass
class Session:
    """What one client connection sent."""

    connect: dict[str, object] | None = None
    publish_name: str | None = None
    metadata: list[dict[str, object]] = field(default_factory=list)
    video: list[tuple[int, bytes, float]] = field(default_factory=list)
    """(timestamp, tag body, arrival wallclock) per video message."""
    audio: list[tuple[int, bytes]] = field(default_factory=list)
    deleted: bool = False
    """The client sent deleteStream: it unpublished before closing."""
    terminated: Termination | None = None
    closed: bool = False


class _ServerProtocol(asyncio.Protocol):
    def __init__(self, server: RtmpTestServer) -> None:
        self.server = server
        self.loop = asyncio.get_running_loop()
        self.session = Session()
        self.connection = RtmpServerConnection(now=self.loop.time(), handshake_timeout=30.0)
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.Transport, transport)  # uvloop's: no asyncio class
        self.transport = transport
        self.server.transports.append(transport)
        self.index = len(self.server.sessions)
        self.server.sessions.append(self.session)
        if self.server.behaviour.silent:
            transport.pause_reading()

    def data_received(self, data: bytes) -> None:
        self.connection.receive_data(data, self.loop.time())
        behaviour = self.server.behaviour
        while (event := self.connection.next_event()) is not None:
            if isinstance(event, ClientConnected):
                self.session.connect = dict(event.command_object)
                if behaviour.inject_after_connect is not None:
                    # One write with the connect answer, so the client reads both at once.
                    assert self.transport is not None
                    data = self.connection.data_to_send() + behaviour.inject_after_connect
                    self.transport.write(data)
            elif isinstance(event, PublishRequested):
                self.session.publish_name = event.name
                if behaviour.reject is not None:
                    self.connection.reject_publish(event.stream_id, *behaviour.reject)
                elif behaviour.answer_publish:
                    self.connection.accept_publish(event.stream_id)
                    if behaviour.stop_reading_after_publish:
                        assert self.transport is not None
                        self.transport.pause_reading()
            elif isinstance(event, MetadataReceived):
                self.session.metadata.append(dict(event.metadata))
            elif isinstance(event, VideoReceived):
                self.session.video.append((event.timestamp, event.payload, time.time()))
                limit = behaviour.drop_first_after_frames
                if limit is not None and self.index == 0 and len(self.session.video) >= limit:
                    self._close()
                    return
            elif isinstance(event, AudioReceived):
                self.session.audio.append((event.timestamp, event.payload))
            elif isinstance(event, StreamDeleted):
                self.session.deleted = True
            elif isinstance(event, ConnectionTerminated):
                self.session.terminated = event.termination
        self._flush()
        if self.connection.terminated:
            self._close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.session.closed = True

    def _flush(self) -> None:
        data = self.connection.data_to_send()
        if data and self.transport is not None:
            self.transport.write(data)

    def _close(self) -> None:
        if self.transport is not None:
            self.transport.close()
            self.transport = None


class RtmpTestServer:
    """The server and its recordings; use :func:`running_server` to start one."""

    def __init__(self, behaviour: Behaviour, ssl_context: ssl.SSLContext | None) -> None:
        self.behaviour = behaviour
        self.ssl_context = ssl_context
        self.sessions: list[Session] = []
        self.transports: list[asyncio.Transport] = []
        self.port = 0
        self.server_names: list[str | None] = []
        """SNI names clients sent, when serving TLS."""

    def url(self, path: str, *, scheme: str = "rtmp", host: str = "127.0.0.1") -> str:
        return f"{scheme}://{host}:{self.port}/{path}"

    def wait_until(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"condition not met within {timeout} s")
            time.sleep(0.02)


@contextmanager
def running_server(
    behaviour: Behaviour | None = None, *, ssl_context: ssl.SSLContext | None = None
) -> Iterator[RtmpTestServer]:
    """Serve on a free loopback port in a thread until the block ends."""
    server = RtmpTestServer(behaviour or Behaviour(), ssl_context)
    if ssl_context is not None:
        ssl_context.sni_callback = lambda _sock, name, _ctx: server.server_names.append(name)
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    stop: asyncio.Future[None] | None = None

    async def serve() -> None:
        nonlocal stop
        stop = loop.create_future()
        sock = socket.socket()
        if server.behaviour.stop_reading_after_publish:
            # A small receive window, so the client's writes back up within a second or two.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.bind(("127.0.0.1", 0))
        listener = await loop.create_server(
            lambda: _ServerProtocol(server), sock=sock, ssl=ssl_context
        )
        server.port = listener.sockets[0].getsockname()[1]
        ready.set()
        await stop
        listener.close()
        for transport in server.transports:
            transport.abort()
        await asyncio.sleep(0)

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    if not ready.wait(10):
        raise RuntimeError("the test RTMP server did not start")
    try:
        yield server
    finally:
        assert stop is not None
        loop.call_soon_threadsafe(stop.set_result, None)
        thread.join(10)
        loop.close()
