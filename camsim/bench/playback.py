"""Per-frame latency read back from the server: an RTMP player that reads each frame's stamp.

For a server with no per-frame API (nginx-rtmp, SRS, a cloud ingest), the bench plays every
stream back from the same server over plain RTMP and reads, on arrival, the send wallclock the
encoder wrote into each frame's stamp. The figure is stamp → player: the ingest path plus the
server's fan-out to a loopback player, so it is an upper bound on the ingest latency.

The players run on their own thread and event loop so that their CPU is never counted as the
encoder's (the bench reads the encoder's CPU from its own thread).
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future

from wire.amf0 import Amf0Value
from wire.codec.errors import CodecError
from wire.codec.stamp import Stamp, find_stamp
from wire.rtmp.chunk import RtmpMessage
from wire.rtmp.connection import CSID_COMMAND, CSID_STREAM, DEFAULT_MAX_MESSAGE_SIZE, RtmpConnection
from wire.rtmp.handshake import ClientHandshake
from wire.rtmp.messages import Command, DataMessage, MessageType, as_stream_id
from wire.session import Termination

PLAY_START = "NetStream.Play.Start"
LIVE_ONLY = -1000.0
"""``play`` start argument: live streams only, as FFmpeg sends for ``rtmp_live``."""
READ_SIZE = 65536


class RtmpPlayerConnection(RtmpConnection):
    """A sans-IO RTMP player: handshake, ``connect``, ``createStream``, ``play(name)``; then
    every video message's stamp is kept with its arrival time in :attr:`arrivals`.

    A rejection (``_error``, an onStatus error) ends the connection with the server's code."""

    def __init__(
        self,
        *,
        app: str,
        tc_url: str,
        name: str,
        timeout: float = 10.0,
    ) -> None:
        super().__init__(
            chunk_size=4096,
            max_message_size=DEFAULT_MAX_MESSAGE_SIZE,
            max_chunk_streams=64,
            repeat_extended_timestamp=True,
        )
        self._client_handshake = ClientHandshake(complex_handshake=True, random=os.urandom)
        self._handshake = self._client_handshake
        self.app, self.tc_url, self.name = app, tc_url, name
        self.timeout = timeout
        self.playing = False
        self.arrivals: list[tuple[int, float]] = []
        """Per stamped video frame, in order: its arrival wallclock (µs since the epoch) and
        that minus the stamp's wallclock, in ms."""
        self.frames = 0
        """Video messages received after ``play`` started."""
        self._pending: dict[float, str] = {}

    def initiate(self, now: float) -> None:
        """Start the handshake; ``connect``, ``createStream`` and ``play`` follow by themselves."""
        self._outbox += self._client_handshake.initiate()
        self._deadlines["play"] = now + self.timeout

    # -- role hooks -------------------------------------------------------------------------------

    def _on_handshake_complete(self) -> None:
        self._send_chunk_size()
        self._call("connect", {"app": self.app, "type": "nonprivate", "tcUrl": self.tc_url}, 1.0)

    def _on_terminated(self) -> None:
        self.playing = False

    def _handle_command(self, message: RtmpMessage, command: Command) -> None:
        method = self._pending.pop(command.transaction_id, None)
        if command.name == "_error" or (command.name == "onStatus" and _level(command) == "error"):
            code = _code(command)
            self._terminate(Termination.refused(code, f"{method or 'play'} rejected: {code}"))
        elif command.name == "_result" and method == "connect":
            self._call("createStream", None, 2.0)
        elif command.name == "_result" and method == "createStream":
            argument = command.arguments[0] if command.arguments else None
            stream_id = as_stream_id(argument)
            if stream_id is None:
                self._terminate(Termination.refused("", f"createStream answered {argument!r}"))
                return
            play = Command("play", 0.0, None, [self.name, LIVE_ONLY])
            self._send(CSID_STREAM, play, stream_id=stream_id)
        elif command.name == "onStatus" and _code(command) == PLAY_START:
            self.playing = True
            self._deadlines.pop("play", None)

    def _handle_data(self, message: RtmpMessage, data: DataMessage) -> None:
        pass  # onMetaData and the like carry nothing the latency needs

    def _handle_media(self, message: RtmpMessage) -> None:
        if message.type_id != MessageType.VIDEO:
            return
        arrived_us = time.time_ns() // 1000
        self.frames += 1
        payload = message.payload
        offset = find_stamp(payload)
        if offset < 0:
            return
        try:
            stamp = Stamp.parse(payload, offset)
        except CodecError:
            return  # a UUID look-alike in slice data; the next frame carries a real stamp
        if stamp.stamped:
            self.arrivals.append((arrived_us, (arrived_us - stamp.wallclock_us) / 1000))

    def latencies_ms(self, since_us: int, until_us: int) -> list[float]:
        """Latencies of the frames that arrived in ``[since_us, until_us)``: a server that
        bursts its cached GOP to a new player, or frames still in flight at the end, stay out."""
        return [ms for at, ms in self.arrivals if since_us <= at < until_us]

    def _call(self, name: str, command_object: Amf0Value, transaction_id: float) -> None:
        self._pending[transaction_id] = name
        self._send(CSID_COMMAND, Command(name, transaction_id, command_object, []))


