"""``--pull-api``: the pull scenarios run against a server that runs all along and is told what
to pull over HTTP.

Each scenario gets the command mode's camera and RTSP fault proxy
(:class:`~conformance.suites.resilience.run.FaultRunner`); instead of starting a command, the
suite asks the server to pull the proxy's URL (``--pull-api 'METHOD URL [BODY]'``, rtsp-client's
template: :class:`~conformance.suites.rtsp_client.api_target.PullApi`), reads the stream's HLS
over HTTP from ``--hls`` while the scenario's timeline plays
(:class:`~conformance.suites.resilience.http_output.HttpOutput`, each segment's arrival on the
run's clock), and with ``--pull-api-remove`` asks it to stop once the scenario is over. For
refserver run with ``--api-sources``::

    camsim conform --suite resilience \\
        --pull-api 'POST http://127.0.0.1:8080/api/sources {"name": "{name}", "url": "{url}"}' \\
        --pull-api-remove 'DELETE http://127.0.0.1:8080/api/sources/{name}' \\
        --hls 'http://127.0.0.1:8080/live/{name}/index.m3u8'

What differs from a command:

- ``{name}`` is new for every run (``resil-<scenario>-<6 hex digits>``): a server may keep a
  removed stream's playlist, ended, for a while, and a stream added again under the same name
  would carry on after it, old segments first.
- The templates fill in ``{alt_url}`` and ``{alt_port}`` as a command's do (another URL and
  port of the same camera, for port-554-blocked), e.g. refserver's ``"alternative_ports":
  [{alt_port}]``; without them port-554-blocked gives the server the URL whose port refuses and
  no other address of the camera: it passes only when the server finds another port on its own.
- The server's process is not the suite's: its memory is not sampled and not judged.
- The kernel path cannot run it (a server running on this host cannot be moved into the WAN
  namespace): those cases are not applicable.
- An add request not answered 2xx fails the scenario's case with the request and its answer.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import aiohttp

from camsim.camera.fleet import CameraFleet
from camsim.fault.control import FaultProxy
from conformance.suites.resilience.http_output import HttpOutput
from conformance.suites.resilience.run import FaultRun, FaultRunner, Mark
from conformance.suites.rtsp_client.api_target import PullApi, accepted, call

FINAL_READ_SECONDS = 1.5
"""Without a removal, how long after the scenario's end the last segment has to be cut."""
MEMORY_NOT_MEASURED = "memory growth not measured: a running server (--pull-api) has no pid here"
BLOCKED_URL_ONLY = (
    "the server was given the refused URL only: --pull-api's template has neither {alt_url} "
    "nor {alt_port}, so it passes only with a fallback port of its own"
)
ALTERNATIVES = ("alt_url", "alt_port")
"""Fields the API's templates fill in as the command's do."""
KERNEL_NOT_APPLICABLE = (
    "a running server (--pull-api) on this host cannot be moved into the kernel path's WAN "
    "namespace: give --target as the puller's command"
)
COMMAND_FIELDS = ("out",)
"""Fields of the command mode's ``--target`` that the API's templates do not fill in."""


def stream_name(scenario: str, token: str | None = None) -> str:
    """The stream the server is asked to make for one run of ``scenario``: new every run."""
    return f"resil-{scenario}-{token if token is not None else secrets.token_hex(3)}"


def command_fields(*templates: str | None) -> list[str]:
    """The command mode's fields that mean nothing to a running server (``{out}``) found in
    the API's templates, which would reach the server as written."""
    found = []
    for template in templates:
        for field in re.findall(r"\{([a-z_]+)\}", template or ""):
            if field in COMMAND_FIELDS and "{" + field + "}" not in found:
                found.append("{" + field + "}")
    return found


class ApiFaultRunner(FaultRunner):
    """Runs the pull scenarios against a running server told over HTTP what to pull."""

    def __init__(
        self,
        api: PullApi,
        sample: Path,
        workdir: Path,
        *,
        parallel: int = 2,
        progress: Callable[[str], None] = lambda text: None,
    ) -> None:
        super().__init__([], sample, workdir, parallel=parallel, progress=progress)
        self.api = api

    def _alternatives(self) -> bool:
        """Whether the add request gives the server another address of the camera."""
        add = self.api.add
        return any("{" + field + "}" in add.url + add.body for field in ALTERNATIVES)

    async def _observe(
        self, run: FaultRun, fleet: CameraFleet, proxy: FaultProxy, port: int
    ) -> CameraFleet:
        """Ask the server to pull the proxy's URL, play the timeline while its HLS is read, ask
        it to stop; the fleet in use at the end is returned for closing."""
        scenario = run.scenario
        name = stream_name(scenario.name)
        loop = asyncio.get_running_loop()
        started = loop.time()
        run.result.started_us = time.time_ns() // 1000
        run.marks.append(Mark(0.0, MEMORY_NOT_MEASURED))
        extra = {"alt_url": run.alt_url, "alt_port": str(proxy.address[1])}
        if scenario.refused_url and not self._alternatives():
            run.marks.append(Mark(0.0, BLOCKED_URL_ONLY))
        added = await call(self.api.add, name, run.url, run.url, extra)
        run.result.log_tail.append(added)
        run.marks.append(Mark(loop.time() - started, f"asked to pull: {added}"))
        hls = self.api.hls.replace("{name}", quote(name, safe=""))
        async with aiohttp.ClientSession() as session:
            output = HttpOutput(hls, session)

            async def follow(now: float) -> bool:
                await output.poll()
                run.arrived(len(output.segments), loop.time() - started)
                return True

            try:
                if accepted(added):
                    fleet = await self.play(run, fleet, proxy, port, started, follow)
            finally:
                if self.api.remove is not None:
                    removed = await call(self.api.remove, name, run.url, run.url, extra)
                    run.result.log_tail.append(removed)
                    run.marks.append(Mark(loop.time() - started, f"asked to stop: {removed}"))
            if not accepted(added):
                run.result.exit_code = 1
                run.result.error = added
                return fleet
            if self.api.remove is None:
                await asyncio.sleep(FINAL_READ_SECONDS)
            await output.poll()  # the last segment, cut when the stream ended
            run.arrived(len(output.segments), loop.time() - started)
        run.result.exit_code = 0
        run.http_segments = output.segments
        return fleet
