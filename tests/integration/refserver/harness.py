"""refserver in a thread of its own on free loopback ports, and a scriptable RTMP publisher.

The server runs its own event loop in a background thread, as it would in its own process, so a
test's publishers (each ``asyncio.run`` in the test's thread) and HTTP requests meet it over real
sockets. The publisher drives ``wire.rtmp.RtmpClientConnection`` and sends the tag bodies of a
camsim FLV plan, writing a fresh wallclock into each SEI stamp as a real sender does.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from camsim.encoder.flv_source import FlvPlan
from refserver.config import Limits, ServerConfig
from refserver.hls import HlsOptions
from refserver.server import ReferenceServer
from wire import flv
from wire.codec.stamp import write_wallclock
from wire.rtmp import RtmpClientConnection
from wire.rtmp.events import (
    ConnectAccepted,
    ConnectionTerminated,
    PublishRejected,
    PublishStarted,
    RtmpEvent,
)


class RunningServer:
    """A started :class:`ReferenceServer`; ``rtmp_port``, ``rtmps_port``, ``http_port`` set."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.server: ReferenceServer | None = None

    def call(self, coroutine: Any, timeout: float = 20) -> Any:
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        return future.result(timeout)

    def start(self) -> None:
        self.thread.start()

        async def start() -> ReferenceServer:
            server = ReferenceServer(self.config)
            await server.start()
            return server

        self.server = self.call(start())

    def stop(self) -> None:
        if self.server is not None:
            self.call(self.server.stop())
            self.server = None
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()

    @property
    def hls_dir(self) -> Path:
        assert self.server is not None
        return self.server.hls_dir

    @property
    def rtmp_port(self) -> int:
        assert self.server is not None
        port = self.server.ingest.port("rtmp")
        assert port is not None
        return port

    @property
    def rtmps_port(self) -> int:
        assert self.server is not None
        port = self.server.ingest.port("rtmps")
        assert port is not None
        return port

    @property
    def http_port(self) -> int:
        assert self.server is not None
        port = self.server.http_port
        assert port is not None
        return port

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.http_port}{path}"

    def get(self, path: str) -> HttpResult:
        """GET ``path``; errors are results too (status and body)."""
        try:
            with urllib.request.urlopen(self.url(path), timeout=10) as response:
                return HttpResult(response.status, dict(response.headers), response.read())
        except urllib.error.HTTPError as exc:
            return HttpResult(exc.code, dict(exc.headers), exc.read())

    def api(self, name: str | None = None) -> Any:
        result = self.get("/api/streams" if name is None else f"/api/streams/{name}")
        assert result.status == 200, result
        return json.loads(result.body)

    def wait_for(self, predicate: Any, timeout: float = 10.0, what: str = "condition") -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.05)
        raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@dataclass(frozen=True)
class HttpResult:
    status: int
    headers: dict[str, str]
    body: bytes


def server_config(tmp_path: Path, **changes: Any) -> ServerConfig:
    """Every listener on a free port, the certificate and HLS files under ``tmp_path``, 1 s
    segments and short timeouts."""
    limits = changes.pop("limits", Limits(handshake_timeout=2, setup_timeout=3, idle_timeout=3))
    config = ServerConfig(
        rtmp_port=0,
        rtmps_port=0,
        http_port=0,
        hls_dir=tmp_path / "hls",
        state_dir=tmp_path / "state",
        hls=HlsOptions(target_duration=1.0, window=4),
        limits=limits,
    )
    return replace(config, **changes)


@contextmanager
def running(config: ServerConfig) -> Iterator[RunningServer]:
    server = RunningServer(config)
    server.start()
    try:
        yield server
    finally:
        server.stop()


