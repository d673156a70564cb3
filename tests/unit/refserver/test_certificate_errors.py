"""A certificate refserver cannot use is named, with what is wrong with it, not OpenSSL's
"[SSL] PEM lib (_ssl.c:3905)"."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from refserver.tls import CertificateError, self_signed_certificate, server_context


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    cert, key = self_signed_certificate(tmp_path / "one")
    _, other_key = self_signed_certificate(tmp_path / "two")
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("-----BEGIN CERTIFICATE-----\nnot base64 at all\n")
    return {"cert": cert, "key": key, "other_key": other_key, "garbage": garbage}


def test_each_fault_names_its_file(files: dict[str, Path], tmp_path: Path) -> None:
    missing = tmp_path / "missing.pem"
    cases = [
        (missing, files["key"], f"cannot read the certificate {missing}: no such file"),
        (files["cert"], missing, f"cannot read the private key {missing}: no such file"),
        (tmp_path, files["key"], f"cannot read the certificate {tmp_path}: it is a folder"),
        (files["garbage"], files["key"], f"the certificate {files['garbage']} is not a PEM"),
        (files["cert"], files["garbage"], f"{files['garbage']} holds no PEM private key"),
        (
            files["cert"],
            files["other_key"],
            f"the private key {files['other_key']} does not belong to the certificate "
            f"{files['cert']}",
        ),
    ]
    for cert, key, message in cases:
        with pytest.raises(CertificateError) as caught:
            server_context(cert, key)
        assert str(caught.value).startswith(message)
    server_context(files["cert"], files["key"])


def test_the_command_says_it_in_one_line(files: dict[str, Path]) -> None:
    arguments = ["--cert", str(files["garbage"]), "--key", str(files["key"])]
    ports = ["--rtmp-port", "0", "--rtmps-port", "0", "--http-port", "0"]
    result = subprocess.run(
        [sys.executable, "-c", "from refserver.cli import main; main()", *arguments, *ports],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    expected = f"Error: RTMPS: the certificate {files['garbage']} is not a PEM certificate"
    assert result.stderr.strip().splitlines()[-1] == expected
    assert "Traceback" not in result.stderr
