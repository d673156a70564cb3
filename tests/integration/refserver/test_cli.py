"""refserver's flags become the configuration it serves (nothing is bound here)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from refserver import cli
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
