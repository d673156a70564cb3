"""Every judged case of rtmp-ingest can fail: for each, an ingest that breaks exactly its rule
makes exactly that case fail, by its ID, and no other required case.

The mutant ingest (``mutant.py``) forwards to a real refserver and breaks one rule per
listener; ``camsim conform`` runs against each in its own process, a few at a time, and the
tests read the JSON results. The clean listener must pass every case. Info cases measure and
never judge; RTMP-HS-004 cannot be broken alone (see ``UNMUTATED``).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from conformance.runner import catalogue
from reports.model import Level
from tests.integration.conformance.conftest import ConformRun, conform_async
from tests.integration.conformance.rtmp_ingest.conftest import media_args, mutant_args
from tests.integration.conformance.rtmp_ingest.mutant import (
    CLEAN,
    MUTATIONS,
    UNMUTATED,
    MutantIngest,
    Mutation,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1500)]

PARALLEL = 3


async def _run_all(
    ingest: MutantIngest, names: list[str], media: list[str], folder: Path
) -> dict[str, ConformRun]:
    slots = asyncio.Semaphore(PARALLEL)

    async def one(name: str) -> tuple[str, ConformRun]:
        async with slots:
            args = [*mutant_args(ingest, name), *media]
            return name, await conform_async(args, folder / f"{name}.json", timeout=300)

    return dict(await asyncio.gather(*(one(name) for name in names)))


@pytest.fixture(scope="module")
def runs(
    mutant: MutantIngest,
    h264_sample: Path,
    h265_sample: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, ConformRun]:
    folder = tmp_path_factory.mktemp("rtmp-mutants")
    names = [CLEAN, *(m.name for m in MUTATIONS)]
    return asyncio.run(_run_all(mutant, names, media_args(h264_sample, h265_sample), folder))


def test_every_judged_case_has_a_mutation() -> None:
    cases = catalogue(["rtmp-ingest"])
    judged = {c.id for c in cases if c.level is not Level.INFO}
    assert judged - set(UNMUTATED) == {m.case for m in MUTATIONS}
    assert set(UNMUTATED) <= judged


def test_clean_ingest_passes_every_case(runs: dict[str, ConformRun]) -> None:
    run = runs[CLEAN]
    assert run.code == 0, (run.stdout, run.stderr)
    assert run.failing(("required", "recommended", "info")) == set(), run.stdout
    verdicts = run.verdicts()
    judged = {m.case for m in MUTATIONS}
    # Each mutation's case was judged, and passed, where nothing was broken.
    assert {case for case in judged if verdicts[case] != "pass"} == set(), verdicts


@pytest.mark.parametrize("mutation", MUTATIONS, ids=lambda m: f"{m.case}-{m.name}")
def test_mutation_fails_its_case_only(runs: dict[str, ConformRun], mutation: Mutation) -> None:
    run = runs[mutation.name]
    assert run.results is not None, run.stderr
    assert run.failing() == mutation.fails, run.stdout
    failed = run.case(mutation.case)
    assert failed["verdict"] == "fail"
    assert failed["message"]
    required = failed["level"] == "required"
    assert run.code == (1 if required else 0), run.stdout
    if required:
        assert mutation.case in run.stdout
