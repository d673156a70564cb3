"""``inspect --report DIR``: the project's HTML report of a capture, and its JSON."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from camsim.pcap.cli import pcap
from camsim.pcap.inspect import inspect_capture
from reports import Level, Verdict

PCAPS = Path(__file__).resolve().parents[4] / "pcaps"


def test_findings_become_cases_and_streams_charts(tmp_path: Path) -> None:
    capture = PCAPS / "camsim-camera-udp-loss.pcapng"
    result = CliRunner().invoke(pcap, ["inspect", str(capture), "--report", str(tmp_path)])
    assert result.exit_code == 0, result.output
    page = (tmp_path / "index.html").read_text()
    data = json.loads((tmp_path / "report.json").read_text())
    inspected = inspect_capture(capture)
    # A case per stream that lost packets (the fault proxy lost video and audio), naming it.
    losses = [c for c in data["cases"] if c["title"] == "rtp-loss"]
    lossy = [s for s in inspected.rtp_streams if s.missing]
    assert {s.media.media for s in lossy} == {"video", "audio"}
    assert len(losses) == len(lossy)
    assert {c["title"].split(",")[0] for c in data["charts"]} == {
        "Bitrate",
        "Jitter (RFC 3550 A.8)",
        "Sequence gaps",
    }
    for stream in lossy:
        ssrc = f"SSRC {stream.ssrc:08X}"
        (loss,) = [c for c in losses if ssrc in c["message"]]
        assert (loss["level"], loss["verdict"]) == (Level.REQUIRED.value, Verdict.FAIL.value)
        assert [d["message"] for d in loss["details"]] == [
            f"packet {r.before_packet}" for r in stream.loss_runs
        ]
        (gaps,) = [c for c in data["charts"] if c["title"] == f"Sequence gaps, {ssrc}"]
        assert sum(gaps["series"][0]["y"]) == stream.missing
    # Each chart is drawn with its stream's case and again among the charts.
    assert page.count("<svg") == 2 * len(data["charts"])
    assert data["verdict"] == "fail"


def test_a_clean_capture_passes(tmp_path: Path) -> None:
    capture = PCAPS / "camsim-camera-tcp.pcapng"
    result = CliRunner().invoke(pcap, ["inspect", str(capture), "--report", str(tmp_path)])
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "report.json").read_text())
    assert data["verdict"] == "pass"
    assert all(c["level"] == "info" for c in data["cases"])
