"""Fixtures of the camera tests: small samples and fleet configurations using them."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from camsim.camera.fleet import FleetConfig
from tests.conftest import SampleFactory
from wire.codec.nal import VideoCodec


@pytest.fixture(scope="session")
def sample(make_test_sample: SampleFactory) -> Path:
    """320x240, 15 fps, 2 s GOP, 4 s, H.264 + AAC."""
    return make_test_sample()


@pytest.fixture(scope="session")
def short_sample(make_test_sample: SampleFactory) -> Path:
    """A 1 s loop with a keyframe every 0.5 s, to cross loop seams quickly."""
    return make_test_sample(duration=Fraction(1), gop_seconds=Fraction(1, 2))


@pytest.fixture(scope="session")
def h265_sample(make_test_sample: SampleFactory) -> Path:
    return make_test_sample(codec=VideoCodec.H265)


@pytest.fixture
def config(sample: Path) -> FleetConfig:
    """Two cameras of the small sample, with timeouts short enough for tests."""
    return FleetConfig(
        cameras=2, media=(sample,), request_timeout=1.0, idle_timeout=5.0, report_interval=1.0
    )