class RtmpPublisher:
    """An RTMP publisher over asyncio streams, step by step."""

    def __init__(
        self, port: int, *, app: str = "live", tls: bool = False, source: str | None = None
    ) -> None:
        self.port = port
        self.app = app
        self.tls = tls
        self.source = source
        """The loopback address to connect from (127.0.0.0/8 all works), when not the default."""
        scheme = "rtmps" if tls else "rtmp"
        self.connection = RtmpClientConnection(
            app=app,
            tc_url=f"{scheme}://127.0.0.1:{port}/{app}",
            fourcc_list=("hvc1", "avc1"),
        )
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.events: list[RtmpEvent] = []
        self.closed = False

    async def open(self) -> None:
        context = None
        if self.tls:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        local = (self.source, 0) if self.source is not None else None
        self.reader, self.writer = await asyncio.open_connection(
            "127.0.0.1", self.port, ssl=context, local_addr=local
        )
        self.connection.initiate(time.monotonic())
        await self.flush()

    async def flush(self) -> None:
        assert self.writer is not None
        data = self.connection.data_to_send()
        if data and not self.writer.is_closing():
            self.writer.write(data)
            await self.writer.drain()

    async def read_until(self, *kinds: type[RtmpEvent], timeout: float = 10.0) -> RtmpEvent:
        """Read until an event of one of ``kinds`` (or the end of the connection) arrives."""
        assert self.reader is not None
        deadline = time.monotonic() + timeout
        while True:
            while (event := self.connection.next_event()) is not None:
                self.events.append(event)
                if isinstance(event, (kinds, ConnectionTerminated)):
                    await self.flush()
                    return event
            await self.flush()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no {kinds} within {timeout} s; events: {self.events}")
            data = await asyncio.wait_for(self.reader.read(65536), remaining)
            if not data:
                self.closed = True
                self.connection.close()
            else:
                self.connection.receive_data(data, time.monotonic())

    async def publish(self, name: str) -> RtmpEvent:
        """Connect and publish; returns PublishStarted, PublishRejected or ConnectionTerminated."""
        await self.open()
        accepted = await self.read_until(ConnectAccepted)
        if not isinstance(accepted, ConnectAccepted):
            return accepted
        self.connection.publish(name, time.monotonic())
        await self.flush()
        return await self.read_until(PublishStarted, PublishRejected)

    async def send_plan(
        self,
        plan: FlvPlan,
        *,
        seconds: float,
        realtime: bool = False,
        start_ms: int = 0,
    ) -> None:
        """Send the plan's headers, then ``seconds`` of its tags (looping), stamped now."""
        connection = self.connection
        connection.send_metadata(dict(plan.metadata))
        connection.send_video(start_ms, plan.video_header)
        if plan.audio_header is not None:
            connection.send_audio(start_ms, plan.audio_header)
        await self.flush()
        began = time.monotonic()
        period_ms = round(plan.period * 1000)
        loop = 0
        while True:
            for frame in plan.frames:
                media_ms = loop * period_ms + frame.offset_ms
                if media_ms >= seconds * 1000:
                    return
                if realtime:
                    delay = began + media_ms / 1000 - time.monotonic()
                    if delay > 0:
                        await asyncio.sleep(delay)
                body = bytearray(frame.body)
                if frame.stamp_at >= 0:
                    write_wallclock(body, frame.stamp_at, time.time_ns() // 1000)
                if frame.type_id == flv.TAG_TYPE_VIDEO:
                    connection.send_video(start_ms + media_ms, bytes(body))
                else:
                    connection.send_audio(start_ms + media_ms, bytes(body))
                await self.flush()
            loop += 1

    async def unpublish(self) -> None:
        """FCUnpublish and deleteStream, then close, as FFmpeg does at the end."""
        self.connection.close()
        await self.flush()
        await self.close()

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with suppress(ConnectionError, ssl.SSLError):
                await self.writer.wait_closed()

    def abort(self) -> None:
        """Vanish without a word, as a killed encoder does."""
        if self.writer is not None:
            self.writer.transport.abort()

    async def wait_closed_by_server(self, timeout: float = 10.0) -> bool:
        """True when the server closes the connection within ``timeout``."""
        assert self.reader is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                data = await asyncio.wait_for(self.reader.read(65536), deadline - time.monotonic())
            except TimeoutError:
                return False
            except ConnectionError:
                return True
            if not data:
                return True
        return False
