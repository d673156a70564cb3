"""A pull API that is not a server: an HTTP server on 127.0.0.1, in a thread of its own, that
answers every request as the test's ``answer`` says and records it, for proving that a
``--pull-api`` suite fails a server that answers wrongly or never pulls."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

from aiohttp import web

from refserver.hls import HlsOptions
from refserver.http import HttpOptions
from tests.integration.refserver.harness import RunningServer, running, server_config

Answer = Callable[[web.Request], web.StreamResponse]


class ScriptedApi:
    """``with ScriptedApi(answer) as api:`` serves on ``api.port``; ``api.requests`` lists
    ``"METHOD /path"`` for each request, in order."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.requests: list[str] = []
        self.loop = asyncio.new_event_loop()
        self.runner: web.AppRunner | None = None
        self.port = 0
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(f"{request.method} {request.path}")
        return self.answer(request)

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._answer)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = self.runner.addresses[0][1]

    def __enter__(self) -> ScriptedApi:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.runner is not None:
            asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


def sources_api_refserver(folder: Path) -> AbstractContextManager[RunningServer]:
    """refserver in this process with its sources API and no source, 1 s segments: a pull
    server a ``--pull-api`` suite tells what to pull."""
    config = server_config(
        folder,
        rtmps_port=None,
        http=HttpOptions(sources_api=True),
        hls=HlsOptions(target_duration=1.0, window=6),
    )
    return running(config)
