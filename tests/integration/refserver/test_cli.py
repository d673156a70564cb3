"""refserver's flags become the configuration it serves (nothing is bound here)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from click.testing import CliRunner

from refserver import cli, logs
from refserver.config import ServerConfig


def test_merge_reads_is_off_unless_asked(served: list[ServerConfig]) -> None:
    assert CliRunner().invoke(cli.main, []).exit_code == 0
    assert CliRunner().invoke(cli.main, ["--merge-reads"]).exit_code == 0
    assert [config.merge_reads for config in served] == [False, True]


def test_the_flag_is_absent_the_file_decides(served: list[ServerConfig], tmp_path: Path) -> None:
    path = tmp_path / "refserver.toml"
    path.write_text("[rtmp]\nmerge_reads = true\n")
    result = CliRunner().invoke(cli.main, ["--config", str(path)])
    assert result.exit_code == 0, result.output
    assert served[0].merge_reads is True


def test_a_port_in_use_is_said_in_plain_words(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(logs, "configure", lambda *args: None)  # the root logger stays as it is
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(
            cli.main, ["--rtmp-port", str(port), "--no-rtmps", "--http-port", "0"]
        )
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: cannot listen on 127.0.0.1 port {port}: "
        "address already in use (another server on that port?)\n"
    )
