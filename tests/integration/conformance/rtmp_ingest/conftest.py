"""Samples, a refserver and the mutant ingest for the rtmp-ingest suite's tests, and the
arguments that point ``camsim conform`` at them."""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import pytest

from refserver.config import Limits
from refserver.hls import HlsOptions
from tests.conftest import SampleFactory
from tests.integration.conformance.rtmp_ingest.mutant import KEY, MutantIngest
from tests.integration.refserver.harness import RunningServer, running, server_config
from wire.codec.nal import VideoCodec

DURATION = "4"
"""The main stream's seconds: four GOPs of the 1 s GOP sample, the suite's minimum."""
# One address publishes every stream of several runs at once.
LIMITS = Limits(max_connections=512, max_connections_per_ip=512)


@pytest.fixture(scope="session")
def h264_sample(make_test_sample: SampleFactory) -> Path:
    return make_test_sample(gop_seconds=Fraction(1))


@pytest.fixture(scope="session")
def h265_sample(make_test_sample: SampleFactory) -> Path:
    return make_test_sample(codec=VideoCodec.H265, gop_seconds=Fraction(1))


def media_args(h264: Path, h265: Path) -> list[str]:
    return ["--feed-media", str(h264), "--set", f"hevc-media={h265}", "--duration", DURATION]


def refserver_at(
    tmp_path: Path, segment_format: str = "mpegts", **changes: object
) -> Iterator[RunningServer]:
    hls = HlsOptions(target_duration=1.0, window=6, segment_format=segment_format)
    config = server_config(tmp_path, hls=hls, limits=LIMITS, **changes)
    with running(config) as server:
        yield server


@pytest.fixture(scope="module")
def mutant_upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    yield from refserver_at(tmp_path_factory.mktemp("upstream"))


@pytest.fixture(scope="module")
def mutant(mutant_upstream: RunningServer) -> Iterator[MutantIngest]:
    ingest = MutantIngest(mutant_upstream.rtmp_port, mutant_upstream.http_port)
    ingest.start()
    try:
        yield ingest
    finally:
        ingest.stop()


def mutant_args(ingest: MutantIngest, mutation: str) -> list[str]:
    return [
        "--suite", "rtmp-ingest",
        "--target", ingest.rtmp_url(mutation),
        "--hls", ingest.hls_template(mutation),
        "--key", KEY,
    ]  # fmt: skip
