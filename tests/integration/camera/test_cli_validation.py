"""``camsim run`` refuses what it cannot do in words that name the value or the file, and stops
at once when interrupted while it makes the default sample."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from camsim.camera.cli import CAMERAS_PER_CORE, camera_limit
from camsim.camera.fleet import Layout
from camsim.camera.tls import self_signed_certificate
from camsim.cli import main

CAMSIM = [sys.executable, "-c", "from camsim.cli import main; main()"]


def camsim(*arguments: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CAMSIM, *arguments], capture_output=True, text=True, timeout=60, env=env
    )


def refused(*arguments: str) -> str:
    """The usage error ``camsim`` gives for ``arguments`` (they are refused before anything
    starts, so the command runs in this process)."""
    result = CliRunner().invoke(main, list(arguments))
    assert result.exit_code == 2, result.output
    return result.output


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--duration", "-5"], "'--duration': -5.0 is not in the range x>0"),
        (["--duration", "0"], "'--duration': 0.0 is not in the range x>0"),
        (["--interval", "0"], "'--interval': 0.0 is not in the range x>=0.1"),
        (["--cameras", "0"], "a fleet needs at least one camera"),
        (["--port", "70000"], "'--port': 70000 is not in the range 0<=x<=65535"),
        (["--session-timeout", "0"], "'--session-timeout': 0 is not in the range"),
        (["--request-timeout", "0"], "'--request-timeout': 0.0 is not in the range"),
        (["--max-connections", "0"], "'--max-connections': 0 is not in the range x>=1"),
        (["--max-connections-per-ip", "-1"], "'--max-connections-per-ip': -1 is not in"),
        (["--quirks", "nope"], "unknown quirk profile 'nope'"),
    ],
)
def test_values_out_of_range_are_usage_errors(sample: Path, arguments: list[str], message: str):
    assert message in refused("run", "--media", str(sample), "--port", "0", *arguments)


def test_too_many_cameras_says_the_bound_and_why(sample: Path) -> None:
    limit, why = camera_limit(Layout.PATHS)
    output = refused("run", "--media", str(sample), "--cameras", "100000")
    assert f"100000: at most {limit} here ({why})" in output
    assert limit <= CAMERAS_PER_CORE * (os.cpu_count() or 1)


def test_certificate_errors_name_the_file(sample: Path, tmp_path: Path) -> None:
    pair, other = (self_signed_certificate(["127.0.0.1"]) for _ in range(2))
    cert, key, other_key = tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "other.pem"
    cert.write_bytes(pair.certificate)
    key.write_bytes(pair.private_key)
    other_key.write_bytes(other.private_key)
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    cases = [
        (tmp_path / "missing.pem", key, f"cannot read the certificate {tmp_path}/missing.pem: "),
        (garbage, key, f"the certificate {garbage} is not a PEM certificate"),
        (cert, garbage, f"{garbage} holds no PEM private key"),
        (cert, other_key, f"the private key {other_key} does not belong to the certificate {cert}"),
    ]
    for certificate, private_key, message in cases:
        output = refused(
            "run", "--media", str(sample), "--port", "0", "--duration", "0.1",
            "--cert", str(certificate), "--key", str(private_key),
        )  # fmt: skip
        assert message in output
        assert "_ssl.c" not in output
        assert "PEM lib" not in output


def test_a_file_that_is_not_media_is_named_in_plain_words(tmp_path: Path) -> None:
    notes = tmp_path / "notes.mp4"
    notes.write_text("shopping list\n")
    result = camsim("run", "--media", str(notes), "--port", "0", "--duration", "0.1")
    assert result.returncode == 1
    expected = f"{notes}: cannot open: not a media file FFmpeg can read (unknown or damaged format)"
    assert expected in result.stderr
    assert "Errno" not in result.stderr
    assert "Invalid data found" not in result.stderr


def test_a_taken_port_is_named(sample: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = camsim("run", "--media", str(sample), "--port", str(port), "--duration", "1")
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1 port {port}: address already in use" in result.stderr
    assert "Errno" not in result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_while_making_the_default_sample(tmp_path: Path, signum: int) -> None:
    # The default sample (720p30, 30 s) takes far longer to make than this test waits.
    env = {**os.environ, "CAMSIM_CACHE_DIR": str(tmp_path)}
    process = subprocess.Popen(
        [*CAMSIM, "run", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stderr is not None
        assert "making the default sample" in process.stderr.readline()
        deadline = time.monotonic() + 30
        while not any(tmp_path.iterdir()) and time.monotonic() < deadline:
            time.sleep(0.05)  # the encoder has started writing
        time.sleep(0.5)
        process.send_signal(signum)
        sent = time.monotonic()
        _, err = process.communicate(timeout=10)
        stopped_after = time.monotonic() - sent
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 130
    assert "interrupted: the default sample was not made, nothing was cached" in err
    assert "Traceback" not in err
    assert stopped_after < 3.0
    assert list(tmp_path.iterdir()) == []  # neither a sample nor a partial file
