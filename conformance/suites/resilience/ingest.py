"""Run the ingest scenarios: camsim's encoder pushes through a fault proxy, the HLS is read back.

With an ``rtmp://`` ``--target`` (``{name}`` for the stream name) and ``--hls`` (where the
server serves that stream's HLS), each ingest scenario publishes the short stamped sample with
camsim's encoder (reconnecting, with its backoff) to a TCP :class:`~camsim.fault.control.FaultProxy`
in front of the target, plays the scenario's timeline on the proxy (an uplink drop resets the
encoder's connection and refuses new ones for the window), and reads the stream's HLS over
HTTP as it is published (:class:`~conformance.suites.resilience.http_output.HttpOutput`): every
segment once, when first listed, analysed for its stamps.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import aiohttp

from camsim.encoder.fleet import EncoderFleet
from camsim.encoder.flv_source import FlvPlan
from camsim.encoder.session import PublishOptions
from camsim.encoder.target import PushTarget
from camsim.fault.control import FaultProxy
from camsim.fault.scenarios import DeviceFault, FaultScenario
from camsim.media.loader import load
from conformance.suites.resilience.http_output import HttpOutput
from conformance.suites.resilience.run import FaultRun, Mark, client_scenario, resident_bytes
from conformance.suites.resilience.server import ManagedServer
from conformance.suites.rtsp_client.run import ScenarioResult, log_tail

POLL_SECONDS = 0.5
DEFAULT_RTMP_PORT = 1935


def push_url(target: str, name: str, port: int) -> str:
    """``target`` (``{name}`` filled in) with its host and port replaced by the proxy's."""
    parts = urlsplit(target.replace("{name}", name))
    return urlunsplit((parts.scheme, f"127.0.0.1:{port}", parts.path, parts.query, ""))


def upstream_of(target: str) -> tuple[str, int]:
    parts = urlsplit(target)
    if parts.scheme.lower() != "rtmp" or not parts.hostname:
        raise ValueError(f"an ingest --target must be rtmp://HOST[:PORT]/APP/{{name}}: {target}")
    return parts.hostname, parts.port or DEFAULT_RTMP_PORT


