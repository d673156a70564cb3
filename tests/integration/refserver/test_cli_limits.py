"""The ingest limits from flags and from the config file (nothing is bound here)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from refserver import cli
from refserver.config import Limits, ServerConfig


def test_per_address_limit_flag_over_the_file(served: list[ServerConfig], tmp_path: Path) -> None:
    path = tmp_path / "refserver.toml"
    path.write_text(
        "[limits]\nmax_connections_per_ip = 8\nmax_buffered_bytes = 16777216\n"
        "max_write_buffer = 65536\nwrite_timeout = 5\nkey_failure_delay = 0.5\n"
        "key_failure_limit = 5\nkey_failure_window = 300\n"
    )
    runner = CliRunner()
    assert runner.invoke(cli.main, []).exit_code == 0
    assert runner.invoke(cli.main, ["--config", str(path)]).exit_code == 0
    result = runner.invoke(cli.main, ["--config", str(path), "--max-connections-per-ip", "2"])
    assert result.exit_code == 0, result.output
    assert served[0].limits == Limits()
    assert served[1].limits == Limits(
        max_connections_per_ip=8,
        max_buffered_bytes=16 * 1024 * 1024,
        max_write_buffer=65536,
        write_timeout=5.0,
        key_failure_delay=0.5,
        key_failure_limit=5,
        key_failure_window=300.0,
    )
    assert served[2].limits.max_connections_per_ip == 2
    assert served[2].limits.max_buffered_bytes == 16 * 1024 * 1024


def test_limits_that_cannot_work_are_refused(served: list[ServerConfig], tmp_path: Path) -> None:
    path = tmp_path / "refserver.toml"
    path.write_text("[limits]\nmax_message_size = 8388608\nmax_buffered_bytes = 1048576\n")
    result = CliRunner().invoke(cli.main, ["--config", str(path)])
    assert result.exit_code != 0
    assert "max_buffered_bytes 1048576 cannot hold one message" in result.output
    result = CliRunner().invoke(cli.main, ["--max-connections-per-ip", "0"])
    assert result.exit_code != 0
    assert served == []
