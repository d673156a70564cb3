"""refserver, fed by the suite itself over RTMP and RTMPS, in MPEG-TS and fMP4, passes every
case of hls-output; ``camsim conform`` writes JUnit, JSON and HTML, exits 1 against a broken
target naming the case, 2 when the target cannot be reached, and lets --allow pass a known
deviation while still showing it."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import pytest

from refserver.hls import HlsOptions
from reports.schema import validate
from tests.conftest import SampleFactory
from tests.integration.conformance.conftest import conform
from tests.integration.conformance.mutant import MUTATIONS, RunningOrigin
from tests.integration.refserver.harness import RunningServer, running, server_config

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def feed_media(make_test_sample: SampleFactory) -> Path:
    return make_test_sample(gop_seconds=Fraction(1))


def _refserver(tmp_path: Path, segment_format: str) -> Iterator[RunningServer]:
    hls = HlsOptions(target_duration=1.0, window=6, segment_format=segment_format)
    with running(server_config(tmp_path, hls=hls)) as server:
        yield server


@pytest.fixture
def refserver_ts(tmp_path: Path) -> Iterator[RunningServer]:
    yield from _refserver(tmp_path, "mpegts")


@pytest.fixture
def refserver_fmp4(tmp_path: Path) -> Iterator[RunningServer]:
    yield from _refserver(tmp_path, "fmp4")


def _feed_args(server: RunningServer, name: str, media: Path, *, tls: bool = False) -> list[str]:
    feed = (
        f"rtmps://127.0.0.1:{server.rtmps_port}/live/{name}"
        if tls
        else f"rtmp://127.0.0.1:{server.rtmp_port}/live/{name}"
    )
    return [
        "--suite",
        "hls-output",
        "--target",
        server.url(f"/live/{name}/index.m3u8"),
        "--feed",
        feed,
        "--feed-media",
        str(media),
        *(["--feed-insecure"] if tls else []),
    ]


def test_refserver_ts_over_rtmp_passes_with_junit_and_report(
    refserver_ts: RunningServer, feed_media: Path, tmp_path: Path
) -> None:
    junit = tmp_path / "junit.xml"
    report = tmp_path / "report"
    run = conform(
        [
            *_feed_args(refserver_ts, "ts", feed_media),
            "--junit",
            str(junit),
            "--report",
            str(report),
        ],
        tmp_path / "results.json",
    )
    assert run.code == 0, (run.stdout, run.stderr)
    assert run.failing(("required", "recommended")) == set(), run.stdout
    assert run.results is not None
    validate(run.results)
    verdicts = run.verdicts()
    # What a plain-HLS, TS origin fed with stamped media must have judged, not skipped.
    for case_id in ("HLS-RL-009", "HLS-SEG-003", "HLS-SEG-004", "HLS-SEG-006", "HLS-PDT-004"):
        assert verdicts[case_id] == "pass", case_id
    assert verdicts["HLS-SEG-007"] == "not_applicable"
    assert verdicts["HLS-LL-001"] == "not_applicable"
    latency = run.case("HLS-M-001")
    assert latency["verdict"] == "pass"
    assert {m["name"] for m in latency["measurements"]} >= {"latency p50", "latency p95"}
    tree = ET.parse(junit).getroot()
    suite = tree.find("testsuite")
    assert suite is not None
    assert suite.get("failures") == "0"
    assert int(suite.get("tests", "0")) == len(verdicts)
    page = (report / "index.html").read_text()
    assert "PASS" in page
    assert "HLS-RL-009" in page
    assert "<svg" in page


def test_refserver_ts_over_rtmps_passes(
    refserver_ts: RunningServer, feed_media: Path, tmp_path: Path
) -> None:
    run = conform(_feed_args(refserver_ts, "tls", feed_media, tls=True), tmp_path / "r.json")
    assert run.code == 0, (run.stdout, run.stderr)
    assert run.failing(("required", "recommended")) == set(), run.stdout


def test_refserver_fmp4_passes(
    refserver_fmp4: RunningServer, feed_media: Path, tmp_path: Path
) -> None:
    run = conform(_feed_args(refserver_fmp4, "fmp4", feed_media), tmp_path / "r.json")
    assert run.code == 0, (run.stdout, run.stderr)
    assert run.failing(("required", "recommended")) == set(), run.stdout
    verdicts = run.verdicts()
    assert verdicts["HLS-SEG-007"] == "pass"
    assert verdicts["HLS-SEG-008"] == "pass"
    assert verdicts["HLS-SEG-002"] == "not_applicable"


def _mutation(name: str):
    return next(m for m in MUTATIONS if m.name == name)


def test_broken_target_exits_1_naming_the_case(origin: RunningOrigin, tmp_path: Path) -> None:
    mutation = _mutation("removed-deleted")
    run = conform(
        ["--suite", "hls-output", "--target", origin.url(mutation), "--duration", "3"],
        tmp_path / "r.json",
    )
    assert run.code == 1
    assert "HLS-RL-009" in run.stdout
    assert "HTTP 404" in run.case("HLS-RL-009")["message"]


def test_allowed_deviation_passes_the_gate_and_is_shown(
    origin: RunningOrigin, tmp_path: Path
) -> None:
    allow = tmp_path / "allow.txt"
    allow.write_text("# known: the origin deletes removed segments at once\nHLS-RL-009\n")
    mutation = _mutation("removed-deleted")
    args = ["--suite", "hls-output", "--target", origin.url(mutation), "--duration", "3"]
    run = conform([*args, "--allow", str(allow)], tmp_path / "r.json")
    assert run.code == 0, run.stdout
    assert run.case("HLS-RL-009")["verdict"] == "allowed"
    assert "HLS-RL-009" in run.stdout


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_unreachable_target_exits_2_in_one_line(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/live/none/index.m3u8"
    run = conform(["--suite", "hls-output", "--target", url], tmp_path / "r.json")
    assert run.code == 2
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, run.stderr
    assert "target unreachable" in lines[0]
    assert url in lines[0]
    assert run.results is not None
    assert run.results["verdict"] == "error"


def test_unknown_suite_is_a_usage_error(tmp_path: Path) -> None:
    run = conform(["--suite", "nope", "--target", "http://127.0.0.1:1/x.m3u8"], tmp_path / "r")
    assert run.code == 2
    assert "no conformance suite named 'nope'" in run.stderr


@pytest.mark.parametrize(("mutation", "code"), [("clean-ts", 0), ("removed-deleted", 1)])
def test_plain_pytest_runs_the_suite(
    origin: RunningOrigin, tmp_path: Path, mutation: str, code: int
) -> None:
    """``pytest -p conformance.plugin --pyargs conformance.suites.hls_output`` from any
    folder: the same cases, the same gate, the same results file."""
    from tests.integration.conformance.mutant import CLEAN

    target = CLEAN["ts"] if mutation == "clean-ts" else _mutation(mutation)
    results = tmp_path / "results.json"
    completed = subprocess.run(
        [
            sys.executable, "-m", "pytest", "-q", "-p", "conformance.plugin",
            "--pyargs", "conformance.suites.hls_output",
            "--conform-target", origin.url(target),
            "--conform-duration", "3",
            "--conform-json", str(results),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )  # fmt: skip
    assert completed.returncode == code, completed.stdout[-3000:]
    data = json.loads(results.read_text())
    validate(data)
    assert data["exit_code"] == code
    assert len(data["cases"]) == 53
    if code:
        assert "HLS-RL-009" in completed.stdout


def test_refserver_fmp4_hevc_over_enhanced_rtmp_passes(
    refserver_fmp4: RunningServer, make_test_sample: SampleFactory, tmp_path: Path
) -> None:
    """An H.265 sample is fed as Enhanced RTMP (hvc1) and judged in fMP4, as Apple requires
    HEVC to be delivered."""
    from wire.codec.nal import VideoCodec

    hevc = make_test_sample(codec=VideoCodec.H265, gop_seconds=Fraction(1))
    run = conform(_feed_args(refserver_fmp4, "hevc", hevc), tmp_path / "r.json")
    assert run.code == 0, (run.stdout, run.stderr)
    assert run.failing(("required", "recommended")) == set(), run.stdout
    verdicts = run.verdicts()
    for case_id in ("HLS-SEG-003", "HLS-SEG-004", "HLS-SEG-005", "HLS-SEG-007", "HLS-SEG-008"):
        assert verdicts[case_id] == "pass", case_id
    inits = list(refserver_fmp4.hls_dir.rglob("init-*.mp4"))
    assert inits
    assert all(b"hvcC" in path.read_bytes() for path in inits)
