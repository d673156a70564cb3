"""The client under test, run once against every selected scenario; the cases judge the runs."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from conformance.session import ConformanceSession, ConformOptions, TargetUnreachable
from conformance.suites.rtsp_client import SUITE
from conformance.suites.rtsp_client.api_target import ApiScenarioRunner, PullApi
from conformance.suites.rtsp_client.run import (
    CommandTemplate,
    ScenarioResult,
    ScenarioRunner,
    make_samples,
)
from conformance.suites.rtsp_client.scenarios import catalogue

DEFAULT_PARALLEL = 4


@dataclass
class ClientRuns:
    """Every scenario run, by case ID."""

    results: dict[str, ScenarioResult]

    def result(self, case_id: str) -> ScenarioResult:
        try:
            return self.results[case_id]
        except KeyError:
            raise TargetUnreachable(f"{case_id} was not run") from None


def _parallel(options: ConformOptions) -> int:
    text = options.setting("parallel", str(DEFAULT_PARALLEL)) or str(DEFAULT_PARALLEL)
    try:
        value = int(text)
    except ValueError:
        raise pytest.UsageError(f"--set parallel={text}: expected a whole number") from None
    if value < 1:
        raise pytest.UsageError("--set parallel must be at least 1")
    return value


@pytest.fixture(scope="session")
def client_runs(
    conform_options: ConformOptions, conform_session: ConformanceSession
) -> Iterator[ClientRuns]:
    """The client run against each selected scenario, several at a time."""
    if conform_options.pull_api is not None:
        yield from _api_runs(conform_options, conform_session)
        return
    if not conform_options.target:
        raise TargetUnreachable("--target is required: the client's command with {url} and {out}")
    try:
        command = CommandTemplate(conform_options.target)
    except ValueError as exc:
        raise TargetUnreachable(str(exc)) from None
    if shutil.which(command.words[0]) is None:
        raise TargetUnreachable(f"the --target command {command.words[0]!r} is not found")
    selected = {info.id for info in conform_session.catalogue if info.suite == SUITE.name}
    scenarios = [s for s in catalogue() if s.case_id in selected]
    kept = conform_options.setting("workdir")
    workdir = Path(kept) if kept else Path(tempfile.mkdtemp(prefix="camsim-rtsp-client-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        conform_session.progress("rtsp-client: preparing the samples")
        samples = make_samples()
        runner = ScenarioRunner(
            command,
            samples,
            workdir,
            parallel=_parallel(conform_options),
            progress=conform_session.progress,
        )
        results = asyncio.run(runner.run(scenarios))
        environment = conform_session.environment
        environment["client command"] = conform_options.target
        environment["cameras"] = "camsim, one per case on 127.0.0.1, 320x180 H.264 at 15 fps"
        yield ClientRuns({r.scenario.case_id: r for r in results})
    finally:
        if not kept:
            shutil.rmtree(workdir, ignore_errors=True)


def _api_runs(options: ConformOptions, session: ConformanceSession) -> Iterator[ClientRuns]:
    """``--pull-api``: a running server told over HTTP what to pull, its HLS read over HTTP."""
    assert options.pull_api is not None
    try:
        api = PullApi.parse(options.pull_api, options.hls, options.pull_api_remove)
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None
    selected = {info.id for info in session.catalogue if info.suite == SUITE.name}
    scenarios = [s for s in catalogue() if s.case_id in selected]
    kept = options.setting("workdir")
    workdir = Path(kept) if kept else Path(tempfile.mkdtemp(prefix="camsim-rtsp-client-"))
    try:
        session.progress("rtsp-client: preparing the samples")
        runner = ApiScenarioRunner(
            api, make_samples(), workdir, parallel=_parallel(options), progress=session.progress
        )
        results = asyncio.run(runner.run(scenarios))
        session.environment["client pull api"] = api.describe()
        session.environment["client hls"] = api.hls
        session.environment["cameras"] = (
            "camsim, one per case on 127.0.0.1, 320x180 H.264 at 15 fps"
        )
        yield ClientRuns({r.scenario.case_id: r for r in results})
    finally:
        if not kept:
            shutil.rmtree(workdir, ignore_errors=True)
