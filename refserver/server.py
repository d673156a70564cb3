"""The whole reference server: RTMP/RTMPS ingest, RTSP pull, the stream registry and HTTP, in
one loop."""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any

import platformdirs
from aiohttp import web

from refserver import api_sources, logs
from refserver.capture import CaptureFile
from refserver.config import ServerConfig
from refserver.hls.folders import TemporaryHlsFolder, remove_stale_temporary_folders
from refserver.hls.writeback import WriteQueue
from refserver.http import create_app
from refserver.http_limits import (
    FD_RESERVE,
    FDS_PER_SOURCE,
    HTTP_BACKLOG,
    LISTENER_BURST,
    ConnectionLimits,
    GuardedSite,
    descriptor_budget,
)
from refserver.ingest.keys import StreamKeys
from refserver.ingest.server import IngestServer
from refserver.ingest.session import IngestContext
from refserver.pull import PullSource
from refserver.streams import StreamRegistry
from refserver.tls import self_signed_certificate, server_context

logger = logging.getLogger("refserver")

LoopExceptionHandler = Callable[[asyncio.AbstractEventLoop, dict[str, Any]], object]

TICK_SECONDS = 1.0
"""How often expired segments are deleted, offline streams checked and log repeats counted."""


def default_state_dir() -> Path:
    """Where the generated certificate is kept when no ``state_dir`` is configured."""
    return Path(platformdirs.user_data_dir("refserver"))


class ReferenceServer:
    """``start()`` binds every listener, ``stop()`` closes them and finishes every playlist."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        # Leftovers of refservers that were killed (their lock is free) go before ours is made.
        remove_stale_temporary_folders()
        self._temporary: TemporaryHlsFolder | None = None
        if config.hls_dir is None:
            self._temporary = TemporaryHlsFolder()
            self.hls_dir = self._temporary.path
        else:
            self.hls_dir = config.hls_dir
        self.registry = StreamRegistry(
            self.hls_dir,
            config.hls,
            offline_timeout=config.limits.offline_timeout,
            expire_after=config.hls_expire_after,
            writer=WriteQueue(),
        )
        context = IngestContext(
            registry=self.registry,
            keys=StreamKeys(config.stream_keys),
            limits=config.limits,
            app=config.app,
            chunk_size=config.chunk_size,
            merge_reads=config.merge_reads,
        )
        self.ingest = IngestServer(
            context,
            bind=config.bind,
            rtmp_port=config.rtmp_port,
            rtmps_port=config.rtmps_port,
            ssl_context=self._ssl_context() if config.rtmps_port is not None else None,
        )
        self.sources = api_sources.PullSources(self.registry, config.sources)
        self._runner: web.AppRunner | None = None
        self._site: GuardedSite | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._loop_exception_handler: LoopExceptionHandler | None = None
        self._capture: CaptureFile | None = None

    def _ssl_context(self) -> ssl.SSLContext:
        config = self.config
        if config.cert is not None and config.key is not None:
            cert, key = config.cert, config.key
        else:
            cert, key = self_signed_certificate(config.state_dir or default_state_dir())
        return server_context(cert, key)

    @property
    def pulls(self) -> list[PullSource]:
        """Every pull source, configured or added through the sources API."""
        return list(self.sources)

    @property
    def http_port(self) -> int | None:
        """The bound HTTP port (useful when configured as 0)."""
        if self._runner is None or not self._runner.addresses:
            return None
        port: int = self._runner.addresses[0][1]
        return port

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        if self.config.capture is not None:
            self._capture = CaptureFile(self.config.capture)
            self.ingest.tap = self._capture.server
        self._loop_exception_handler = loop.get_exception_handler()
        loop.set_exception_handler(logs.log_loop_exception)
        self.hls_dir.mkdir(parents=True, exist_ok=True)
        await self.ingest.start()
        if self.config.http_port is not None:
            await self._start_http(self.config.http_port)
            address = f"http://{self.config.bind}:{self.http_port}/"
            logger.info("listening", extra={"protocol": "http", "address": address})
        self.sources.start()
        self._start_ticker()
        logger.info("hls folder", extra={"path": str(self.hls_dir)})

    async def _start_http(self, port: int) -> None:
        options = self.config.http
        app = create_app(self.registry, options)
        if options.sources_api:
            api_sources.install(app, self.sources)
        self._runner = web.AppRunner(
            app,
            access_log=None,
            keepalive_timeout=options.keepalive_timeout,
            lingering_time=options.body_timeout,
        )
        await self._runner.setup()
        # Whatever the HTTP side is asked to hold, it must leave the publishers and the
        # packager their file descriptors, and each listener room for one burst of accepts.
        config = self.config
        ingest_listeners = sum(port is not None for port in (config.rtmp_port, config.rtmps_port))
        reserved = (
            FD_RESERVE
            + HTTP_BACKLOG
            + LISTENER_BURST * ingest_listeners
            + config.limits.max_connections
            + FDS_PER_SOURCE * len(config.sources)
        )
        limits = ConnectionLimits(
            descriptor_budget(options.max_connections, reserved), options.max_connections_per_ip
        )
        self._site = GuardedSite(
            self._runner, self.config.bind, port, limits, send_timeout=options.send_timeout
        )
        await self._site.start()

    async def stop(self) -> None:
        """Clean shutdown: stop accepting, close publishers, finish segments and playlists."""
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None
        await self.ingest.stop()
        await self.sources.stop()
        self.registry.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = self._site = None
        if self._temporary is not None:
            self._temporary.remove()
            self._temporary = None
        if self._capture is not None:
            self._capture.close()
            self._capture = None
        logger.info("stopped")
        logs.flush_repeats()
        asyncio.get_running_loop().set_exception_handler(self._loop_exception_handler)

    def _start_ticker(self) -> None:
        self._ticker = asyncio.create_task(self._tick(), name="refserver housekeeping")
        self._ticker.add_done_callback(self._ticker_ended)

    def _ticker_ended(self, task: asyncio.Task[None]) -> None:
        """The housekeeping loop only ends by cancellation (stop); anything else is a bug that
        must not go unnoticed, and offline streams must still be ended: log it, start again."""
        if task.cancelled() or task is not self._ticker:
            return
        logger.critical("housekeeping stopped; restarting it", exc_info=task.exception())
        self._start_ticker()

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(TICK_SECONDS)
            try:
                self._housekeeping()
            except Exception:
                # One bad round (a full disk, a bug) must not end housekeeping for good: the
                # error is logged (repeats collapse, see refserver.logs) and the next round runs.
                logger.exception("housekeeping failed")

    def _housekeeping(self) -> None:
        logs.flush_repeats()
        self.registry.tick()
