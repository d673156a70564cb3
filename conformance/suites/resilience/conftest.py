"""The client under test, run once through every selected fault scenario."""

from __future__ import annotations

import asyncio
import shlex
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from camsim.fault.scenarios import DeviceFault, FaultScenario, Role, scenarios
from conformance.session import ConformanceSession, ConformOptions, TargetUnreachable
from conformance.suites.resilience import SUITE
from conformance.suites.resilience.ingest import IngestRunner
from conformance.suites.resilience.run import FaultRun, FaultRunner
from conformance.suites.resilience.server import is_server_command
from conformance.suites.rtsp_client.run import CommandTemplate, make_samples
from conformance.suites.rtsp_client.scenarios import Sample

DEFAULT_PUSH = "rtmp://127.0.0.1:{rtmp_port}/live/{name}"
"""Where the encoder publishes when the suite starts the server (``--set push=URL``)."""
DEFAULT_STREAMS = 3
"""Streams published at once to a server the suite starts: one judged, the others load."""
DEFAULT_PARALLEL = 2
"""Two scenarios at a time: each runs a camera, a proxy and a client, and losses caused by a
starved CPU would be blamed on the client."""
GROUPS = {"network": "RESIL-NET", "device": "RESIL-DEV", "ingest": "RESIL-INGEST"}


def case_id(scenario: FaultScenario) -> str:
    """The case of a scenario: ``RESIL-NET-LOSS-1``, ``RESIL-DEV-CAMERA-REBOOT``, ..."""
    if scenario.role is Role.INGEST:
        group = GROUPS["ingest"]
    elif scenario.device.value != "none":
        group = GROUPS["device"]
    else:
        group = GROUPS["network"]
    return f"{group}-{scenario.name.upper()}"


@dataclass
class FaultRuns:
    """Every scenario run, by case ID."""

    runs: dict[str, FaultRun]
    wall_seconds: float
    role: Role = Role.PULL
    """What the target was judged as: a puller (a command) or an ingest (rtmp://)."""
    managed_server: bool = False
    """The suite started the ingest server itself, so it could kill and restart it."""

    def run(self, case: str) -> FaultRun:
        try:
            return self.runs[case]
        except KeyError:
            raise TargetUnreachable(f"{case} was not run") from None


def _parallel(options: ConformOptions) -> int:
    text = options.setting("parallel", str(DEFAULT_PARALLEL)) or str(DEFAULT_PARALLEL)
    try:
        value = int(text)
    except ValueError:
        raise pytest.UsageError(f"--set parallel={text}: expected a whole number") from None
    if value < 1:
        raise pytest.UsageError("--set parallel must be at least 1")
    return value


def _whole(options: ConformOptions, key: str, default: int) -> int:
    text = options.setting(key, str(default)) or str(default)
    try:
        value = int(text)
    except ValueError:
        raise pytest.UsageError(f"--set {key}={text}: expected a whole number") from None
    if value < 1:
        raise pytest.UsageError(f"--set {key} must be at least 1")
    return value


def _ingest_runs(options: ConformOptions, session: ConformanceSession, workdir: Path) -> FaultRuns:
    """An ingest: an rtmp:// target, or a server command the suite starts (and restarts);
    camsim's encoder pushes through the proxy, the stream's HLS is read back."""
    if not options.hls:
        raise TargetUnreachable(
            "an ingest --target needs --hls: where the server serves the stream's HLS, with "
            "{name} for the stream name"
        )
    selected = {info.id for info in session.catalogue if info.suite == SUITE.name}
    chosen = [s for s in scenarios(Role.INGEST) if case_id(s) in selected]
    target = options.target or ""
    managed = is_server_command(target)
    if not managed:
        chosen = [s for s in chosen if s.device is not DeviceFault.SERVER_RESTART]
    try:
        sample = make_samples()[Sample.SHORT]
        if managed:
            runner = IngestRunner(
                options.setting("push", DEFAULT_PUSH) or DEFAULT_PUSH,
                options.hls,
                sample,
                server=shlex.split(target),
                workdir=workdir,
                streams=_whole(options, "streams", DEFAULT_STREAMS),
                progress=session.progress,
            )
        else:
            runner = IngestRunner(target, options.hls, sample, progress=session.progress)
    except ValueError as exc:
        raise TargetUnreachable(str(exc)) from None
    begun = time.monotonic()
    runs = asyncio.run(runner.run(chosen))
    session.environment["ingest"] = f"{target}, HLS at {options.hls}"
    session.environment["encoder"] = "camsim, 320x180 H.264 at 15 fps with AAC, reconnecting"
    wall = time.monotonic() - begun
    return FaultRuns({case_id(r.scenario): r for r in runs}, wall, Role.INGEST, managed)


@pytest.fixture(scope="session")
def fault_runs(
    conform_options: ConformOptions, conform_session: ConformanceSession
) -> Iterator[FaultRuns]:
    """The client run through each selected scenario of its role, a few at a time."""
    if not conform_options.target:
        raise TargetUnreachable("--target is required: the client's command with {url} and {out}")
    target = conform_options.target
    if target.lower().startswith("rtmp://") or is_server_command(target):
        kept = conform_options.setting("workdir")
        folder = Path(kept) if kept else Path(tempfile.mkdtemp(prefix="camsim-resilience-"))
        folder.mkdir(parents=True, exist_ok=True)
        try:
            yield _ingest_runs(conform_options, conform_session, folder)
        finally:
            if not kept:
                shutil.rmtree(folder, ignore_errors=True)
        return
    try:
        # {alt_url} may stand for {url}: a client told only of the camera's other address.
        command = CommandTemplate(conform_options.target.replace("{alt_url}", "{url}"))
    except ValueError as exc:
        raise TargetUnreachable(str(exc)) from None
    words = shlex.split(conform_options.target)
    if shutil.which(command.words[0]) is None:
        raise TargetUnreachable(f"the --target command {command.words[0]!r} is not found")
    selected = {info.id for info in conform_session.catalogue if info.suite == SUITE.name}
    chosen = [s for s in scenarios(Role.PULL) if case_id(s) in selected]
    kept = conform_options.setting("workdir")
    workdir = Path(kept) if kept else Path(tempfile.mkdtemp(prefix="camsim-resilience-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        conform_session.progress("resilience: preparing the sample")
        sample = make_samples()[Sample.SHORT]
        runner = FaultRunner(
            words,
            sample,
            workdir,
            parallel=_parallel(conform_options),
            progress=conform_session.progress,
        )
        begun = time.monotonic()
        runs = asyncio.run(runner.run(chosen))
        wall = time.monotonic() - begun
        environment = conform_session.environment
        environment["client command"] = conform_options.target
        environment["cameras"] = (
            "camsim, one per scenario on 127.0.0.1 behind an RTSP fault proxy, 320x180 H.264 "
            "at 15 fps with AAC"
        )
        yield FaultRuns({case_id(r.scenario): r for r in runs}, wall)
    finally:
        if not kept:
            shutil.rmtree(workdir, ignore_errors=True)
