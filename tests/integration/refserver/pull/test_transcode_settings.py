"""Transcoding pulled G.711 and Opus audio to AAC: on by default, off per source, for every
source of a file, or for all of them from the command line."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from refserver import cli
from refserver.config import ConfigError, ServerConfig, SourceConfig, load_config


def test_on_by_default() -> None:
    assert SourceConfig("door", "rtsp://h/a").transcode_audio is True
    assert SourceConfig.from_text("rtsp://h/a").transcode_audio is True


def test_off_per_source_and_for_every_source_of_a_file(tmp_path: Path) -> None:
    path = tmp_path / "refserver.toml"
    path.write_text(
        '[[source]]\nname = "a"\nurl = "rtsp://h/a"\ntranscode_audio = false\n\n'
        '[[source]]\nname = "b"\nurl = "rtsp://h/b"\n'
    )
    assert [s.transcode_audio for s in load_config(path).sources] == [False, True]
    path.write_text(
        "transcode_audio = false\n\n"
        '[[source]]\nname = "a"\nurl = "rtsp://h/a"\n\n'
        '[[source]]\nname = "b"\nurl = "rtsp://h/b"\ntranscode_audio = true\n'
    )
    assert [s.transcode_audio for s in load_config(path).sources] == [False, True]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('transcode_audio = "no"\n', "transcode_audio must be a bool, not 'no'"),
        (
            '[[source]]\nurl = "rtsp://h/a"\ntranscode_audio = 0\n',
            "source 1 transcode_audio must be a bool, not 0",
        ),
    ],
)
def test_a_setting_that_is_not_a_bool_is_refused(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "refserver.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == f"{path}: {message}"


def test_the_flag_turns_it_off_for_every_source(served: list[ServerConfig], tmp_path: Path) -> None:
    path = tmp_path / "refserver.toml"
    path.write_text('[[source]]\nname = "a"\nurl = "rtsp://h/a"\n')
    result = CliRunner().invoke(
        cli.main,
        ["--config", str(path), "--pull", "b=rtsp://h/b", "--no-transcode-audio"],
    )
    assert result.exit_code == 0, result.output
    assert [(s.name, s.transcode_audio) for s in served[0].sources] == [
        ("a", False),
        ("b", False),
    ]
    result = CliRunner().invoke(cli.main, ["--config", str(path), "--pull", "b=rtsp://h/b"])
    assert result.exit_code == 0, result.output
    assert [s.transcode_audio for s in served[1].sources] == [True, True]
