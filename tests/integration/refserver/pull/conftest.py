"""A camsim fleet with Digest credentials, for refserver to pull from."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from camsim.camera.fleet import FleetConfig
from tests.conftest import SampleFactory
from tests.integration.camera.harness import RunningFleet, running_fleet

USER, PASSWORD = "admin", "s3cret"


@pytest.fixture(scope="module")
def camera_sample(make_test_sample: SampleFactory) -> Path:
    """1 s GOPs, so 1 s HLS segments (and a first segment about a second after PLAY)."""
    return make_test_sample(gop_seconds=Fraction(1))


def fleet_config(sample: Path, **changes: Any) -> FleetConfig:
    """One camera of ``sample`` that asks for ``USER``/``PASSWORD``."""
    config = FleetConfig(
        media=(sample,), users=((USER, PASSWORD),), request_timeout=2.0, idle_timeout=10.0
    )
    return dataclasses.replace(config, **changes)


@pytest.fixture
def fleet(camera_sample: Path) -> Iterator[RunningFleet]:
    with running_fleet(fleet_config(camera_sample)) as cameras:
        yield cameras
