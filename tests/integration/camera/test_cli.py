"""``camsim run`` as users run it: URLs on start, status as JSON, a clean stop on SIGTERM."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import click

from camsim.camera.cli import run
from tests.integration.camera.harness import free_ports

CAMSIM = [sys.executable, "-c", "from camsim.cli import main; main()", "run"]


def test_defaults_are_the_documented_ones() -> None:
    defaults = {p.name: p.default for p in run.params if isinstance(p, click.Option)}
    assert defaults["cameras"] == 1
    assert defaults["host"] == "127.0.0.1"
    assert defaults["port"] == 8554
    assert defaults["layout"] == "paths"
    assert defaults["codec"] == "h264"


def test_json_status_and_sigterm(sample: Path) -> None:
    port = free_ports(1)
    process = subprocess.Popen(
        [
            *CAMSIM,
            "--cameras",
            "3",
            "--port",
            str(port),
            "--media",
            str(sample),
            "--json",
            "--interval",
            "0.2",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    started = json.loads(process.stdout.readline())
    assert started == {
        "event": "started",
        "urls": [f"rtsp://127.0.0.1:{port}/cam{i}" for i in (1, 2, 3)],
        "quirks": {},
    }
    status = json.loads(process.stdout.readline())
    assert status["event"] == "status"
    assert status["cameras"] == 3
    assert {"clients", "bitrate", "packets", "late_packets", "p99_error"} <= set(status)
    time.sleep(0.3)
    process.send_signal(signal.SIGTERM)
    out, _ = process.communicate(timeout=10)
    assert process.returncode == 0
    last = json.loads(out.strip().splitlines()[-1])
    assert last["event"] == "stopped"


def test_duration_mixed_quirks_and_terminal_lines(sample: Path) -> None:
    port = free_ports(1)
    result = subprocess.run(
        [
            *CAMSIM,
            "--cameras",
            "4",
            "--port",
            str(port),
            "--media",
            str(sample),
            "--quirks",
            "mixed",
            "--seed",
            "3",
            "--duration",
            "0.5",
            "--interval",
            "0.2",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines[:4]] == [
        f"rtsp://127.0.0.1:{port}/cam{i}" for i in (1, 2, 3, 4)
    ]
    assert any("quirks:" in line for line in lines[:4])
    assert lines[-1].startswith("stopped:")
    assert "cameras 4" in lines[-1]


def test_bad_arguments_are_usage_errors(sample: Path) -> None:
    for arguments, message in (
        (["--quirks", "nope"], "unknown quirk profile 'nope'"),
        (["--auth", "nocolon"], "expected USER:PASSWORD"),
        (["--cameras", "0"], "at least one camera"),
    ):
        result = subprocess.run(
            [*CAMSIM, "--media", str(sample), "--port", "0", *arguments],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert result.returncode != 0
        assert message in result.stderr