def _info(command: Command) -> dict[str, Amf0Value]:
    info = command.arguments[0] if command.arguments else None
    return info if isinstance(info, dict) else {}


def _level(command: Command) -> str:
    return str(_info(command).get("level", ""))


def _code(command: Command) -> str:
    return str(_info(command).get("code", ""))


async def play(
    host: str, port: int, app: str, name: str, stop: asyncio.Event, *, timeout: float = 10.0
) -> RtmpPlayerConnection:
    """Play ``rtmp://host:port/app/name`` until ``stop`` is set or the server ends it."""
    loop = asyncio.get_running_loop()
    connection = RtmpPlayerConnection(
        app=app, tc_url=f"rtmp://{host}:{port}/{app}", name=name, timeout=timeout
    )
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    try:
        connection.initiate(loop.time())
        stopping = asyncio.ensure_future(stop.wait())
        while not connection.terminated:
            writer.write(connection.data_to_send())
            reading = asyncio.ensure_future(reader.read(READ_SIZE))
            timer = connection.get_timer()
            wait = None if timer is None else max(0.0, timer - loop.time())
            await asyncio.wait({reading, stopping}, timeout=wait, return_when="FIRST_COMPLETED")
            if stopping.done():
                reading.cancel()
                break
            if reading.done():
                data = reading.result()
                if not data:
                    connection.receive_eof()
                else:
                    connection.receive_data(data, loop.time())
            else:
                reading.cancel()
                connection.handle_timer(loop.time())
            while connection.next_event() is not None:
                pass
        stopping.cancel()
    finally:
        writer.close()
    return connection


class PlaybackThread:
    """Players on their own thread and event loop: :meth:`start` a set of streams, later
    :meth:`stop` them and collect each one's connection."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._stop: asyncio.Event | None = None
        self._running: list[Future[RtmpPlayerConnection]] = []

    def start(self, host: str, port: int, streams: Sequence[tuple[str, str]]) -> None:
        """Play each ``(app, name)`` of ``streams`` from ``rtmp://host:port``."""

        async def make_event() -> asyncio.Event:
            return asyncio.Event()

        self._stop = asyncio.run_coroutine_threadsafe(make_event(), self._loop).result()
        self._running = [
            asyncio.run_coroutine_threadsafe(play(host, port, app, name, self._stop), self._loop)
            for app, name in streams
        ]

    async def stop(self, timeout: float = 5.0) -> list[RtmpPlayerConnection | None]:
        """Stop every player; a player that failed to connect gives None."""
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        out: list[RtmpPlayerConnection | None] = []
        for future in self._running:
            try:
                player = await asyncio.wait_for(asyncio.wrap_future(future), timeout)
            except (OSError, TimeoutError):
                out.append(None)
            else:
                out.append(player)
        self._running = []
        return out

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()
