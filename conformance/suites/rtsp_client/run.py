"""Run the scenarios: a camera per scenario, the client under test pulling it, its output read.

Each scenario gets its own camsim camera (the public :class:`~camsim.camera.fleet.CameraFleet`, one
camera on a port the kernel picks on 127.0.0.1) and its own run of the client, started from
the ``--target`` command template with ``{url}`` (the camera, with credentials where the
scenario asks for them), ``{out}`` (an empty folder for the client's HLS) and ``{name}`` (the
scenario's name). A restart closes the camera (RTCP BYE, connections closed) and opens a new
one on the same port: new SSRC, sequence and timestamp origin, as a rebooted camera has.
Scenarios run a few at a time (``--set parallel=N``), every one bounded in time.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shlex
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path

from camsim.camera.fleet import AuthScheme, CameraFleet, FleetConfig
from camsim.media.make import cached_sample
from camsim.media.spec import DEFAULT_SPEC, AudioCodec, SampleSpec
from conformance.suites.rtsp_client.network import block_udp
from conformance.suites.rtsp_client.output import FolderOutput
from conformance.suites.rtsp_client.scenarios import Sample, Scenario

POLL_SECONDS = 0.5
STOP_GRACE_SECONDS = 8.0
"""How long a client may take to finish its output after SIGINT before it is killed."""
LOG_TAIL_LINES = 12
USER = "camsim"

SHORT_SPEC = DEFAULT_SPEC.with_changes(
    width=320,
    height=180,
    fps=Fraction(15),
    gop_seconds=Fraction(1),
    bitrate=300_000,
    audio_bitrate=64_000,
    duration=Fraction(10),
)
SAMPLE_SPECS: dict[Sample, SampleSpec] = {
    Sample.SHORT: SHORT_SPEC,
    Sample.VIDEO_ONLY: SHORT_SPEC.with_changes(audio=False),
    Sample.LONG_GOP: SHORT_SPEC.with_changes(gop_seconds=Fraction(10), duration=Fraction(30)),
    Sample.PCMU: SHORT_SPEC.with_changes(**SampleSpec.audio_defaults(AudioCodec.PCMU)),
    Sample.PCMA: SHORT_SPEC.with_changes(**SampleSpec.audio_defaults(AudioCodec.PCMA)),
    Sample.OPUS: SHORT_SPEC.with_changes(**SampleSpec.audio_defaults(AudioCodec.OPUS)),
    Sample.SWITCH: SHORT_SPEC.with_changes(switch_size=(480, 270)),
    Sample.AUDIO_ONLY: SHORT_SPEC.with_changes(video=False),
}


class CommandTemplate:
    """``--target``: the client's command line with ``{url}``, ``{out}`` and ``{name}``."""

    FIELDS = ("{url}", "{out}")

    def __init__(self, template: str) -> None:
        missing = [name for name in self.FIELDS if name not in template]
        if missing:
            raise ValueError(
                f"the --target command must contain {' and '.join(missing)} (e.g. 'ffmpeg "
                "-rtsp_transport tcp -i {url} -c copy -f hls {out}/index.m3u8')"
            )
        self.template = template
        self.words = shlex.split(template)
        if not self.words:
            raise ValueError("the --target command is empty")

    def argv(self, url: str, out: Path, name: str) -> list[str]:
        values = {"url": url, "out": str(out), "name": name}
        return [word.format_map(values) for word in self.words]


@dataclass
class ScenarioResult:
    """One scenario, observed."""

    scenario: Scenario
    url: str = ""
    frame_count: int = 0
    started_us: int = 0
    """Wallclock at which the camera started, in the stamps' unit (µs since the epoch)."""
    restarted_us: int | None = None
    output: FolderOutput | None = None
    exit_code: int | None = None
    killed: bool = False
    log_tail: list[str] = field(default_factory=list)
    error: str = ""
    """Why the scenario could not be run at all (the camera, not the client)."""


def make_samples(media: dict[Sample, Path] | None = None) -> dict[Sample, Path]:
    """The samples the scenarios play, made once and cached (PyAV; blocking)."""
    chosen = dict(media or {})
    for sample, spec in SAMPLE_SPECS.items():
        if sample not in chosen:
            chosen[sample] = cached_sample(spec)
    return chosen


