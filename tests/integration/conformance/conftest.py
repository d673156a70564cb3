"""The mutant origin and a way to run ``camsim conform`` as a user does, in its own process."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SampleFactory
from tests.integration.conformance.mutant import MutantMedia, RunningOrigin
from tests.integration.conformance.mutant_media import Source

CONFORM = [sys.executable, "-c", "from camsim.cli import main; main()", "conform"]


@dataclass
class ConformRun:
    """One ``camsim conform`` run: its exit code, output and JSON results."""

    code: int
    stdout: str
    stderr: str
    results: dict[str, Any] | None

    def verdicts(self) -> dict[str, str]:
        assert self.results is not None, self.stderr
        return {case["id"]: case["verdict"] for case in self.results["cases"]}

    def failing(self, levels: Sequence[str] = ("required", "recommended")) -> set[str]:
        assert self.results is not None, self.stderr
        return {
            case["id"]
            for case in self.results["cases"]
            if case["level"] in levels and case["verdict"] in ("fail", "error")
        }

    def case(self, case_id: str) -> dict[str, Any]:
        assert self.results is not None, self.stderr
        return next(c for c in self.results["cases"] if c["id"] == case_id)


async def conform_async(args: Sequence[str], json_path: Path, timeout: float = 180) -> ConformRun:
    process = await asyncio.create_subprocess_exec(
        *CONFORM,
        *args,
        "--json",
        str(json_path),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    results = json.loads(json_path.read_text()) if json_path.exists() else None
    assert process.returncode is not None
    return ConformRun(process.returncode, stdout.decode(), stderr.decode(), results)


def conform(args: Sequence[str], json_path: Path, timeout: float = 180) -> ConformRun:
    """``camsim conform ARGS --json JSON_PATH`` in its own process."""
    return asyncio.run(conform_async(args, json_path, timeout))


@pytest.fixture(scope="session")
def mutant_source(make_test_sample: SampleFactory) -> Source:
    """48 s of the test sample with 1 s GOPs: 1 s segments."""
    return Source.load(make_test_sample(gop_seconds=Fraction(1)), loops=12)


@pytest.fixture(scope="session")
def origin(mutant_source: Source) -> Iterator[RunningOrigin]:
    running = RunningOrigin(MutantMedia(mutant_source))
    running.start()
    try:
        yield running
    finally:
        running.stop()
