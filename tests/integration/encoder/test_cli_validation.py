"""``camsim push`` refuses what one machine cannot push, and a CA file it cannot use, by name,
before it makes or loads any sample."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from camsim.cli import main
from camsim.encoder.cli import stream_limit


def push(*arguments: str) -> str:
    result = CliRunner().invoke(main, ["push", *arguments])
    assert result.exit_code == 2, result.output
    return result.output


def test_too_many_streams_says_the_bound_and_why() -> None:
    limit, why = stream_limit()
    output = push("rtmp://127.0.0.1:1935/live/cam{n}", "--streams", "100000")
    assert f"100000: at most {limit} here ({why})" in output


def test_an_unusable_ca_file_is_named(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("not a certificate\n")
    output = push("rtmps://127.0.0.1:1936/live/x", "--ca", str(ca))
    assert f"cannot use the CA file {ca}: it holds no PEM certificate" in output
    assert "_ssl.c" not in output
