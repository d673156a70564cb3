"""Every judged case of hls-output can fail: for each, a target that breaks exactly its rule
makes exactly that case fail, by its ID, and no other required case.

The mutant origin (``mutant.py``) serves one live stream per mutation; ``camsim conform`` runs
against each in its own process, a few at a time, and the tests read the JSON results. Where two
rules nest (a date that goes back also differs from its EXTINF), the mutation lists the
recommended case that fails with it. The four info cases (HLS-M-*) measure and never judge,
so no target can fail them.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from conformance.runner import catalogue
from reports.model import Level
from tests.integration.conformance.conftest import ConformRun, conform_async
from tests.integration.conformance.mutant import CLEAN, MUTATIONS, Mutation, RunningOrigin

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

DURATION = "3"  # the suite's minimum: three target durations of 1 s
PARALLEL = 4


async def _run_all(
    origin: RunningOrigin, mutations: list[Mutation], folder: Path
) -> dict[str, ConformRun]:
    slots = asyncio.Semaphore(PARALLEL)

    async def one(mutation: Mutation) -> tuple[str, ConformRun]:
        async with slots:
            args = ["--suite", "hls-output", "--target", origin.url(mutation), "--duration"]
            run = await conform_async([*args, DURATION], folder / f"{mutation.name}.json")
            return mutation.name, run

    return dict(await asyncio.gather(*(one(m) for m in mutations)))


@pytest.fixture(scope="module")
def runs(origin: RunningOrigin, tmp_path_factory: pytest.TempPathFactory) -> dict[str, ConformRun]:
    folder = tmp_path_factory.mktemp("mutants")
    return asyncio.run(_run_all(origin, [*CLEAN.values(), *MUTATIONS], folder))


def test_every_judged_case_has_a_mutation() -> None:
    cases = catalogue(["hls-output"])
    judged = {c.id for c in cases if c.level is not Level.INFO}
    assert judged == {m.case for m in MUTATIONS}
    assert {c.id for c in cases if c.level is Level.INFO} == {
        "HLS-M-001",
        "HLS-M-002",
        "HLS-M-003",
        "HLS-M-004",
    }


@pytest.mark.parametrize("mode", sorted(CLEAN))
def test_clean_origin_passes_every_case(runs: dict[str, ConformRun], mode: str) -> None:
    run = runs[CLEAN[mode].name]
    assert run.code == 0, (run.stdout, run.stderr)
    assert run.failing(("required", "recommended", "info")) == set()


def _applicable(runs: dict[str, ConformRun], mode: str) -> set[str]:
    run = runs[CLEAN[mode].name]
    return {case for case, verdict in run.verdicts().items() if verdict == "pass"}


def test_each_case_judged_by_a_clean_origin(runs: dict[str, ConformRun]) -> None:
    """The clean origins between them make every case applicable: a mutation's failure is
    then the case noticing the breakage, not the case waking up."""
    applicable = set().union(*(_applicable(runs, m) for m in CLEAN))
    assert {m.case for m in MUTATIONS} <= applicable


@pytest.mark.parametrize("mutation", MUTATIONS, ids=lambda m: f"{m.case}-{m.name}")
def test_mutation_fails_its_case_only(runs: dict[str, ConformRun], mutation: Mutation) -> None:
    run = runs[mutation.name]
    assert run.results is not None, run.stderr
    assert run.failing() == mutation.fails, run.stdout
    failed = run.case(mutation.case)
    assert failed["verdict"] == "fail"
    assert failed["message"]
    assert failed["details"], failed
    assert all(d["message"] for d in failed["details"])
    required = failed["level"] == "required" or any(
        run.case(other)["level"] == "required" for other in mutation.also
    )
    assert run.code == (1 if required else 0), run.stdout
    if required:
        assert mutation.case in run.stdout
