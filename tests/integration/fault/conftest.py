"""Fixtures of the fault tests: a small camera fleet to put the proxy in front of."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from camsim.camera.fleet import FleetConfig
from tests.conftest import SampleFactory
from tests.integration.camera.harness import RunningFleet, running_fleet


@pytest.fixture(scope="session")
def sample(make_test_sample: SampleFactory) -> Path:
    """320x240, 15 fps, 2 s GOP, 4 s, H.264 + AAC."""
    return make_test_sample()


@pytest.fixture
def fleet(sample: Path) -> Iterator[RunningFleet]:
    """One camera on 127.0.0.1, in its own thread and loop."""
    config = FleetConfig(
        cameras=1, media=(sample,), request_timeout=2.0, idle_timeout=10.0, report_interval=1.0
    )
    with running_fleet(config) as running:
        yield running


from camsim.fault.pytest_plugin import fault_proxy  # noqa: E402, F401  (the plugin's fixture)
