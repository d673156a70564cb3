"""refserver as users run it (the ``refserver`` command in its own process) on free ports, and
FFmpeg publishing into it."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import IO, Any

import pytest

from tests.conftest import SampleFactory

STARTUP_TIMEOUT = 20.0


class RefserverProcess:
    """``refserver --rtmp-port 0 ...`` with JSON logs; the bound ports are read from its log."""

    def __init__(self, folder: Path, *args: str) -> None:
        self.folder = folder
        self.hls_dir = folder / "hls"
        self.log_path = folder / "refserver.log"
        self.args = args
        self.process: subprocess.Popen[bytes] | None = None
        self.ports: dict[str, int] = {}
        self._log: IO[bytes] | None = None

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("wb")
        command = [
            sys.executable,
            "-c",
            "from refserver.cli import main; main()",
            "--rtmp-port=0",
            "--rtmps-port=0",
            "--http-port=0",
            f"--hls-dir={self.hls_dir}",
            f"--state-dir={self.folder / 'state'}",
            "--log-format=json",
            *self.args,
        ]
        self.process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log
        )
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            for entry in self.log_entries():
                if entry.get("message") == "listening":
                    port = str(entry["address"]).split(":")[2].split("/")[0]
                    self.ports[str(entry["protocol"])] = int(port)
            if {"rtmp", "rtmps", "http"} <= set(self.ports):
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"refserver did not start: {self.log_path.read_text()[-2000:]}")

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGINT (Ctrl-C) and wait: the clean shutdown path."""
        process = self.process
        if process is None:
            return None
        self.process = None
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout)
        if self._log is not None:
            self._log.close()
        return process.returncode

    def log_entries(self) -> list[dict[str, Any]]:
        entries = []
        for line in self.log_path.read_text().splitlines():
            try:
                entries.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return entries

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def rtmp_url(self, name: str) -> str:
        return f"rtmp://127.0.0.1:{self.ports['rtmp']}/live/{name}"

    def rtmps_url(self, name: str) -> str:
        return f"rtmps://127.0.0.1:{self.ports['rtmps']}/live/{name}"

    def http_url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.ports['http']}{path}"

    def get(self, path: str) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(self.http_url(path), timeout=10) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def api(self, name: str | None = None) -> Any:
        status, body = self.get("/api/streams" if name is None else f"/api/streams/{name}")
        assert status == 200, body
        return json.loads(body)


@pytest.fixture
def refserver(tmp_path: Path) -> Iterator[RefserverProcess]:
    server = RefserverProcess(tmp_path / "refserver", "--target-duration=1")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def sample_path(make_test_sample: SampleFactory) -> Path:
    """4 s at 15 fps with a keyframe every second, so 1 s segments."""
    return make_test_sample(gop_seconds=Fraction(1))


def ffmpeg_push(
    sample: Path, url: str, *, realtime: bool = False, loop: bool = False, seconds: float = 0
) -> subprocess.Popen[bytes]:
    """``ffmpeg [-re] [-stream_loop -1] -i SAMPLE -c copy -f flv URL``."""
    command = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin"]
    if realtime:
        command.append("-re")
    if loop:
        command += ["-stream_loop", "-1"]
    command += ["-i", str(sample)]
    if seconds:
        command += ["-t", f"{seconds:g}"]
    command += ["-c", "copy"]
    if url.startswith("rtmps:"):
        command += ["-tls_verify", "0"]
    command += ["-f", "flv", url]
    return subprocess.Popen(command, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE)


def wait_exit(process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    _, stderr = process.communicate(timeout=timeout)
    assert process.returncode == 0, stderr.decode(errors="replace")
