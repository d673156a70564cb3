"""Run fault scenarios: a camera, a fault proxy in front of it, the puller under test behind it.

Each scenario gets its own camsim camera (:class:`~camsim.camera.fleet.CameraFleet` on a port the
kernel picks on 127.0.0.1) and its own RTSP fault proxy (:class:`~camsim.fault.control.FaultProxy`,
seeded with the scenario's seed) that the puller is pointed at, so RTSP, interleaved media and
the RTP/RTCP that SETUP sends over UDP all cross it. The proxy starts with the scenario's base
settings and is changed at each window's start and end while the stream runs; a camera reboot
closes the camera (RTCP BYE, connections closed) and opens a new one on the same port; a
refused port is a second proxy that stops listening. The client is started from the
``--target`` template (rtsp-client's, plus ``{alt_url}``), its HLS
followed as it is written, its resident memory sampled, and everything timed on the run's clock.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from camsim.camera.fleet import CameraFleet, FleetConfig
from camsim.camera.quirks import resolve
from camsim.fault.control import FaultProxy
from camsim.fault.scenarios import DeviceFault, FaultScenario
from conformance.suites.rtsp_client.output import FolderOutput, OutputSegment
from conformance.suites.rtsp_client.run import ScenarioResult, log_tail, stop_client
from conformance.suites.rtsp_client.scenarios import Scenario

POLL_SECONDS = 0.5
PAGE_SIZE = 4096


@dataclass(frozen=True, slots=True)
class Mark:
    """Something that happened during the run, for the timeline."""

    at: float
    """Seconds after the run started."""
    what: str


@dataclass
class FaultRun:
    """One scenario, observed."""

    scenario: FaultScenario
    result: ScenarioResult
    """The client's run as rtsp-client records one (output, exit, log), for its segment checks."""
    url: str = ""
    alt_url: str = ""
    marks: list[Mark] = field(default_factory=list)
    memory: list[tuple[float, int]] = field(default_factory=list)
    """Seconds into the run, resident bytes of the client's process."""
    arrivals: list[float] = field(default_factory=list)
    """For each output segment, in order: seconds into the run when it was first read."""
    proxy_state: dict[str, object] = field(default_factory=dict)
    http_segments: list[OutputSegment] | None = None
    """The segments read over HTTP (an ingest scenario); None when the client wrote a folder."""

    @property
    def segments(self) -> list[OutputSegment]:
        """The output's segments, in playlist order."""
        if self.http_segments is not None:
            return self.http_segments
        return self.result.output.segments if self.result.output is not None else []

    @property
    def started_us(self) -> int:
        return self.result.started_us

    def arrived(self, segments: int, now: float) -> None:
        """The output holds ``segments`` now, ``now`` seconds into the run: those read since the
        last call arrived then."""
        self.arrivals.extend([now] * (segments - len(self.arrivals)))


def poll_folder(run: FaultRun, output: FolderOutput, now: float, pid: int) -> None:
    """Read the client's folder once, ``now`` seconds into the run: the segments it gained
    arrived then; sample the client's (``pid``) resident memory."""
    output.poll()
    run.arrived(len(output.segments), now)
    rss = resident_bytes(pid)
    if rss is not None:
        run.memory.append((now, rss))


def client_scenario(scenario: FaultScenario) -> Scenario:
    """rtsp-client's view of the scenario, for its checks of the output's segments."""
    return Scenario("RESIL-" + scenario.name.upper(), scenario.title, (), seconds=scenario.seconds)


