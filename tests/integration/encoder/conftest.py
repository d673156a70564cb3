"""Samples and a bounded way to run publishers against the in-process server."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import pytest

from camsim.encoder.fleet import EncoderFleet
from camsim.encoder.flv_source import FlvPlan
from camsim.encoder.publisher import Backoff
from camsim.encoder.session import PublishOptions
from camsim.encoder.stats import StreamStats
from camsim.encoder.target import PushTarget
from camsim.media.loader import load
from tests.conftest import SampleFactory

HARD_LIMIT = 30.0
"""No fleet in these tests may run longer than this, whatever goes wrong."""


@pytest.fixture(scope="session")
def sample_path(make_test_sample: SampleFactory) -> Path:
    """4 s at 15 fps, 320x240, GOP 2 s, AAC."""
    return make_test_sample()


@pytest.fixture(scope="session")
def short_sample_path(make_test_sample: SampleFactory) -> Path:
    """1 s long with a keyframe every 0.4 s, so a few seconds of pushing loops it."""
    return make_test_sample(duration=Fraction(1), gop_seconds=Fraction(2, 5))


@pytest.fixture(scope="session")
def plan(sample_path: Path) -> FlvPlan:
    return FlvPlan.build(load(sample_path))


@pytest.fixture(scope="session")
def short_plan(short_sample_path: Path) -> FlvPlan:
    return FlvPlan.build(load(short_sample_path))


def push(
    urls: Sequence[str],
    plan: FlvPlan,
    duration: float | None,
    *,
    reconnect: bool = False,
    backoff: Backoff | None = None,
    **options: object,
) -> list[StreamStats]:
    """Run a fleet to completion, never longer than :data:`HARD_LIMIT`."""
    targets = [PushTarget.parse(url) for url in urls]
    fleet = EncoderFleet(
        targets,
        plan,
        PublishOptions(**options),  # type: ignore[arg-type]
        reconnect=reconnect,
        backoff=backoff,
    )

    async def bounded() -> list[StreamStats]:
        return await asyncio.wait_for(fleet.run(duration), HARD_LIMIT)

    return asyncio.run(bounded())
