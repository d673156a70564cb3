"""Samples as FLV plans for the refserver tests (1 s GOPs, so 1 s HLS segments), and the
configurations the ``refserver`` command would serve."""

from __future__ import annotations

from fractions import Fraction

import pytest

from camsim.encoder.flv_source import FlvPlan
from camsim.media.loader import load
from refserver import cli, logs
from refserver.config import ServerConfig
from tests.conftest import SampleFactory
from wire.codec.nal import VideoCodec


@pytest.fixture(scope="session")
def h264_plan(make_test_sample: SampleFactory) -> FlvPlan:
    return FlvPlan.build(load(make_test_sample(gop_seconds=Fraction(1))))


@pytest.fixture(scope="session")
def hevc_plan(make_test_sample: SampleFactory) -> FlvPlan:
    sample = make_test_sample(codec=VideoCodec.H265, gop_seconds=Fraction(1))
    return FlvPlan.build(load(sample), enhanced=True)


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[ServerConfig]:
    """The configurations ``refserver`` is asked to serve; nothing is bound."""
    configs: list[ServerConfig] = []

    async def serve(config: ServerConfig) -> None:
        configs.append(config)

    monkeypatch.setattr(cli, "_serve", serve)
    monkeypatch.setattr(logs, "configure", lambda *args: None)
    return configs