class ScenarioRunner:
    """Runs scenarios against one client command, ``parallel`` at a time (``command`` None for
    a subclass that starts no client of its own)."""

    def __init__(
        self,
        command: CommandTemplate | None,
        samples: dict[Sample, Path],
        workdir: Path,
        *,
        parallel: int = 4,
        progress: Callable[[str], None] = lambda text: None,
    ) -> None:
        self.command = command
        self.samples = samples
        self.workdir = workdir
        self.parallel = max(1, parallel)
        self.progress = progress
        self._done = 0

    async def run(self, scenarios: list[Scenario]) -> list[ScenarioResult]:
        gate = asyncio.Semaphore(self.parallel)
        total = len(scenarios)

        async def one(scenario: Scenario) -> ScenarioResult:
            async with gate:
                result = await self.run_one(scenario)
            self._done += 1
            self.progress(f"rtsp-client: {self._done}/{total} scenarios run")
            return result

        return list(await asyncio.gather(*(one(s) for s in scenarios)))

    def _config(self, scenario: Scenario, password: str, port: int) -> FleetConfig:
        config = FleetConfig(
            port=port,
            media=(self.samples[scenario.sample],),
            quirks=scenario.quirks,
            session_timeout=scenario.session_timeout,
            request_timeout=5.0,
            idle_timeout=30.0,
            rtp_origin=scenario.rtp_origin,
        )
        if scenario.auth:
            config = replace(config, users=((USER, password),), auth_scheme=AuthScheme.DIGEST)
        return config

    async def run_one(self, scenario: Scenario) -> ScenarioResult:
        result = ScenarioResult(scenario)
        password = secrets.token_hex(8)
        fleet = CameraFleet(self._config(scenario, password, 0))
        try:
            await fleet.start()
        except (OSError, ValueError) as exc:
            result.error = f"the suite's camera did not start: {exc}"
            return result
        port = fleet.servers[0].port
        self._impair(fleet, scenario)
        result.frame_count = len(fleet.cameras[0].sample.video_units) or 1
        url = fleet.urls()[0]
        if scenario.auth:
            url = url.replace("://", f"://{USER}:{password}@", 1)
        result.url = url
        out = self.workdir / scenario.slug
        out.mkdir(parents=True, exist_ok=True)
        output = result.output = FolderOutput(out)
        loop = asyncio.get_running_loop()
        started = loop.time()
        result.started_us = time.time_ns() // 1000
        log_path = self.workdir / f"{scenario.slug}.log"
        assert self.command is not None, "a runner without a command overrides run_one"
        argv = self.command.argv(url, out, scenario.slug)
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
            await fleet.close()
            result.error = f"the --target command did not start: {argv[0]}: {exc.strerror}"
            return result
        try:
            if scenario.restart_at is not None:
                await self._follow(output, started + scenario.restart_at)
                await fleet.close()
                await self._follow(output, started + scenario.restart_at + scenario.restart_down)
                fleet = CameraFleet(self._config(scenario, password, port))
                await fleet.start()
                self._impair(fleet, scenario)
                result.restarted_us = time.time_ns() // 1000
            await self._follow(output, started + scenario.seconds, process)
        finally:
            result.exit_code, result.killed = await stop_client(process)
            await fleet.close()
        output.poll()
        result.log_tail = log_tail(log_path)
        return result

    @staticmethod
    def _impair(fleet: CameraFleet, scenario: Scenario) -> None:
        udp = fleet.servers[0].udp
        if scenario.block_udp and udp is not None:
            block_udp(udp)

    @staticmethod
    async def _follow(
        output: FolderOutput, until: float, process: asyncio.subprocess.Process | None = None
    ) -> None:
        loop = asyncio.get_running_loop()
        while (remaining := until - loop.time()) > 0:
            await asyncio.sleep(min(POLL_SECONDS, remaining))
            output.poll()
            if process is not None and process.returncode is not None:
                return  # the client gave up; what it wrote is all there is


async def stop_client(process: asyncio.subprocess.Process) -> tuple[int | None, bool]:
    """SIGINT (clients finish their segments and playlist on it), then SIGKILL to the group."""
    if process.returncode is not None:
        return process.returncode, False
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGINT)
    try:
        return await asyncio.wait_for(process.wait(), STOP_GRACE_SECONDS), False
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        return await process.wait(), True


def log_tail(path: Path) -> list[str]:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    return [line[:200] for line in lines[-LOG_TAIL_LINES:]]
