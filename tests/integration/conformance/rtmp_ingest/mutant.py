"""An RTMP ingest that breaks exactly one rule on demand: the target that proves every judged
case of the rtmp-ingest suite can fail.

It is built on ``wire.rtmp.RtmpServerConnection`` and forwards what is published to a real
refserver (whose HLS it serves back through a small HTTP proxy), so everything it does not
break is done right. One RTMP listener per mutation; the HLS of mutation ``m`` is at
``/m/live/NAME/index.m3u8``. Stream keys are checked here (``NAME?key=secret``), not by
refserver, so that the suite's wrong keys cost the other runs nothing.

Most mutations are behaviours a real server could have and that only the scenario of their
case meets (only the chunk-change stream changes its chunk size twice). Two act on the stream
whose name ends in ``-main`` only (a dropped frame, a shifted timestamp), because a server that
lost frames everywhere would fail every case that follows frames.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from functools import partial
from typing import Any, cast

import aiohttp
from aiohttp import web

from tests.integration.refserver.harness import RtmpPublisher
from wire.rtmp import ChunkReader, ChunkWriter, RemoteProtocolError, RtmpServerConnection
from wire.rtmp.chunk import MAX_CHUNK_SIZE, RtmpMessage
from wire.rtmp.events import (
    AudioReceived,
    ConnectionTerminated,
    MetadataReceived,
    PublishRejected,
    PublishRequested,
    PublishStarted,
    StreamDeleted,
    VideoReceived,
)
from wire.rtmp.handshake import HANDSHAKE_SIZE, ServerHandshake
from wire.rtmp.messages import (
    Command,
    DataMessage,
    MessageType,
    Payload,
    SetPeerBandwidth,
    UserControlType,
    WindowAckSize,
)
from wire.rtmp.server import PUBLISH_BAD_NAME, PUBLISH_DENIED

KEY = "secret"
UPSTREAM_TIMEOUT = 10.0
NAME_HELD = 10.0
MAIN_FRAME = 40
"""The video frame of ``-main`` that drop-frame drops and shift-frame moves."""


@dataclass(frozen=True)
class Mutation:
    name: str
    case: str
    also: frozenset[str] = frozenset()
    """Recommended cases that the broken rule fails too (a server that never acknowledges
    does not acknowledge by the client's window either)."""

    @property
    def fails(self) -> set[str]:
        return {self.case, *self.also}


MUTATIONS = [
    Mutation("s0-version", "RTMP-HS-001"),
    Mutation("s2-no-echo", "RTMP-HS-002"),
    Mutation("talks-before-c2", "RTMP-HS-003"),
    Mutation("simple-only", "RTMP-HS-005"),
    Mutation("connect-code", "RTMP-CMD-001"),
    Mutation("no-peer-bandwidth", "RTMP-CMD-002"),
    Mutation("stream-zero", "RTMP-CMD-003"),
    Mutation("status-form", "RTMP-CMD-004"),
    Mutation("chunk128", "RTMP-CHUNK-001"),
    Mutation("chunk-cap", "RTMP-CHUNK-002"),
    Mutation("chunk-change", "RTMP-CHUNK-003"),
    Mutation("no-ack", "RTMP-ACK-001", frozenset({"RTMP-ACK-002"})),
    Mutation("own-window", "RTMP-ACK-002"),
    Mutation("no-ping", "RTMP-PING-001"),
    Mutation("ts-24bit", "RTMP-TS-001"),
    Mutation("take-over", "RTMP-PUB-001"),
    Mutation("silent-refusal", "RTMP-PUB-002"),
    Mutation("name-held", "RTMP-PUB-003"),
    Mutation("no-discontinuity", "RTMP-PUB-004"),
    Mutation("key-ignored", "RTMP-KEY-001"),
    Mutation("key-silent", "RTMP-KEY-002"),
    Mutation("no-audio", "RTMP-MEDIA-001"),
    Mutation("no-hevc", "RTMP-MEDIA-002"),
    Mutation("meta-closes", "RTMP-MEDIA-003"),
    Mutation("drop-frame", "RTMP-E2E-001"),
    Mutation("shift-frame", "RTMP-E2E-002"),
]
CLEAN = "clean"
UNMUTATED = {
    "RTMP-HS-004": "every publisher of the suite, camsim's encoder like FFmpeg, uses the complex "
    "handshake: a server that refuses it fails every case",
}


class _Handshake(ServerHandshake):
    def __init__(self, mutation: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.mutation = mutation

    def receive(self, buffer: bytearray) -> bytes:
        simple = len(buffer) >= 9 and buffer[5:9] == bytes(4)
        reply = super().receive(buffer)
        if not reply or len(reply) < 1 + 2 * HANDSHAKE_SIZE:
            return reply
        if self.mutation == "s0-version" and simple:
            return b"\x06" + reply[1:]
        if self.mutation == "s2-no-echo" and simple:
            return reply[: 1 + HANDSHAKE_SIZE] + os.urandom(HANDSHAKE_SIZE)
        if self.mutation == "talks-before-c2":
            early = RtmpMessage(MessageType.WINDOW_ACK_SIZE, WindowAckSize(2_500_000).serialize())
            return reply + ChunkWriter().write(2, early)
        return reply


class _FirstChunkSizeOnly(ChunkReader):
    """Applies the first Set Chunk Size and ignores the rest."""

    changed = False

    def _apply_control(self, message: RtmpMessage) -> None:
        if message.type_id == MessageType.SET_CHUNK_SIZE:
            if self.changed:
                return
            self.changed = True
        super()._apply_control(message)


class MutantConnection(RtmpServerConnection):
    """The sans-IO server connection with one rule broken."""

    def __init__(self, mutation: str, *, now: float) -> None:
        super().__init__(
            now=now,
            allow_complex_handshake=mutation != "simple-only",
            handshake_timeout=10.0,
            setup_timeout=30.0,
            # An off-by-one cap: 65536, the largest size encoders use, is refused.
            max_chunk_size=65535 if mutation == "chunk-cap" else MAX_CHUNK_SIZE,
        )
        self.mutation = mutation
        self._handshake = _Handshake(mutation, allow_complex=mutation != "simple-only")
        if mutation == "chunk128":
            # As if the client had to announce its chunk size first: takes the one the server
            # itself uses.
            self._reader._chunk_size = 4096
        if mutation == "chunk-change":
            self._reader = _FirstChunkSizeOnly()

    def _send(self, csid: int, payload: Payload, *, stream_id: int = 0, timestamp: int = 0) -> None:
        if self.mutation == "no-peer-bandwidth" and isinstance(payload, SetPeerBandwidth):
            return
        if isinstance(payload, Command):
            payload = self._mutated_command(payload)
        super()._send(csid, payload, stream_id=stream_id, timestamp=timestamp)

    def _mutated_command(self, command: Command) -> Command:
        info = next((a for a in command.arguments if isinstance(a, dict)), None)
        success = info is not None and info.get("code") == "NetConnection.Connect.Success"
        if self.mutation == "connect-code" and info is not None and success:
            info["code"] = "NetConnection.Connect.Succeeded"
        if self.mutation == "status-form" and command.name == "onStatus":
            return Command("onStatus", 1.0, None, command.arguments)
        return command

    def _handle_create_stream(self, message: RtmpMessage, command: Command) -> None:
        if self.mutation != "stream-zero":
            super()._handle_create_stream(message, command)
            return
        self._streams.add(0)
        self._send(3, Command("_result", command.transaction_id, None, [0.0]))

    def _handle_data(self, message: RtmpMessage, data: DataMessage) -> None:
        if self.mutation == "meta-closes" and data.name != "@setDataFrame":
            raise RemoteProtocolError(f"data message {data.name!r}")
        super()._handle_data(message, data)

    def _handle_user_control_message(self, control: Any) -> None:
        if self.mutation == "no-ping" and control.event_type == UserControlType.PING_REQUEST:
            return
        super()._handle_user_control_message(control)

    def _acknowledge(self) -> None:
        if self.mutation == "no-ack":
            return
        if self.mutation == "own-window":
            self._ack_window = self.window_ack_size
        super()._acknowledge()


class _Session(asyncio.Protocol):
    """One downstream connection, forwarded to refserver once it publishes."""

    def __init__(self, ingest: MutantIngest, mutation: str) -> None:
        self.ingest = ingest
        self.mutation = mutation
        self.loop = asyncio.get_running_loop()
        self.connection = MutantConnection(mutation, now=self.loop.time())
        self.transport: asyncio.Transport | None = None
        self.upstream: RtmpPublisher | None = None
        self.name: str | None = None
        self.swallow = False
        self.video_frames = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.Transport, transport)  # uvloop's: no asyncio class
        self.transport = transport
        self.ingest.transports.add(transport)

    def data_received(self, data: bytes) -> None:
        self.connection.receive_data(data, self.loop.time())
        self._events()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.transport is not None:
            self.ingest.transports.discard(self.transport)
        self._end_upstream()

    def _flush(self) -> None:
        data = self.connection.data_to_send()
        if data and self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def _events(self) -> None:
        while (event := self.connection.next_event()) is not None:
            if isinstance(event, PublishRequested):
                self.loop.create_task(self._publish(event))
            elif isinstance(event, MetadataReceived) and self.upstream is not None:
                self.upstream.connection.send_metadata(dict(event.metadata))
                self._forward()
            elif isinstance(event, VideoReceived):
                self._video(event.timestamp, event.payload)
            elif isinstance(event, AudioReceived):
                if self.mutation != "no-audio":
                    self._media(event.timestamp, event.payload, video=False)
            elif isinstance(event, (StreamDeleted, ConnectionTerminated)):
                self._end_upstream()
        self._flush()
        if self.connection.terminated and self.transport is not None:
            self.transport.close()

    def _video(self, timestamp: int, payload: bytes) -> None:
        if self.mutation == "no-hevc" and payload and payload[0] & 0x80:
            return  # an Enhanced RTMP video tag: not understood, dropped
        self.video_frames += 1
        main = (self.name or "").endswith("-main") and self.video_frames == MAIN_FRAME
        if self.mutation == "drop-frame" and main:
            return
        if self.mutation == "shift-frame" and main:
            timestamp += 10
        self._media(timestamp, payload, video=True)

    def _media(self, timestamp: int, payload: bytes, *, video: bool) -> None:
        if self.upstream is None or self.swallow:
            return
        if self.mutation == "ts-24bit":
            timestamp &= 0xFFFFFF
        if video:
            self.upstream.connection.send_video(timestamp, payload)
        else:
            self.upstream.connection.send_audio(timestamp, payload)
        self._forward()

    def _forward(self) -> None:
        upstream = self.upstream
        if upstream is None or upstream.writer is None or upstream.writer.is_closing():
            return
        data = upstream.connection.data_to_send()
        if data:
            upstream.writer.write(data)

    async def _publish(self, event: PublishRequested) -> None:
        base, _, query = event.name.partition("?")
        key = dict(p.partition("=")[::2] for p in query.split("&") if p).get("key", "")
        self.name = base
        ingest = self.ingest
        if key != KEY and self.mutation != "key-ignored":
            if self.mutation == "key-silent":
                self._close()
                return
            self.connection.reject_publish(event.stream_id, PUBLISH_DENIED, "bad stream key")
            self._flush()
            return
        if self.mutation == "name-held":
            left = ingest.unpublished.get(base)
            if left is not None and time.monotonic() - left < NAME_HELD:
                self.connection.reject_publish(event.stream_id, PUBLISH_BAD_NAME, "name held")
                self._flush()
                return
        if self.mutation == "take-over" and base in ingest.live:
            self.swallow = True
            self.connection.accept_publish(event.stream_id)
            self._flush()
            return
        upstream = RtmpPublisher(ingest.upstream_port)
        try:
            answer = await asyncio.wait_for(upstream.publish(base), UPSTREAM_TIMEOUT)
        except (TimeoutError, OSError, AssertionError):
            answer = None
        if self.connection.terminated:
            await upstream.close()
            return
        if isinstance(answer, PublishStarted):
            self.upstream = upstream
            ingest.live.add(base)
            self.connection.accept_publish(event.stream_id)
        else:
            await upstream.close()
            code = answer.code if isinstance(answer, PublishRejected) else PUBLISH_DENIED
            if self.mutation == "silent-refusal" and code == PUBLISH_BAD_NAME:
                self._close()
                return
            self.connection.reject_publish(event.stream_id, code, "refused upstream")
        self._flush()
        # Media that arrived while the upstream publish was under way was dropped; the suite
        # waits for NetStream.Publish.Start before it sends any.

    def _close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def _end_upstream(self) -> None:
        upstream, self.upstream = self.upstream, None
        if upstream is None:
            return
        if self.name is not None:
            self.ingest.live.discard(self.name)
            self.ingest.unpublished[self.name] = time.monotonic()
        upstream.connection.close()
        if upstream.writer is not None and not upstream.writer.is_closing():
            upstream.writer.write(upstream.connection.data_to_send())
            upstream.writer.close()


class MutantIngest:
    """Every mutation's listener and the HLS proxy, on free loopback ports, in a thread."""

    def __init__(self, upstream_port: int, upstream_http_port: int) -> None:
        self.upstream_port = upstream_port
        self.upstream_http_port = upstream_http_port
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.ports: dict[str, int] = {}
        self.http_port = 0
        self.servers: list[asyncio.Server] = []
        self.transports: set[asyncio.Transport] = set()
        self.live: set[str] = set()
        self.unpublished: dict[str, float] = {}
        self.runner: web.AppRunner | None = None
        self.client: aiohttp.ClientSession | None = None

    def rtmp_url(self, mutation: str) -> str:
        return f"rtmp://127.0.0.1:{self.ports[mutation]}/live"

    def hls_template(self, mutation: str) -> str:
        return f"http://127.0.0.1:{self.http_port}/{mutation}/live/{{name}}/index.m3u8"

    def _call(self, coroutine: Any) -> Any:
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        return future.result(30)

    def start(self) -> None:
        self.thread.start()
        self._call(self._start())

    async def _start(self) -> None:
        for mutation in [CLEAN, *(m.name for m in MUTATIONS)]:
            server = await self.loop.create_server(
                partial(_Session, self, mutation), "127.0.0.1", 0
            )
            self.servers.append(server)
            self.ports[mutation] = server.sockets[0].getsockname()[1]
        self.client = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        app = web.Application()
        app.router.add_get("/{mutation}/{path:.*}", self._hls)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.http_port = self.runner.addresses[0][1]

    async def _hls(self, request: web.Request) -> web.Response:
        assert self.client is not None
        mutation = request.match_info["mutation"]
        url = f"http://127.0.0.1:{self.upstream_http_port}/{request.match_info['path']}"
        async with self.client.get(url) as response:
            body = await response.read()
            headers = {
                k: v
                for k, v in response.headers.items()
                if k.lower() in ("content-type", "cache-control")
            }
        if mutation == "no-discontinuity" and url.endswith(".m3u8"):
            lines = body.decode().splitlines()
            body = ("\n".join(x for x in lines if x != "#EXT-X-DISCONTINUITY") + "\n").encode()
        return web.Response(status=response.status, body=body, headers=headers)

    def stop(self) -> None:
        async def stop() -> None:
            for server in self.servers:
                server.close()
            for transport in list(self.transports):
                transport.abort()
            if self.client is not None:
                await self.client.close()
            if self.runner is not None:
                await self.runner.cleanup()

        self._call(stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()
