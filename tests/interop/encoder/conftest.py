"""Real peers for ``camsim push``: nginx-rtmp (RTMP → HLS, RTMPS via its TLS stream proxy),
FFmpeg listening as an RTMP server, ffprobe and tshark."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import pytest

from tests.conftest import SampleFactory
from tests.integration.encoder.certs import ServerCertificate, make_server_certificate
from tests.interop.encoder.nginx_rtmp import NginxRtmp, available

_TCP_LISTEN = "0A"


@pytest.fixture(scope="session")
def sample_path(make_test_sample: SampleFactory) -> Path:
    """4 s at 15 fps with a keyframe every second, so HLS cuts 1 s fragments."""
    return make_test_sample(gop_seconds=Fraction(1))


@pytest.fixture
def nginx(tmp_path: Path) -> Iterator[NginxRtmp]:
    if not available():
        pytest.skip("nginx with libnginx-mod-rtmp is not installed")
    with NginxRtmp(tmp_path / "nginx", hls_fragment=1) as server:
        yield server


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> ServerCertificate:
    return make_server_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def nginx_tls(tmp_path: Path, certificate: ServerCertificate) -> Iterator[NginxRtmp]:
    if not available():
        pytest.skip("nginx with libnginx-mod-rtmp is not installed")
    with NginxRtmp(tmp_path / "nginx", cert=certificate.cert, key=certificate.key) as server:
        yield server


def camsim_push(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """``camsim push ...`` in its own process, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-c", "from camsim.cli import main; main()", "push", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def start_push(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", "from camsim.cli import main; main()", "push", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def ffprobe(path: Path, *entries: str) -> dict[str, object]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-of", "json", *entries, str(path)],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    result: dict[str, object] = json.loads(out.stdout)
    return result


def wait_listening(port: int, timeout: float = 10.0) -> None:
    """Wait until something listens on loopback ``port``, without connecting to it (a
    ``-listen 1`` FFmpeg serves exactly one connection)."""
    suffix = f":{port:04X}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            try:
                lines = Path(table).read_text().splitlines()[1:]
            except OSError:
                continue
            for line in lines:
                fields = line.split()
                if fields[1].endswith(suffix) and fields[3] == _TCP_LISTEN:
                    return
        time.sleep(0.05)
    raise AssertionError(f"nothing listens on port {port} after {timeout} s")