def resident_bytes(pid: int) -> int | None:
    """VmRSS of ``pid`` (Linux), or None when it cannot be read."""
    try:
        with open(f"/proc/{pid}/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * PAGE_SIZE
    except (OSError, IndexError, ValueError):
        return None


class FaultRunner:
    """Runs fault scenarios against one client command, ``parallel`` at a time."""

    def __init__(
        self,
        words: list[str],
        sample: Path,
        workdir: Path,
        *,
        parallel: int = 2,
        progress: Callable[[str], None] = lambda text: None,
    ) -> None:
        self.words = words
        """The client's command line, split; {url}, {alt_url}, {out} and {name} filled in."""
        self.sample = sample
        self.workdir = workdir
        self.parallel = max(1, parallel)
        self.progress = progress
        self._done = 0

    async def run(self, scenarios: list[FaultScenario]) -> list[FaultRun]:
        gate = asyncio.Semaphore(self.parallel)

        async def one(scenario: FaultScenario) -> FaultRun:
            async with gate:
                run = await self.run_one(scenario)
            self._done += 1
            self.progress(f"resilience: {self._done}/{len(scenarios)} scenarios run")
            return run

        return list(await asyncio.gather(*(one(s) for s in scenarios)))

    def _fleet(self, scenario: FaultScenario, port: int) -> CameraFleet:
        return CameraFleet(
            FleetConfig(
                port=port,
                media=(self.sample,),
                quirks=scenario.camera_quirks,
                seed=scenario.seed,
                request_timeout=5.0,
                idle_timeout=30.0,
            )
        )

    async def run_one(self, scenario: FaultScenario) -> FaultRun:
        run = FaultRun(scenario, ScenarioResult(client_scenario(scenario)))
        fleet = self._fleet(scenario, 0)
        try:
            await fleet.start()
        except (OSError, ValueError) as exc:
            run.result.error = f"the suite's camera did not start: {exc}"
            return run
        port = fleet.servers[0].port
        run.result.frame_count = len(fleet.cameras[0].sample.video_units) or 1
        camera = ("127.0.0.1", port)
        proxy = FaultProxy(
            ("127.0.0.1", 0), camera, scenario.base_config(), protocol="rtsp", seed=scenario.seed
        )
        blocked: FaultProxy | None = None
        try:
            await proxy.start()
            url = run.alt_url = _via(fleet.urls()[0], port, proxy.address[1])
            if scenario.refused_url:
                blocked = FaultProxy(("127.0.0.1", 0), camera, protocol="tcp")
                await blocked.start()
                blocked.change(refuse=True)  # the port stays known and refuses every connect
                url = _via(fleet.urls()[0], port, blocked.address[1])
            run.url = run.result.url = url
            fleet = await self._observe(run, fleet, proxy, port)
        finally:
            proxy.close()
            if blocked is not None:
                blocked.close()
            await fleet.close()
        run.proxy_state = proxy.state()
        return run

    async def _observe(
        self, run: FaultRun, fleet: CameraFleet, proxy: FaultProxy, port: int
    ) -> CameraFleet:
        """Start the client, play the scenario's timeline, follow the output; the fleet in use
        at the end (a reboot replaces it) is returned for closing."""
        scenario = run.scenario
        out = self.workdir / scenario.name
        out.mkdir(parents=True, exist_ok=True)
        output = run.result.output = FolderOutput(out)
        log_path = self.workdir / f"{scenario.name}.log"
        values = {"url": run.url, "alt_url": run.alt_url, "out": str(out), "name": scenario.name}
        values["alt_port"] = str(proxy.address[1])  # {alt_url}'s port, for a client given ports
        argv = [word.format_map(values) for word in self.words]
        loop = asyncio.get_running_loop()
        started = loop.time()
        run.result.started_us = time.time_ns() // 1000
        try:
            with log_path.open("wb") as log:
                process = await asyncio.create_subprocess_exec(
                    *argv,
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=log,
                    stderr=log,
                    start_new_session=True,
                )
        except OSError as exc:
            run.result.error = f"the --target command did not start: {argv[0]}: {exc.strerror}"
            return fleet

        async def follow(now: float) -> bool:
            poll_folder(run, output, now, process.pid)
            if process.returncode is not None:
                run.marks.append(Mark(loop.time() - started, "the client exited"))
                return False
            return True

        try:
            fleet = await self.play(run, fleet, proxy, port, started, follow)
        finally:
            run.result.exit_code, run.result.killed = await stop_client(process)
        output.poll()
        run.result.log_tail = log_tail(log_path)
        return fleet

    async def play(
        self,
        run: FaultRun,
        fleet: CameraFleet,
        proxy: FaultProxy,
        port: int,
        started: float,
        follow: Callable[[float], Awaitable[bool]],
    ) -> CameraFleet:
        """Play the scenario's timeline on the proxy and the camera from ``started`` (the loop's
        clock) to the scenario's end, calling ``follow`` with the seconds into the run every
        :data:`POLL_SECONDS`; it returns False to stop early. The fleet in use at the end (a
        reboot replaces it) is returned."""
        scenario = run.scenario
        loop = asyncio.get_running_loop()
        events = self._timeline(scenario)
        while (now := loop.time() - started) < scenario.seconds:
            while events and events[0][0] <= now:
                at, action = events.pop(0)
                fleet = await self._act(run, action, at, fleet, proxy, port)
            await asyncio.sleep(min(POLL_SECONDS, scenario.seconds - now))
            if not await follow(loop.time() - started):
                break
        return fleet

    @staticmethod
    def _timeline(scenario: FaultScenario) -> list[tuple[float, object]]:
        events: list[tuple[float, object]] = [(at, dict(s)) for at, s in scenario.changes()]
        if scenario.device is DeviceFault.CAMERA_REBOOT:
            for window in scenario.windows:
                events += [(window.start, "camera down"), (window.end, "camera up")]
        drop = resolve(scenario.camera_quirks).connection_drop()
        if drop is not None:
            events.append((drop, "camera drops"))
        return sorted(events, key=lambda item: item[0])

    async def _act(
        self,
        run: FaultRun,
        action: object,
        at: float,
        fleet: CameraFleet,
        proxy: FaultProxy,
        port: int,
    ) -> CameraFleet:
        if isinstance(action, dict):
            proxy.change(**action)
            shown = ", ".join(f"{name}={value}" for name, value in action.items())
            run.marks.append(Mark(at, f"proxy: {shown}"))
        elif action == "camera down":
            await fleet.close()
            run.marks.append(Mark(at, "camera rebooting: connections closed, port refused"))
        elif action == "camera up":
            fleet = self._fleet(run.scenario, port)
            await fleet.start()
            run.marks.append(Mark(at, "camera back: new SSRC, sequence and timestamp base"))
        elif action == "camera drops":
            # The camera's own quirk does it, on the camera's clock; the mark places it.
            run.marks.append(Mark(at, "camera closes its playing connections mid-frame"))
        return fleet


def _via(url: str, camera_port: int, port: int) -> str:
    """``url`` with the camera's port replaced by ``port``."""
    return url.replace(f":{camera_port}/", f":{port}/", 1)
