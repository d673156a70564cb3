"""Third-party origins for the hls-output suite and the sample they serve."""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import pytest

from tests.conftest import SampleFactory
from tests.interop.conformance.origins import NginxRtmpHls, nginx_available


@pytest.fixture(scope="session")
def sample_1s_gop(make_test_sample: SampleFactory) -> Path:
    """4 s at 15 fps with a keyframe every second: 1 s segments everywhere."""
    return make_test_sample(gop_seconds=Fraction(1))


@pytest.fixture
def nginx_hls(tmp_path: Path) -> Iterator[NginxRtmpHls]:
    if not nginx_available():
        pytest.skip("nginx with libnginx-mod-rtmp is not installed")
    server = NginxRtmpHls(tmp_path / "nginx")
    server.start()
    try:
        yield server
    finally:
        server.stop()