class IngestRunner:
    """Runs ingest scenarios against one RTMP target and its HLS, one after the other.

    With ``server`` (a command template, :mod:`~conformance.suites.resilience.server`) the
    suite starts a server per scenario, and ``target`` and ``hls`` may name its
    ``{rtmp_port}`` and ``{http_port}``; a server restart kills and starts it again.
    """

    def __init__(
        self,
        target: str,
        hls: str,
        sample: Path,
        *,
        server: list[str] | None = None,
        workdir: Path | None = None,
        streams: int = 1,
        progress: Callable[[str], None] = lambda text: None,
    ) -> None:
        self.target = target
        self.hls = hls
        if server is None:
            upstream_of(target)  # raises ValueError for a target that is not rtmp://
        self.server = server
        self.workdir = workdir
        self.streams = max(1, streams)
        self.sample = sample
        self.progress = progress

    async def run(self, scenarios: list[FaultScenario]) -> list[FaultRun]:
        loaded = await asyncio.get_running_loop().run_in_executor(None, load, self.sample)
        plan = FlvPlan.build(loaded)
        frames = len(loaded.video_units) or 1
        runs = []
        async with aiohttp.ClientSession() as session:
            for number, scenario in enumerate(scenarios, start=1):
                runs.append(await self.run_one(scenario, plan, frames, session))
                self.progress(f"resilience: {number}/{len(scenarios)} ingest scenarios run")
        return runs

    async def run_one(
        self, scenario: FaultScenario, plan: FlvPlan, frames: int, session: aiohttp.ClientSession
    ) -> FaultRun:
        run = FaultRun(scenario, ScenarioResult(client_scenario(scenario)))
        run.result.frame_count = frames
        server: ManagedServer | None = None
        target, hls = self.target, self.hls
        log = (self.workdir or Path(".")) / f"{scenario.name}.log"
        if self.server is not None:
            out = log.with_suffix("")
            out.mkdir(parents=True, exist_ok=True)
            server = ManagedServer(self.server, out, log)
            ports = {"rtmp_port": str(server.rtmp_port), "http_port": str(server.http_port)}
            for name, value in ports.items():
                target = target.replace("{" + name + "}", value)
                hls = hls.replace("{" + name + "}", value)
            try:
                await server.start()
            except OSError as exc:
                await server.kill()
                run.result.error = f"the --target server did not start: {exc}"
                return run
        try:
            await self._publish(run, target, hls, plan, session, server)
        finally:
            if server is not None:
                await server.kill()
                run.result.log_tail = log_tail(log)
        return run

    async def _publish(
        self,
        run: FaultRun,
        target: str,
        hls: str,
        plan: FlvPlan,
        session: aiohttp.ClientSession,
        server: ManagedServer | None,
    ) -> None:
        scenario = run.scenario
        name = f"resil-{scenario.name}-{secrets.token_hex(3)}"
        proxy = FaultProxy(
            ("127.0.0.1", 0),
            upstream_of(target),
            scenario.base_config(),
            protocol="tcp",
            seed=scenario.seed,
        )
        await proxy.start()
        # Stream 1 is judged; the others are the load the server carries meanwhile.
        names = [name] + [f"{name}-load{n}" for n in range(2, self.streams + 1)]
        run.url = push_url(target, name, proxy.address[1])
        pushes = [PushTarget.parse(push_url(target, n, proxy.address[1])) for n in names]
        output = HttpOutput(hls.replace("{name}", name), session)
        fleet = EncoderFleet(pushes, plan, PublishOptions(), reconnect=True)
        loop = asyncio.get_running_loop()
        started = loop.time()
        run.result.started_us = time.time_ns() // 1000
        task = asyncio.create_task(fleet.run())
        events: list[tuple[float, object]] = [(at, c) for at, c in scenario.changes()]
        if scenario.device is DeviceFault.SERVER_RESTART:
            for window in scenario.windows:
                events += [(window.start, "server down"), (window.end, "server up")]
        events.sort(key=lambda item: item[0])
        reconnects = 0
        try:
            while (now := loop.time() - started) < scenario.seconds:
                while events and events[0][0] <= now:
                    at, action = events.pop(0)
                    await self._act(run, at, action, proxy, server)
                await asyncio.sleep(min(POLL_SECONDS, scenario.seconds - now))
                await output.poll()
                now = loop.time() - started
                run.arrived(len(output.segments), now)
                if server is not None and server.pid is not None:
                    rss = resident_bytes(server.pid)
                    if rss is not None:
                        run.memory.append((now, rss))
                stats = fleet.stats
                if stats and stats[0].reconnects > reconnects:
                    reconnects = stats[0].reconnects
                    run.marks.append(Mark(now, "encoder reconnected"))
                if task.done():
                    run.marks.append(Mark(now, "the encoder stopped"))
                    break
        finally:
            fleet.stop()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(task), 10)
            if not task.done():
                fleet.stop()
                await asyncio.gather(task, return_exceptions=True)
            proxy.close()
        await asyncio.sleep(1.5)  # the last segment the server cuts once the stream ends
        await output.poll()
        run.arrived(len(output.segments), loop.time() - started)
        run.http_segments = output.segments
        run.proxy_state = proxy.state()
        if fleet.stats and fleet.stats[0].error and not output.segments:
            run.result.error = f"the encoder could not publish: {fleet.stats[0].error}"

    @staticmethod
    async def _act(
        run: FaultRun, at: float, action: object, proxy: FaultProxy, server: ManagedServer | None
    ) -> None:
        if isinstance(action, dict):
            proxy.change(**action)
            shown = ", ".join(f"{key}={value}" for key, value in action.items())
            run.marks.append(Mark(at, f"proxy: {shown}"))
            if run.scenario.device is DeviceFault.UPLINK_DROP and action.get("refuse"):
                for connection in list(proxy.tcp.connections if proxy.tcp else ()):
                    connection.reset("uplink drop")
                run.marks.append(Mark(at, "uplink reset"))
        elif action == "server down" and server is not None:
            await server.kill()
            run.marks.append(Mark(at, "server killed (SIGKILL)"))
        elif action == "server up" and server is not None:
            try:
                await server.start()
            except OSError as exc:  # the verdict tells: the output stops here
                run.marks.append(Mark(at, f"server did not start again: {exc}"))
                return
            run.marks.append(Mark(at, "server started again"))
