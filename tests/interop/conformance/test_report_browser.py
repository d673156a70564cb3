"""The HTML report as a person sees it: ``camsim conform`` against a running refserver, fed by
the suite, exits 0 and writes JUnit and a report that headless Chromium opens from disk with
nothing fetched, verdict first, charts drawn; a failing report leads with the failure."""

from __future__ import annotations

import asyncio
import base64
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from matplotlib import image

from refserver.hls import HlsOptions
from reports import write_html
from reports.model import CaseResult, Detail, Level, Report, SpecRef, Verdict
from tests.integration.conformance.conftest import conform
from tests.integration.refserver.harness import RunningServer, running, server_config
from tests.interop.refserver.browser import Browser, chromium_path

pytestmark = [pytest.mark.slow, pytest.mark.interop("chromium")]

GREEN = (0x1B, 0x7F, 0x3B)
RED = (0xB3, 0x26, 0x1E)


@pytest.fixture
def refserver(tmp_path: Path) -> Iterator[RunningServer]:
    hls = HlsOptions(target_duration=1.0, window=6)
    with running(server_config(tmp_path, hls=hls)) as server:
        yield server


async def _look(page: Path, screenshot: Path) -> dict[str, Any]:
    async with Browser() as browser:
        await browser.call("Emulation.setDeviceMetricsOverride", width=1280, height=1600,
                           deviceScaleFactor=1, mobile=False)  # fmt: skip
        await browser.open(page.as_uri())
        for _ in range(100):
            if await browser.evaluate("document.readyState") == "complete":
                break
            await asyncio.sleep(0.1)
        seen: dict[str, Any] = await browser.evaluate(
            """({
                title: document.title,
                text: document.body.innerText,
                banner: getComputedStyle(document.querySelector('header')).backgroundColor,
                charts: document.querySelectorAll('figure svg').length,
                fetched: performance.getEntriesByType('resource').map(e => e.name),
                openCases: Array.from(document.querySelectorAll('details[open]')).map(d => d.id),
            })"""
        )
        shot = await browser.call("Page.captureScreenshot", format="png")
        screenshot.write_bytes(base64.b64decode(shot["data"]))
    return seen


def _pixel(png: Path, x: int, y: int) -> tuple[int, int, int]:
    pixels = image.imread(io.BytesIO(png.read_bytes()), format="png")
    red, green, blue = (round(float(v) * 255) for v in pixels[y, x][:3])
    return red, green, blue


def _near(colour: tuple[int, int, int], expected: tuple[int, int, int]) -> bool:
    return all(abs(a - b) <= 8 for a, b in zip(colour, expected, strict=True))


def test_report_of_a_passing_refserver_run(
    refserver: RunningServer, make_test_sample: Any, tmp_path: Path
) -> None:
    if chromium_path() is None:
        pytest.skip("chromium is not installed")
    from fractions import Fraction

    media = make_test_sample(gop_seconds=Fraction(1))
    report_dir = tmp_path / "report"
    junit = tmp_path / "junit.xml"
    run = conform(
        [
            "--suite", "hls-output",
            "--target", refserver.url("/live/shot/index.m3u8"),
            "--feed", f"rtmp://127.0.0.1:{refserver.rtmp_port}/live/shot",
            "--feed-media", str(media),
            "--junit", str(junit),
            "--report", str(report_dir),
        ],
        tmp_path / "results.json",
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
    assert "HLS-RL-009" in text
    assert "Glass-to-playlist latency" in text
    assert "camsim_version" in text
    assert _near(_pixel(screenshot, 20, 20), GREEN)


def test_report_of_a_failure_leads_with_it(tmp_path: Path) -> None:
    if chromium_path() is None:
        pytest.skip("chromium is not installed")
    report = Report(
        title="Conformance: hls-output",
        kind="conformance",
        created="2026-01-01T00:00:00.000Z",
        environment={"target": "http://127.0.0.1:9/live/x/index.m3u8"},
        cases=[
            CaseResult(
                "HLS-RL-009",
                "A removed segment stays downloadable",
                Level.REQUIRED,
                Verdict.FAIL,
                suite="hls-output",
                spec=(SpecRef("RFC 8216", "6.2.2", "https://www.rfc-editor.org/rfc/rfc8216"),),
                message="a removed segment vanished too early: answered HTTP 404",
                details=[Detail("answered HTTP 404 at most 3.1 s after", "segment 7 (s7.ts)")],
            ),
            CaseResult("HLS-PL-001", "#EXTM3U", Level.REQUIRED, Verdict.PASS, "hls-output"),
        ],
    )
    write_html(report, tmp_path / "report")
    screenshot = tmp_path / "report.png"
    seen = asyncio.run(_look(tmp_path / "report" / "index.html", screenshot))
    assert seen["title"].endswith("FAIL")
    assert seen["openCases"] == ["HLS-RL-009"]
    assert "segment 7 (s7.ts)" in seen["text"]
    assert seen["text"].index("Failing required cases") < seen["text"].index("HLS-PL-001")
    assert _near(_pixel(screenshot, 20, 20), RED)
