"""The client under test, run once through every selected fault scenario."""

from __future__ import annotations

import asyncio
import shlex
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from camsim.fault.scenarios import DeviceFault, FaultScenario, Role, scenarios
from conformance.session import ConformanceSession, ConformOptions, TargetUnreachable
from conformance.suites.resilience import SUITE
from conformance.suites.resilience.api import (
    KERNEL_NOT_APPLICABLE,
    ApiFaultRunner,
    command_fields,
)
from conformance.suites.resilience.ingest import IngestRunner
from conformance.suites.resilience.kernel import KERNEL_SUFFIX, KernelRunner, kernel_unavailable
from conformance.suites.resilience.run import FaultRun, FaultRunner
from conformance.suites.resilience.server import is_server_command
from conformance.suites.rtsp_client.api_target import PullApi
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
CAMERAS = (
    "camsim, one per scenario on 127.0.0.1 behind an RTSP fault proxy, 320x180 H.264 at 15 fps "
    "with AAC"
)
"""The cameras, as the report's environment names them."""


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
    not_run: dict[str, str] = field(default_factory=dict)
    """Cases of the selected paths that were not run, by case ID, and why."""

    def run(self, case: str) -> FaultRun:
        try:
            return self.runs[case]
        except KeyError:
            raise TargetUnreachable(f"{case} was not run") from None


PATHS = ("proxy", "kernel", "both")
"""``--set path=``: the userspace proxy (default), the kernel (namespaces, root), or both."""


def _path(options: ConformOptions) -> str:
    value = (options.setting("path", "proxy") or "proxy").lower()
    if value not in PATHS:
        raise pytest.UsageError(f"--set path={value}: expected one of {', '.join(PATHS)}")
    return value


def kernel_case_id(scenario: FaultScenario) -> str:
    """The kernel path's case of a pull scenario: ``RESIL-NET-LOSS-1-KERNEL``."""
    return case_id(scenario) + KERNEL_SUFFIX


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


INGEST_BY_API = (
    "an ingest scenario, and --pull-api judges a puller: an ingest is judged with --target "
    "rtmp://HOST:PORT/APP/{name}, or the server's command"
)


def api_not_run(path: str) -> dict[str, str]:
    """With ``--pull-api``: the cases not run on ``path`` (``--set path=``), and why."""
    not_run = {case_id(s): INGEST_BY_API for s in scenarios(Role.INGEST)}
    for scenario in scenarios(Role.PULL):
        not_run[kernel_case_id(scenario)] = KERNEL_NOT_APPLICABLE
        if path == "kernel":
            not_run[case_id(scenario)] = (
                "--set path=kernel: the proxy path is not run, and --pull-api has no other"
            )
    return not_run


def _api_runs(options: ConformOptions, session: ConformanceSession) -> Iterator[FaultRuns]:
    """``--pull-api``: a running server told over HTTP to pull each scenario's proxy, its HLS
    read over HTTP; the proxy path only."""
    assert options.pull_api is not None
    try:
        api = PullApi.parse(options.pull_api, options.hls, options.pull_api_remove)
    except ValueError as exc:
        raise TargetUnreachable(str(exc)) from None
    if fields := command_fields(options.pull_api, options.pull_api_remove):
        raise TargetUnreachable(
            f"--pull-api fills in {{name}}, {{url}}, {{alt_url}} and {{alt_port}}, not "
            f"{', '.join(fields)}: that is for a puller's command (--target)"
        )
    selected = {info.id for info in session.catalogue if info.suite == SUITE.name}
    path = _path(options)
    not_run = api_not_run(path)
    chosen = [s for s in scenarios(Role.PULL) if case_id(s) in selected - not_run.keys()]
    kept = options.setting("workdir")
    workdir = Path(kept) if kept else Path(tempfile.mkdtemp(prefix="camsim-resilience-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        session.progress("resilience: preparing the sample")
        runner = ApiFaultRunner(
            api,
            make_samples()[Sample.SHORT],
            workdir,
            parallel=_parallel(options),
            progress=session.progress,
        )
        begun = time.monotonic()
        runs = {case_id(r.scenario): r for r in asyncio.run(runner.run(chosen))}
        wall = time.monotonic() - begun
        environment = session.environment
        environment["client pull api"] = api.describe()
        environment["client hls"] = api.hls
        environment["fault path"] = "proxy"
        environment["cameras"] = CAMERAS
        yield FaultRuns(runs, wall, not_run=not_run)
    finally:
        if not kept:
            shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def fault_runs(
    conform_options: ConformOptions, conform_session: ConformanceSession
) -> Iterator[FaultRuns]:
    """The client run through each selected scenario of its role, a few at a time."""
    if conform_options.pull_api is not None:
        yield from _api_runs(conform_options, conform_session)
        return
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
    path = _path(conform_options)
    chosen = [s for s in scenarios(Role.PULL) if case_id(s) in selected and path != "kernel"]
    on_kernel = [
        s for s in scenarios(Role.PULL) if kernel_case_id(s) in selected and path != "proxy"
    ]
    not_run: dict[str, str] = {}
    for scenario in scenarios(Role.PULL):
        if path == "kernel":
            not_run[case_id(scenario)] = "--set path=kernel: the proxy path is not run"
        elif path == "proxy":
            not_run[kernel_case_id(scenario)] = (
                "--set path=proxy (the default): the kernel path runs with --set path=kernel "
                "or path=both, as root"
            )
    if on_kernel and (reason := kernel_unavailable()) is not None:
        for scenario in on_kernel:
            not_run[kernel_case_id(scenario)] = f"kernel network faults unavailable: {reason}"
        on_kernel = []
    kept = conform_options.setting("workdir")
    workdir = Path(kept) if kept else Path(tempfile.mkdtemp(prefix="camsim-resilience-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        conform_session.progress("resilience: preparing the sample")
        sample = make_samples()[Sample.SHORT]
        parallel = _parallel(conform_options)
        runner = FaultRunner(
            words, sample, workdir, parallel=parallel, progress=conform_session.progress
        )
        begun = time.monotonic()
        runs = {case_id(r.scenario): r for r in asyncio.run(runner.run(chosen))}
        if on_kernel:
            kernel = KernelRunner(
                words, sample, workdir, parallel=parallel, progress=conform_session.progress
            )
            kernel_runs, skipped = asyncio.run(kernel.run(on_kernel))
            runs.update({kernel_case_id(r.scenario): r for r in kernel_runs})
            for scenario in on_kernel:
                if scenario.name in skipped:
                    not_run[kernel_case_id(scenario)] = skipped[scenario.name]
        wall = time.monotonic() - begun
        environment = conform_session.environment
        environment["client command"] = conform_options.target
        environment["fault path"] = path
        environment["cameras"] = CAMERAS
        if on_kernel:
            environment["kernel path"] = (
                "camsim camera in a LAN namespace (198.18.0.2), the client in a WAN namespace "
                "(198.19.0.2), faults on the router between them (iptables, tc, conntrack)"
            )
        yield FaultRuns(runs, wall, not_run=not_run)
    finally:
        if not kept:
            shutil.rmtree(workdir, ignore_errors=True)
