"""Every required case of rtsp-server that no quirk profile fails is proven able to fail: a
mutant camera built to break exactly that case's rule fails it, and no other required case.

The mutants (``mutants.py``) are camsim cameras with one change each. Each is judged by
``camsim conform --suite rtsp-server`` in its own process, as ``test_quirks.py`` judges the
quirk profiles, a few at a time, and the tests read the JSON results.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from camsim.camera.fleet import FleetConfig
from conformance.runner import catalogue
from reports.model import Level
from tests.conftest import SampleFactory
from tests.integration.camera.harness import running_fleet
from tests.integration.conformance.conftest import ConformRun, conform
from tests.integration.conformance.rtsp_server.mutants import (
    MUTANTS,
    Mutant,
    install_authenticator,
    mutants_installed,
)
from tests.integration.conformance.rtsp_server.test_quirks import (
    DURATION,
    QUIRK_FAILS,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

PARALLEL = 2
"""Judged runs at once: each is a camera and a ``camsim conform`` decoding its video, and the
machine has two cores; more at once only makes the timing cases see a starved camera."""


@pytest.fixture(scope="module")
def installed() -> Iterator[None]:
    with mutants_installed():
        yield


def _judge(config: FleetConfig, mutant: Mutant, folder: Path) -> ConformRun:
    config = dataclasses.replace(
        config, quirks=(mutant.profile.name,) if mutant.profile else (), **mutant.changes
    )
    with running_fleet(config) as running:
        if mutant.authenticator is not None:
            install_authenticator(running.fleet, mutant.authenticator)
        url = mutant.target.format(port=running.port)
        args = ["--suite", "rtsp-server", "--target", url, "--duration", DURATION, *mutant.extra]
        return conform(args, folder / f"{mutant.name}.json", 240)


@pytest.fixture(scope="module")
def runs(
    installed: None, make_test_sample: SampleFactory, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, ConformRun]:
    config = FleetConfig(media=(make_test_sample(),))
    folder = tmp_path_factory.mktemp("rtsp-server-mutants")

    def one(mutant: Mutant) -> tuple[str, ConformRun]:
        return mutant.breaks, _judge(config, mutant, folder)

    with ThreadPoolExecutor(PARALLEL) as pool:
        return dict(pool.map(one, MUTANTS))


def test_each_mutant_breaks_a_required_case_no_quirk_fails() -> None:
    required = {c.id for c in catalogue(["rtsp-server"]) if c.level is Level.REQUIRED}
    by_mutant = [m.breaks for m in MUTANTS]
    assert len(set(by_mutant)) == len(by_mutant)  # one mutant per case
    assert set(by_mutant) <= required
    assert set(by_mutant).isdisjoint(set().union(*QUIRK_FAILS.values()))


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.breaks)
def test_mutant_fails_exactly_its_case(runs: dict[str, ConformRun], mutant: Mutant) -> None:
    run = runs[mutant.breaks]
    assert run.results is not None, run.stderr
    # Exactly its case, among required and recommended ones alike.
    assert run.failing(("required", "recommended")) == {mutant.breaks}, run.stdout
    assert run.code == 1, run.stdout
    assert mutant.breaks in run.stdout  # the summary names the failing case
    # ... and for the mutant's reason, not another one.
    case = run.case(mutant.breaks)
    told = [case["message"], *(f"{d['message']} ({d['where']})" for d in case["details"])]
    assert re.search(mutant.evidence, "\n".join(told)), case
