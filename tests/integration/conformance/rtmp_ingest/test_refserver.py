"""refserver passes every required and recommended case of rtmp-ingest over RTMP and RTMPS,
MPEG-TS and fMP4, with and without stream keys; ``camsim conform`` writes JUnit, JSON and
HTML, exits 2 in one line when nothing listens at the target, and without ``--hls`` judges
what it can at the RTMP level and says the rest is not applicable."""

from __future__ import annotations

import socket
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from reports.schema import validate
from tests.integration.conformance.conftest import conform
from tests.integration.conformance.rtmp_ingest.conftest import media_args, refserver_at
from tests.integration.refserver.harness import RunningServer

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

HLS_CASES = ("RTMP-E2E-001", "RTMP-E2E-002", "RTMP-PUB-004", "RTMP-MEDIA-001", "RTMP-MEDIA-002")


@pytest.fixture
def refserver_keys(tmp_path: Path) -> Iterator[RunningServer]:
    yield from refserver_at(tmp_path, stream_keys={"*": "secret"})


@pytest.fixture
def refserver_fmp4(tmp_path: Path) -> Iterator[RunningServer]:
    yield from refserver_at(tmp_path, "fmp4")


def _hls(server: RunningServer) -> str:
    return server.url("/live/{name}/index.m3u8")


def test_refserver_with_keys_passes_with_junit_and_report(
    refserver_keys: RunningServer, h264_sample: Path, h265_sample: Path, tmp_path: Path
) -> None:
    junit, report = tmp_path / "junit.xml", tmp_path / "report"
    run = conform(
        [
            "--suite", "rtmp-ingest",
            "--target", f"rtmp://127.0.0.1:{refserver_keys.rtmp_port}/live",
            "--hls", _hls(refserver_keys),
            "--key", "secret",
            *media_args(h264_sample, h265_sample),
            "--junit", str(junit),
            "--report", str(report),
        ],
        tmp_path / "results.json",
        timeout=300,
    )  # fmt: skip
    assert run.code == 0, (run.stdout, run.stderr)
    assert run.failing(("required", "recommended", "info")) == set(), run.stdout
    assert run.results is not None
    validate(run.results)
    verdicts = run.verdicts()
    assert len(verdicts) == 32
    judged = [c for c, v in verdicts.items() if v != "pass"]
    assert sorted(judged) == ["RTMP-TLS-001", "RTMP-TLS-002"], verdicts  # rtmp://: n/a
    assert run.case("RTMP-KEY-002")["measurements"], "the refusal codes are reported"
    latency = run.case("RTMP-E2E-003")
    assert {m["name"] for m in latency["measurements"]} >= {"latency p50", "latency p95"}
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None
    assert suite.get("failures") == "0"
    assert int(suite.get("tests", "0")) == 32
    page = (report / "index.html").read_text()
    assert "PASS" in page
    assert "RTMP-E2E-001" in page
    assert page.count("<svg") >= 2  # the latency per frame and its distribution


def test_refserver_fmp4_over_rtmps_passes(
    refserver_fmp4: RunningServer, h264_sample: Path, h265_sample: Path, tmp_path: Path
) -> None:
    run = conform(
        [
            "--suite", "rtmp-ingest",
            "--target", f"rtmps://127.0.0.1:{refserver_fmp4.rtmps_port}/live",
            "--insecure",
            "--hls", _hls(refserver_fmp4),
            *media_args(h264_sample, h265_sample),
        ],
        tmp_path / "results.json",
        timeout=300,
    )  # fmt: skip
    assert run.code == 0, (run.stdout, run.stderr)
    assert run.failing(("required", "recommended", "info")) == set(), run.stdout
    verdicts = run.verdicts()
    for case_id in (*HLS_CASES, "RTMP-TLS-001", "RTMP-TLS-002"):
        assert verdicts[case_id] == "pass", case_id
    certificate = {m["name"]: m["value"] for m in run.case("RTMP-TLS-001")["measurements"]}
    assert certificate["self-signed"] == "yes"
    assert certificate["verification"].startswith("does not verify")
    versions = {m["name"]: m["value"] for m in run.case("RTMP-TLS-002")["measurements"]}
    assert versions["TLS 1.3"] == "accepted"


def test_rtmps_certificate_refused_is_a_one_line_error(
    refserver_fmp4: RunningServer, h264_sample: Path, h265_sample: Path, tmp_path: Path
) -> None:
    """Without --insecure or --ca, refserver's self-signed certificate does not verify: the
    suite cannot judge the target and says why in one line."""
    run = conform(
        [
            "--suite", "rtmp-ingest",
            "--target", f"rtmps://127.0.0.1:{refserver_fmp4.rtmps_port}/live",
            *media_args(h264_sample, h265_sample),
        ],
        tmp_path / "results.json",
    )  # fmt: skip
    assert run.code == 2, run.stdout
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, run.stderr
    assert "certificate" in lines[0]
    assert "--insecure" in lines[0]


def test_without_hls_the_output_cases_are_not_applicable(
    refserver_keys: RunningServer, h264_sample: Path, h265_sample: Path, tmp_path: Path
) -> None:
    run = conform(
        [
            "--suite", "rtmp-ingest",
            "--target", f"rtmp://127.0.0.1:{refserver_keys.rtmp_port}/live",
            "--key", "secret",
            *media_args(h264_sample, h265_sample),
        ],
        tmp_path / "results.json",
        timeout=300,
    )  # fmt: skip
    assert run.code == 0, (run.stdout, run.stderr)
    verdicts = run.verdicts()
    for case_id in HLS_CASES:
        assert verdicts[case_id] == "not_applicable", case_id
    for case_id in ("RTMP-CHUNK-001", "RTMP-TS-001", "RTMP-MEDIA-003", "RTMP-PUB-001"):
        assert verdicts[case_id] == "pass", case_id
    assert "RTMP level only" in run.case("RTMP-CHUNK-001")["message"]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_unreachable_target_exits_2_in_one_line(tmp_path: Path, h264_sample: Path) -> None:
    target = f"rtmp://127.0.0.1:{_closed_port()}/live"
    run = conform(
        ["--suite", "rtmp-ingest", "--target", target, "--feed-media", str(h264_sample)],
        tmp_path / "results.json",
    )
    assert run.code == 2
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, run.stderr
    assert "target unreachable" in lines[0]
    assert target in lines[0]
