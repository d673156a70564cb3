"""The rtmp-ingest report as a person sees it: ``camsim conform --suite rtmp-ingest`` against a
running refserver exits 0 and writes JUnit and a report that headless Chromium opens from disk
with nothing fetched: the verdict first, the latency of every frame drawn."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import pytest

from tests.conftest import SampleFactory
from tests.integration.conformance.conftest import conform
from tests.integration.conformance.rtmp_ingest.conftest import media_args, refserver_at
from tests.integration.refserver.harness import RunningServer
from tests.interop.conformance.test_report_browser import GREEN, _look, _near, _pixel
from tests.interop.refserver.browser import chromium_path
from wire.codec.nal import VideoCodec

pytestmark = [pytest.mark.slow, pytest.mark.interop("chromium"), pytest.mark.timeout(600)]


@pytest.fixture
def refserver(tmp_path: Path) -> Iterator[RunningServer]:
    yield from refserver_at(tmp_path)


@pytest.fixture
def h264_sample(make_test_sample: SampleFactory) -> Path:
    return make_test_sample(gop_seconds=Fraction(1))


@pytest.fixture
def h265_sample(make_test_sample: SampleFactory) -> Path:
    return make_test_sample(codec=VideoCodec.H265, gop_seconds=Fraction(1))


def test_report_of_a_passing_rtmp_ingest_run(
    refserver: RunningServer, h264_sample: Path, h265_sample: Path, tmp_path: Path
) -> None:
    if chromium_path() is None:
        pytest.skip("chromium is not installed")
    report_dir, junit = tmp_path / "report", tmp_path / "junit.xml"
    run = conform(
        [
            "--suite", "rtmp-ingest",
            "--target", f"rtmp://127.0.0.1:{refserver.rtmp_port}/live",
            "--hls", refserver.url("/live/{name}/index.m3u8"),
            *media_args(h264_sample, h265_sample),
            "--junit", str(junit),
            "--report", str(report_dir),
        ],
        tmp_path / "results.json",
        timeout=300,
    )  # fmt: skip
    assert run.code == 0, run.stdout
    assert junit.exists()
    screenshot = tmp_path / "report.png"
    seen = asyncio.run(_look(report_dir / "index.html", screenshot))
    assert seen["title"].endswith("PASS")
    assert seen["fetched"] == []
    assert seen["charts"] >= 2
    text = seen["text"]
    assert text.index("PASS:") < text.index("Summary") < text.index("Required cases")
    assert "RTMP-E2E-001" in text
    assert "Push-to-playlist latency of each frame" in text
    assert _near(_pixel(screenshot, 20, 20), GREEN)
